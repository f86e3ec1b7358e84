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

import contextlib
import json
import logging
import queue
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

    def finish(self, body: bytes, *, error: bool, error_type: str | None = None) -> None:
        if self.done.is_set():
            return
        self.result, self.error, self.error_type = body, error, error_type
        self.done.set()


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
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
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
        self._inbox.put(invocation)

    def _serve_next(self, handler: Any) -> None:
        while not self._closed.is_set():
            try:
                invocation = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if invocation is None:
                break
            if invocation.done.is_set():  # abandoned before pick-up
                continue
            invocation.deadline_ms = self._deadline_for(invocation)
            rid = invocation.request_id
            self._current[invocation.request_id] = invocation
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
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
                log.debug("worker connection closed while sending invocation %s", invocation.request_id)
            return
        with contextlib.suppress(OSError):
            handler._reply(410, json.dumps({"errorMessage": "worker shutting down"}).encode())

    def close(self) -> None:
        self._closed.set()
        self._inbox.put(None)
        self._server.shutdown()
        self._server.server_close()
