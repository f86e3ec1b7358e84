"""SageMaker on localcloud, driven through boto3 and the AWS CLI against a real ``localcloud up``.

One localcloud instance and one trained model (the real train.py, tiny settings) are shared by
the module: training -> tuning -> endpoint -> blue/green update, plus the control-plane rules
(validation errors, stop, MaxRuntimeInSeconds, failures, file:// local mode, distributed jobs)
exercised with a small script-mode program that needs no torch.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from classifier.sample_data import generate
from support.localcloud_proc import LocalCloudProcess
from support.sagemaker_jobs import (
    METRICS,
    MINI_TRAIN,
    REPO,
    ROLE,
    TINY,
    channels,
    finished_training_job,
    finished_tuning_job,
    real_source,
    tarball,
    training_log,
    training_request,
    upload_dataset,
    wait_for,
)

pytestmark = pytest.mark.slow

BUCKET = "sm-tests"


@pytest.fixture(scope="module")
def lc(module_tmp_path: Path) -> Any:
    with LocalCloudProcess(module_tmp_path / "state") as proc:
        yield proc


@pytest.fixture(scope="module")
def sm(lc: LocalCloudProcess) -> Any:
    return lc.client("sagemaker")


@pytest.fixture(scope="module")
def world(lc: LocalCloudProcess, module_tmp_path: Path) -> dict[str, Any]:
    """A generated dataset and the training code in S3, uploaded the way a user would."""
    s3 = lc.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    root = generate(
        module_tmp_path / "dataset",
        classes=3,
        train_per_class=12,
        valid_per_class=4,
        test_per_class=4,
        size=32,
        seed=0,
    )
    upload_dataset(s3, BUCKET, root)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=real_source())
    s3.put_object(Bucket=BUCKET, Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()}))
    return {
        "root": root,
        "code": f"s3://{BUCKET}/code/sourcedir.tar.gz",
        "mini": f"s3://{BUCKET}/code/mini.tar.gz",
        "data": channels(BUCKET, "data/"),
        "output": f"s3://{BUCKET}/output/",
    }


@pytest.fixture(scope="module")
def trained(sm: Any, world: dict[str, Any]) -> dict[str, Any]:
    """The real train.py on the generated dataset (resnet18, 32 px, one epoch of two steps)."""
    request = training_request(
        "resnet-tiny",
        code_uri=world["code"],
        data=world["data"],
        output=world["output"],
        hyperparameters={**TINY, "epochs": "2"},
    )
    sm.create_training_job(**request)
    return finished_training_job(sm, "resnet-tiny")


def test_training_job_completes_with_metrics_and_model(
    trained: dict[str, Any], lc: LocalCloudProcess
) -> None:
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    assert trained["SecondaryStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in trained["FinalMetricDataList"]}
    assert set(metrics) == {"valid:accuracy", "train:loss", "test:accuracy"}
    assert 0.0 <= metrics["valid:accuracy"] <= 1.0
    statuses = [t["Status"] for t in trained["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    uri = trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/output/resnet-tiny/output/model.tar.gz"
    body = (
        lc.client("s3").get_object(Bucket=BUCKET, Key="output/resnet-tiny/output/model.tar.gz")["Body"].read()
    )
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
    assert {"model.pt", "model.json", "code/inference.py"} <= names
    output = lc.client("s3").head_object(Bucket=BUCKET, Key="output/resnet-tiny/output/output.tar.gz")
    assert output["ContentLength"] > 0


def test_a_finished_job_leaves_no_checkpoints_or_extracted_copies(
    trained: dict[str, Any], lc: LocalCloudProcess
) -> None:
    """As SageMaker tears the instance down: once the artifacts are in S3, the local copies go."""
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    job_dir = lc.state_dir / "sagemaker" / "training-jobs" / "resnet-tiny"
    left = {p.name for p in job_dir.iterdir()} if job_dir.exists() else set()
    assert not left & {"checkpoints", "code", "staging", "algo-1"}, left
    assert training_log(lc.state_dir, "resnet-tiny")  # the logs stay


def test_random_tuning_job_best_matches_listing(sm: Any, world: dict[str, Any]) -> None:
    definition = training_request(
        "unused",
        code_uri=world["code"],
        data=world["data"],
        output=world["output"],
        hyperparameters={**TINY, "arch": '"mobilenet_v3_small"'},
    )
    for key in ("TrainingJobName", "HyperParameters"):
        definition.pop(key)
    definition["StaticHyperParameters"] = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": f'"{world["code"]}"',
        **TINY,
        "arch": '"mobilenet_v3_small"',
    }
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random-3",
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "RandomSeed": 3,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
                ]
            },
        },
        TrainingJobDefinition=definition,
    )
    job = finished_tuning_job(sm, "random-3", timeout=300)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 3
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    listing = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random-3", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    summaries = listing["TrainingJobSummaries"]
    assert len(summaries) == 3
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values, reverse=True)
    best = job["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == values[0]
    assert best["TrainingJobName"] in {
        s["TrainingJobName"]
        for s in summaries
        if s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == values[0]
    }
    for summary in summaries:
        assert summary["TrainingJobName"].startswith("random-3-0")
        assert len(summary["TrainingJobName"]) == len("random-3-001-") + 8
        assert 0.0001 <= float(summary["TunedHyperParameters"]["lr"]) <= 0.1
        trial = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert trial["TuningJobArn"] == job["HyperParameterTuningJobArn"]
        assert trial["HyperParameters"]["_tuning_objective_metric"] == "valid:accuracy"


@pytest.fixture(scope="module")
def endpoint(sm: Any, trained: dict[str, Any]) -> str:
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    for model in ("classifier-blue", "classifier-green"):
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311",
                "ModelDataUrl": artifact,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName=f"{model}-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sm.create_endpoint(EndpointName="classifier", EndpointConfigName="classifier-blue-config")
    described = wait_for(
        lambda: sm.describe_endpoint(EndpointName="classifier"), "EndpointStatus", ("InService", "Failed")
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "classifier"


def test_endpoint_classifies_a_jpeg_and_rejects_garbage(
    lc: LocalCloudProcess, endpoint: str, world: dict[str, Any]
) -> None:
    runtime = lc.client("sagemaker-runtime")
    image = next(Path(world["root"], "test").rglob("*.jpg")).read_bytes()
    response = runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="image/jpeg")
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    predictions = json.loads(response["Body"].read())["predictions"]
    assert {p["label"] for p in predictions} == {"Polka dots", "Stripes", "Checkerboard"}
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert abs(sum(probabilities) - 1.0) < 1e-3

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b"\x00garbage, not an image", ContentType="image/jpeg"
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert error["OriginalMessage"]
    stream = ":log-group:/aws/sagemaker/Endpoints/classifier:log-stream:AllTraffic/i-[0-9a-f]{16}$"
    assert re.search(stream, error["LogStreamArn"]), error["LogStreamArn"]

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="application/pdf")
    assert raised.value.response["OriginalStatusCode"] == 415
    with pytest.raises(ClientError) as raised:  # declared text, but binary
        runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="text/csv")
    assert raised.value.response["OriginalStatusCode"] == 400

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=image, ContentType="image/jpeg")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="bad_name", Body=image, ContentType="image/jpeg")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "endpointName" in raised.value.response["Error"]["Message"]


def _invocation_metrics(lc: LocalCloudProcess, endpoint: str) -> dict[str, float]:
    """Sum of Invocations and Invocation4XXErrors, and ModelLatency's sample count, this hour."""
    cloudwatch, now = lc.client("cloudwatch"), time.time()
    found: dict[str, float] = {}
    for name, statistic in (
        ("Invocations", "Sum"),
        ("Invocation4XXErrors", "Sum"),
        ("ModelLatency", "SampleCount"),
    ):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=name,
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=now - 3600,
            EndTime=now + 60,
            Period=7200,
            Statistics=[statistic],
        )["Datapoints"]
        found[name] = sum(point[statistic] for point in points)
    return found


