"""The edge: one HTTP port that routes each request to the emulated service it is for.

Routing, in order:
1. ``X-Amz-Target: <Prefix>.<Operation>`` -> the JSON-protocol service with that prefix
   (``SageMaker``, ``AWSStepFunctions``); the request body is the operation's parameters.
2. ``/_localcloud/health`` -> liveness and the list of services (used by the CLI and tests);
   ``/_localcloud/stack`` -> the deployed template's name and Outputs.
3. The REST routes each service declares (Lambda ``/2015-03-31/functions/...``, SageMaker
   Runtime ``/endpoints/{name}/invocations``), checked before
4. S3 (path-style REST-XML), which owns every remaining path.

Relies on Starlette for HTTP plumbing; the JSON protocol dispatch is ours (tiny).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .errors import AwsError
from .protocol import json_error, json_response

if TYPE_CHECKING:
    from .cloud import LocalCloud
    from .service import Service

log = logging.getLogger("localcloud.edge")


class Edge:
    """ASGI app: JSON-protocol services by X-Amz-Target, everything else by path."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.json_services: dict[str, Service] = {s.json_target: s for s in cloud.services if s.json_target}
        routes: list[BaseRoute] = [
            Route("/_localcloud/health", self.health, methods=["GET"]),
            Route("/_localcloud/stack", self.stack, methods=["GET"]),
        ]
        for service in cloud.services:
            if service is not cloud.s3:
                routes.extend(service.routes())
        routes.extend(cloud.s3.routes())  # S3 owns every remaining path: its catch-all goes last
        self.router = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = _header(scope, b"x-amz-target")
            if target:
                request = Request(scope, receive)
                response = await self.dispatch_json(target, request)
                await response(scope, receive, send)
                return
        await self.router(scope, receive, send)

    async def dispatch_json(self, target: str, request: Request) -> Response:
        prefix, _, operation = target.partition(".")
        service = self.json_services.get(prefix)
        if service is None:  # answer in the protocol the caller spoke
            return json_error(
                AwsError("UnknownOperationException", f"{target} is not supported by localcloud"),
                request.headers.get("content-type", "application/x-amz-json-1.1"),
            )
        content_type = service.json_content_type
        try:
            raw = await request.body()
            params: dict[str, Any] = json.loads(raw) if raw.strip() else {}
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object")
        except json.JSONDecodeError as exc:
            return json_error(AwsError("SerializationException", f"Malformed JSON: {exc}"), content_type)
        except AwsError as err:
            return json_error(err, content_type)
        try:
            result = await run_in_threadpool(service.dispatch, operation, params)
        except AwsError as err:
            return json_error(err, content_type)
        except Exception as exc:  # a bug in localcloud: say so in AWS's shape, log the trace
            log.exception("%s failed", target)
            return json_error(
                AwsError("InternalFailure", f"localcloud failed on {target}: {exc}", status=500),
                content_type,
            )
        return json_response(result, content_type)

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "running",
                "pid": os.getpid(),
                "services": [type(s).__name__ for s in self.cloud.services],
                "edge": self.cloud.settings.edge_url,
                "api": self.cloud.settings.api_url,
                "stateDir": str(self.cloud.settings.state_dir.resolve()),
            }
        )

    async def stack(self, request: Request) -> Response:
        if not self.cloud.stack:
            return JSONResponse(
                {"message": "no template deployed (localcloud up --no-template)"}, status_code=404
            )
        return JSONResponse(self.cloud.stack)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
