"""An endpoint's model-server processes and how invocations are routed to them.

- :func:`start_server` launches ``python -m localcloud.sagemaker.model_server`` on a socket that
  localcloud has already bound to a free 127.0.0.1 port and passes down (no port race), in its
  own session, logging to the endpoint's CloudWatch-named file; :func:`wait_ready` polls
  ``GET /ping``.
- :class:`ConnectionPool` is a minimal asyncio HTTP/1.1 keep-alive client for ``POST
  /invocations``. Hand-written because the peer is always our own model server (Content-Length
  framing, no chunking) and the invoke path is latency-critical: measured here, httpx's
  AsyncClient adds ~0.9 ms per request over this ~0.2 ms round trip.
- :class:`Router` holds the routing table (variants -> instances) and swaps it atomically under a
  lock for blue/green updates; every pick counts the request in flight on its instance, so the
  old fleet can be drained before it is stopped.

Relies on the standard library (asyncio, http.client, subprocess) and processes.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import localcloud

from .processes import identity

_READY_POLL = 0.1
_JOIN_LIMIT = 256 * 1024  # bodies up to this size are sent in one write with the request head


class FleetError(Exception):
    """A model server that could not start (the reason becomes the endpoint's FailureReason)."""


class ConnectionPool:
    """Keep-alive connections to one model server, used from the edge's event loop only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        """POST and return (status, lower-cased headers, body); TimeoutError after ``timeout``."""
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        request_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        for attempt in range(2):
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                async with asyncio.timeout(timeout):
                    result, keep = await self._exchange(conn, request_head, body)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                conn[1].close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: try once on a fresh one
                raise
            except BaseException:
                conn[1].close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn[1].close()
            return result
        raise ConnectionError("model server connection failed")

    @staticmethod
    async def _exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], head: bytes, body: bytes
    ) -> tuple[tuple[int, dict[str, str], bytes], bool]:
        reader, writer = conn
        if len(body) <= _JOIN_LIMIT:  # one segment: the server reads head and body in one go
            writer.write(head + body)
        else:
            writer.write(head)
            writer.write(body)
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        data = await reader.readexactly(length) if length else b""
        keep = headers.get("connection", "").lower() != "close"
        return (status, headers, data), keep

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


@dataclass
class Instance:
    """One model-server process serving one variant."""

    variant: str
    instance_id: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    gpus: list[int]
    model: str
    inflight: int = 0
    pool: ConnectionPool = field(init=False)

    def __post_init__(self) -> None:
        self.pool = ConnectionPool(self.port)

    @property
    def ident(self) -> dict[str, float | int]:
        return identity(self.process.pid)

    @property
    def log_stream(self) -> str:
        """Its CloudWatch Logs stream in ``/aws/sagemaker/Endpoints/<endpoint>``, named as on AWS."""
        return log_stream_name(self.variant, self.instance_id)


def log_stream_name(variant: str, instance_id: str) -> str:
    """SageMaker's endpoint log stream name: ``<variant>/<instance id>`` (``AllTraffic/i-0abc...``)."""
    return f"{variant}/{instance_id}"


def start_server(
    *,
    model_dir: Path,
    code_dir: Path,
    program: str,
    env: dict[str, str],
    log: Path,
    variant: str,
    instance_id: str,
    gpus: list[int],
    model: str,
) -> Instance:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = int(sock.getsockname()[1])
    root = str(Path(localcloud.__file__).resolve().parent.parent)
    child_env = dict(env)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    child_env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    child_env.setdefault("PYTHONUNBUFFERED", "TRUE")
    argv = [
        sys.executable,
        "-m",
        "localcloud.sagemaker.model_server",
        "--model-dir",
        str(model_dir),
        "--code-dir",
        str(code_dir),
        "--program",
        program,
        "--fd",
        str(sock.fileno()),
    ]
    try:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
            )
    finally:
        sock.close()
    return Instance(
        variant=variant, instance_id=instance_id, process=process, port=port, log=log, gpus=gpus, model=model
    )


def wait_ready(instance: Instance, timeout: float, cancelled: threading.Event | None = None) -> None:
    """Block until ``GET /ping`` answers 200; FleetError if the server dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancelled is not None and cancelled.is_set():
            raise FleetError("cancelled")
        code = instance.process.poll()
        if code is not None:
            raise FleetError(
                f"The model server for variant {instance.variant} exited with code {code} before it "
                f"answered /ping: {log_tail(instance.log)}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=2)
        try:
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(_READY_POLL)
    raise FleetError(
        f"The model server for variant {instance.variant} did not pass the /ping health check "
        f"within {timeout:.0f} seconds"
    )


def stop_instances(instances: list[Instance], grace: float = 10.0) -> None:
    for instance in instances:
        if instance.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(instance.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for instance in instances:
        try:
            instance.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(instance.process.pid, signal.SIGKILL)
            instance.process.wait()


def log_tail(path: Path, limit: int = 800) -> str:
    try:
        text = path.read_bytes()[-8192:].decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("model server:")]
    return "\n".join(lines[-8:])[-limit:] or "(no output)"


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    instances: tuple[Instance, ...]


@dataclass(frozen=True)
class Table:
    config: str
    variants: tuple[Variant, ...]

    @property
    def instances(self) -> list[Instance]:
        return [i for v in self.variants for i in v.instances]


class NoInstance(Exception):
    pass


class Router:
    """Routing for one endpoint; ``pick``/``release`` from the event loop, ``switch`` from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.table: Table | None = None
        self._counter = itertools.count()

    def pick(self, variant: str | None) -> Instance:
        with self._lock:
            table = self.table
            if table is None:
                raise NoInstance("the endpoint has no running instances")
            if variant:
                choices = [v for v in table.variants if v.name == variant]
                if not choices:
                    raise KeyError(variant)
            else:
                choices = [v for v in table.variants if v.instances and v.weight > 0] or list(table.variants)
            chosen = (
                choices[0] if len(choices) == 1 else random.choices(choices, [v.weight for v in choices])[0]
            )
            live = [i for i in chosen.instances if i.process.poll() is None]
            if not live:
                raise NoInstance(f"variant {chosen.name} has no running instance")
            instance = live[next(self._counter) % len(live)]
            instance.inflight += 1
            return instance

    def release(self, instance: Instance) -> None:
        with self._lock:
            instance.inflight -= 1

    def switch(self, table: Table | None) -> Table | None:
        with self._lock:
            old, self.table = self.table, table
            return old

    def replace(self, dead: Instance, fresh: Instance) -> bool:
        """Swap a crashed instance for its replacement in the current table."""
        with self._lock:
            if self.table is None:
                return False
            variants = []
            found = False
            for variant in self.table.variants:
                instances = tuple(fresh if i is dead else i for i in variant.instances)
                found = found or dead in variant.instances
                variants.append(Variant(variant.name, variant.weight, instances))
            if found:
                self.table = Table(self.table.config, tuple(variants))
            return found

    def drain(self, instances: list[Instance], timeout: float, stop: threading.Event | None = None) -> None:
        """Wait until no request is in flight on ``instances`` (they are out of the table already),
        ``timeout`` seconds at most, or until ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            with self._lock:
                if all(i.inflight <= 0 for i in instances):
                    return
            time.sleep(0.02)