def test_each_invocation_is_published_to_cloudwatch(
    lc: LocalCloudProcess, endpoint: str, world: dict[str, Any]
) -> None:
    # Recorded once the answer has gone out: by the time a client reads the metrics, they are in.
    runtime = lc.client("sagemaker-runtime")
    image = next(Path(world["root"], "test").rglob("*.jpg")).read_bytes()
    before = _invocation_metrics(lc, endpoint)
    runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="image/jpeg")["Body"].read()
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"not an image", ContentType="image/jpeg")
    after = _invocation_metrics(lc, endpoint)
    assert {name: after[name] - before[name] for name in after} == {
        "Invocations": 2,
        "Invocation4XXErrors": 1,
        "ModelLatency": 2,
    }


def test_invoke_endpoint_through_the_aws_cli(
    lc: LocalCloudProcess, endpoint: str, world: dict[str, Any], tmp_path: Path
) -> None:
    image = next(Path(world["root"], "valid").rglob("*.jpg"))
    out = tmp_path / "prediction.json"
    result = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "aws"),
            "sagemaker-runtime",
            "invoke-endpoint",
            "--endpoint-name",
            endpoint,
            "--content-type",
            "image/jpeg",
            "--body",
            f"fileb://{image}",
            str(out),
        ],
        env=lc.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["predictions"][0]["label"]


