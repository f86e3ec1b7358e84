"""The ASGI app on the API port: request -> route -> Lambda (payload format 2.0) -> response.

Limits and failures as HTTP APIs answer them: no route 404 ``{"message":"Not Found"}``; a body
over 10 MB 413 ``{"message":"Request Entity Too Large"}``; a function error or bad response 500
``{"message":"Internal Server Error"}``; no answer within the route's integration timeout
(``TimeoutInMillis``, 30 s by default) 503 ``{"message":"Service Unavailable"}`` (the invocation
itself carries on, as on AWS). Every response carries ``apigw-requestid``.
Relies on Starlette's request parsing and a thread pool for the blocking Lambda call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..errors import AwsError
from ..lambda_.models import InvokeResult
from .events import HttpRequest, HttpResponse, build_event, map_response, message

if TYPE_CHECKING:
    from . import HttpApiService

log = logging.getLogger("localcloud.apigateway")

MAX_BODY = 10 * 1024 * 1024


class _TooLarge(Exception):
    pass


class HttpApiApp:
    def __init__(self, service: HttpApiService) -> None:
        self.service = service
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="httpapi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        request_id = str(uuid.uuid4())
        response = await self.handle(request, request_id)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers += [
            (b"apigw-requestid", request_id.encode()),
            (b"content-length", b"%d" % len(response.body)),
        ]
        # The two ASGI messages a Starlette Response sends, without building one.
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise _TooLarge
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: Request, request_id: str) -> HttpResponse:
        scope = request.scope
        method = request.method.upper()
        raw_path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or scope["path"]
        found = self.service.table.match(method, scope["path"])
        if found is None:
            return message(404, "Not Found")
        route, params = found
        try:
            body = await self.read_body(request)
        except _TooLarge:
            return message(413, "Request Entity Too Large")
        client = scope.get("client") or ("127.0.0.1", 0)
        http_request = HttpRequest(
            method=method,
            raw_path=raw_path,
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            source_ip=str(client[0]),
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        )
        settings = self.service.settings
        event = build_event(
            http_request,
            route_key=route.route_key,
            path_params=params,
            api_id=route.api_id,
            stage=route.stage,
            request_id=request_id,
            account_id=settings.account_id,
            domain=request.headers.get("host", f"{settings.host}:{settings.api_port}"),
            now=time.time(),
        )
        payload = json.dumps(event).encode()
        result = await self.call(route.function, payload, route.timeout_ms / 1000)
        if result is None:
            log.warning(
                "%s %s: %s did not answer within %d ms", method, raw_path, route.function, route.timeout_ms
            )
            return message(503, "Service Unavailable")
        if isinstance(result, HttpResponse):
            return result
        response = map_response(result)
        if response.status == 500 and result.function_error:
            log.warning("%s %s: %s failed: %s", method, raw_path, route.function, result.payload[:1000])
        return response

    async def call(self, function: str, payload: bytes, timeout: float) -> InvokeResult | HttpResponse | None:
        """Invoke on the thread pool; None when no answer came within ``timeout`` seconds (the
        invocation carries on). The result reaches a loop future straight from the thread that
        learnt it (the worker's Runtime API, through ``on_result``), else from the pool thread
        when the call returns: one wake-up of the loop, no wait for the pool thread's wake-up."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[InvokeResult | HttpResponse | None] = loop.create_future()
        handed = threading.Event()

        def settle(result: InvokeResult | HttpResponse | None) -> None:
            if not answer.done():
                answer.set_result(result)

        def hand(result: InvokeResult | HttpResponse) -> None:
            if handed.is_set():
                return
            handed.set()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                loop.call_soon_threadsafe(settle, result)

        def run() -> None:
            hand(self.invoke(function, payload, hand))

        self.pool.submit(run)
        timer = loop.call_later(timeout, settle, None)
        try:
            return await answer
        finally:
            timer.cancel()

    def invoke(
        self, function: str, payload: bytes, on_result: Callable[[InvokeResult], None]
    ) -> InvokeResult | HttpResponse:
        try:
            return self.service.invoke_lambda(function, payload, on_result=on_result)
        except AwsError as err:
            if err.code == "RequestTooLargeException":
                return message(413, "Request Entity Too Large")
            log.warning("invoking %s failed: %s", function, err)
            return message(500, "Internal Server Error")
        except Exception:  # a localcloud bug: API Gateway's 500, not a dropped connection
            log.exception("invoking %s failed", function)
            return message(500, "Internal Server Error")
