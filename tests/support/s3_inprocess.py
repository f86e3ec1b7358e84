"""localcloud's S3 in-process for tests: a boto3 client whose requests localcloud's S3 endpoint
answers through Starlette's test client (no server process, no port).

    client, close = localcloud_s3(tmp_path)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from localcloud.s3.backend import S3Backend
from localcloud.s3.responses import S3Protocol
from localcloud.store import Store


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def localcloud_s3(root: Path) -> tuple[Any, Callable[[], None]]:
    """A boto3 S3 client whose requests localcloud's S3 answers in-process; and a closer."""
    backend = S3Backend(Store(root / "state.db"), root / "s3", "us-east-1")
    protocol = S3Protocol(backend)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await protocol.handle(Request(scope, receive))
        await response(scope, receive, send)

    http = TestClient(app, base_url="http://127.0.0.1:4566")
    client = s3_client(endpoint_url="http://127.0.0.1:4566")

    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        answer = http.request(request.method, request.url, headers=dict(request.headers), content=body or b"")
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _RawBody(answer.content))

    client.meta.events.register("before-send.s3", send)
    return client, backend.store.close


def s3_client(**kwargs: Any) -> Any:
    return boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
        **kwargs,
    )
