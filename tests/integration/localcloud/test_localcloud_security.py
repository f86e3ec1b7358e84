"""localcloud's request guards on a real ``localcloud up``: Host and Origin checks, DeleteObjects'
integrity header, S3 keys byte for byte (boto3, the AWS CLI, raw HTTP), connections that stay
usable after an early error, body limits, header/body timeouts, channel checks at create time,
archive caps and cleanup of extracted models."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.localcloud_proc import REPO, LocalCloudProcess
from support.sagemaker_jobs import METRICS, ROLE, channels, tarball, training_request, wait_for

pytestmark = pytest.mark.slow
AWS = str(REPO / ".venv" / "bin" / "aws")
ALLOWED_ORIGIN = "http://allowed.localhost:8080"


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    env = {
        "LOCALCLOUD_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        "LOCALCLOUD_ALLOWED_HOSTS": "devbox.internal",
        "LOCALCLOUD_HEADER_SECONDS": "1",
        "LOCALCLOUD_BODY_IDLE_SECONDS": "1",
        "LOCALCLOUD_MAX_EXTRACT_BYTES": str(8 << 20),
    }
    with LocalCloudProcess(tmp_path_factory.mktemp("sec") / "state", env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
def s3(lc: LocalCloudProcess) -> Any:
    client = lc.client("s3")
    client.create_bucket(Bucket="keys")
    return client


def request(
    lc: LocalCloudProcess,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    connection = conn or http.client.HTTPConnection("127.0.0.1", lc.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    return response.status, data, response


# ---------------------------------------------------------------- who may call (item 2)
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:{port}", True),
        ("127.0.0.1:{port}", True),
        ("[::1]:{port}", True),
        ("keys.localhost:{port}", True),
        ("devbox.internal:{port}", True),  # LOCALCLOUD_ALLOWED_HOSTS
        ("attacker.example:{port}", False),  # DNS rebinding: a hostile name resolving to 127.0.0.1
        ("127.0.0.1.nip.io", False),
    ],
)
def test_only_loopback_host_names_are_answered(lc: LocalCloudProcess, host: str, allowed: bool) -> None:
    status, body, _ = request(lc, "GET", "/", headers={"Host": host.format(port=lc.port)})
    if allowed:  # answered by S3 (ListBuckets, or NoSuchBucket for the virtual-hosted bucket)
        assert status in (200, 404) and b"loopback" not in body, body
    else:
        assert status == 403 and b"loopback host names" in body


def test_the_http_api_port_refuses_foreign_host_names(lc: LocalCloudProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", lc.api_port, timeout=30)
    conn.request("GET", "/anything", headers={"Host": "attacker.example"})
    response = conn.getresponse()
    assert response.status == 403 and "loopback host names" in json.loads(response.read())["message"]


def test_simple_cross_origin_requests_are_refused(lc: LocalCloudProcess, s3: Any) -> None:
    s3.put_object(Bucket="keys", Key="victim", Body=b"x")
    delete = b"<Delete><Object><Key>victim</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(delete).digest()).decode()
    for headers in (
        {"Origin": "http://127.0.0.1:9", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
    ):
        status, body, _ = request(lc, "POST", "/keys?delete", delete, {**headers, "Content-MD5": md5})
        assert status == 403 and b"another origin" in body
    assert s3.head_object(Bucket="keys", Key="victim")["ContentLength"] == 1
    # the edge's own origin, and an allowed origin with its preflight, still work
    own = {"Origin": f"http://127.0.0.1:{lc.port}", "Host": f"127.0.0.1:{lc.port}"}
    assert request(lc, "GET", "/keys?list-type=2", headers=own)[0] == 200
    preflight = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "PUT"}
    status, _, response = request(lc, "OPTIONS", "/keys/from-page", headers=preflight)
    assert status == 200 and response.getheader("access-control-allow-origin") == ALLOWED_ORIGIN
    status, _, response = request(lc, "PUT", "/keys/from-page", b"hi", {"Origin": ALLOWED_ORIGIN})
    assert status == 200 and response.getheader("access-control-allow-origin") == ALLOWED_ORIGIN


def test_delete_objects_demands_an_integrity_header(lc: LocalCloudProcess, s3: Any) -> None:
    s3.put_object(Bucket="keys", Key="d1", Body=b"x")
    delete = b"<Delete><Object><Key>d1</Key></Object></Delete>"
    status, body, _ = request(lc, "POST", "/keys?delete", delete)
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body and b"Content-MD5" in body
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert request(lc, "POST", "/keys?delete", delete, {"Content-MD5": wrong})[0] == 400
    assert s3.head_object(Bucket="keys", Key="d1")["ContentLength"] == 1
    assert s3.delete_objects(Bucket="keys", Delete={"Objects": [{"Key": "d1"}]})["Deleted"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="keys", Key="d1")


# ---------------------------------------------------------------- keys (item 3)
ODD_KEYS = [
    "a b",
    "a%20b",
    "a/b",
    "a%2Fb",
    "../x",
    "%2e%2e/x",
    "tab\there",
    "new\nline",
    "cr\rhere",
    "plus+sign",
    "q?x=1#frag",
    "amp&lt;",
    "ünï/cödé",
    "dir//double",
]


def test_odd_keys_round_trip_byte_for_byte_with_boto3(lc: LocalCloudProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="odd")
    for index, key in enumerate(ODD_KEYS):
        s3.put_object(Bucket="odd", Key=key, Body=f"body {index}".encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="odd")["Contents"]]  # boto3 asks for url encoding
    assert sorted(listed) == sorted(ODD_KEYS)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket="odd")["Contents"]) == sorted(ODD_KEYS)
    for index, key in enumerate(ODD_KEYS):
        assert s3.get_object(Bucket="odd", Key=key)["Body"].read() == f"body {index}".encode()
        assert s3.head_object(Bucket="odd", Key=key)["ContentLength"] == len(f"body {index}")
        s3.copy_object(Bucket="odd", Key=f"copy/{key}", CopySource={"Bucket": "odd", "Key": key})
        assert s3.get_object(Bucket="odd", Key=f"copy/{key}")["Body"].read() == f"body {index}".encode()
    # without encoding-type=url the XML itself carries the keys (CR and tab as character references)
    status, body, _ = request(lc, "GET", "/odd?list-type=2&prefix=copy/")
    assert status == 200
    names = [e.text for e in ET.fromstring(body).iter("{http://s3.amazonaws.com/doc/2006-03-01/}Key")]
    assert sorted(names) == sorted(f"copy/{k}" for k in ODD_KEYS)
    for key in ODD_KEYS:
        s3.delete_object(Bucket="odd", Key=key)
        s3.delete_object(Bucket="odd", Key=f"copy/{key}")
    assert s3.list_objects_v2(Bucket="odd")["KeyCount"] == 0


def test_other_control_characters_need_url_encoding_as_on_s3(s3: Any) -> None:
    key = "ctl\x01\x1fchar"
    s3.put_object(Bucket="keys", Key=key, Body=b"c")
    assert key in [o["Key"] for o in s3.list_objects_v2(Bucket="keys", Prefix="ctl")["Contents"]]
    assert s3.get_object(Bucket="keys", Key=key)["Body"].read() == b"c"
    s3.delete_object(Bucket="keys", Key=key)
    assert s3.list_objects_v2(Bucket="keys", Prefix="ctl")["KeyCount"] == 0


def test_raw_paths_are_decoded_exactly_once(lc: LocalCloudProcess, s3: Any) -> None:
    assert request(lc, "PUT", "/keys/raw%2520one", b"encoded")[0] == 200
    assert request(lc, "PUT", "/keys/raw%20one", b"plain")[0] == 200
    assert s3.get_object(Bucket="keys", Key="raw%20one")["Body"].read() == b"encoded"
    assert s3.get_object(Bucket="keys", Key="raw one")["Body"].read() == b"plain"


def test_odd_keys_through_the_aws_cli(lc: LocalCloudProcess, s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    names = ["a b.txt", "a%20b.txt", "pct%2Fslash.txt", "plus+.txt", "ünï.txt"]
    for name in names:
        (source / name).write_text(f"content of {name}")

    def aws(*args: str) -> str:
        result = subprocess.run(
            [AWS, *args], env=lc.env(), capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    aws("s3", "mb", "s3://cli-odd")
    for name in names:
        aws("s3", "cp", str(source / name), f"s3://cli-odd/in/{name}")
    listing = aws("s3", "ls", "s3://cli-odd/in/")
    assert all(name in listing for name in names)
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="cli-odd")["Contents"]) == sorted(
        f"in/{n}" for n in names
    )
    back = tmp_path / "back"
    aws("s3", "sync", "s3://cli-odd/in/", str(back))
    assert sorted(p.name for p in back.iterdir()) == sorted(names)
    for name in names:
        assert (back / name).read_text() == f"content of {name}"


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP response (headers, body) with a Content-Length, read from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head, body[:length]


def test_connection_stays_usable_after_an_early_error(lc: LocalCloudProcess) -> None:
    # the body was sent but the service answered before reading it: drained, the next request works
    conn = http.client.HTTPConnection("127.0.0.1", lc.port, timeout=30)
    status, body, _ = request(lc, "PUT", "/no-such-bucket/k", b"x" * 200_000, conn=conn)
    assert status == 404 and b"NoSuchBucket" in body
    status, body, _ = request(lc, "GET", "/", conn=conn)
    assert status == 200 and b"ListAllMyBucketsResult" in body
    # Expect: 100-continue and the client withholds the body after the error (as SDKs do): the
    # server cannot know whether body bytes follow, so it says so and closes; the next request
    # goes on a new connection instead of being swallowed as the old request's body
    with socket.create_connection(("127.0.0.1", lc.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /no-such-bucket/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        head, body = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 404") and b"NoSuchBucket" in body
        assert b"connection: close" in head.lower()
        assert sock.recv(100) == b""


# ---------------------------------------------------------------- bounded bodies and connections (item 5)
def _rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _send_chunked(lc: LocalCloudProcess, path: str, headers: dict[str, str], total: int) -> tuple[int, bytes]:
    """POST ``total`` bytes with Transfer-Encoding: chunked; stops early when the server answers."""
    conn = http.client.HTTPConnection("127.0.0.1", lc.port, timeout=30)
    conn.putrequest("POST", path)
    for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    chunk = b"x" * (1 << 20)
    sent = 0
    try:
        while sent < total:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: what we want
    response = conn.getresponse()
    return response.status, response.read()


def test_chunked_bodies_are_refused_at_the_limit_without_buffering(lc: LocalCloudProcess) -> None:
    before = _rss_peak_kib(lc.pid)
    status, body = _send_chunked(
        lc,
        "/",
        {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": "application/x-amz-json-1.1"},
        128 << 20,
    )
    assert status == 413 and b"RequestEntityTooLarge" in body
    grown_mib = (_rss_peak_kib(lc.pid) - before) / 1024
    assert grown_mib < 48, f"server peak memory grew by {grown_mib:.0f} MiB"


def test_half_sent_headers_and_stalled_bodies_are_closed(lc: LocalCloudProcess, s3: Any) -> None:
    with socket.create_connection(("127.0.0.1", lc.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # never finishes its headers
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 8
    with socket.create_connection(("127.0.0.1", lc.port), timeout=10) as sock:
        sock.sendall(b"PUT /keys/stall HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
        answer = b""
        while chunk := sock.recv(4096):  # read until the server closes the connection
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"<Code>RequestTimeout</Code>" in answer
    with socket.create_connection(("127.0.0.1", lc.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"X-Filler: " + b"a" * (80 << 10))
        assert sock.recv(100).startswith(b"HTTP/1.1 400")  # headers over 64 KiB


# ---------------------------------------------------------------- channels named at create (item 6)
def test_channels_that_cannot_exist_are_named_at_create(
    lc: LocalCloudProcess, s3: Any, tmp_path: Path
) -> None:
    sm = lc.client("sagemaker")
    s3.put_object(Bucket="keys", Key="code/sourcedir.tar.gz", Body=tarball({"train.py": b"print(1)"}))
    base = training_request(
        "missing-bucket",
        code_uri="s3://keys/code/sourcedir.tar.gz",
        data=channels("no-such-data-bucket", "datasets/", ("train",)),
        output="s3://keys/output/",
        hyperparameters={},
    )
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**base)
    message = raised.value.response["Error"]["Message"]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "channel 'train'" in message and "s3://no-such-data-bucket/datasets/train/" in message
    assert "bucket 'no-such-data-bucket' does not exist" in message
    missing = tmp_path / "nowhere"
    local = {**base, "TrainingJobName": "missing-file"}
    local["InputDataConfig"] = [
        {
            **channels("x", "", ("train",))[0],
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": missing.as_uri(),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    ]
    with pytest.raises(ClientError, match=f"{missing} does not exist"):
        sm.create_training_job(**local)
    definition = {
        k: base[k]
        for k in (
            "AlgorithmSpecification",
            "RoleArn",
            "InputDataConfig",
            "OutputDataConfig",
            "ResourceConfig",
            "StoppingCondition",
        )
    }
    definition["StaticHyperParameters"] = base["HyperParameters"]
    definition["AlgorithmSpecification"] = {
        **definition["AlgorithmSpecification"],
        "MetricDefinitions": METRICS,
    }
    with pytest.raises(
        ClientError, match=r"TrainingJobDefinition\.InputDataConfig channel 'train'.*does not exist"
    ):
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="missing-bucket",
            HyperParameterTuningJobConfig={
                "Strategy": "Random",
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.01", "MaxValue": "0.1"}]
                },
            },
            TrainingJobDefinition=definition,
        )
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


# ---------------------------------------------------------------- models: archive caps, cleanup (item 5)
INFERENCE = b"""
import json
import re
def model_fn(model_dir):
    return {}
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    return data["x"] * 2
def output_fn(prediction, accept):
    return json.dumps({"y": prediction}), "application/json"
