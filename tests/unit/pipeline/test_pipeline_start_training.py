"""StartTraining: the profiled retrain request, idempotency, Debugger behind its switch (Stubber)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from pipeline_testkit import FakeContext, request_problems, sample_state, training_description

from pipeline import start_training as module
from pipeline.code_package import build_archive, code_key
from pipeline.config import Defaults
from pipeline.errors import NoBestTrainingJob
from pipeline.metrics import metric_definitions
from pipeline.state import BestJob, ObjectiveValue, PipelineState

BUCKET = "s3://pipeline-bucket-abc"
JOB = "dogs-run-2026-01-01-retrain"
RULE_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


def expected_request(code_uri: str, *, debugger: bool = False, spot: bool = False) -> dict[str, Any]:
    """The CreateTrainingJob request written out by hand from the fixtures (conftest.LAMBDA_ENV and
    _state): the best job's hyperparameters plus profiling, the three data channels, Debugger only
    behind its switch. Metric definitions come from pipeline.metrics, tested on their own."""
    request: dict[str, Any] = {
        "TrainingJobName": JOB,
        "HyperParameters": {
            "arch": '"resnet50"',
            "pretrained": '"imagenet"',
            "lr": "0.02",
            "profile": "true",
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"{code_uri}"',
            "sagemaker_region": '"us-east-1"',
            "sagemaker_container_log_level": "20",
        },
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
            "pytorch-training:2.6.0-gpu-py312-cu126-ubuntu22.04-sagemaker",
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": "arn:aws:iam::123456789012:role/pipeline-SageMakerExecutionRole-X1",
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{BUCKET}/dogImages/{channel}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
            for channel in ("train", "valid", "test")
        ],
        "OutputDataConfig": {"S3OutputPath": f"{BUCKET}/models/"},
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "RetryStrategy": {"MaximumRetryAttempts": 2},
        "EnableManagedSpotTraining": spot,
        "CheckpointConfig": {"S3Uri": f"{BUCKET}/checkpoints/{JOB}/", "LocalPath": "/opt/ml/checkpoints"},
        "Tags": [{"Key": "app", "Value": "image-classifier-pipeline"}],
        "ProfilerConfig": {"DisableProfiler": True},
    }
    if spot:
        # Spot: the wait (interruptions included) defaults to twice the runtime limit.
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    if debugger:

        def rule(name: str) -> dict[str, Any]:
            return {
                "RuleConfigurationName": name,
                "RuleEvaluatorImage": RULE_IMAGE,
                "RuleParameters": {"rule_to_invoke": name},
            }

        request["ProfilerConfig"] = {
            "S3OutputPath": f"{BUCKET}/debugger/{JOB}/profiler/",
            "ProfilingIntervalInMilliseconds": 500,
        }
        request["ProfilerRuleConfigurations"] = [rule("ProfilerReport")]
        request["DebugHookConfig"] = {
            "S3OutputPath": f"{BUCKET}/debugger/{JOB}/tensors/",
            "CollectionConfigurations": [{"CollectionName": "losses"}, {"CollectionName": "gradients"}],
        }
        request["DebugRuleConfigurations"] = [
            rule(name) for name in ("LossNotDecreasing", "Overfit", "VanishingGradient")
        ]
    return request


def _state(defaults: Defaults, spot: bool = False) -> PipelineState:
    state = sample_state(defaults, execution_input={"training": {"spot": spot}})
    state.best = BestJob(
        trainingJob=f"{state.names.tuningJob}-004-deadbeef",
        tunedHyperParameters={"lr": "0.02"},
        hyperParameters={"arch": '"resnet50"', "pretrained": '"imagenet"', "lr": "0.02"},
        objective=ObjectiveValue(metric="valid:accuracy", type="Maximize", value=0.9),
    )
    return state


def _code(s3: Stubber, root: Path) -> str:
    _, sha = build_archive(root)
    s3.add_response("head_object", {}, {"Bucket": "pipeline-bucket-abc", "Key": code_key(sha)})
    return f"s3://pipeline-bucket-abc/{code_key(sha)}"


@pytest.mark.parametrize("debugger", [False, True])
@pytest.mark.parametrize("spot", [False, True])
def test_starts_the_profiled_retrain(
    debugger: bool, spot: bool, sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    defaults = defaults.model_copy(update={"debugger": debugger})
    state = _state(defaults, spot)
    code_uri = _code(s3_stub, training_code)
    request = expected_request(code_uri, debugger=debugger, spot=spot)
    assert request_problems("CreateTrainingJob", request) == []
    assert request["HyperParameters"]["profile"] == "true"
    assert ("DebugRuleConfigurations" in request) is debugger
    assert request["EnableManagedSpotTraining"] is spot
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}  # a lost instance is retried
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{state.names.retrainJob}"
    stub.add_response("create_training_job", {"TrainingJobArn": arn}, request)
    stub.add_response(
        "describe_training_job",
        training_description(state.names.retrainJob, "InProgress"),
        {"TrainingJobName": state.names.retrainJob},
    )
    out = module.start_training(state.dump(), client, s3_client, defaults)
    assert out["retrain"] == {
        "name": state.names.retrainJob,
        "arn": arn,
        "status": "InProgress",
        "finalMetrics": {},
    }
    assert out["codeUri"] == code_uri


def test_retry_finds_the_job_already_created(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    state = _state(defaults)
    request = expected_request(_code(s3_stub, training_code))
    stub.add_client_error(
        "create_training_job",
        "ResourceInUse",
        "Training job names must be unique ... already exists",
        400,
        expected_params=request,
    )
    stub.add_response(
        "describe_training_job",
        training_description(state.names.retrainJob, "InProgress"),
        {"TrainingJobName": state.names.retrainJob},
    )
    assert (
        module.start_training(state.dump(), client, s3_client, defaults)["retrain"]["status"] == "InProgress"
    )


def test_validation_errors_from_sagemaker_are_not_swallowed(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    state = _state(defaults)
    _code(s3_stub, training_code)
    stub.add_client_error("create_training_job", "ValidationException", "Invalid MaxRuntimeInSeconds", 400)
    with pytest.raises(Exception, match="Invalid MaxRuntimeInSeconds"):
        module.start_training(state.dump(), client, s3_client, defaults)


def test_needs_pick_best_first(sm: Any, s3: Any, defaults: Defaults) -> None:
    with pytest.raises(NoBestTrainingJob, match="before PickBest"):
        module.start_training(sample_state(defaults).dump(), sm[0], s3[0], defaults)


def test_handler(
    monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], sm: Any, s3: Any, training_code: Path
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    defaults = Defaults.from_env(lambda_env)
    state = _state(defaults)
    request = expected_request(_code(s3_stub, training_code))
    stub.add_response(
        "create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/x"}, request
    )
    stub.add_response(
        "describe_training_job",
        training_description(state.names.retrainJob, "InProgress"),
        {"TrainingJobName": state.names.retrainJob},
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: client)
    monkeypatch.setattr(module, "s3_client", lambda: s3_client)
    assert module.handler(state.dump(), FakeContext())["retrain"]["name"] == state.names.retrainJob  # type: ignore[arg-type]
