"""CheckStatus: tuning, training and endpoint progress, failures with their reasons (Stubber)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from typing import Any

import pytest
from botocore.response import StreamingBody
from pipeline_testkit import (
    ARN,
    FakeContext,
    endpoint_description,
    sample_state,
    training_description,
    tuning_description,
)

from pipeline import check_status as module
from pipeline.config import Defaults
from pipeline.errors import DeploymentFailed, JobFailed
from pipeline.state import BestJob, EndpointState, ObjectiveValue, PipelineState, RetrainState

RULES = [
    {
        "RuleConfigurationName": "LowGPUUtilization",
        "RuleEvaluationStatus": "NoIssuesFound",
        "StatusDetails": "GPU busy 91% of steps",
        "LastModifiedTime": 1767225600.0,
        "Details": {"Applicable": True},
        "Recommendation": "",
    },
    {
        "RuleConfigurationName": "Dataloader",
        "RuleEvaluationStatus": "IssuesFound",
        "StatusDetails": "data wait is 38% of step time",
        "LastModifiedTime": 1767225600.0,
        "Details": {"Applicable": True},
        "Recommendation": "Raise num-workers",
    },
]


def _archive(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def _event(kind: str, state: PipelineState) -> dict[str, Any]:
    return {"kind": kind, "state": state.dump()}


def _with_best(state: PipelineState) -> PipelineState:
    state.best = BestJob(
        trainingJob=f"{state.names.tuningJob}-002-0a1b2c3d",
        tunedHyperParameters={"lr": "0.01"},
        hyperParameters={"arch": '"resnet50"', "lr": "0.01"},
        objective=ObjectiveValue(metric="valid:accuracy", type="Maximize", value=0.9),
    )
    return state


# --------------------------------------------------------------------------- tuning


@pytest.mark.parametrize(
    ("sagemaker_status", "reported"),
    [("InProgress", "InProgress"), ("Stopping", "InProgress"), ("Completed", "Completed")],
)
def test_tuning_progress(sagemaker_status: str, reported: str, sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, sample_state(defaults)
    counters = {"Completed": 2, "InProgress": 1, "RetryableError": 0, "NonRetryableError": 1, "Stopped": 0}
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(state.names.tuningJob, sagemaker_status, counters=counters),
        {"HyperParameterTuningJobName": state.names.tuningJob},
    )
    out = module.check_status(_event("tuning", state), client, s3[0])
    assert out["tuning"]["status"] == reported
    assert out["tuning"]["trainingJobs"] == counters
    assert out["pollSeconds"] == 60  # the Wait state's SecondsPath stays in place


def test_failed_tuning_raises_with_reason_and_a_trial_reason(sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, sample_state(defaults)
    name = state.names.tuningJob
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(name, "Failed", FailureReason="All training jobs failed"),
        {"HyperParameterTuningJobName": name},
    )
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": f"{name}-001-aaaa1111",
                    "TrainingJobArn": f"{ARN}:training-job/{name}-001-aaaa1111",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "TrainingJobStatus": "Failed",
                    "TunedHyperParameters": {"lr": "0.5"},
                    "FailureReason": "AlgorithmError: missing weights for resnet50",
                }
            ]
        },
        {"HyperParameterTuningJobName": name, "StatusEquals": "Failed", "MaxResults": 1},
    )
    with pytest.raises(JobFailed) as caught:
        module.check_status(_event("tuning", state), client, s3[0])
    message = str(caught.value)
    assert f"Tuning job {name} failed: All training jobs failed" in message
    assert "AlgorithmError: missing weights for resnet50" in message


# --------------------------------------------------------------------------- training


def test_training_in_progress(sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _with_best(sample_state(defaults))
    state.retrain = RetrainState(name=state.names.retrainJob)
    stub.add_response(
        "describe_training_job",
        training_description(state.names.retrainJob, "InProgress"),
        {"TrainingJobName": state.names.retrainJob},
    )
    out = module.check_status(_event("training", state), client, s3[0])
    assert out["retrain"]["status"] == "InProgress" and out["retrain"]["secondaryStatus"] == "Training"
    assert "modelArtifact" not in out["retrain"]


def test_completed_training_records_artifact_metrics_and_profiler_rules(
    sm: Any, s3: Any, defaults: Defaults
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    state = _with_best(sample_state(defaults))
    name = state.names.retrainJob
    stub.add_response(
        "describe_training_job",
        training_description(
            name,
            "Completed",
            FinalMetricDataList=[
                {"MetricName": "test:accuracy", "Value": 0.805, "Timestamp": "2026-01-01T00:00:00Z"},
                {"MetricName": "profiler:rules_triggered", "Value": 1.0, "Timestamp": "2026-01-01T00:00:00Z"},
            ],
        ),
        {"TrainingJobName": name},
    )
    archive = _archive(
        {
            "metrics.json": b"{}",
            "profiler-report/report.html": b"<html/>",
            "profiler-report/rules.json": json.dumps(RULES).encode(),
        }
    )
    s3_stub.add_response(
        "get_object",
        {"Body": _body(archive)},
        {"Bucket": "pipeline-bucket-abc", "Key": f"models/{name}/output/output.tar.gz"},
    )
    out = module.check_status(_event("training", state), client, s3_client)
    retrain = out["retrain"]
    assert retrain["status"] == "Completed"
    assert retrain["modelArtifact"] == f"s3://pipeline-bucket-abc/models/{name}/output/model.tar.gz"
    assert retrain["finalMetrics"] == {"test:accuracy": 0.805, "profiler:rules_triggered": 1.0}
    profiler = retrain["profiler"]
    assert profiler["reportUri"] == f"s3://pipeline-bucket-abc/models/{name}/output/output.tar.gz"
    assert profiler["reportPath"] == "profiler-report/"
    assert profiler["rules"] == [
        {"name": "LowGPUUtilization", "status": "NoIssuesFound", "details": "GPU busy 91% of steps"},
        {
            "name": "Dataloader",
            "status": "IssuesFound",
            "details": "data wait is 38% of step time",
            "recommendation": "Raise num-workers",
        },
    ]


def test_debugger_rule_statuses_are_reported_and_a_missing_report_is_not_fatal(
    sm: Any, s3: Any, defaults: Defaults
) -> None:
    (client, stub), (s3_client, s3_stub) = sm, s3
    state = _with_best(sample_state(defaults))
    name = state.names.retrainJob
    stub.add_response(
        "describe_training_job",
        training_description(
            name,
            "Completed",
            ProfilerRuleEvaluationStatuses=[
                {"RuleConfigurationName": "ProfilerReport", "RuleEvaluationStatus": "NoIssuesFound"}
            ],
            DebugRuleEvaluationStatuses=[
                {
                    "RuleConfigurationName": "Overfit",
                    "RuleEvaluationStatus": "IssuesFound",
                    "StatusDetails": "valid loss rose",
                }
            ],
        ),
        {"TrainingJobName": name},
    )
    s3_stub.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
    out = module.check_status(_event("training", state), client, s3_client)
    profiler = out["retrain"]["profiler"]
    assert profiler["debuggerRules"] == [
        {"name": "Overfit", "status": "IssuesFound", "details": "valid loss rose"}
    ]
    assert profiler["rules"][0] == {"name": "ProfilerReport", "status": "NoIssuesFound"}
    assert (
        profiler["rules"][1]["name"] == "profiler-report" and profiler["rules"][1]["status"] == "Unavailable"
    )


def test_an_output_archive_that_is_no_tar_leaves_the_report_unavailable(
    sm: Any, s3: Any, defaults: Defaults
) -> None:
    """A gzip that holds no tar (tarfile's TarError) must not fail a trained model."""
    (client, stub), (s3_client, s3_stub) = sm, s3
    state = _with_best(sample_state(defaults))
    name = state.names.retrainJob
    stub.add_response(
        "describe_training_job", training_description(name, "Completed"), {"TrainingJobName": name}
    )
    s3_stub.add_response("get_object", {"Body": _body(gzip.compress(b"not a tar archive" * 40))})
    out = module.check_status(_event("training", state), client, s3_client)
    assert out["retrain"]["status"] == "Completed"
    unavailable = out["retrain"]["profiler"]["rules"][-1]
    assert unavailable["name"] == "profiler-report" and unavailable["status"] == "Unavailable"
    assert "header" in unavailable["details"]  # tarfile's own words for it
    assert "evaluation" not in out["retrain"]


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_training_raises_with_its_failure_reason(
    status: str, sm: Any, s3: Any, defaults: Defaults
) -> None:
    (client, stub), state = sm, _with_best(sample_state(defaults))
    stub.add_response(
        "describe_training_job",
        training_description(
            state.names.retrainJob, status, FailureReason="ClientError: Data download failed: AccessDenied"
        ),
        {"TrainingJobName": state.names.retrainJob},
    )
    with pytest.raises(JobFailed, match=f"{status.lower()}: ClientError: Data download failed: AccessDenied"):
        module.check_status(_event("training", state), client, s3[0])


# --------------------------------------------------------------------------- endpoint


def _deployed(defaults: Defaults) -> PipelineState:
    state = _with_best(sample_state(defaults))
    state.retrain = RetrainState(
        name=state.names.retrainJob,
        status="Completed",
        modelArtifact="s3://pipeline-bucket-abc/models/x/output/model.tar.gz",
        finalMetrics={"test:accuracy": 0.8},
    )
    state.endpoint = EndpointState(
        name="dog-breeds",
        configName=state.names.endpointConfig,
        modelName=state.names.model,
        action="updated",
    )
    return state


def test_endpoint_in_service_assembles_the_execution_output(sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _deployed(defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", "InService", state.names.endpointConfig),
        {"EndpointName": "dog-breeds"},
    )
    out = module.check_status(_event("endpoint", state), client, s3[0])
    assert out["endpoint"]["status"] == "InService"
    output = out["output"]
    assert output["tuningJob"] == state.names.tuningJob
    assert output["bestTrainingJob"].startswith(state.names.tuningJob)
    assert output["bestHyperparameters"] == {"arch": "resnet50", "lr": 0.01}  # decoded for people
    assert output["objective"] == {"metric": "valid:accuracy", "type": "Maximize", "value": 0.9}
    assert output["retrainJob"] == state.names.retrainJob
    assert output["modelArtifact"].endswith("model.tar.gz")
    assert output["endpoint"] == {
        "name": "dog-breeds",
        "status": "InService",
        "config": state.names.endpointConfig,
        "model": state.names.model,
        "action": "updated",
    }


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_endpoint_still_deploying(status: str, sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _deployed(defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description("dog-breeds", status, "dogs-old-config"),
        {"EndpointName": "dog-breeds"},
    )
    out = module.check_status(_event("endpoint", state), client, s3[0])
    assert out["endpoint"]["status"] == status and "output" not in out


def test_endpoint_failure_and_rollback_raise(sm: Any, s3: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, _deployed(defaults)
    stub.add_response(
        "describe_endpoint",
        endpoint_description(
            "dog-breeds", "Failed", state.names.endpointConfig, FailureReason="Ping health check failed"
        ),
        {"EndpointName": "dog-breeds"},
    )
    with pytest.raises(DeploymentFailed, match="dog-breeds is Failed: Ping health check failed"):
        module.check_status(_event("endpoint", state), client, s3[0])

    stub.add_response(
        "describe_endpoint",
        endpoint_description(
            "dog-breeds", "InService", "dogs-previous-config", FailureReason="new variant unhealthy"
        ),
        {"EndpointName": "dog-breeds"},
    )
    with pytest.raises(
        DeploymentFailed,
        match="rolled back \\(new variant unhealthy\\); it still serves dogs-previous-config",
    ):
        module.check_status(_event("endpoint", state), client, s3[0])

    stub.add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint dog-breeds.", 400
    )
    with pytest.raises(DeploymentFailed, match="disappeared"):
        module.check_status(_event("endpoint", state), client, s3[0])


def test_handler(monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], sm: Any, s3: Any) -> None:
    (client, stub), state = sm, sample_state(Defaults.from_env(lambda_env))
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(state.names.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": state.names.tuningJob},
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: client)
    made: list[str] = []
    monkeypatch.setattr(module, "s3_client", lambda: made.append("s3") or s3[0])
    out = module.handler(_event("tuning", state), FakeContext())  # type: ignore[arg-type]
    assert out["tuning"]["status"] == "InProgress"
    assert made == []  # a tuning job's status reads no S3: no S3 client made at cold start
