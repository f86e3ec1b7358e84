"""The HTTP API on a real ``localcloud up``: the test template's HttpApi routes, payload format 2.0
events (binary bodies base64-encoded), response mapping, and API Gateway's error answers."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from localcloud_testkit import TEMPLATE, outputs

from support.localcloud_proc import LocalCloudProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(tmp_path_factory.mktemp("apigw") / "state", template=TEMPLATE) as proc:
        yield proc


@pytest.fixture(scope="module")
def api(lc: LocalCloudProcess) -> Iterator[httpx.Client]:
    assert outputs(lc)["ApiUrl"] == lc.api_url + "/"
    with httpx.Client(base_url=lc.api_url, timeout=30) as client:
        yield client


def test_json_post_reaches_the_function_as_a_v2_event(api: httpx.Client) -> None:
    response = api.post(
        "/echo?x=1&x=2&y=", json={"k": "v"}, headers={"X-Custom": "yes", "Cookie": "session=abc"}
    )
    assert response.status_code == 200 and response.headers["apigw-requestid"]
    event = response.json()["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "POST /echo" and event["rawPath"] == "/echo"
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-custom"] == "yes" and event["headers"]["content-type"] == "application/json"
    assert event["cookies"] == ["session=abc"]
    assert json.loads(event["body"]) == {"k": "v"} and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default" and context["requestId"] == response.headers["apigw-requestid"]


def test_binary_body_is_base64_encoded_and_structured_response_is_mapped(api: httpx.Client) -> None:
    image = bytes(range(256)) * 4
    response = api.post("/upload", content=image, headers={"content-type": "image/jpeg"})
    assert response.status_code == 201
    assert response.headers["x-handler"] == "http"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    body = response.json()
    assert body["event"]["isBase64Encoded"] is True and base64.b64decode(body["event"]["body"]) == image
    assert body["bodyLength"] == len(image)


def test_inferred_and_binary_responses(api: httpx.Client) -> None:
    hello = api.get("/hello")
    assert hello.status_code == 200 and hello.headers["content-type"] == "application/json"
    assert hello.json() == {"message": "hello", "path": "/hello"}
    data = api.get("/bytes")
    assert data.status_code == 200 and data.content == bytes(range(256))
    assert data.headers["content-type"] == "application/octet-stream"


def test_path_parameters_and_greedy_proxy(api: httpx.Client) -> None:
    item = api.get("/items/a%20b").json()["event"]
    assert item["pathParameters"] == {"id": "a b"} and item["routeKey"] == "GET /items/{id}"
    files = api.delete("/files/x/y/z.txt").json()["event"]
    assert files["pathParameters"] == {"proxy": "x/y/z.txt"} and files["routeKey"] == "ANY /files/{proxy+}"


def test_api_gateway_error_answers(api: httpx.Client) -> None:
    assert (api.get("/nowhere").status_code, api.get("/nowhere").json()) == (404, {"message": "Not Found"})
    assert api.get("/echo").status_code == 404  # the route is POST only
    failed = api.get("/fail")
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
    slow = api.get("/slow")  # TimeoutInMillis 1000
    assert (slow.status_code, slow.json()) == (503, {"message": "Service Unavailable"})
    big = api.post("/upload", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "text/plain"})
    assert (big.status_code, big.json()) == (413, {"message": "Request Entity Too Large"})


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_data_binary_upload(lc: LocalCloudProcess, tmp_path: Path) -> None:
    image = tmp_path / "x.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    result = subprocess.run(
        ["curl", "-s", "-X", "POST", "--data-binary", f"@{image}", f"{lc.api_url}/upload"],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0
    body = json.loads(result.stdout)
    assert body["bodyLength"] == 260 and body["event"]["isBase64Encoded"] is True
