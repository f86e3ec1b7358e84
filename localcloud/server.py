"""Runs one localcloud instance in the foreground: the edge port and the HTTP API port.

Both are uvicorn servers in one event loop, bound to 127.0.0.1, each behind guard.py's
request guards (Host/Origin checks, body limits, header and idle timeouts). Start-up order: the ports open
first (health answers 503 "starting"), then ``LocalCloud.start()`` reconciles persisted state and
deploys the template in a worker thread, then health answers 200. SIGTERM/SIGINT stop the
servers and every child process (training jobs, model servers, Lambda workers). A pid file in
the state dir lets ``localcloud status|stop`` find the running instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .cloud import LocalCloud
from .config import Settings
from .edge import Edge
from .guard import DRAIN_BYTES, HTTP_API_BODY, KEEP_ALIVE_SECONDS, Guard, HeaderTimeoutProtocol

log = logging.getLogger("localcloud")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Gate:
    """Answers 503 until the cloud is started, then hands every request to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ready = False
        self.error: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.ready:
            status = "failed" if self.error else "starting"
            body = {"status": status, "error": self.error}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def pid_file(state_dir: Path) -> Path:
    return state_dir / "localcloud.pid"


async def _serve(settings: Settings) -> int:
    cloud = LocalCloud(settings)
    edge = _Gate(Edge(cloud))
    api = _Gate(cloud.apigateway.asgi())
    # The edge refuses other origins and non-loopback Host names (guard.py); the HTTP API is the
    # user's own API (browsers may call it, CORS as the template says), so it only gets the Host
    # check (DNS rebinding); the app answers API Gateway's 413 itself, the guard is a backstop.
    guarded: tuple[tuple[ASGIApp, int], ...] = (
        (Guard(edge), settings.port),
        (Guard(api, check_origin=False, limit=HTTP_API_BODY + DRAIN_BYTES, http_api=True), settings.api_port),
    )
    servers = [
        _QuietServer(
            uvicorn.Config(
                app,
                host=settings.host,
                port=port,
                log_level="warning",
                lifespan="off",
                http=HeaderTimeoutProtocol,  # closes connections that never finish their headers
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
                timeout_graceful_shutdown=5,  # don't wait on long polls (Lambda Runtime API, waits)
            )
        )
        for app, port in guarded
    ]
    loop = asyncio.get_running_loop()

    def request_exit() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_exit)

    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):  # a port was taken: uvicorn logged why
            request_exit()
            await asyncio.gather(*tasks, return_exceptions=True)
            return 1
        await asyncio.sleep(0.02)
    pid_file(settings.state_dir).write_text(str(os.getpid()))
    try:
        await asyncio.to_thread(cloud.start)
    except Exception as exc:
        log.exception("localcloud failed to start")
        edge.error = api.error = f"{type(exc).__name__}: {exc}"  # health answers 503 "failed" with it
    else:
        edge.ready = api.ready = True
        log.info(
            "localcloud ready: edge %s, api %s, state %s",
            settings.edge_url,
            settings.api_url,
            settings.state_dir,
        )
    try:
        await asyncio.gather(*tasks)
    finally:
        await asyncio.to_thread(cloud.stop)
        with contextlib.suppress(FileNotFoundError):
            pid_file(settings.state_dir).unlink()
    return 0


def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    return asyncio.run(_serve(settings))
