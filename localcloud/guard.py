"""Request guards around localcloud's HTTP servers: who may call, how big a body may be, how long.

What localcloud trusts and what it does not (docs/localcloud.md, "Security model"): any process on
this machine may drive the stack (it speaks AWS's protocols without checking signatures, like
AWS's own local tools). Web pages the developer visits may not: a page can send "simple" requests
(``Content-Type: text/plain`` POSTs, no preflight) to ``127.0.0.1``, and through DNS rebinding a
hostile name can resolve to it. So :class:`Guard`, an ASGI middleware wrapped around the edge:

* answers only requests whose ``Host`` is a loopback name (``localhost``, ``*.localhost`` for
  virtual-hosted buckets, ``127.0.0.1``, ``[::1]``) or one listed in ``LOCALCLOUD_ALLOWED_HOSTS``;
* refuses with 403 a request that a browser marks as coming from another origin (an ``Origin``
  header other than the server's own, or ``Sec-Fetch-Site: cross-site``/``same-site``) unless that
  origin is listed in ``LOCALCLOUD_ALLOWED_ORIGINS``; for listed origins it answers the CORS
  preflight (``OPTIONS`` + ``Access-Control-Request-Method``) and adds CORS headers;
* counts every request body as it streams and refuses it with 413 at the service's limit
  (:func:`body_limit`), with or without ``Content-Length``; a body that stalls for
  ``LOCALCLOUD_BODY_IDLE_SECONDS`` (60) is answered with a timeout and the connection closed;
* drains (up to ``DRAIN_BYTES``) a body the service answered without reading, so the connection
  stays usable for the next request (or closes it, saying ``Connection: close``, beyond that, and
  when the client sent ``Expect: 100-continue``: it may never send that body).

:class:`HeaderTimeoutProtocol` adds what uvicorn lacks: a connection that does not complete its
request headers within ``LOCALCLOUD_HEADER_SECONDS`` (30; including one that sends nothing) is closed, and one
whose headers exceed ``HEADER_BYTES`` is answered 400 and closed. It also sends a response's head
with its body: uvicorn writes the head alone, which costs a second send and, for the client, a
second wake-up (:class:`_HeadWithBody`).

Hand-written: Starlette's TrustedHostMiddleware and CORSMiddleware do parts of this but answer in
their own shape (not AWS's error documents) and do not refuse simple cross-origin requests.
Relies on Starlette's ASGI types and uvicorn's httptools protocol.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, cast
from xml.sax.saxutils import escape

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from . import environment
from .protocol import request_id

KIB = 1024
MIB = 1024 * KIB
# Body limits per kind of request (AWS's own limits where AWS has one).
INVOKE_PAYLOAD = 6 * MIB  # SageMaker InvokeEndpoint and Lambda synchronous Invoke
LAMBDA_API_BODY = 70 * MIB  # CreateFunction/UpdateFunctionCode: a 50 MB zip, base64 in JSON
OBJECT_BODY = 5 * 1024 * MIB  # S3 PutObject / UploadPart: 5 GiB
API_BODY = 16 * MIB  # JSON/query-protocol APIs, S3 XML documents, anything else
HTTP_API_BODY = 10 * MIB  # API Gateway HTTP API payload limit
DRAIN_BYTES = 1 * MIB
HEADER_BYTES = 64 * KIB  # a request line plus headers (S3 allows 8 KB of headers plus 2 KB of metadata)
KEEP_ALIVE_SECONDS = 30

_INVOCATIONS = re.compile(r"^/(endpoints|2015-03-31/functions)/[^/]+/invocations$")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def body_limit(scope: Scope) -> int:
    """The largest body the edge accepts for this request."""
    path: str = scope.get("path", "")
    if _INVOCATIONS.match(path):
        return INVOKE_PAYLOAD
    if path.startswith("/2015-03-31/"):
        return LAMBDA_API_BODY
    if _header(scope, b"x-amz-target") is None and scope.get("method") == "PUT":
        return OBJECT_BODY
    return API_BODY


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in os.environ.get(name, "").split(",") if v.strip())


def host_name(host: str) -> str:
    """``Host`` header value without its port (``[::1]:4566`` -> ``::1``), lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Refused(Exception):
    """The body limit tripped or the body stalled: the guard answers instead of the app."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Body:
    """Per-request body accounting."""

    limit: int
    received: int = 0
    complete: bool = False
    refused: _Refused | None = None
    started: bool = False
    headers_sent: list[tuple[bytes, bytes]] = field(default_factory=list)


class Guard:
    """ASGI middleware: Host and cross-origin checks, body limits, body drain (see module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check_origin: bool = True,
        limit: int | None = None,
        allowed_hosts: tuple[str, ...] | None = None,
        allowed_origins: tuple[str, ...] | None = None,
        http_api: bool = False,
    ) -> None:
        self.app = app
        self.http_api = http_api  # errors as API Gateway writes them: {"message": ...}
        self.check_origin = check_origin
        self.fixed_limit = limit
        self.allowed_hosts = (
            allowed_hosts if allowed_hosts is not None else _env_list("LOCALCLOUD_ALLOWED_HOSTS")
        )
        self.allowed_origins = (
            allowed_origins if allowed_origins is not None else _env_list("LOCALCLOUD_ALLOWED_ORIGINS")
        )

    # ------------------------------------------------------------------ who may call
    def host_allowed(self, scope: Scope) -> bool:
        raw = _header(scope, b"host")
        if raw is None:
            return True  # HTTP/1.0 without Host: no browser sends that, so no rebinding either
        name = host_name(raw)
        return name in _LOOPBACK or name.endswith(".localhost") or name in self.allowed_hosts

    def foreign_origin(self, scope: Scope) -> str | None:
        """The other origin a browser says this request comes from; None when same-origin or no browser."""
        origin = _header(scope, b"origin")
        if origin is not None:
            origin = origin.strip().lower()
            own = f"{scope.get('scheme', 'http')}://{(_header(scope, b'host') or '').strip().lower()}"
            return None if origin == own else origin
        site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
        if site in ("cross-site", "same-site"):
            return "another site"
        return None

    def refusal(self, scope: Scope) -> _Refused | None:
        """Why a request's Host or a browser's origin is refused (403), or None."""
        if not self.host_allowed(scope):
            return _Refused(
                403,
                "AccessDenied",
                f"localcloud answers only loopback host names (localhost, *.localhost, 127.0.0.1, "
                f"[::1]), not {_header(scope, b'host')!r}; set LOCALCLOUD_ALLOWED_HOSTS to add one",
            )
        origin = self.foreign_origin(scope) if self.check_origin else None
        if origin is not None and origin not in self.allowed_origins:
            return _Refused(
                403,
                "AccessDenied",
                f"localcloud refuses requests from web pages on another origin ({origin}); "
                "set LOCALCLOUD_ALLOWED_ORIGINS to allow one",
            )
        return None

    def cors_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """CORS headers for a listed origin's request (none for a same-origin or non-browser one)."""
        origin = self.foreign_origin(scope) if self.check_origin else None
        if origin is None:
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", b"*"),
            (b"vary", b"Origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await _error(self.http_api, scope, send, refused, close=True)
            return
        cors = self.cors_headers(scope)
        if cors and scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await _preflight(scope, send, cors)
            return
        await self._guarded(scope, receive, send, cors)

    # ------------------------------------------------------------------ bodies
    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, cors: list[tuple[bytes, bytes]]
    ) -> None:
        limit = self.fixed_limit if self.fixed_limit is not None else body_limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _error(self.http_api, scope, send, _too_large(int(declared), limit), close=True)
            return
        request = _GuardedRequest(scope, receive, send, limit, cors)
        try:
            await self.app(scope, request.receive, request.send)
        except _Refused:
            pass
        except Exception:
            if request.state.refused is None:
                raise
        if request.state.refused is not None and not request.state.started:
            await _error(self.http_api, scope, send, request.state.refused, close=True, extra=cors)


