"""The state machine's data flow with the real Lambda code: success, failure, bad input, retry.

pipeline.asl.json, with template.yaml's DefinitionSubstitutions, is run by localcloud's ASL
interpreter (aws_testkit.run_state_machine); each Task invokes, in this process, the handler the
template gives the function it names, whose SageMaker/S3 calls are answered by botocore's
Stubber. This checks what the unit tests cannot: that Parameters/ResultSelector/OutputPath hand
each function the document it expects, that Choice states read what CheckStatus writes, that
Wait reads pollSeconds, that Retry covers throttling, and that Catch -> Cleanup -> Fail ends
with an Error/Cause saying what failed.
"""

from __future__ import annotations

import importlib
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_testkit import (
    ROOT,
    Execution,
    InProcessLambdas,
    function_arn,
    import_handler,
    load_template,
    run_state_machine,
    state_machine_handlers,
    substituted_definition,
)
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from pipeline import code_package, hyperparameters
from pipeline.config import Defaults
from pipeline.names import job_names

EXECUTION = "run-42"
NAMES = job_names("dogs", EXECUTION)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
ENV = {
    "BUCKET_NAME": "pipeline-bucket-abc",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/sm",
    "TRAINING_IMAGE_URI": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-gpu-py312",
    "INFERENCE_IMAGE_URI": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "pipeline-workflow-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "PipelineWorkflowTests",
}
INPUT = {
    "tuning": {"strategy": "Random", "maxJobs": 2, "maxParallelJobs": 1, "static": {"arch": "resnet18"}},
    "pollSeconds": 2,
}


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Stubbed SageMaker/S3 clients behind every pipeline handler, and the deployable definition."""
    for spec in Defaults.model_fields.values():  # only ENV configures the functions
        if spec.alias and spec.alias not in ENV:
            monkeypatch.delenv(spec.alias, raising=False)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "JOB_NAME_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    code = tmp_path / "training"
    code.mkdir()
    (code / "train.py").write_text("print('train')\n")
    (code / "inference.py").write_text("print('serve')\n")
    (code / "classifier").mkdir()  # the hyperparameter spec StartTuning checks the input against
    shutil.copy(ROOT / "training" / hyperparameters.SPEC_FILE, code / hyperparameters.SPEC_FILE)
    monkeypatch.setattr(code_package, "CODE_DIR", code)
    sm = boto3.client("sagemaker", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    substitutions = {"Partition": "aws"}
    handlers = {}
    for key, (logical_id, spec) in state_machine_handlers(load_template()).items():
        module = importlib.import_module(spec.rpartition(".")[0])
        for factory, client in (("sagemaker_client", sm), ("s3_client", s3)):
            if hasattr(module, factory):
                monkeypatch.setattr(module, factory, lambda client=client: client)
        substitutions[key] = function_arn(logical_id)
        handlers[function_arn(logical_id)] = import_handler(spec)
    with Stubber(sm) as sm_stub, Stubber(s3) as s3_stub:
        yield {
            "sm": sm_stub,
            "s3": s3_stub,
            "definition": substituted_definition(substitutions),
            "lambdas": InProcessLambdas(handlers),
        }
        sm_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def run(aws: dict[str, Any], execution_input: Any) -> Execution:
    return run_state_machine(aws["definition"], execution_input, EXECUTION, aws["lambdas"])


def _tuning(status: str, best: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "HyperParameterTuningJobName": NAMES.tuningJob,
        "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/{NAMES.tuningJob}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": NOW,
        "TrainingJobStatusCounters": {"Completed": 2 if status == "Completed" else 0},
        "ObjectiveStatusCounters": {},
    }
    if best:
        response["BestTrainingJob"] = {
            "TrainingJobName": f"{NAMES.tuningJob}-002-abcdef12",
            "TrainingJobArn": f"{ARN}:training-job/{NAMES.tuningJob}-002-abcdef12",
            "CreationTime": NOW,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"lr": "0.01", "batch-size": "64", "epochs": "4"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "valid:accuracy", "Value": 0.9},
        }
    return response


def _training(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": NAMES.retrainJob,
        "TrainingJobArn": f"{ARN}:training-job/{NAMES.retrainJob}",
        "ModelArtifacts": {
            "S3ModelArtifacts": f"s3://pipeline-bucket-abc/models/{NAMES.retrainJob}/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": NOW,
        "OutputDataConfig": {"S3OutputPath": "s3://pipeline-bucket-abc/models/"},
        **extra,
    }


def _endpoint(status: str) -> dict[str, Any]:
    return {
        "EndpointName": "dog-breeds",
        "EndpointArn": f"{ARN}:endpoint/dog-breeds",
        "EndpointConfigName": NAMES.endpointConfig,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }


TEST_SET = "sha256:" + "ab" * 32


def _evaluation(accuracy: float, test_set: str = TEST_SET) -> dict[str, Any]:
    """The parts of train.py's evaluation.json the pipeline reads (docs/evaluation.md)."""
    return {
        "schemaVersion": 1,
        "images": 836,
        "testSet": {"images": 836, "fingerprint": test_set},
        "top1Accuracy": accuracy,
        "top5Accuracy": 0.97,
        "macroAvg": {"precision": 0.8, "recall": 0.79, "f1": 0.78},
        "calibration": {"ece": 0.04, "bins": 15, "reliability": []},
    }


