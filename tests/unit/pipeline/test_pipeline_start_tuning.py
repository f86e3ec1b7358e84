"""StartTuning: input validation, code shipping, idempotent tuning-job creation (Stubber)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from pipeline_testkit import ARN, FakeContext, request_problems, tuning_description

from pipeline import start_tuning as module
from pipeline.code_package import build_archive, code_key
from pipeline.config import Defaults
from pipeline.errors import InvalidInput, SageMakerThrottled
from pipeline.execution_input import resolve_config
from pipeline.names import job_names
from pipeline.requests import tuning_job_request
from pipeline.state import PipelineState

EXECUTION = "3f2b8c1e-6d0a-4d5e-9a7b-0c1d2e3f4a5b"
INPUT = {
    "tuning": {
        "strategy": "Random",
        "maxJobs": 3,
        "maxParallelJobs": 1,
        "ranges": {
            "lr": {"min": 0.001, "max": 0.1, "scaling": "Logarithmic"},
            "batch-size": {"values": [16, 32]},
        },
        "static": {"arch": "resnet18", "pretrained": "none", "epochs": 2},
    },
    "pollSeconds": 5,
}


def _expect_code(s3: Stubber, bucket: str, root: Path, exists: bool) -> str:
    archive, sha = build_archive(root)
    key = code_key(sha)
    if exists:
        s3.add_response("head_object", {"ContentLength": len(archive)}, {"Bucket": bucket, "Key": key})
    else:
        s3.add_client_error(
            "head_object", "404", "Not Found", 404, expected_params={"Bucket": bucket, "Key": key}
        )
        s3.add_response(
            "put_object",
            {"ETag": '"etag"'},
            {
                "Bucket": bucket,
                "Key": key,
                "Body": archive,
                "ContentType": "application/gzip",
                "Metadata": {"content-sha256": sha},
            },
        )
    return f"s3://{bucket}/{key}"


def _expect_create(sm: Stubber, request: dict[str, Any], error: str | None = None, message: str = "") -> None:
    if error:
        sm.add_client_error("create_hyper_parameter_tuning_job", error, message, 400, expected_params=request)
    else:
        arn = f"{ARN}:hyper-parameter-tuning-job/{request['HyperParameterTuningJobName']}"
        sm.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn}, request)


def test_starts_the_tuning_job_and_returns_the_state(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    code_uri = _expect_code(s3_stub, defaults.bucket, training_code, exists=False)
    names = job_names("dogs", EXECUTION)
    request = tuning_job_request(resolve_config(INPUT, defaults), names, defaults, code_uri)
    assert request_problems("CreateHyperParameterTuningJob", request) == []
    assert request["TrainingJobDefinition"]["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    _expect_create(sm_stub, request)
    sm_stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(names.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": names.tuningJob},
    )

    out = module.start_tuning({"input": INPUT, "executionName": EXECUTION}, sm_client, s3_client, defaults)

    state = PipelineState.model_validate(out)
    assert state.names == names and len(state.names.tuningJob) <= 32
    assert state.codeUri == code_uri
    assert state.pollSeconds == 5 and state.config.tuning.strategy == "Random"
    assert state.tuning is not None and state.tuning.status == "InProgress"
    assert state.tuning.arn and state.tuning.arn.endswith(names.tuningJob)


def test_a_retried_step_finds_its_job_and_code_already_there(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    code_uri = _expect_code(s3_stub, defaults.bucket, training_code, exists=True)  # no second upload
    names = job_names("dogs", EXECUTION)
    request = tuning_job_request(resolve_config(INPUT, defaults), names, defaults, code_uri)
    _expect_create(
        sm_stub, request, "ResourceInUse", f"Hyperparameter tuning job {names.tuningJob} already exists"
    )
    sm_stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(names.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": names.tuningJob},
    )
    out = module.start_tuning({"input": INPUT, "executionName": EXECUTION}, sm_client, s3_client, defaults)
    assert out["tuning"]["name"] == names.tuningJob


@pytest.mark.parametrize(
    ("execution_input", "field"),
    [
        ({**INPUT, "tunning": {}}, "tunning: unknown field"),
        ({"tuning": {"maxJobs": "3"}}, "tuning.maxJobs: Input should be a valid integer"),
        (
            {"tuning": {"ranges": {"lr": {"min": 0.5, "max": 0.1}}}},
            "tuning.ranges.lr: min (0.5) must be less than max",
        ),
        ({"tuning": {"strategy": "Evolutionary"}}, "tuning.strategy: Input should be 'Bayesian', 'Random'"),
        ({"endpoint": {"instanceType": "m5.large"}}, "endpoint.instanceType: 'm5.large' is not a SageMaker"),
    ],
)
def test_bad_input_fails_naming_the_field_before_any_aws_call(
    execution_input: dict[str, Any], field: str, sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (sm_client, _), (s3_client, _) = sm, s3  # nothing queued: any AWS call would fail the test
    with pytest.raises(InvalidInput) as caught:
        module.start_tuning(
            {"input": execution_input, "executionName": EXECUTION}, sm_client, s3_client, defaults
        )
    assert field in str(caught.value)


def test_malformed_state_machine_payload_is_reported(sm: Any, s3: Any, defaults: Defaults) -> None:
    with pytest.raises(InvalidInput, match="executionName"):
        module.start_tuning({"input": {}}, sm[0], s3[0], defaults)


def test_throttling_becomes_the_retryable_error(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    code_uri = _expect_code(s3_stub, defaults.bucket, training_code, exists=True)
    request = tuning_job_request(
        resolve_config(INPUT, defaults), job_names("dogs", EXECUTION), defaults, code_uri
    )
    _expect_create(sm_stub, request, "ThrottlingException", "Rate exceeded")  # after botocore's own retries
    with pytest.raises(SageMakerThrottled, match="Rate exceeded"):
        module.start_tuning({"input": INPUT, "executionName": EXECUTION}, sm_client, s3_client, defaults)


def test_sagemaker_refusal_reaches_the_user(
    sm: Any, s3: Any, defaults: Defaults, training_code: Path
) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    code_uri = _expect_code(s3_stub, defaults.bucket, training_code, exists=True)
    request = tuning_job_request(
        resolve_config(INPUT, defaults), job_names("dogs", EXECUTION), defaults, code_uri
    )
    quota = "The account-level service limit 'ml.g4dn.xlarge for training job usage' is 0 Instances"
    _expect_create(sm_stub, request, "ResourceLimitExceeded", quota)
    with pytest.raises(Exception, match=r"ml\.g4dn\.xlarge for training job usage") as caught:
        module.start_tuning({"input": INPUT, "executionName": EXECUTION}, sm_client, s3_client, defaults)
    assert type(caught.value).__name__ == "ResourceLimitExceeded"  # the Error name Step Functions shows


def test_handler_reads_the_environment_and_makes_its_clients(
    monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], sm: Any, s3: Any, training_code: Path
) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    defaults = Defaults.from_env(lambda_env)
    code_uri = _expect_code(s3_stub, defaults.bucket, training_code, exists=True)
    names = job_names("dogs", "run-1")
    _expect_create(sm_stub, tuning_job_request(resolve_config({}, defaults), names, defaults, code_uri))
    sm_stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(names.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": names.tuningJob},
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: sm_client)
    monkeypatch.setattr(module, "s3_client", lambda: s3_client)
    out = module.handler({"input": {}, "executionName": "run-1"}, FakeContext())  # type: ignore[arg-type]
    assert out["names"]["tuningJob"] == "dogs-run-1"
    assert out["config"]["tuning"]["maxJobs"] == 8  # TUNING_MAX_JOBS