class _GuardedRequest:
    """One request seen through the guard: ``receive`` counts its body against the limit (and
    times out a stalled one); ``send`` adds the CORS headers and, when the app answers without
    reading the body, drains it or says ``Connection: close``."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, limit: int, cors: list[tuple[bytes, bytes]]
    ) -> None:
        self._receive = receive
        self._send = send
        self.cors = cors
        self.state = _Body(limit=limit)
        declared = _header(scope, b"content-length")
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        if not chunked and (declared is None or declared.strip() in ("", "0")):
            self.state.complete = True  # no body to read
        self.expect_continue = (_header(scope, b"expect") or "").lower() == "100-continue"

    async def receive(self) -> Message:
        state = self.state
        if state.complete:
            return await self._receive()
        idle = environment.current().body_idle_seconds
        try:
            async with asyncio.timeout(idle):  # no task per chunk, unlike wait_for
                message = await self._receive()
        except TimeoutError:
            state.refused = _Refused(
                408,
                "RequestTimeout",
                f"The request body was not sent within {idle:.0f} seconds",
            )
            raise state.refused from None
        if message["type"] == "http.request":
            state.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                state.complete = True
            if state.received > state.limit:
                state.refused = _too_large(state.received, state.limit)
                raise state.refused
        elif message["type"] == "http.disconnect":
            state.complete = True
        return message

    async def drain(self) -> None:
        """Read (and drop) up to ``DRAIN_BYTES`` of a body the app left unread."""
        drained = 0
        try:
            while not self.state.complete and drained <= DRAIN_BYTES:
                before = self.state.received
                await self.receive()
                drained += self.state.received - before
        except _Refused:
            self.state.refused = None

    async def send(self, message: Message) -> None:
        state = self.state
        if state.refused is not None:
            return  # the guard answers instead (whatever the app made of the exception)
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", [])) + self.cors
            if not state.complete and self.expect_continue:  # the client may never send the body
                headers.append((b"connection", b"close"))
            elif not state.complete:  # answered before reading the body: drain it or close
                await self.drain()
                if not state.complete:
                    headers.append((b"connection", b"close"))
            message = {**message, "headers": headers}
            state.started = True
        await self._send(message)


def _too_large(size: int, limit: int) -> _Refused:
    return _Refused(
        413,
        "RequestEntityTooLarge",
        f"Request body of {size} bytes or more exceeds localcloud's limit of {limit} bytes for this request",
    )


def _is_json(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    content_type = (_header(scope, b"content-type") or "").lower()
    return (
        _header(scope, b"x-amz-target") is not None
        or content_type.startswith("application/x-amz-json")
        or path.startswith(("/2015-03-31/", "/endpoints/", "/_localcloud/"))
    )


async def _error(
    http_api: bool,
    scope: Scope,
    send: Send,
    refused: _Refused,
    *,
    close: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """The refusal in the caller's protocol: AWS JSON error for JSON APIs, S3's XML otherwise."""
    if http_api:
        body = json.dumps({"message": refused.message}).encode()
        headers = [(b"content-type", b"application/json")]
    elif _is_json(scope):
        code = refused.code + ("Exception" if not refused.code.endswith("Exception") else "")
        body = json.dumps({"__type": code, "message": refused.message, "Message": refused.message}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-amzn-errortype", code.encode())]
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(refused.code)}</Code><Message>{escape(refused.message)}</Message>"
            f"<RequestId>{request_id()}</RequestId></Error>"
        ).encode()
        headers = [(b"content-type", b"application/xml")]
    headers += [(b"content-length", str(len(body)).encode()), (b"x-amz-request-id", request_id().encode())]
    if close:
        headers.append((b"connection", b"close"))
    headers += extra or []
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


async def _preflight(scope: Scope, send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    requested = (_header(scope, b"access-control-request-headers") or "").encode("latin-1")
    headers = [
        *cors,
        (b"access-control-allow-methods", b"GET, HEAD, PUT, POST, DELETE"),
        (b"access-control-max-age", b"600"),
        (b"content-length", b"0"),
    ]
    if requested:
        headers.append((b"access-control-allow-headers", requested))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


class _HeadWithBody:
    """A connection's transport that holds the response head uvicorn writes alone until the next
    write (the body), so both leave in one send; it writes the head alone at the response's end
    (HEAD, no body) or when the connection closes. Armed per request when its headers are in;
    an interim ``100 Continue`` goes out at once. Writes keep their order whatever is held."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.armed = False
        self.held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.held:
            data, self.held = self.held + bytes(data), b""
        elif self.armed and bytes(data[:13]) != b"HTTP/1.1 100 ":
            self.armed, self.held = False, bytes(data)
            return
        self.transport.write(data)

    def flush(self) -> None:
        if self.held:
            held, self.held = self.held, b""
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a deadline for each request's headers.

    uvicorn arms its keep-alive timer only after a response and cancels it on the first byte of
    the next request, so a client that connects and sends nothing, or half its headers, holds the
    connection (and a file descriptor) forever. This closes such a connection after
    ``LOCALCLOUD_HEADER_SECONDS``.
    """

    max_header_bytes = HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_seconds = environment.current().header_seconds
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and not self.transport.is_closing():  # headers still incomplete
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._cancel_header_timer()
                self.send_400_response("Request headers too large")

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(self.header_seconds, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writer = _HeadWithBody(transport)
        self.transport = cast(asyncio.Transport, self._writer)  # what each request's cycle writes to
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._writer.armed = True  # the next write is this request's response head
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._writer.flush()  # a head with no body (HEAD, 204, an empty body) goes out now
        super().on_response_complete()