def _output_archive(evaluation: dict[str, Any] | None = None) -> StreamingBody:
    raw = io.BytesIO()
    files = {
        "profiler-report/rules.json": [
            {"RuleConfigurationName": "StepOutlier", "RuleEvaluationStatus": "NoIssuesFound"}
        ],
        "evaluation.json": evaluation or _evaluation(0.8),
    }
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, document in files.items():
            data = json.dumps(document).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    return StreamingBody(io.BytesIO(data), len(data))


def _start(aws: dict[str, Any]) -> None:
    aws["s3"].add_response("head_object", {})
    aws["sm"].add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": f"{ARN}:x/y"})
    aws["sm"].add_response("describe_hyper_parameter_tuning_job", _tuning("InProgress"))


def test_a_successful_execution_ends_with_the_design_output(aws: dict[str, Any]) -> None:
    sm, s3 = aws["sm"], aws["s3"]
    _start(aws)
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("InProgress"))  # first poll: still tuning
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed"))
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed", best=True))  # PickBest
    s3.add_response("head_object", {})
    sm.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{NAMES.retrainJob}"})
    sm.add_response("describe_training_job", _training("InProgress"))
    sm.add_response(
        "describe_training_job",
        _training(
            "Completed", FinalMetricDataList=[{"MetricName": "test:accuracy", "Value": 0.8, "Timestamp": NOW}]
        ),
    )
    s3.add_response("get_object", {"Body": _output_archive()})
    # DeployGate: no endpoint yet, so minAccuracy (0) alone decides
    sm.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint dog-breeds.")
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{NAMES.model}"})
    sm.add_response(
        "create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/{NAMES.endpointConfig}"}
    )
    sm.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint dog-breeds.")
    sm.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"})
    sm.add_response("describe_endpoint", _endpoint("Creating"))
    sm.add_response("describe_endpoint", _endpoint("InService"))

    execution = run(aws, INPUT)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.sleeps == [  # pollSeconds from the input; nothing retried
        ("WaitForTuning", 2),
        ("WaitForTuning", 2),
        ("WaitForTraining", 2),
        ("WaitForEndpoint", 2),
        ("WaitForEndpoint", 2),
    ]
    out = execution.output
    assert out["tuningJob"] == NAMES.tuningJob
    assert out["bestTrainingJob"] == f"{NAMES.tuningJob}-002-abcdef12"
    assert out["bestHyperparameters"]["arch"] == "resnet18" and out["bestHyperparameters"]["lr"] == 0.01
    assert out["objective"]["value"] == 0.9
    assert out["retrainJob"] == NAMES.retrainJob
    assert out["modelArtifact"].endswith(f"{NAMES.retrainJob}/output/model.tar.gz")
    assert out["finalMetrics"] == {"test:accuracy": 0.8}
    assert out["profiler"]["reportUri"].endswith(f"{NAMES.retrainJob}/output/output.tar.gz")
    assert out["profiler"]["rules"] == [{"name": "StepOutlier", "status": "NoIssuesFound"}]
    assert out["endpoint"]["name"] == "dog-breeds" and out["endpoint"]["status"] == "InService"
    assert out["deployed"] is True
    assert out["reason"] == "no endpoint is serving yet; test accuracy 0.8000 >= deploy.minAccuracy 0.0000"
    assert out["evaluation"]["top1Accuracy"] == 0.8 and out["evaluation"]["testSet"] == TEST_SET
    assert out["evaluation"]["reportUri"] == out["profiler"]["reportUri"]
    assert out["evaluation"]["reportPath"] == "evaluation.html"