def test_update_endpoint_under_continuous_invocations_has_zero_failures(
    lc: LocalCloudProcess, sm: Any, endpoint: str, world: dict[str, Any]
) -> None:
    image = next(Path(world["root"], "test").rglob("*.jpg")).read_bytes()
    stop = threading.Event()
    results: list[str] = []
    failures: list[str] = []

    def invoke_forever() -> None:
        runtime = lc.client("sagemaker-runtime")
        while not stop.is_set():
            try:
                body = runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="image/jpeg")[
                    "Body"
                ]
                results.append(json.loads(body.read())["predictions"][0]["label"])
            except Exception as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=invoke_forever) for _ in range(2)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.0)
        before = len(results)
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName="classifier-green-config")
        assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
        described = wait_for(
            lambda: sm.describe_endpoint(EndpointName=endpoint), "EndpointStatus", ("InService", "Failed")
        )
        during = len(results) - before
        time.sleep(1.0)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert failures == []
    assert during > 0 and len(results) > during
    assert described["EndpointConfigName"] == "classifier-green-config"
    assert "FailureReason" not in described
    log_dir = lc.state_dir / "logs" / "aws" / "sagemaker" / "Endpoints" / endpoint
    assert len(list(log_dir.glob("AllTraffic/i-*.log"))) == 2  # a new (green) server replaced the blue one


