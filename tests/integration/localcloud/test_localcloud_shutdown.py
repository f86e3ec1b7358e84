"""``localcloud`` stopped (SIGTERM, as ``localcloud stop`` and Ctrl-C do) while its endpoints are
between states: no model server outlives it, whichever state its endpoint was in.

- an endpoint still Creating (its model takes minutes to load): the deployment's server;
- an endpoint just updated blue/green whose old (blue) fleet is still draining a request in
  flight: the old server, which is no longer routed to;
- the new (green) fleet, which is.

localcloud exits 0 within the test's stop timeout, and started again on the same state it brings
both endpoints back: the updated one on its new config, the other one InService at last. Each
server's /tmp (``TMPDIR``) is a folder of its own in the state dir, gone when the server stops.

A server that crashes is replaced; a replacement that cannot pass ``/ping`` is stopped with its
/tmp before the next attempt (they used to pile up), and once the model loads again one serves.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from support.localcloud_proc import LocalCloudProcess
from support.sagemaker_jobs import ROLE, tarball, wait_for

pytestmark = pytest.mark.slow

BUCKET = "shutdown-tests"
LOADING = 15  # seconds the sluggish model takes to load: localcloud is stopped long before
SLOW_INFERENCE = textwrap.dedent("""
    import json, os, tempfile, time
    def model_fn(model_dir):
        model = json.load(open(os.path.join(model_dir, "model.json")))
        time.sleep(model["load_seconds"])
        return model
    def input_fn(body, content_type):
        return json.loads(body)
    def predict_fn(data, model):
        time.sleep(data.get("sleep", 0))
        return {"answer": data["x"] * model["scale"], "tmp": tempfile.gettempdir()}
    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def model_servers(state_dir: Path) -> list[psutil.Process]:
    """The model-server processes (supervisors and workers) whose command line names ``state_dir``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "localcloud.sagemaker.model_server" in cmdline and str(state_dir) in cmdline:
            found.append(proc)
    return found


def create_model(sm: Any, s3: Any, name: str, load_seconds: int) -> None:
    key = f"models/{name}.tar.gz"
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=tarball(
            {
                "model.json": json.dumps({"scale": 3, "load_seconds": load_seconds}).encode(),
                "code/inference.py": SLOW_INFERENCE.encode(),
            }
        ),
    )
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "echo", "ModelDataUrl": f"s3://{BUCKET}/{key}"},
    )


def create_config(sm: Any, name: str, model: str) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.t2.medium",
            }
        ],
    )


def servers(state_dir: Path) -> set[int]:
    """The model servers' pids (their workers are their children)."""
    return {p.pid for p in model_servers(state_dir) if "--worker" not in p.info["cmdline"]}


def holds_a_request(pid: int) -> bool:
    """The server or a worker of it has a connection open (the edge's request; nothing else calls it)."""
    server = psutil.Process(pid)
    return any(
        c.status == psutil.CONN_ESTABLISHED
        for proc in (server, *server.children())
        for c in proc.net_connections()
    )


def until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def assert_both_endpoints_come_back(lc: LocalCloudProcess) -> None:
    """Started again on the same state: the update kept, the deployment finished, a /tmp per server."""
    lc.start()  # the same state: both endpoints come back (start-up waits for them)
    try:
        sm = lc.client("sagemaker")
        updated = sm.describe_endpoint(EndpointName="updated")
        assert (updated["EndpointStatus"], updated["EndpointConfigName"]) == ("InService", "green")
        assert sm.describe_endpoint(EndpointName="creating")["EndpointStatus"] == "InService"
        answer = lc.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="updated", Body=json.dumps({"x": 14}), ContentType="application/json"
        )
        served = json.loads(answer["Body"].read())
        assert served["answer"] == 42
        assert Path(served["tmp"]).parent == lc.state_dir / "sagemaker" / "endpoint-tmp"
        assert Path(served["tmp"]).is_dir()
    finally:
        lc.stop()
    assert model_servers(lc.state_dir) == []
    assert list((lc.state_dir / "sagemaker" / "endpoint-tmp").iterdir()) == []