def test_a_failed_retrain_ends_in_fail_with_its_failure_reason(aws: dict[str, Any]) -> None:
    sm, s3 = aws["sm"], aws["s3"]
    _start(aws)
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed"))
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed", best=True))
    s3.add_response("head_object", {})
    sm.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{NAMES.retrainJob}"})
    sm.add_response("describe_training_job", _training("InProgress"))
    sm.add_response(
        "describe_training_job", _training("Failed", FailureReason="AlgorithmError: CUDA out of memory")
    )
    # Cleanup: the tuning job is done, the retrain already failed: nothing to stop
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed"))
    sm.add_response("describe_training_job", _training("Failed"))

    execution = run(aws, INPUT)

    assert execution.status == "FAILED"
    assert execution.visited[-3:] == ["CheckTraining", "Cleanup", "Failed"]
    assert execution.error == "JobFailed"
    assert execution.cause == f"Training job {NAMES.retrainJob} failed: AlgorithmError: CUDA out of memory"


def test_bad_input_fails_fast_naming_the_field(aws: dict[str, Any]) -> None:
    sm = aws["sm"]
    sm.add_client_error("describe_hyper_parameter_tuning_job", "ResourceNotFound", "not found")
    sm.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")

    execution = run(aws, {"tuning": {"strategy": "Annealing"}})

    assert execution.status == "FAILED"
    assert execution.visited == ["StartTuning", "StartTuningFailed", "Cleanup", "Failed"]
    assert execution.error == "InvalidInput"
    assert execution.cause is not None and execution.cause.startswith(
        "Invalid execution input: tuning.strategy:"
    )


def test_cleanup_stops_the_tuning_job_when_a_later_check_fails(aws: dict[str, Any]) -> None:
    sm = aws["sm"]
    _start(aws)
    sm.add_response(
        "describe_hyper_parameter_tuning_job", _tuning("Failed") | {"FailureReason": "No capacity"}
    )
    sm.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": []})
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("InProgress"))  # still winding down
    sm.add_response("stop_hyper_parameter_tuning_job", {})
    sm.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")

    execution = run(aws, INPUT)

    assert execution.error == "JobFailed"
    assert execution.cause == (
        f"Tuning job {NAMES.tuningJob} failed: No capacity [cleanup stopped: tuning job {NAMES.tuningJob}]"
    )


def test_throttling_is_retried_by_the_state_machine(aws: dict[str, Any]) -> None:
    sm, s3 = aws["sm"], aws["s3"]
    s3.add_response("head_object", {})
    sm.add_client_error("create_hyper_parameter_tuning_job", "ThrottlingException", "Rate exceeded")
    _start(aws)  # the retry: same names, so no duplicate job could appear
    sm.add_client_error("describe_hyper_parameter_tuning_job", "ValidationException", "simulated outage", 400)
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("InProgress"))  # Cleanup
    sm.add_response("stop_hyper_parameter_tuning_job", {})
    sm.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")

    execution = run(aws, INPUT)

    assert execution.visited[:3] == ["StartTuning", "WaitForTuning", "CheckTuning"]
    assert execution.sleeps[0] == ("StartTuning", 5)  # the SageMakerThrottled retrier's interval
    assert (
        execution.error == "ClientError"
        and execution.cause is not None
        and "simulated outage" in execution.cause
    )


