"""An endpoint's AWS/SageMaker invocation metrics survive ``localcloud`` restarts: a clean stop (all
of them) and a ``kill -9`` of the server (all but the last flush interval's, so the test waits
longer than that before killing). A real ``localcloud up``, a torch-free echo model."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from localcloud.cloudwatch.models import FLUSH_SECONDS
from support.localcloud_proc import LocalCloudProcess
from support.sagemaker_jobs import ROLE, tarball, wait_for

pytestmark = pytest.mark.slow

BUCKET = "cw-persist"
ENDPOINT = "echo"
DIMENSIONS = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "AllTraffic"}]
ECHO_INFERENCE = textwrap.dedent("""
    import json
    def model_fn(model_dir):
        return None
    def input_fn(body, content_type):
        return json.loads(body)
    def predict_fn(data, model):
        return data
    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def _deploy(lc: LocalCloudProcess) -> None:
    s3, sm = lc.client("s3"), lc.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET, Key="echo.tar.gz", Body=tarball({"code/inference.py": ECHO_INFERENCE.encode()})
    )
    sm.create_model(
        ModelName=ENDPOINT,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "echo", "ModelDataUrl": f"s3://{BUCKET}/echo.tar.gz"},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1}
    sm.create_endpoint_config(
        EndpointConfigName=ENDPOINT, ProductionVariants=[{**variant, "InstanceType": "ml.t2.medium"}]
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    wait_for(
        lambda: sm.describe_endpoint(EndpointName=ENDPOINT), "EndpointStatus", ("InService",), timeout=120
    )


def _invoke(lc: LocalCloudProcess, times: int) -> None:
    runtime = lc.client("sagemaker-runtime")
    for i in range(times):
        answer = runtime.invoke_endpoint(
            EndpointName=ENDPOINT, Body=json.dumps({"i": i}), ContentType="application/json"
        )
        assert json.loads(answer["Body"].read()) == {"i": i}


def _invocations(lc: LocalCloudProcess, since: dt.datetime) -> tuple[float, float]:
    """(Sum of Invocations by GetMetricStatistics, by GetMetricData) since ``since``."""
    cw = lc.client("cloudwatch")
    window: dict[str, Any] = {
        "StartTime": since,
        "EndTime": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    }
    stats = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=DIMENSIONS,
        Period=60,
        Statistics=["Sum"],
        **window,
    )["Datapoints"]
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "n",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "Invocations",
                        "Dimensions": DIMENSIONS,
                    },
                    "Period": 3600,
                    "Stat": "SampleCount",
                },
            }
        ],
        **window,
    )["MetricDataResults"][0]["Values"]
    return sum(p["Sum"] for p in stats), sum(data)


def test_invocation_metrics_survive_a_clean_restart_and_a_kill(tmp_path: Path) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    lc = LocalCloudProcess(tmp_path / "state").start()
    try:
        _deploy(lc)
        _invoke(lc, 5)
        assert _invocations(lc, since) == (5, 5)

        lc.stop()  # SIGTERM: the server writes what it recorded before it exits
        lc.start()
        assert _invocations(lc, since) == (5, 5)
        wait_for(
            lambda: lc.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT),
            "EndpointStatus",
            ("InService",),
            timeout=120,
        )
        _invoke(lc, 3)
        time.sleep(2 * FLUSH_SECONDS + 1)  # a background flush ran after the last invocation

        server = lc.pid
        lc.kill()  # SIGKILL, by the server's PID
        assert not psutil.pid_exists(server) or psutil.Process(server).status() == psutil.STATUS_ZOMBIE
        lc.start()
        assert _invocations(lc, since) == (8, 8)
        listed = lc.client("cloudwatch").list_metrics(Namespace="AWS/SageMaker")["Metrics"]
        assert {m["MetricName"] for m in listed} >= {"Invocations", "ModelLatency", "Invocation5XXErrors"}
    finally:
        lc.stop()
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if str(lc.state_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]
