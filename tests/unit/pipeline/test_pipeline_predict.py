"""Predict: POST /predict through the HTTP API resolver, every status a caller can get (Stubber)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.stub import Stubber
from PIL import Image
from pipeline_testkit import FakeContext

from pipeline import predict as module
from pipeline.image_types import sniff_image_type

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


def _animated_gif() -> bytes:
    """A real 3-frame animated GIF, as a phone or a browser would send it."""
    frames = [Image.new("RGB", (32, 32), color) for color in ((220, 20, 20), (20, 20, 220), (20, 220, 20))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format=fmt)
    return buffer.getvalue()


GIF = _animated_gif()
BMP = _encoded("BMP")
PREDICTIONS = [
    {"label": "Golden retriever", "class_index": 52, "probability": 0.93},
    {"label": "Labrador retriever", "class_index": 96, "probability": 0.04},
    {"label": "Nova scotia duck tolling retriever", "class_index": 110, "probability": 0.01},
]


def http_event(
    body: bytes | str | None, query: dict[str, str] | None = None, base64_encoded: bool = True
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for POST /predict."""
    if isinstance(body, bytes) and base64_encoded:
        body = base64.b64encode(body).decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {
            "content-type": "application/octet-stream",
            "host": "abc.execute-api.us-east-1.amazonaws.com",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/predict",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "curl",
            },
            "requestId": "r-1",
            "routeKey": "POST /predict",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }
    if query:
        event["queryStringParameters"] = query
    return event


