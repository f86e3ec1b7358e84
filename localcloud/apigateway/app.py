"""The ASGI app on the API port: request -> route -> Lambda (payload format 2.0) -> response.

Limits and failures as HTTP APIs answer them: no route 404 ``{"message":"Not Found"}``; a body
over 10 MB 413 ``{"message":"Request Entity Too Large"}``; a function error or bad response 500
``{"message":"Internal Server Error"}``; no answer within the route's integration timeout
(``TimeoutInMillis``, 30 s by default) 503 ``{"message":"Service Unavailable"}`` (the invocation
itself carries on, as on AWS). Every response carries ``apigw-requestid``.
Relies on Starlette's request parsing, Lambda's non-blocking start for a warm worker (the event
leaves from the loop) and a thread pool for the blocking rest (timeouts, cold starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
# Events up to this size are handed to a warm worker from the loop itself (parsing and writing
# them is quick); larger ones on a pool thread, not to hold the loop.
LOOP_START_MAX = 256 * 1024


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
        """Invoke; None when no answer came within ``timeout`` seconds (the invocation carries
        on). With a warm worker idle, a small event goes to it from this loop (``start_lambda``)
        and a pool thread only watches the function's timeout; otherwise the whole call runs on the
        pool. Either way the result reaches a loop future from the thread that learnt it (the
        worker's Runtime API, through ``on_result``): one wake-up of the loop, no thread between."""
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

        started = self.start(function, payload, hand) if len(payload) <= LOOP_START_MAX else None
        if isinstance(started, HttpResponse):
            return started
        finish = started or functools.partial(self.service.invoke_lambda, function, payload, on_result=hand)
        self.pool.submit(lambda: hand(self.answer(function, finish)))
        timer = loop.call_later(timeout, settle, None)
        try:
            return await answer
        finally:
            timer.cancel()

    def start(
        self, function: str, payload: bytes, on_result: Callable[[InvokeResult], None]
    ) -> Callable[[], InvokeResult] | HttpResponse | None:
        """Lambda's non-blocking start (the callable finishing it), or None: no idle worker."""
        if self.service.start_lambda is None:
            return None
        try:
            return self.service.start_lambda(function, payload, on_result=on_result)
        except Exception as exc:
            return _failure(function, exc)

    def answer(self, function: str, call: Callable[[], InvokeResult]) -> InvokeResult | HttpResponse:
        try:
            return call()
        except Exception as exc:
            return _failure(function, exc)


def _failure(function: str, exc: Exception) -> HttpResponse:
    """API Gateway's answer when the Lambda call itself failed (not the function)."""
    if isinstance(exc, AwsError):
        if exc.code == "RequestTooLargeException":
            return message(413, "Request Entity Too Large")
        log.warning("invoking %s failed: %s", function, exc)
        return message(500, "Internal Server Error")
    # a localcloud bug: API Gateway's 500, not a dropped connection
    log.error("invoking %s failed", function, exc_info=exc)
    return message(500, "Internal Server Error")
