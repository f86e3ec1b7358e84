"""SageMaker requests the way the SageMaker Python SDK sends them, and the defaults it reads back.

Through boto3 against a real ``localcloud up`` with the torch-free script-mode program: SDK 2.x
tuning requests carry ``HyperParameterTuningResourceConfig``; ``Estimator.attach()`` and
``HyperparameterTuner.attach()`` read ``OutputDataConfig.KmsKeyId``, the definition's
``ResourceConfig`` and ``StaticHyperParameters["_tuning_objective_metric"]``; SDK 3.x
``ModelTrainer`` runs its code through ``AlgorithmSpecification.ContainerEntrypoint`` with the
job's folder presented at ``/opt/ml``. (tests/sdk/ runs the SDKs themselves.)
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker import container_mode
from support.localcloud_proc import LocalCloudProcess
from support.sagemaker_jobs import (
    MINI_TRAIN,
    channels,
    finished_training_job,
    finished_tuning_job,
    tarball,
    training_log,
    training_request,
)

pytestmark = pytest.mark.slow

BUCKET = "sdk-requests"


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with LocalCloudProcess(tmp_path_factory.mktemp("lc-sdk-requests") / "state") as proc:
        yield proc


@pytest.fixture(scope="module")
def sm(lc: LocalCloudProcess) -> Any:
    return lc.client("sagemaker")


@pytest.fixture(scope="module")
def world(lc: LocalCloudProcess) -> dict[str, Any]:
    s3 = lc.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/train/a.txt", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()}))
    return {
        "code": f"s3://{BUCKET}/code/mini.tar.gz",
        "data": channels(BUCKET, "data/", ("train",)),
        "output": f"s3://{BUCKET}/output/",
    }


def _definition(world: dict[str, Any]) -> dict[str, Any]:
    definition = training_request(
        "x",
        code_uri=world["code"],
        data=world["data"],
        output=world["output"],
        hyperparameters={"sleep": "0"},
    )
    definition.pop("TrainingJobName")
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    return definition


TUNING_CONFIG = {
    "Strategy": "Random",
    "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
    "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
    "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "0.5"}]},
}


def test_describe_training_job_fills_in_aws_defaults(sm: Any, world: dict[str, Any]) -> None:
    request = training_request(
        "sdk-defaults", code_uri=world["code"], data=world["data"], output=world["output"], hyperparameters={}
    )
    del request["StoppingCondition"]
    for channel in request["InputDataConfig"]:
        del channel["DataSource"]["S3DataSource"]["S3DataDistributionType"]
    sm.create_training_job(**request)
    job = finished_training_job(sm, "sdk-defaults")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    # Estimator.attach() reads OutputDataConfig["KmsKeyId"]
    assert job["OutputDataConfig"] == {
        "KmsKeyId": "",
        "S3OutputPath": world["output"],
        "CompressionType": "GZIP",
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    channel = job["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert channel["CompressionType"] == "None"
    assert channel["RecordWrapperType"] == "None"
    assert job["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is False


def test_tuning_with_hyperparameter_tuning_resource_config(sm: Any, world: dict[str, Any]) -> None:
    """SDK 2.x's tuner sends HyperParameterTuningResourceConfig instead of ResourceConfig."""
    definition = _definition(world)
    resources = definition.pop("ResourceConfig")
    definition["HyperParameterTuningResourceConfig"] = resources
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sdk-hpo-resources",
        HyperParameterTuningJobConfig=TUNING_CONFIG,
        TrainingJobDefinition=definition,
    )
    tuning = finished_tuning_job(sm, "sdk-hpo-resources")
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    described = tuning["TrainingJobDefinition"]
    assert described["HyperParameterTuningResourceConfig"] == resources
    assert described["ResourceConfig"] == resources  # HyperparameterTuner.attach() reads it
    # HyperparameterTuner.attach() deletes this key; AWS adds it to the static hyperparameters
    assert described["StaticHyperParameters"]["_tuning_objective_metric"] == "valid:accuracy"
    assert described["OutputDataConfig"]["KmsKeyId"] == ""
    trial = sm.describe_training_job(TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"])
    assert trial["ResourceConfig"] == resources
    assert trial["HyperParameters"]["_tuning_objective_metric"] == "valid:accuracy"


def test_tuning_resource_config_choices(sm: Any, world: dict[str, Any]) -> None:
    definition = _definition(world)
    definition["HyperParameterTuningResourceConfig"] = dict(definition["ResourceConfig"])
    with pytest.raises(ClientError, match="not both") as both:
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="sdk-hpo-both",
            HyperParameterTuningJobConfig=TUNING_CONFIG,
            TrainingJobDefinition=definition,
        )
    assert both.value.response["Error"]["Code"] == "ValidationException"

    definition = _definition(world)
    del definition["ResourceConfig"]
    definition["HyperParameterTuningResourceConfig"] = {
        "InstanceConfigs": [
            {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
            {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        ]
    }
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sdk-hpo-instance-configs",
        HyperParameterTuningJobConfig={
            **TUNING_CONFIG,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
        },
        TrainingJobDefinition=definition,
    )
    tuning = finished_tuning_job(sm, "sdk-hpo-instance-configs")
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    trial = sm.describe_training_job(TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"])
    # AllocationStrategy Prioritized: the first instance type (one machine always has capacity)
    assert trial["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"


def test_container_entrypoint_runs_with_the_job_at_opt_ml(
    lc: LocalCloudProcess, sm: Any, world: dict[str, Any]
) -> None:
    """SDK 3.x ModelTrainer: no sagemaker_program; a command that reads and writes /opt/ml itself."""
    reason = container_mode.unavailable_reason()
    if reason is not None:
        pytest.skip(f"ContainerEntrypoint cannot run here: {reason}")
    script = (
        "set -e; cat /opt/ml/input/config/hyperparameters.json; echo; ls /opt/ml/input/data/train; "
        'echo "valid_accuracy=0.75"; echo trained > /opt/ml/model/weights.txt; '
        "test -d /opt/ml/checkpoints"
    )
    request = training_request(
        "sdk-entrypoint",
        code_uri=world["code"],
        data=world["data"],
        output=world["output"],
        hyperparameters={},
    )
    request["HyperParameters"] = {"epochs": "2"}  # no sagemaker_program: the toolkit is not involved
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["/bin/bash"]
    request["AlgorithmSpecification"]["ContainerArguments"] = ["-c", script]
    sm.create_training_job(**request)
    job = finished_training_job(sm, "sdk-entrypoint")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    log = training_log(lc.state_dir, "sdk-entrypoint")
    assert '"epochs": "2"' in log
    assert "a.txt" in log  # the train channel, at /opt/ml/input/data/train
    assert job["FinalMetricDataList"][0]["Value"] == 0.75
    model = lc.client("s3").get_object(Bucket=BUCKET, Key="output/sdk-entrypoint/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(model["Body"].read())) as tar:
        assert tar.extractfile("weights.txt").read() == b"trained\n"  # type: ignore[union-attr]

    del request["AlgorithmSpecification"]["ContainerEntrypoint"]
    request["TrainingJobName"] = "sdk-arguments-alone"
    with pytest.raises(ClientError, match="ContainerArguments can only be specified together"):
        sm.create_training_job(**request)