def test_invalid_requests_get_aws_error_shapes(lc: LocalCloudProcess, sm: Any, world: dict[str, Any]) -> None:
    definition = training_request(
        "x", code_uri=world["mini"], data=world["data"], output=world["output"], hyperparameters={}
    )
    definition.pop("TrainingJobName")
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    config = {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "0.2"}]
        },
    }

    def error_of(call: Any, **params: Any) -> dict[str, Any]:
        with pytest.raises(ClientError) as raised:
            call(**params)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return dict(raised.value.response["Error"])

    long_name = error_of(
        sm.create_hyper_parameter_tuning_job,
        HyperParameterTuningJobName="t" * 40,
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    assert long_name["Code"] == "ValidationException"
    assert "hyperParameterTuningJobName" in long_name["Message"]
    assert "length less than or equal to 32" in long_name["Message"]

    reversed_range = {
        **config,
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "0.001"}]
        },
    }
    max_below_min = error_of(
        sm.create_hyper_parameter_tuning_job,
        HyperParameterTuningJobName="bad-range",
        HyperParameterTuningJobConfig=reversed_range,
        TrainingJobDefinition=definition,
    )
    assert max_below_min["Code"] == "ValidationException"
    assert "MaxValue" in max_below_min["Message"] and "lr" in max_below_min["Message"]

    request = training_request(
        "bad-instance",
        code_uri=world["mini"],
        data=world["data"],
        output=world["output"],
        hyperparameters={},
        instance_type="ml.banana.xlarge",
    )
    unknown_type = error_of(sm.create_training_job, **request)
    assert unknown_type["Code"] == "ValidationException"
    assert "ml.banana.xlarge" in unknown_type["Message"] and "enum value set" in unknown_type["Message"]

    missing = error_of(sm.describe_training_job, TrainingJobName="never-created")
    assert missing == {"Code": "ValidationException", "Message": "Requested resource not found."}
    with pytest.raises(ClientError) as raised:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="never-created")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"

    log_scale = {
        **config,
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "0", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
            ]
        },
    }
    assert (
        "greater than 0"
        in error_of(
            sm.create_hyper_parameter_tuning_job,
            HyperParameterTuningJobName="bad-log",
            HyperParameterTuningJobConfig=log_scale,
            TrainingJobDefinition=definition,
        )["Message"]
    )
    pipe = training_request(
        "pipe", code_uri=world["mini"], data=world["data"], output=world["output"], hyperparameters={}
    )
    pipe["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    assert "not supported by localcloud" in error_of(sm.create_training_job, **pipe)["Message"]

    # The AWS CLI sees the same shape.
    result = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "aws"),
            "sagemaker",
            "describe-training-job",
            "--training-job-name",
            "nope",
        ],
        env=lc.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "(ValidationException)" in result.stderr and "Requested resource not found." in result.stderr


def test_duplicate_names_are_resource_in_use(sm: Any, world: dict[str, Any]) -> None:
    request = training_request(
        "dup-job",
        code_uri=world["mini"],
        data=world["data"],
        output=world["output"],
        hyperparameters={"epochs": "1", "sleep": "0"},
    )
    sm.create_training_job(**request)
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**request)
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    assert finished_training_job(sm, "dup-job")["TrainingJobStatus"] == "Completed"


def test_script_mode_environment_and_arguments(lc: LocalCloudProcess, sm: Any, world: dict[str, Any]) -> None:
    request = training_request(
        "env-check",
        code_uri=world["mini"],
        data=world["data"],
        output=world["output"],
        hyperparameters={"epochs": "2", "lr": "0.25", "sleep": "0"},
        Environment={"MY_SETTING": "on"},
    )
    sm.create_training_job(**request)
    job = finished_training_job(sm, "env-check")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    body = (
        lc.client("s3").get_object(Bucket=BUCKET, Key="output/env-check/output/output.tar.gz")["Body"].read()
    )
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        handle = tar.extractfile("env.json")
        assert handle is not None
        env = json.load(handle)
    assert json.loads(env["SM_HPS"]) == {"epochs": 2, "lr": 0.25, "sleep": 0}
    assert json.loads(env["SM_USER_ARGS"]) == ["--epochs", "2", "--lr", "0.25", "--sleep", "0"]
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train", "valid"]
    assert Path(env["SM_CHANNEL_TRAIN"]).name == "train"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_GPUS"] == "0"
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "env-check"
    config = env["config_files"]  # read by the job from SM_INPUT_CONFIG_DIR while it ran
    assert config["hyperparameters.json"]["lr"] == "0.25"
    assert config["resourceconfig.json"]["current_host"] == "algo-1"
    assert set(config["inputdataconfig.json"]) == {"train", "valid", "test"}
    log = training_log(lc.state_dir, "env-check")
    assert "epoch=2 train_loss=0.5000" in log
    # the instance's own /tmp, in the job's folder in the state dir, gone with the instance
    host = lc.state_dir / "sagemaker" / "training-jobs" / "env-check" / "algo-1"
    assert env["tmp_dir"] == str(host / "tmp") and not host.exists()


