"""CloudWatch metrics and Logs of a real (tiny, torch-free) training job on a real ``localcloud up``.

The job prints one metric line per epoch, about a second apart. Its metrics are read back with
GetMetricStatistics / GetMetricData / ListMetrics in each protocol botocore can speak to CloudWatch
(RPC-v2 CBOR, botocore's default; JSON 1.0; query, forced through a copy of the service model)
and with the AWS CLI; its log with the calls the sagemaker SDK's ``logs_for_job`` makes.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.localcloud_proc import REPO, LocalCloudProcess
from support.sagemaker_jobs import (
    METRICS,
    MINI_TRAIN,
    channels,
    tarball,
    training_request,
    wait_for,
)

pytestmark = pytest.mark.slow

JOB = "cw-mini"
NAMESPACE = "/aws/sagemaker/TrainingJobs"
HOST = [{"Name": "Host", "Value": f"{JOB}/algo-1"}]
EPOCHS = 3


def _accuracy(epoch: int, lr: float = 0.1) -> float:  # what MINI_TRAIN prints
    return round(1 - (1 - min(lr, 0.9)) / (epoch + 1), 4)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    with LocalCloudProcess(tmp_path_factory.mktemp("cloudwatch") / "state") as lc:
        yield lc


@pytest.fixture(scope="module")
def job(cloud: LocalCloudProcess) -> dict[str, Any]:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="cw-tests")
    s3.put_object(Bucket="cw-tests", Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()}))
    s3.put_object(Bucket="cw-tests", Key="data/train/x.txt", Body=b"x")
    sm = cloud.client("sagemaker")
    sm.create_training_job(
        **training_request(
            JOB,
            code_uri="s3://cw-tests/code/mini.tar.gz",
            data=channels("cw-tests", "data/", ("train",)),
            output="s3://cw-tests/output/",
            hyperparameters={"epochs": str(EPOCHS), "sleep": "1.5"},
        )
    )
    desc = wait_for(
        lambda: sm.describe_training_job(TrainingJobName=JOB),
        "TrainingJobStatus",
        ("Completed", "Failed", "Stopped"),
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    return desc


def _window(job: dict[str, Any]) -> dict[str, dt.datetime]:
    """The SDK's TrainingJobAnalytics window: training start to end + 1 minute."""
    return {
        "StartTime": job["TrainingStartTime"],
        "EndTime": job["TrainingEndTime"] + dt.timedelta(minutes=1),
    }


def _client_speaking(cloud: LocalCloudProcess, protocol: str, tmp_path: Path) -> Any:
    """A CloudWatch client whose service model offers only ``protocol`` (botocore picks it)."""
    model = copy.deepcopy(botocore.session.get_session().get_service_data("cloudwatch"))
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    folder = tmp_path / "models" / "cloudwatch" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()  # a fresh loader, nothing cached yet
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path / "models"))
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=cloud.edge_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.meta.service_model.protocol == protocol
    return client


def _per_second(client: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    points = client.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="valid:accuracy",
        Dimensions=HOST,
        Period=1,
        Statistics=["Average", "SampleCount", "Maximum"],
        **_window(job),
    )["Datapoints"]
    return sorted(points, key=lambda p: p["Timestamp"])


def test_botocore_speaks_cbor_to_cloudwatch_and_gets_one_datapoint_per_period(cloud, job) -> None:
    cw = cloud.client("cloudwatch")
    assert cw.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    points = _per_second(cw, job)
    assert [p["Average"] for p in points] == [_accuracy(e) for e in range(1, EPOCHS + 1)]
    assert all(p["SampleCount"] == 1 and p["Maximum"] == p["Average"] for p in points)
    start = job["TrainingStartTime"]
    assert all(start - dt.timedelta(seconds=1) <= p["Timestamp"] <= job["TrainingEndTime"] for p in points)
    # one minute per period: the epochs (about a second apart) fall in one or two buckets
    minutes = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="valid:accuracy",
        Dimensions=HOST,
        Period=60,
        Statistics=["SampleCount", "Sum"],
        **_window(job),
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in minutes) == EPOCHS
    assert sum(p["Sum"] for p in minutes) == pytest.approx(sum(_accuracy(e) for e in range(1, EPOCHS + 1)))
    assert all(p["Timestamp"].second == 0 for p in minutes)


def test_query_and_json_protocols_give_the_same_datapoints(cloud, job, tmp_path: Path) -> None:
    expected = _per_second(cloud.client("cloudwatch"), job)
    assert _per_second(_client_speaking(cloud, "query", tmp_path / "q"), job) == expected
    assert _per_second(_client_speaking(cloud, "json", tmp_path / "j"), job) == expected
    query = _client_speaking(cloud, "query", tmp_path / "q2")
    with pytest.raises(ClientError) as info:
        query.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="valid:accuracy",
            Period=45,
            Statistics=["Average"],
            **_window(job),
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_sagemaker_sdk_analytics_request_by_training_job_name(cloud, job) -> None:
    """What ``estimator.training_job_analytics.dataframe()`` sends, per metric definition."""
    cw = cloud.client("cloudwatch")
    for definition in METRICS:
        points = cw.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=definition["Name"],
            Dimensions=[{"Name": "TrainingJobName", "Value": JOB}],
            Period=60,
            Statistics=["Average"],
            **_window(job),
        )["Datapoints"]
        assert points, definition["Name"]
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    test_points = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="test:accuracy",
        Dimensions=[{"Name": "TrainingJobName", "Value": JOB}],
        Period=60,
        Statistics=["Average"],
        **_window(job),
    )["Datapoints"]
    assert [p["Average"] for p in test_points] == [final["test:accuracy"]]


