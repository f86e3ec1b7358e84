"""DeployEndpoint: model + new config, create or blue/green update, busy and failed endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from pipeline_testkit import FakeContext, endpoint_description, request_problems, sample_state

from pipeline import deploy_endpoint as module
from pipeline.config import Defaults
from pipeline.errors import DeploymentFailed, EndpointBusy, InvalidInput
from pipeline.execution_input import resolve_config
from pipeline.requests import (
    create_endpoint_request,
    endpoint_config_request,
    model_request,
    update_endpoint_request,
)
from pipeline.state import PipelineState, RetrainState

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def _state(defaults: Defaults, endpoint_input: dict[str, Any] | None = None) -> PipelineState:
    state = sample_state(defaults, execution_input={"endpoint": endpoint_input or {}})
    state.retrain = RetrainState(
        name=state.names.retrainJob,
        status="Completed",
        modelArtifact=f"s3://pipeline-bucket-abc/models/{state.names.retrainJob}/output/model.tar.gz",
    )
    return state


def _expect_model_and_config(
    stub: Stubber, state: PipelineState, defaults: Defaults, exists: bool = False
) -> None:
    model = model_request(state.names, defaults, state.retrain.modelArtifact)  # type: ignore[union-attr,arg-type]
    model["PrimaryContainer"]["Environment"].update(module.serving_environment(state.config.endpoint))
    config = endpoint_config_request(state.names, state.config.endpoint)
    assert request_problems("CreateModel", model) == []
    assert request_problems("CreateEndpointConfig", config) == []
    if exists:
        stub.add_client_error(
            "create_model",
            "ValidationException",
            f'Cannot create already existing model "{ARN}:model/x".',
            400,
            expected_params=model,
        )
        stub.add_client_error(
            "create_endpoint_config",
            "ValidationException",
            "Cannot create already existing endpoint configuration",
            400,
            expected_params=config,
        )
    else:
        stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{state.names.model}"}, model)
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/x"}, config)


def test_creates_a_missing_endpoint(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _state(defaults, {"instanceType": "ml.c5.large"})
    _expect_model_and_config(stub, state, defaults)
    stub.add_client_error(
        "describe_endpoint",
        "ValidationException",
        'Could not find endpoint "dog-breeds".',
        400,
        expected_params={"EndpointName": "dog-breeds"},
    )
    request = create_endpoint_request("dog-breeds", state.names.endpointConfig)
    assert request_problems("CreateEndpoint", request) == []
    stub.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"}, request)
    out = module.deploy_endpoint(state.dump(), client, defaults)
    assert out["endpoint"] == {
        "name": "dog-breeds",
        "configName": state.names.endpointConfig,
        "modelName": state.names.model,
        "action": "created",
        "status": "Creating",
    }


def test_updates_an_existing_endpoint_blue_green(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _state(defaults)
    _expect_model_and_config(stub, state, defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", "InService", "dogs-run-0-config"),
        {"EndpointName": "dog-breeds"},
    )
    request = update_endpoint_request("dog-breeds", state.names.endpointConfig)
    stub.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"}, request)
    out = module.deploy_endpoint(state.dump(), client, defaults)
    assert out["endpoint"]["action"] == "updated" and out["endpoint"]["status"] == "Updating"


def test_a_retried_step_does_not_update_twice(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _state(defaults)
    _expect_model_and_config(stub, state, defaults, exists=True)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", "Updating", state.names.endpointConfig),
        {"EndpointName": "dog-breeds"},
    )
    out = module.deploy_endpoint(state.dump(), client, defaults)  # no update_endpoint queued
    assert out["endpoint"]["action"] == "in-progress" and out["endpoint"]["status"] == "Updating"


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_an_endpoint_busy_with_another_deployment_is_retried(
    status: str, sm: Any, defaults: Defaults
) -> None:
    (client, stub), state = sm, _state(defaults)
    _expect_model_and_config(stub, state, defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", status, "dogs-other-config"),
        {"EndpointName": "dog-breeds"},
    )
    with pytest.raises(EndpointBusy, match=f"dog-breeds is {status}"):
        module.deploy_endpoint(state.dump(), client, defaults)


def test_a_failed_endpoint_explains_how_to_recover(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _state(defaults)
    _expect_model_and_config(stub, state, defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", "Failed", "dogs-other-config", FailureReason="Image pull failed"),
        {"EndpointName": "dog-breeds"},
    )
    with pytest.raises(
        DeploymentFailed, match=r"Image pull failed.*aws sagemaker delete-endpoint --endpoint-name dog-breeds"
    ):
        module.deploy_endpoint(state.dump(), client, defaults)


def test_needs_a_model_artifact(sm: Any, defaults: Defaults) -> None:
    with pytest.raises(DeploymentFailed, match="before the retrain produced a model artifact"):
        module.deploy_endpoint(sample_state(defaults).dump(), sm[0], defaults)


def test_handler(monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], sm: Any) -> None:
    (client, stub), defaults = sm, Defaults.from_env(lambda_env)
    state = _state(defaults)
    _expect_model_and_config(stub, state, defaults)
    stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint", 400)
    stub.add_response(
        "create_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/dog-breeds"},
        create_endpoint_request("dog-breeds", state.names.endpointConfig),
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: client)
    assert module.handler(state.dump(), FakeContext())["endpoint"]["action"] == "created"  # type: ignore[arg-type]


def test_create_model_carries_the_batching_variables(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _state(defaults, {"batchSize": 16, "maxBatchDelayMs": 0, "workers": 2})
    model = {
        "ModelName": state.names.model,
        "PrimaryContainer": {
            "Image": defaults.inferenceImage,
            "ModelDataUrl": state.retrain.modelArtifact,  # type: ignore[union-attr]
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": defaults.region,
                "SAGEMAKER_TS_BATCH_SIZE": "16",
                "SAGEMAKER_TS_MAX_BATCH_DELAY": "0",
                "SAGEMAKER_TS_MIN_WORKERS": "2",
                "SAGEMAKER_TS_MAX_WORKERS": "2",
                "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
            },
        },
        "ExecutionRoleArn": defaults.roleArn,
        "Tags": [{"Key": "app", "Value": "image-classifier-pipeline"}],
    }
    assert request_problems("CreateModel", model) == []
    stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{state.names.model}"}, model)
    config = endpoint_config_request(state.names, state.config.endpoint)
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/x"}, config)
    stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint", 400)
    request = create_endpoint_request("dog-breeds", state.names.endpointConfig)
    stub.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"}, request)
    module.deploy_endpoint(state.dump(), client, defaults)
    stub.assert_no_pending_responses()


def test_batching_defaults_batches_of_eight_within_10_ms_one_worker_per_vcpu(defaults: Defaults) -> None:
    # Without endpoint.workers: TorchServe's default, one worker per vCPU (ml.m5.large has 2); set
    # explicitly, as the toolkit hands TorchServe its own count (default 1) once batching is set.
    assert defaults.endpointInstanceType == "ml.m5.large"
    assert module.serving_environment(_state(defaults).config.endpoint) == {
        "SAGEMAKER_TS_BATCH_SIZE": "8",
        "SAGEMAKER_TS_MAX_BATCH_DELAY": "10",
        "SAGEMAKER_TS_MIN_WORKERS": "2",
        "SAGEMAKER_TS_MAX_WORKERS": "2",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    }
    explicit = _state(defaults, {"workers": 1, "instanceType": "ml.c5.4xlarge"}).config.endpoint
    assert module.serving_environment(explicit)["SAGEMAKER_TS_MIN_WORKERS"] == "1"


@pytest.mark.parametrize(
    ("instance_type", "workers"),
    [
        ("ml.m5.large", "2"),
        ("ml.c5.xlarge", "4"),
        ("ml.r5.4xlarge", "16"),
        ("ml.m5.24xlarge", "32"),  # at most 32, as endpoint.workers
        ("ml.t2.medium", "1"),
        ("ml.g4dn.xlarge", None),  # accelerated: the toolkit's default (1), TorchServe's per GPU
        ("ml.p3.2xlarge", None),
        ("ml.inf2.xlarge", None),
    ],
)
def test_default_workers_follow_the_instance_types_vcpus(
    defaults: Defaults, instance_type: str, workers: str | None
) -> None:
    endpoint = _state(defaults, {"instanceType": instance_type}).config.endpoint
    env = module.serving_environment(endpoint)
    assert env.get("SAGEMAKER_TS_MIN_WORKERS") == workers
    assert env.get("SAGEMAKER_TS_MAX_WORKERS") == env.get("SAGEMAKER_MODEL_SERVER_WORKERS") == workers
    assert env["SAGEMAKER_TS_BATCH_SIZE"] == "8"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batchSize", 0, "endpoint.batchSize: Input should be greater than or equal to 1"),
        ("batchSize", 65, "endpoint.batchSize: Input should be less than or equal to 64"),
        ("batchSize", "8", "endpoint.batchSize: Input should be a valid integer"),
        ("maxBatchDelayMs", -1, "endpoint.maxBatchDelayMs: Input should be greater than or equal to 0"),
        ("maxBatchDelayMs", 1.5, "endpoint.maxBatchDelayMs: Input should be a valid integer"),
        ("workers", 0, "endpoint.workers: Input should be greater than or equal to 1"),
        ("workers", 33, "endpoint.workers: Input should be less than or equal to 32"),
    ],
)
def test_bad_batching_input_is_refused_naming_the_field(
    field: str, value: Any, message: str, defaults: Defaults
) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_config({"endpoint": {field: value}}, defaults)
    assert message in str(raised.value)