def test_stop_training_job_and_max_runtime(sm: Any, world: dict[str, Any]) -> None:
    slow = {"epochs": "100", "sleep": "0.5"}
    sm.create_training_job(
        **training_request(
            "to-stop",
            code_uri=world["mini"],
            data=world["data"],
            output=world["output"],
            hyperparameters=slow,
        )
    )
    sm.create_training_job(
        **training_request(
            "too-long",
            code_uri=world["mini"],
            data=world["data"],
            output=world["output"],
            hyperparameters=slow,
            max_runtime=3,
        )
    )
    wait_for(lambda: sm.describe_training_job(TrainingJobName="to-stop"), "SecondaryStatus", ("Training",))
    sm.stop_training_job(TrainingJobName="to-stop")
    stopped = finished_training_job(sm, "to-stop")
    assert (stopped["TrainingJobStatus"], stopped["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "ModelArtifacts" in stopped
    with pytest.raises(ClientError) as raised:
        sm.stop_training_job(TrainingJobName="to-stop")
    assert "status Stopped" in raised.value.response["Error"]["Message"]
    timed_out = finished_training_job(sm, "too-long")
    assert (timed_out["TrainingJobStatus"], timed_out["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert 2 <= timed_out["TrainingTimeInSeconds"] <= 30


def test_failed_script_reports_its_error(sm: Any, world: dict[str, Any]) -> None:
    sm.create_training_job(
        **training_request(
            "fails",
            code_uri=world["mini"],
            data=world["data"],
            output=world["output"],
            hyperparameters={"epochs": "3", "sleep": "0", "fail": "epoch2"},
        )
    )
    job = finished_training_job(sm, "fails")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError")
    assert "the loss became NaN at epoch 2" in job["FailureReason"]
    assert {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["valid:accuracy"] > 0


def test_local_mode_file_uris(sm: Any, world: dict[str, Any], tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(MINI_TRAIN)
    data = [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"file://{world['root'] / 'train'}"}
            },
        }
    ]
    request = training_request(
        "local-mode",
        code_uri=f"file://{code}",
        data=data,
        output=f"file://{tmp_path / 'out'}",
        hyperparameters={"epochs": "1", "sleep": "0"},
    )
    sm.create_training_job(**request)
    job = finished_training_job(sm, "local-mode")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert (tmp_path / "out" / "local-mode" / "output" / "model.tar.gz").is_file()
    # the job's file:// channel was a link to the user's folder: removing the job's copies keeps it
    assert len(list((world["root"] / "train").rglob("*.jpg"))) == 36


def test_two_instances_run_a_torch_distributed_job(
    sm: Any, lc: LocalCloudProcess, world: dict[str, Any]
) -> None:
    script = (
        "import os, torch, torch.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "value = torch.tensor([float(dist.get_rank() + 1)])\n"
        "dist.all_reduce(value)\n"
        "print(f\"rank={dist.get_rank()} world={dist.get_world_size()} host={os.environ['SM_CURRENT_HOST']} "
        'sum={value.item():.1f} threads={torch.get_num_threads()}", flush=True)\n'
        "dist.destroy_process_group()\n"
    )
    lc.client("s3").put_object(
        Bucket=BUCKET, Key="code/dist.tar.gz", Body=tarball({"dist.py": script.encode()})
    )
    request = training_request(
        "two-hosts",
        code_uri=f"s3://{BUCKET}/code/dist.tar.gz",
        program="dist.py",
        data=world["data"][:1],
        output=world["output"],
        hyperparameters={},
    )
    request["ResourceConfig"]["InstanceCount"] = 2
    sm.create_training_job(**request)
    job = finished_training_job(sm, "two-hosts")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    log = training_log(lc.state_dir, "two-hosts")
    threads = max(1, (os.cpu_count() or 1) // 2)  # the machine's cores, shared by the two "instances"
    assert f"rank=0 world=2 host=algo-1 sum=3.0 threads={threads}" in log
    assert f"rank=1 world=2 host=algo-2 sum=3.0 threads={threads}" in log


def _mini_definition(world: dict[str, Any], **hps: str) -> dict[str, Any]:
    definition = training_request(
        "x",
        code_uri=world["mini"],
        data=world["data"][:1],
        output=world["output"],
        hyperparameters={"sleep": "0.05", **hps},
    )
    definition.pop("TrainingJobName")
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    return definition


def _tune(sm: Any, name: str, config: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    return finished_tuning_job(sm, name, timeout=180)


def _tuned(sm: Any, name: str) -> list[dict[str, str]]:
    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="Name", MaxResults=100
    )["TrainingJobSummaries"]
    return [s["TunedHyperParameters"] for s in summaries]


def test_grid_search_runs_every_combination_and_seed_reproduces(sm: Any, world: dict[str, Any]) -> None:
    objective = {"Type": "Maximize", "MetricName": "valid:accuracy"}
    grid = {
        "Strategy": "Grid",
        "HyperParameterTuningJobObjective": objective,
        "ResourceLimits": {"MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "CategoricalParameterRanges": [
                {"Name": "lr", "Values": ["0.1", "0.5"]},
                {"Name": "epochs", "Values": ["1", "2"]},
            ]
        },
    }
    job = _tune(sm, "grid-4", grid, _mini_definition(world))
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    combos = sorted((t["lr"], t["epochs"]) for t in _tuned(sm, "grid-4"))
    assert combos == [("0.1", "1"), ("0.1", "2"), ("0.5", "1"), ("0.5", "2")]
    assert job["BestTrainingJob"]["TunedHyperParameters"] == {"lr": "0.5", "epochs": "2"}

    with pytest.raises(ClientError) as raised:
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="grid-bad",
            TrainingJobDefinition=_mini_definition(world),
            HyperParameterTuningJobConfig={
                **grid,
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
            },
        )
    assert "number of distinct combinations" in raised.value.response["Error"]["Message"]

    seeded = {
        "Strategy": "Random",
        "RandomSeed": 42,
        "HyperParameterTuningJobObjective": objective,
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "0.01", "MaxValue": "0.9", "ScalingType": "ReverseLogarithmic"}
            ],
            "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "3"}],
        },
    }
    first = _tune(sm, "seed-a", seeded, _mini_definition(world))
    second = _tune(sm, "seed-b", seeded, _mini_definition(world))
    assert first["HyperParameterTuningJobStatus"] == second["HyperParameterTuningJobStatus"] == "Completed"
    runs_a = sorted(tuple(sorted(t.items())) for t in _tuned(sm, "seed-a"))
    assert runs_a == sorted(tuple(sorted(t.items())) for t in _tuned(sm, "seed-b"))
    assert all(0.01 <= float(dict(run)["lr"]) <= 0.9 for run in runs_a)


