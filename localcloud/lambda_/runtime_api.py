"""The Lambda Runtime API (``/2018-06-01/runtime/...``) that one worker process polls.

The official runtime interface client (awslambdaric, run as ``python -m awslambdaric <handler>``)
talks to ``AWS_LAMBDA_RUNTIME_API=host:port`` and cannot take a path prefix, so each worker gets
its own small server on a free 127.0.0.1 port: that is also how localcloud knows which worker
holds which invocation (to kill exactly that one on a timeout). Endpoints:

- ``GET  /2018-06-01/runtime/invocation/next``: blocks until the pool hands this worker an
  invocation; answers the event with the ``Lambda-Runtime-*`` headers.
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error``: the result.
- ``POST /2018-06-01/runtime/init/error``: the handler could not be loaded (import error ...).

Relies on the standard library's ``http.server`` (threaded, HTTP/1.1 keep-alive) with
``localcloud.http_handler``'s faster request handler (header shortcut, one write per reply).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any

from ..http_handler import FastRequestHandler

log = logging.getLogger("localcloud.lambda")

_PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One invocation handed to a worker; ``done`` is set when its outcome is known."""

    request_id: str
    payload: bytes
    function_arn: str
    deadline_ms: int = 0
    client_context: str | None = None
    picked_up: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error: bool = False
    error_type: str | None = None
    expired: bool = False  # claimed by a timeout (expire): only the timeout's outcome counts
    # Called once with the outcome, on the finishing thread, before ``done`` is set.
    on_finish: Callable[[Invocation], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _settled: bool = field(default=False, repr=False)

    def finish(
        self, body: bytes, *, error: bool, error_type: str | None = None, timeout: bool = False
    ) -> None:
        """Record the outcome; the first one wins (an answer racing a timeout or an exit)."""
        with self._lock:
            if self._settled or (self.expired and not timeout):
                return
            self._settled = True
            self.result, self.error, self.error_type = body, error, error_type
        try:
            if self.on_finish is not None:
                self.on_finish(self)
        finally:
            self.done.set()

    def expire(self) -> bool:
        """Claim the invocation for a timeout; False when its outcome came first."""
        with self._lock:
            if self._settled:
                return False
            self.expired = True
            return True


@dataclass
class _Poll:
    """A worker's /next request waiting for an invocation (its handler thread blocks on
    ``answered``; whoever answers it sets that)."""

    handler: Any
    answered: threading.Event = field(default_factory=threading.Event)
    closing: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A worker killed (timeout, stop) mid-connection resets it: expected, not a traceback on
        localcloud's stderr (socketserver's default); anything else is logged as a bug."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("runtime api: connection from %s ended: %s", client_address, error)
        else:
            log.exception("runtime api: request from %s failed", client_address)


class RuntimeApi:
    """One worker's Runtime API server; ``next_invocation`` hands it work."""

    def __init__(
        self, deadline_for: Callable[[Invocation], int], on_init_error: Callable[[bytes], None]
    ) -> None:
        # Hand-off between the pool (next_invocation) and the worker's long-poll (_serve_next),
        # under one lock: an invocation waits in _pending until a /next comes; a /next waits in
        # _waiting until an invocation comes, and is then answered on the invoking thread.
        self._lock = threading.Lock()
        self._pending: collections.deque[Invocation] = collections.deque()
        self._waiting: collections.deque[_Poll] = collections.deque()
        self._current: dict[str, Invocation] = {}
        self._deadline_for = deadline_for
        self._on_init_error = on_init_error
        self._closed = threading.Event()
        api = self

        class Handler(FastRequestHandler):
            # Socket read timeout, longer than the longest function (900 s): the worker's connection
            # is idle while its function runs; a half-sent request is closed after this long.
            timeout = 960

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("runtime api: " + format, *args)

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                # Buffered (FastRequestHandler): head and body leave in one write at the flush,
                # here rather than after do_*, so a closed connection raises where it is caught.
                # The head is written by hand: send_response would also format a Date.
                lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
                lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
                lines.append(f"Content-Length: {len(body)}")
                head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
                self.wfile.write(head + body)
                self.wfile.flush()
                self.log_request(status, len(body))

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                if self.path == f"{_PREFIX}/invocation/next":
                    api._serve_next(self)
                else:
                    self._reply(404, b'{"errorMessage":"not found"}')

            def do_POST(self) -> None:
                body = self._body()
                path = self.path
                if path == f"{_PREFIX}/init/error":
                    api._on_init_error(body)
                    self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                    return
                parts = path[len(_PREFIX) :].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    invocation = api._current.pop(parts[1], None)
                    if invocation is None:
                        self._reply(HTTPStatus.BAD_REQUEST, b'{"errorMessage":"unknown request id"}')
                        return
                    if parts[2] == "response":
                        invocation.finish(body, error=False)
                    else:
                        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                        invocation.finish(body, error=True, error_type=error_type)
                    self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                    return
                self._reply(404, b'{"errorMessage":"not found"}')

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            daemon=True,
            name=f"lambda-runtime-api-{self.port}",
        )
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def next_invocation(self, invocation: Invocation) -> None:
        """Hand ``invocation`` to the worker: answered right here, on the caller's thread, when the
        worker's /next is already waiting (the warm case: no wake-up of another thread before the
        event leaves); otherwise kept for its next /next."""
        with self._lock:
            if not self._waiting:
                self._pending.append(invocation)
                return
            poll = self._waiting.popleft()
        self._send(poll.handler, invocation)
        poll.answered.set()

    def _serve_next(self, handler: Any) -> None:
        with self._lock:
            invocation = self._take_pending()
            poll = None
            if invocation is None and not self._closed.is_set():
                poll = _Poll(handler)
                self._waiting.append(poll)
        if invocation is not None:
            self._send(handler, invocation)
            return
        if poll is not None:
            poll.answered.wait()  # set once next_invocation has answered it, or by close
            if not poll.closing:
                return
        with contextlib.suppress(OSError):
            handler._reply(410, json.dumps({"errorMessage": "worker shutting down"}).encode())

    def _take_pending(self) -> Invocation | None:
        while self._pending:
            invocation = self._pending.popleft()
            if not invocation.done.is_set():  # else abandoned before pick-up
                return invocation
        return None

    def _send(self, handler: Any, invocation: Invocation) -> None:
        """Answer a /next with ``invocation`` (its event and the Lambda-Runtime-* headers)."""
        invocation.deadline_ms = self._deadline_for(invocation)
        rid = invocation.request_id
        self._current[rid] = invocation
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{rid[:8]}-{rid[-24:]}",
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        invocation.picked_up.set()
        try:
            handler._reply(200, invocation.payload or b"{}", headers)
        except OSError:
            log.debug("worker connection closed while sending invocation %s", rid)

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            polls, self._waiting = list(self._waiting), collections.deque()
        for poll in polls:  # each handler thread answers 410
            poll.closing = True
            poll.answered.set()
        self._server.shutdown()
        self._server.server_close()
