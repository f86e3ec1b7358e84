"""Lambda on a real ``localcloud up``: functions from the test template run in awslambdaric workers
with their environment; Invoke works from boto3 and the AWS CLI with AWS's error shapes."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from botocore.exceptions import ClientError
from localcloud_testkit import FIXTURE_APP, TEMPLATE, outputs, physical

from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(tmp_path_factory.mktemp("lambda") / "state", template=TEMPLATE) as proc:
        yield proc


def invoke(lc: LocalCloudProcess, function: str, payload: object = None, **kwargs: object) -> dict:
    body = json.dumps(payload if payload is not None else {}).encode()
    response = lc.client("lambda").invoke(FunctionName=function, Payload=body, **kwargs)
    response["Body"] = response["Payload"].read()
    return dict(response)


def workers(lc: LocalCloudProcess, handler: str) -> list[psutil.Process]:
    """Live worker processes of the server running ``handler``."""
    found = []
    for child in psutil.Process(lc.pid).children():
        try:
            if handler in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_invoke_runs_the_handler_with_the_function_environment(lc: LocalCloudProcess) -> None:
    arn = outputs(lc)["EchoFunctionArn"]
    response = invoke(lc, arn, {"hello": "world"})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    result = json.loads(response["Body"])
    assert result["event"] == {"hello": "world"}
    assert result["function"] == physical(lc, "EchoFunction") and result["memory"] == "256"
    assert result["env"] == {
        "GREETING": "hello",
        "ROLE": "echo",
        "BUCKET": outputs(lc)["BucketName"],
        "AWS_ENDPOINT_URL": lc.edge_url,
        "AWS_LAMBDA_FUNCTION_NAME": physical(lc, "EchoFunction"),
        "AWS_REGION": "us-east-1",
        "_HANDLER": "handlers.echo",
    }
    assert result["cwd"] == str(FIXTURE_APP / "functions")
    tmp = Path(result["tmp"])  # the worker's own /tmp, in the state dir
    assert tmp.parent.parent == lc.state_dir / "lambda-tmp" and tmp.is_file()
    assert 0 < result["remainingMs"] <= 10_000
    again = json.loads(invoke(lc, physical(lc, "EchoFunction"), {})["Body"])
    assert again["pid"] == result["pid"]  # the warm worker is reused


def test_log_tail_and_log_stream(lc: LocalCloudProcess) -> None:
    response = invoke(lc, "app-add", {"a": 1, "b": 41}, LogType="Tail")
    assert response["Body"] == b"42"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "END RequestId: " in tail and "REPORT RequestId: " in tail
    echo = invoke(lc, "EchoFunction", {"x": 1}, LogType="Tail")
    assert 'echo called with {"x": 1}' in base64.b64decode(echo["LogResult"]).decode()
    streams = list((lc.state_dir / "logs/aws/lambda" / physical(lc, "EchoFunction")).glob("*.log"))
    assert streams and any('echo called with {"x": 1}' in s.read_text() for s in streams)


def test_handler_exception_comes_back_as_aws_error_payload(lc: LocalCloudProcess) -> None:
    response = invoke(lc, "FailFunction", {"n": 1})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "PipelineError"
    assert error["errorMessage"] == 'cannot process {"n": 1}'
    assert isinstance(error["stackTrace"], list) and "handlers.py" in error["stackTrace"][0]


def test_timeout_kills_the_worker_and_answers_sandbox_timedout(lc: LocalCloudProcess) -> None:
    started = time.monotonic()
    response = invoke(lc, "SlowFunction", {"seconds": 30})
    assert time.monotonic() - started < 8
    error = json.loads(response["Body"])
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 2.00 seconds")
    assert workers(lc, "handlers.sleep") == []  # killed
    assert json.loads(invoke(lc, "SlowFunction", {"seconds": 0})["Body"]) == "woke up"  # a fresh worker
    streams = (lc.state_dir / "logs/aws/lambda" / physical(lc, "SlowFunction")).glob("*.log")
    assert any("Task timed out after 2.00 seconds" in s.read_text() for s in streams)


def test_import_error_and_crash(lc: LocalCloudProcess) -> None:
    broken = json.loads(invoke(lc, "BrokenFunction")["Body"])
    assert broken["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'not_installed_dependency'" in broken["errorMessage"]
    crash = invoke(lc, "CrashFunction")
    assert crash["FunctionError"] == "Unhandled"
    error = json.loads(crash["Body"])
    assert error["errorType"] == "Runtime.ExitError" and "exit status 3" in error["errorMessage"]


def test_invocation_types(lc: LocalCloudProcess) -> None:
    assert invoke(lc, "app-add", {"a": 1, "b": 1}, InvocationType="Event")["StatusCode"] == 202
    assert invoke(lc, "app-add", {"a": 1, "b": 1}, InvocationType="DryRun")["StatusCode"] == 204


def test_service_errors(lc: LocalCloudProcess) -> None:
    client = lc.client("lambda")
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="app-add", Payload=b"not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_concurrent_invocations_get_their_own_workers(lc: LocalCloudProcess) -> None:
    results: list[bytes] = []

    def call() -> None:
        results.append(invoke(lc, "SlowFunction", {"seconds": 1.5})["Body"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b'"woke up"'] * 3
    assert time.monotonic() - started < 4.4  # one after another would take 4.5 s
    assert len(workers(lc, "handlers.sleep")) >= 3


def test_get_and_list_functions(lc: LocalCloudProcess) -> None:
    client = lc.client("lambda")
    config = client.get_function(FunctionName=outputs(lc)["EchoFunctionArn"])["Configuration"]
    assert config["Handler"] == "handlers.echo" and config["Timeout"] == 10 and config["MemorySize"] == 256
    names = {f["FunctionName"] for f in client.list_functions()["Functions"]}
    assert {physical(lc, "EchoFunction"), "app-add", physical(lc, "BrokenFunction")} <= names


def test_aws_cli_lambda_invoke(lc: LocalCloudProcess, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = subprocess.run(
        [
            str(REPO / ".venv/bin/aws"),
            "lambda",
            "invoke",
            "--function-name",
            "app-add",
            "--payload",
            '{"a": 2, "b": 3}',
            str(out),
        ],
        env=lc.env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert out.read_text() == "5"


def test_stop_kills_every_worker(tmp_path: Path) -> None:
    with LocalCloudProcess(tmp_path / "state", template=TEMPLATE) as proc:
        result = json.loads(invoke(proc, "EchoFunction")["Body"])
        pid = result["pid"]
        assert psutil.pid_exists(pid) and Path(result["tmp"]).is_file()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert list((proc.state_dir / "lambda-tmp").iterdir()) == []  # each worker's /tmp went with it