def test_stop_tuning_job_stops_its_training_jobs(sm: Any, world: dict[str, Any]) -> None:
    config = {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "50", "MaxValue": "60"}]
        },
    }
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="to-stop",
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=_mini_definition(world, sleep="0.5"),
    )
    wait_for(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="to-stop"),
        "HyperParameterTuningJobStatus",
        ("InProgress",),
    )
    wait_for(lambda: {"n": len(_tuned(sm, "to-stop"))}, "n", (2,), timeout=60)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="to-stop")
    job = finished_tuning_job(sm, "to-stop", timeout=60)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="to-stop")[
        "TrainingJobSummaries"
    ]
    assert len(summaries) == 2 and {s["TrainingJobStatus"] for s in summaries} == {"Stopped"}


def test_auto_early_stopping_stops_jobs_worse_than_the_median(sm: Any, world: dict[str, Any]) -> None:
    config = {
        "Strategy": "Random",
        "RandomSeed": 1,
        "TrainingJobEarlyStoppingType": "Auto",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.9", "ScalingType": "Logarithmic"}
            ]
        },
    }
    job = _tune(sm, "early-stop", config, _mini_definition(world, epochs="4", sleep="0.3"))
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="early-stop", SortBy="CreationTime", MaxResults=10
    )["TrainingJobSummaries"]
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    assert job["TrainingJobStatusCounters"]["Stopped"] == len(stopped) >= 1
    best_lr = float(job["BestTrainingJob"]["TunedHyperParameters"]["lr"])
    assert all(float(s["TunedHyperParameters"]["lr"]) < best_lr for s in stopped)