@pytest.mark.parametrize(
    ("execution_input", "kind"), [([1, 2], "an array"), ("dogs", "a string"), (42, "a number")]
)
def test_input_that_is_not_an_object_fails_naming_the_problem(
    aws: dict[str, Any], execution_input: Any, kind: str
) -> None:
    """Step Functions accepts any JSON value as input; the first step must say it needs an object
    (not fail with States.ResultPathMatchFailure because the Catch cannot write $.error into it)."""
    sm = aws["sm"]
    sm.add_client_error("describe_hyper_parameter_tuning_job", "ResourceNotFound", "not found")
    sm.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")

    execution = run(aws, execution_input)

    assert execution.status == "FAILED"
    assert execution.visited == ["StartTuning", "StartTuningFailed", "Cleanup", "Failed"]
    assert execution.error == "InvalidInput"
    assert execution.cause == f"Invalid execution input: must be a JSON object, got {kind}"


# -- the deployment gate -------------------------------------------------------------------------

OLD_CONFIG = "dogs-old-run-endpoint-config"
OLD_MODEL = "dogs-old-run-model"


def _until_retrained(aws: dict[str, Any], accuracy: float, test_set: str = TEST_SET) -> None:
    """Tuning, PickBest and a retrain whose evaluation.json reports ``accuracy``."""
    sm, s3 = aws["sm"], aws["s3"]
    _start(aws)
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed"))
    sm.add_response("describe_hyper_parameter_tuning_job", _tuning("Completed", best=True))
    s3.add_response("head_object", {})
    sm.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{NAMES.retrainJob}"})
    sm.add_response("describe_training_job", _training("InProgress"))
    sm.add_response(
        "describe_training_job",
        _training(
            "Completed",
            FinalMetricDataList=[{"MetricName": "test:accuracy", "Value": accuracy, "Timestamp": NOW}],
        ),
    )
    s3.add_response("get_object", {"Body": _output_archive(_evaluation(accuracy, test_set))})


def _serving_old_model(aws: dict[str, Any], accuracy: float) -> None:
    """DeployGate's look-up: the endpoint serves OLD_MODEL, tagged with its evaluation."""
    sm = aws["sm"]
    sm.add_response(
        "describe_endpoint",
        _endpoint("InService") | {"EndpointConfigName": OLD_CONFIG},
        {"EndpointName": "dog-breeds"},
    )
    sm.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": OLD_CONFIG,
            "EndpointConfigArn": f"{ARN}:endpoint-config/{OLD_CONFIG}",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": OLD_MODEL}],
            "CreationTime": NOW,
        },
        {"EndpointConfigName": OLD_CONFIG},
    )
    sm.add_response(
        "describe_model",
        {
            "ModelName": OLD_MODEL,
            "ModelArn": f"{ARN}:model/{OLD_MODEL}",
            "PrimaryContainer": {"Image": "i", "ModelDataUrl": "s3://pipeline-bucket-abc/old/model.tar.gz"},
            "CreationTime": NOW,
        },
        {"ModelName": OLD_MODEL},
    )
    sm.add_response(
        "list_tags",
        {
            "Tags": [
                {"Key": "app", "Value": "image-classifier-pipeline"},
                {"Key": "evaluation:top1Accuracy", "Value": f"{accuracy:.6f}"},
                {"Key": "evaluation:testSet", "Value": TEST_SET},
            ]
        },
        {"ResourceArn": f"{ARN}:model/{OLD_MODEL}"},
    )


def test_a_worse_retrain_is_kept_not_deployed_and_the_execution_succeeds(aws: dict[str, Any]) -> None:
    _until_retrained(aws, accuracy=0.80)
    _serving_old_model(aws, accuracy=0.90)
    # nothing else is queued: a CreateModel / UpdateEndpoint call would fail the execution

    execution = run(aws, INPUT)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.visited[-3:] == ["DeployGate", "Deploy?", "Succeeded"]
    out = execution.output
    assert out["deployed"] is False
    assert "test accuracy 0.8000 is below the serving model dogs-old-run-model's 0.9000" in out["reason"]
    assert "deploy.tolerance 0.01" in out["reason"] and "deploy.force: true" in out["reason"]
    assert out["endpoint"] == {
        "name": "dog-breeds",
        "status": "InService",
        "action": "unchanged",
        "model": OLD_MODEL,
    }
    kept = f"s3://pipeline-bucket-abc/models/{NAMES.retrainJob}/output/model.tar.gz"
    assert out["modelArtifact"] == kept and kept in out["reason"]
    assert out["evaluation"]["top1Accuracy"] == 0.8
    assert out["evaluation"]["reportUri"].endswith("/output/output.tar.gz")