def test_get_metric_data_and_list_metrics(cloud, job) -> None:
    cw = cloud.client("cloudwatch")
    result = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "acc",
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": "valid:accuracy", "Dimensions": HOST},
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        ScanBy="TimestampAscending",
        **_window(job),
    )["MetricDataResults"]
    assert [r["Id"] for r in result] == ["acc"]
    assert result[0]["StatusCode"] == "Complete"
    assert result[0]["Values"] == [_accuracy(e) for e in range(1, EPOCHS + 1)]
    assert result[0]["Timestamps"] == sorted(result[0]["Timestamps"])
    with pytest.raises(ClientError) as info:
        cw.get_metric_data(MetricDataQueries=[{"Id": "m", "Expression": "SUM(METRICS())"}], **_window(job))
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]

    listed = cw.list_metrics(Namespace=NAMESPACE, Dimensions=[{"Name": "Host"}])["Metrics"]
    names = {m["MetricName"] for m in listed if m["Dimensions"] == HOST}
    assert names == {"valid:accuracy", "train:loss", "test:accuracy"}


def test_invalid_metric_requests_get_cloudwatch_errors(cloud, job) -> None:
    cw = cloud.client("cloudwatch")
    base = {"Namespace": NAMESPACE, "MetricName": "valid:accuracy", "Dimensions": HOST, **_window(job)}
    with pytest.raises(ClientError) as info:
        cw.get_metric_statistics(Period=60, **base)
    assert info.value.response["Error"]["Code"] == "MissingParameter"
    start = job["TrainingStartTime"]
    with pytest.raises(ClientError) as info:
        cw.get_metric_statistics(
            **{**base, "StartTime": start, "EndTime": start + dt.timedelta(days=2)},
            Period=60,
            Statistics=["Sum"],
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "exceeds the limit of 1440" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        cw.put_metric_data(Namespace="x", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]


def test_aws_cli_get_metric_statistics(cloud, job) -> None:
    window = _window(job)
    done = subprocess.run(
        [
            str(REPO / ".venv/bin/aws"),
            "cloudwatch",
            "get-metric-statistics",
            "--namespace",
            NAMESPACE,
            "--metric-name",
            "valid:accuracy",
            "--dimensions",
            f"Name=Host,Value={JOB}/algo-1",
            "--start-time",
            window["StartTime"].isoformat(),
            "--end-time",
            window["EndTime"].isoformat(),
            "--period",
            "1",
            "--statistics",
            "Average",
            "--output",
            "json",
        ],
        env=cloud.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    values = sorted(p["Average"] for p in json.loads(done.stdout)["Datapoints"])
    assert values == sorted(_accuracy(e) for e in range(1, EPOCHS + 1))


def test_training_log_reads_like_the_sagemaker_sdk_reads_it(cloud, job) -> None:
    """``logs_for_job``: DescribeLogStreams on ``<job>/``, then GetLogEvents from the head with
    ``startTime`` = last timestamp seen, until a call returns no events."""
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(
        logGroupName=NAMESPACE, logStreamNamePrefix=f"{JOB}/", orderBy="LogStreamName", limit=1
    )
    assert "nextToken" not in streams
    [stream] = [s["logStreamName"] for s in streams["logStreams"]]
    assert re.fullmatch(rf"{JOB}/algo-1-\d{{10}}", stream)  # AWS's <job>/algo-1-<epoch seconds>

    def read(start_time: int, skip: int) -> list[dict[str, Any]]:  # sagemaker.logs.log_stream
        events, token, calls = [], None, 0
        while True:
            calls += 1
            assert calls < 50, "the reader never caught up"
            page = logs.get_log_events(
                logGroupName=NAMESPACE,
                logStreamName=stream,
                startTime=start_time,
                startFromHead=True,
                **({"nextToken": token} if token else {}),
            )
            token = page["nextForwardToken"]
            if not page["events"]:
                return events[skip:]
            events += page["events"]

    events = read(0, 0)
    messages = [e["message"] for e in events]
    epochs = [m for m in messages if m.startswith("epoch=")]
    assert len(epochs) == EPOCHS and "test_accuracy=0.9000" in messages
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    start_ms = job["TrainingStartTime"].timestamp() * 1000
    end_ms = job["TrainingEndTime"].timestamp() * 1000
    assert start_ms - 1500 <= stamps[0] and stamps[-1] <= end_ms + 1500
    # resuming as the SDK does (same timestamp, skipping what was printed) yields nothing twice
    last = stamps[-1]
    assert read(last, stamps.count(last)) == []