def test_status_command_lists_jobs_and_endpoints(lc: LocalCloudProcess, endpoint: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localcloud",
            "status",
            "--all",  # this module's jobs outnumber the default newest 10
            "--port",
            str(lc.port),
            "--state-dir",
            str(lc.state_dir),
        ],
        cwd=REPO,
        env={**lc.env(), "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for text in (
        "Training jobs",
        "resnet-tiny",
        "Hyperparameter tuning jobs",
        "random-3",
        "Endpoints",
        endpoint,
    ):
        assert text in result.stdout


def test_metric_definitions_name_the_metrics(trained: dict[str, Any]) -> None:
    assert trained["AlgorithmSpecification"]["MetricDefinitions"] == METRICS


def test_profiler_and_debugger_rule_statuses_come_from_rules_json(sm: Any, world: dict[str, Any]) -> None:
    rule = {
        "RuleEvaluatorImage": "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"
    }
    request = training_request(
        "profiled",
        code_uri=world["mini"],
        data=world["data"][:1],
        output=world["output"],
        hyperparameters={
            "epochs": "1",
            "sleep": "0",
            "rules": "LowGPUUtilization:NoIssuesFound,StepOutlier:IssuesFound,Overfit:NoIssuesFound",
        },
        ProfilerConfig={"S3OutputPath": f"s3://{BUCKET}/profiler/", "ProfilingIntervalInMilliseconds": 500},
        ProfilerRuleConfigurations=[
            {"RuleConfigurationName": "ProfilerReport", **rule},
            {"RuleConfigurationName": "LowGPUUtilization", **rule},
        ],
        DebugRuleConfigurations=[
            {"RuleConfigurationName": "Overfit", **rule},
            {"RuleConfigurationName": "VanishingGradient", **rule},
        ],
    )
    sm.create_training_job(**request)
    running = sm.describe_training_job(TrainingJobName="profiled")
    assert {s["RuleEvaluationStatus"] for s in running["ProfilerRuleEvaluationStatuses"]} <= {"InProgress"}
    job = finished_training_job(sm, "profiled")
    assert job["TrainingJobStatus"] == "Completed" and job["ProfilingStatus"] == "Enabled"
    profiler = {
        s["RuleConfigurationName"]: s["RuleEvaluationStatus"] for s in job["ProfilerRuleEvaluationStatuses"]
    }
    assert profiler == {"ProfilerReport": "IssuesFound", "LowGPUUtilization": "NoIssuesFound"}
    debugger = {s["RuleConfigurationName"]: s for s in job["DebugRuleEvaluationStatuses"]}
    assert debugger["Overfit"]["RuleEvaluationStatus"] == "NoIssuesFound"
    assert debugger["VanishingGradient"]["RuleEvaluationStatus"] == "Error"
    assert "did not evaluate" in debugger["VanishingGradient"]["StatusDetails"]


def test_hyperband_stops_every_job_at_max_resource(sm: Any, world: dict[str, Any]) -> None:
    config = {
        "Strategy": "Hyperband",
        "RandomSeed": 2,
        "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 2}},
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.01", "MaxValue": "0.9"}]
        },
    }
    job = _tune(sm, "hyperband", config, _mini_definition(world, epochs="20", sleep="0.3"))
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Stopped"] == 3
    assert job["ObjectiveStatusCounters"]["Succeeded"] == 3
    for summary in sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="hyperband"
    )["TrainingJobSummaries"]:
        trial = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        epochs = [m for m in trial["FinalMetricDataList"] if m["MetricName"] == "valid:accuracy"]
        assert epochs and trial["TrainingTimeInSeconds"] < 15  # stopped long before 20 epochs
