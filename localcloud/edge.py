"""The edge: one HTTP port that routes each request to the emulated service it is for.

Routing, in order:
1. ``X-Amz-Target: <Prefix>.<Operation>`` -> the JSON-protocol service with that prefix
   (``SageMaker``, ``AWSStepFunctions``, ``Logs_20140328``, ``GraniteServiceVersion20100801``);
   the request body is the operation's parameters.
   ``smithy-protocol: rpc-v2-cbor`` on ``POST /service/<Prefix>/operation/<Operation>`` -> the
   same service, CBOR in and out (botocore's default for CloudWatch).
   A form-encoded ``POST /`` -> the query-protocol service (STS, IAM, CloudFormation,
   CloudWatch) named by the SigV4 credential scope, else by the form's ``Version``
   (``query.py``); S3 has no form-encoded operation on ``/``.
2. ``/_localcloud/health`` -> liveness and the list of services (used by the CLI and tests);
   ``/_localcloud/stack`` -> the deployed template's name and Outputs; every other
   ``/_localcloud/...`` path is the web console (``localcloud/console``, docs/console.md).
3. The REST routes each service declares (Lambda ``/2015-03-31/functions/...``, SageMaker
   Runtime ``/endpoints/{name}/invocations``), checked before
4. S3 (path-style REST-XML), which owns every remaining path.

SageMaker Runtime's ``POST /endpoints/{name}/invocations`` (the latency-critical request) goes
straight to its route, skipping Starlette's application and router layers (~50 us per request
here); only the ``/_localcloud`` routes come before it in the table, so this routes as the table
would.

Relies on Starlette for HTTP plumbing, cbor2 for CBOR; the protocol dispatch is ours (small).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

import cbor2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from . import query
from .console.app import routes as console_routes
from .errors import AwsError
from .protocol import cbor_error, cbor_response, json_error, json_response
from .sagemaker.runtime import INVOCATIONS_PATH
from .validation import service_model

if TYPE_CHECKING:
    from .cloud import LocalCloud
    from .service import Service

log = logging.getLogger("localcloud.edge")


class Edge:
    """ASGI app: JSON-protocol services by X-Amz-Target, everything else by path."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.json_services: dict[str, Service] = {s.json_target: s for s in cloud.services if s.json_target}
        # query protocol: signing name (credential scope) -> service, API version -> signing name
        self.query_services: dict[str, Service] = {}
        self.query_versions: dict[str, str] = {}
        for service in cloud.services:
            if service.query_service:
                meta = service_model(service.query_service).metadata
                signing = meta.get("signingName") or meta["endpointPrefix"]
                self.query_services[signing] = service
                self.query_versions[meta["apiVersion"]] = signing
        routes: list[BaseRoute] = [
            Route("/_localcloud/health", self.health, methods=["GET"]),
            Route("/_localcloud/stack", self.stack, methods=["GET"]),
            *console_routes(cloud),
        ]
        for service in cloud.services:
            if service is not cloud.s3:
                routes.extend(service.routes())
        routes.extend(cloud.s3.routes())  # S3 owns every remaining path: its catch-all goes last
        self.router = Starlette(routes=routes)
        self.invoke_route = next(r for r in routes if isinstance(r, Route) and r.path == INVOCATIONS_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = _header(scope, b"x-amz-target")
            if target:
                request = Request(scope, receive)
                response = await self.dispatch_json(target, request)
                await response(scope, receive, send)
                return
            path = scope.get("path", "")
            if _header(scope, b"smithy-protocol") == "rpc-v2-cbor" and path.startswith("/service/"):
                response = await self.dispatch_cbor(path, Request(scope, receive))
                await response(scope, receive, send)
                return
            content_type = _header(scope, b"content-type") or ""
            if scope["method"] == "POST" and path == "/" and content_type.startswith(query.FORM_TYPE):
                response = await self.dispatch_query(Request(scope, receive))
                await response(scope, receive, send)
                return
            if scope["method"] == "POST" and path.startswith("/endpoints/"):
                match, child_scope = self.invoke_route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await self.invoke_route.handle(scope, receive, send)
                    return
        await self.router(scope, receive, send)

    async def _call(self, service: Service, operation: str, params: dict[str, Any], label: str) -> Any:
        """Run one operation off the event loop; a localcloud bug becomes AWS's InternalFailure."""
        try:
            return await run_in_threadpool(service.dispatch, operation, params)
        except AwsError:
            raise
        except Exception as exc:
            log.exception("%s failed", label)
            raise AwsError("InternalFailure", f"localcloud failed on {label}: {exc}", status=500) from exc

    async def dispatch_cbor(self, path: str, request: Request) -> Response:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[2] != "operation":
            return cbor_error(
                AwsError("UnknownOperationException", f"{path} is not an RPC-v2 operation path")
            )
        prefix, operation = parts[1], parts[3]
        service = self.json_services.get(prefix)
        if service is None:
            return cbor_error(
                AwsError("UnknownOperationException", f"{prefix} is not supported by localcloud")
            )
        try:
            raw = await request.body()
            params = cbor2.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Request body must be a CBOR map")
            return cbor_response(await self._call(service, operation, params, f"{prefix}.{operation}"))
        except (cbor2.CBORDecodeError, ValueError) as exc:
            return cbor_error(AwsError("SerializationException", f"Malformed CBOR: {exc}"))
        except AwsError as err:
            return cbor_error(err)

    async def dispatch_query(self, request: Request) -> Response:
        model: str | None = None
        try:
            form = query.parse_form(await request.body())
            name = query.service_name(request.headers.get("authorization"), form, self.query_versions)
            service = self.query_services.get(name or "")
            action = form.get("Action", "")
            if service is None or service.query_service is None:
                raise AwsError(
                    "InvalidAction", f"{name or 'this service'} {action} is not supported by localcloud"
                )
            model = service.query_service
            if not action:
                raise AwsError("MissingAction", "The request must contain the parameter Action")
            if action not in service_model(model).operation_names:
                raise AwsError("InvalidAction", f"Could not find operation {action} for {model}")
            params = query.decode_params(model, action, form)
            result = await self._call(service, action, params, f"{model}.{action}")
            return query.xml_response(model, action, result)
        except AwsError as err:
            return query.query_error(err, model)

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
            result = await self._call(service, operation, params, target)
        except AwsError as err:
            return json_error(err, content_type)
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