"""


def _model(sm: Any, name: str, uri: str) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5",
            "ModelDataUrl": uri,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def test_model_archives_are_capped_and_extracted_files_removed(lc: LocalCloudProcess, s3: Any) -> None:
    sm = lc.client("sagemaker")
    s3.put_object(Bucket="keys", Key="models/ok.tar.gz", Body=tarball({"code/inference.py": INFERENCE}))
    bomb = tarball({"code/inference.py": INFERENCE, "weights.bin": bytes(16 << 20)})  # > 8 MiB expanded
    s3.put_object(Bucket="keys", Key="models/bomb.tar.gz", Body=bomb)
    _model(sm, "bomb", "s3://keys/models/bomb.tar.gz")
    failed = wait_for(
        lambda: sm.describe_endpoint(EndpointName="bomb"), "EndpointStatus", ("Failed", "InService")
    )
    assert failed["EndpointStatus"] == "Failed"
    assert "bomb.tar.gz" in failed["FailureReason"] or "expands to more than" in failed["FailureReason"]
    assert "expands to more than" in failed["FailureReason"]

    _model(sm, "doubler", "s3://keys/models/ok.tar.gz")
    ready = wait_for(
        lambda: sm.describe_endpoint(EndpointName="doubler"), "EndpointStatus", ("Failed", "InService")
    )
    assert ready["EndpointStatus"] == "InService", ready.get("FailureReason")
    runtime = lc.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="doubler", Body=json.dumps({"x": 21}), ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {"y": 42}
    before = _rss_peak_kib(lc.pid)
    status, body = _send_chunked(
        lc, "/endpoints/doubler/invocations", {"Content-Type": "application/json"}, 64 << 20
    )
    assert status == 413 and b"6291456" in body  # InvokeEndpoint's 6 MB, counted as the body streams
    assert (_rss_peak_kib(lc.pid) - before) / 1024 < 32
    models = lc.state_dir / "sagemaker" / "models"
    assert (models / "doubler").is_dir()
    sm.delete_model(ModelName="doubler")
    assert (models / "doubler").is_dir()  # still served: the endpoint outlives its model, as on SageMaker
    sm.delete_endpoint(EndpointName="doubler")
    assert not (models / "doubler").exists()
    sm.delete_endpoint(EndpointName="bomb")
    sm.delete_model(ModelName="bomb")
    assert not (models / "bomb").exists()