def test_stopping_mid_deployment_and_mid_drain_leaves_no_model_server(tmp_path: Path) -> None:
    lc = LocalCloudProcess(tmp_path / "state").start()
    in_flight: list[Any] = []
    try:
        s3, sm = lc.client("s3"), lc.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        create_model(sm, s3, "quick", load_seconds=0)
        create_model(sm, s3, "sluggish", load_seconds=LOADING)
        for config, model in (("blue", "quick"), ("green", "quick"), ("sluggish", "sluggish")):
            create_config(sm, config, model)

        sm.create_endpoint(EndpointName="updated", EndpointConfigName="blue")
        wait_for(lambda: sm.describe_endpoint(EndpointName="updated"), "EndpointStatus", ("InService",), 120)
        (blue,) = servers(lc.state_dir)

        # a request that holds the blue server for a minute: its fleet drains it after the update
        runtime = lc.client("sagemaker-runtime")

        def invoke() -> None:
            try:
                body = json.dumps({"x": 1, "sleep": 60})
                runtime.invoke_endpoint(EndpointName="updated", Body=body, ContentType="application/json")
            except Exception as exc:  # localcloud stops under it
                in_flight.append(exc)

        caller = threading.Thread(target=invoke)
        caller.start()
        until(lambda: holds_a_request(blue), "the request on the blue server")

        sm.update_endpoint(EndpointName="updated", EndpointConfigName="green")
        wait_for(lambda: sm.describe_endpoint(EndpointName="updated"), "EndpointStatus", ("InService",), 120)
        sm.create_endpoint(EndpointName="creating", EndpointConfigName="sluggish")

        def blue_and_two_more() -> set[int]:
            found = servers(lc.state_dir)
            return found if len(found - {blue}) >= 2 else set()

        running = until(blue_and_two_more, "the green server and the one still loading its model")
        assert blue in running, "the blue server stopped before its request finished"
        assert sm.describe_endpoint(EndpointName="creating")["EndpointStatus"] == "Creating"
    finally:
        lc.stop()
    caller.join(timeout=60)
    assert lc.proc is not None and lc.proc.returncode == 0, lc.server_log()[-3000:]
    leftovers = model_servers(lc.state_dir)
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]

    assert_both_endpoints_come_back(lc)


FLAKY_INFERENCE = textwrap.dedent("""
    import json, os
    def model_fn(model_dir):
        if os.path.exists(os.environ["BREAK_FILE"]):
            raise RuntimeError("the model cannot load now")
        return {}
    def input_fn(body, content_type):
        return json.loads(body)
    def predict_fn(data, model):
        if data.get("die"):
            os._exit(3)  # the server crashes mid-request
        return {"ok": True}
    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def test_a_replacement_that_fails_its_health_check_is_stopped_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "break"
    lc = LocalCloudProcess(tmp_path / "state").start()
    try:
        s3, sm = lc.client("s3"), lc.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(
            Bucket=BUCKET,
            Key="models/flaky.tar.gz",
            Body=tarball({"code/inference.py": FLAKY_INFERENCE.encode()}),
        )
        sm.create_model(
            ModelName="flaky",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "echo",
                "ModelDataUrl": f"s3://{BUCKET}/models/flaky.tar.gz",
                "Environment": {"BREAK_FILE": str(broken)},
            },
        )
        create_config(sm, "flaky", "flaky")
        sm.create_endpoint(EndpointName="flaky", EndpointConfigName="flaky")
        wait_for(lambda: sm.describe_endpoint(EndpointName="flaky"), "EndpointStatus", ("InService",), 120)
        tmp_root = lc.state_dir / "sagemaker" / "endpoint-tmp"
        (first,) = tmp_root.iterdir()

        broken.touch()  # from now on a replacement cannot load the model
        runtime = lc.client("sagemaker-runtime")
        with pytest.raises(ClientError):
            runtime.invoke_endpoint(
                EndpointName="flaky", Body=b'{"die": true}', ContentType="application/json"
            )
        streams = lc.state_dir / "logs" / "aws" / "sagemaker" / "Endpoints" / "flaky" / "AllTraffic"
        until(lambda: len(list(streams.glob("i-*.log"))) >= 4, "three failed replacements", timeout=120)
        # the crashed server's folder (until it is replaced) and at most the attempt under way: each
        # failed replacement was stopped with its /tmp, none piles up
        left = sorted(tmp_root.iterdir())
        assert first in left and len(left) <= 2, left
        assert len(servers(lc.state_dir)) <= 1

        broken.unlink()  # the next replacement loads and serves
        answer = until(lambda: _invoke_or_none(runtime, "flaky"), "a replacement that serves", timeout=90)
        assert answer == {"ok": True}
        (fresh,) = tmp_root.iterdir()
        assert fresh != first
    finally:
        lc.stop()
    assert model_servers(lc.state_dir) == []


def _invoke_or_none(runtime: Any, endpoint: str) -> Any:
    try:
        body = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")[
            "Body"
        ]
    except ClientError:
        return None
    return json.loads(body.read())