@pytest.fixture
def api(runtime: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client, stub = runtime
    monkeypatch.setattr(module, "runtime_client", lambda: client)
    monkeypatch.setenv("ENDPOINT_NAME", "dog-breeds")
    return stub


def _call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, FakeContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def _answer(payload: Any) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"}


@pytest.mark.parametrize(
    ("image", "content_type"),
    [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp"), (GIF, "image/gif"), (BMP, "image/bmp")],
)
def test_images_are_sniffed_and_forwarded(image: bytes, content_type: str, api: Stubber) -> None:
    api.add_response(
        "invoke_endpoint",
        _answer({"predictions": PREDICTIONS}),
        {
            "EndpointName": "dog-breeds",
            "Body": image,
            "ContentType": content_type,
            "Accept": "application/json; top_k=5",
        },
    )
    status, body = _call(http_event(image))
    assert status == 200 and body == {"predictions": PREDICTIONS}


def test_top_k_is_passed_on_and_enforced(api: Stubber) -> None:
    api.add_response(
        "invoke_endpoint",
        _answer({"predictions": PREDICTIONS}),
        {
            "EndpointName": "dog-breeds",
            "Body": JPEG,
            "ContentType": "image/jpeg",
            "Accept": "application/json; top_k=2",
        },
    )
    status, body = _call(http_event(JPEG, {"top_k": "2"}))
    assert status == 200 and body["predictions"] == PREDICTIONS[:2]


@pytest.mark.parametrize("top_k", ["0", "101", "five", "-1"])
def test_bad_top_k_is_a_400(top_k: str, api: Stubber) -> None:
    status, body = _call(http_event(JPEG, {"top_k": top_k}))
    assert status == 400 and "top_k" in body["message"]


def test_oversized_body_is_a_413(api: Stubber) -> None:
    status, body = _call(http_event(JPEG + b"\0" * module.MAX_IMAGE_BYTES))
    assert status == 413 and "4.5 MB" in body["message"]


@pytest.mark.parametrize(
    "body", [b"GIF90a" + b"\0" * 20, b"BMW 3 series" + b"\0" * 20, b"hello world", b"\x00\x01"]
)
def test_non_images_are_a_400(body: bytes, api: Stubber) -> None:
    status, answer = _call(http_event(body))
    assert status == 400 and "not a JPEG, PNG, WebP, GIF or BMP image" in answer["message"]


def test_empty_and_broken_bodies_are_400s(api: Stubber) -> None:
    status, answer = _call(http_event(None, base64_encoded=False))
    assert status == 400 and "empty body" in answer["message"]
    status, answer = _call(http_event("%%%not-base64%%%", base64_encoded=True))
    assert status == 400 and "base64" in answer["message"]
    status, answer = _call(http_event("plain text body", base64_encoded=False))
    assert status == 400 and "not a JPEG" in answer["message"]


def test_missing_endpoint_is_a_503(api: Stubber) -> None:
    api.add_client_error(
        "invoke_endpoint",
        "ValidationException",
        "Endpoint dog-breeds of account 123456789012 not found.",
        400,
    )
    status, body = _call(http_event(JPEG))
    assert status == 503 and "dog-breeds is not deployed" in body["message"]


def _raw_http_error(status: int, error_type: str, body: dict[str, Any]) -> Any:
    """A sagemaker-runtime client whose every call gets this HTTP answer, parsed by botocore."""
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"}
        raw = json.dumps(body).encode()
        return AWSResponse(request.url, status, headers, _RawBody(raw))

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", answer)
    return client


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def test_missing_endpoint_as_aws_sends_it_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """SageMaker Runtime's answer for a missing endpoint: 400, error type ValidationError."""
    client = _raw_http_error(
        400,
        "ValidationError:http://internal.amazon.com/coral/com.amazon.coral.validate/",
        {"message": "Endpoint dog-breeds of account 123456789012 not found."},
    )
    monkeypatch.setattr(module, "runtime_client", lambda: client)
    monkeypatch.setenv("ENDPOINT_NAME", "dog-breeds")
    status, body = _call(http_event(JPEG))
    assert status == 503, body
    assert "dog-breeds is not deployed: run the pipeline" in body["message"]


def test_starting_endpoint_is_a_503(api: Stubber) -> None:
    api.add_client_error("invoke_endpoint", "ModelNotReadyException", "Model is not ready", 424)
    status, body = _call(http_event(JPEG))
    assert status == 503 and "starting" in body["message"]


def test_model_crash_is_a_502_with_the_container_message(api: Stubber) -> None:
    api.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received server error (500) from primary",
        424,
        modeled_fields={
            "OriginalStatusCode": 500,
            "OriginalMessage": '{"message": "CUDA error: device-side assert"}',
        },
    )
    status, body = _call(http_event(JPEG))
    assert status == 502 and "CUDA error: device-side assert" in body["message"]


@pytest.mark.parametrize(
    ("code", "message"), [(400, "cannot identify image file"), (415, "unsupported content type image/webp")]
)
def test_model_client_errors_pass_through(code: int, message: str, api: Stubber) -> None:
    api.add_client_error(
        "invoke_endpoint",
        "ModelError",
        f"Received client error ({code}) from primary",
        424,
        modeled_fields={"OriginalStatusCode": code, "OriginalMessage": message},
    )
    status, body = _call(http_event(JPEG))
    assert status == code and body["message"] == message


def test_throttling_is_a_429(api: Stubber) -> None:
    api.add_client_error("invoke_endpoint", "ThrottlingException", "Rate exceeded", 400)
    status, _ = _call(http_event(JPEG))
    assert status == 429


def test_unexpected_model_output_is_a_502(api: Stubber) -> None:
    api.add_response("invoke_endpoint", _answer({"labels": []}))
    status, body = _call(http_event(JPEG))
    assert status == 502 and "predictions JSON" in body["message"]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_unknown_route_is_a_404(api: Stubber) -> None:
    event = http_event(JPEG)
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /elsewhere"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elsewhere"
    status, _ = _call(event)
    assert status == 404


def test_sniffing() -> None:
    assert sniff_image_type(JPEG) == "image/jpeg"
    assert sniff_image_type(PNG) == "image/png"
    assert sniff_image_type(WEBP) == "image/webp"
    assert sniff_image_type(GIF) == "image/gif" and GIF.startswith(b"GIF89a")
    assert sniff_image_type(b"GIF87a" + b"\0" * 20) == "image/gif"
    assert sniff_image_type(BMP) == "image/bmp"
    assert sniff_image_type(b"BM plain text that is long enough") is None
    assert sniff_image_type(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None
    assert sniff_image_type(b"") is None