def test_within_tolerance_of_the_serving_model_is_deployed(aws: dict[str, Any]) -> None:
    sm = aws["sm"]
    _until_retrained(aws, accuracy=0.895)
    _serving_old_model(aws, accuracy=0.90)
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{NAMES.model}"})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/x"})
    sm.add_response("describe_endpoint", _endpoint("InService") | {"EndpointConfigName": OLD_CONFIG})
    sm.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"})
    sm.add_response("describe_endpoint", _endpoint("InService"))

    execution = run(aws, INPUT)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    out = execution.output
    assert out["deployed"] is True and out["endpoint"]["action"] == "updated"
    assert out["reason"] == (
        "test accuracy 0.8950 >= the serving model dogs-old-run-model's 0.9000 - deploy.tolerance 0.01"
    )


def test_force_replaces_the_better_serving_model(aws: dict[str, Any]) -> None:
    sm = aws["sm"]
    _until_retrained(aws, accuracy=0.80)
    # deploy.force: no comparison, so no look-up of the serving model
    model_request = {
        "ModelName": NAMES.model,
        "PrimaryContainer": ANY,
        "ExecutionRoleArn": ENV["SAGEMAKER_ROLE_ARN"],
        "Tags": [
            {"Key": "app", "Value": "image-classifier-pipeline"},
            {"Key": "evaluation:top1Accuracy", "Value": "0.800000"},
            {"Key": "evaluation:testSet", "Value": TEST_SET},
        ],
    }
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{NAMES.model}"}, model_request)
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/x"})
    sm.add_response("describe_endpoint", _endpoint("InService") | {"EndpointConfigName": OLD_CONFIG})
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/dog-breeds"},
        {
            "EndpointName": "dog-breeds",
            "EndpointConfigName": NAMES.endpointConfig,
            "RetainAllVariantProperties": False,
            "DeploymentConfig": ANY,
        },
    )
    sm.add_response("describe_endpoint", _endpoint("Updating"))
    sm.add_response("describe_endpoint", _endpoint("InService"))

    execution = run(aws, {**INPUT, "deploy": {"force": True}})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    out = execution.output
    assert out["deployed"] is True
    assert out["reason"] == "deploy.force: deployed without comparing (test accuracy 0.8000)"
    assert out["endpoint"]["config"] == NAMES.endpointConfig and out["endpoint"]["action"] == "updated"


def test_a_different_test_set_is_compared_with_min_accuracy_only(aws: dict[str, Any]) -> None:
    sm = aws["sm"]
    _until_retrained(aws, accuracy=0.7, test_set="sha256:" + "cd" * 32)
    _serving_old_model(aws, accuracy=0.9)
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{NAMES.model}"})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/x"})
    sm.add_response("describe_endpoint", _endpoint("InService") | {"EndpointConfigName": OLD_CONFIG})
    sm.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/dog-breeds"})
    sm.add_response("describe_endpoint", _endpoint("InService"))

    execution = run(aws, {**INPUT, "deploy": {"minAccuracy": 0.6}})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    out = execution.output
    assert out["deployed"] is True
    assert "evaluated on a different test set" in out["reason"]
    assert "compared with deploy.minAccuracy only; test accuracy 0.7000 >= 0.6000" in out["reason"]


def test_below_min_accuracy_is_not_deployed_even_without_an_endpoint(aws: dict[str, Any]) -> None:
    _until_retrained(aws, accuracy=0.5)
    aws["sm"].add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint dog-breeds."
    )

    execution = run(aws, {**INPUT, "deploy": {"minAccuracy": 0.6}})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    out = execution.output
    assert out["deployed"] is False
    assert out["reason"] == "test accuracy 0.5000 is below deploy.minAccuracy 0.6000"
    assert out["endpoint"] == {
        "name": "dog-breeds",
        "status": "NotDeployed",
        "action": "unchanged",
        "model": "",
    }
