"""Lambda execution environments: one worker process per concurrent invocation, kept warm.

A worker is ``python -m awslambdaric <Handler>`` (the official AWS runtime interface client,
unchanged) started with the function's CodeUri as working directory and first ``PYTHONPATH``
entry (its layers' python/ directories next, as Lambda's /opt/python: ``layers.py``), the
function's environment, ``AWS_ENDPOINT_URL`` and dummy credentials pointing SDKs at localcloud,
and the Lambda reserved variables (``AWS_LAMBDA_FUNCTION_NAME`` ... ``_HANDLER``); its ``TMPDIR``
is a folder of its own under ``<state_dir>/lambda-tmp/``, removed when the worker stops (a Lambda
environment's /tmp goes with it), unless the function's environment sets one. It polls its own
Runtime API (``runtime_api.py``). Its stdout/stderr go to the function's log stream
``<state_dir>/logs/aws/lambda/<function>/<date>-<worker>.log`` with AWS's ``START`` / ``END`` /
``REPORT`` lines around each invocation, which is also where ``LogType: Tail`` reads the last
4 KB from.

A pool per function reuses idle workers and starts new ones up to ``max_workers`` (then callers
queue); a worker idle for ``LOCALCLOUD_LAMBDA_IDLE_SECONDS`` (900) is stopped. A timeout kills
the worker's process group and answers ``Sandbox.Timedout`` ("Task timed out after N.00
seconds") as Lambda does; a worker that dies mid-invocation answers
``Runtime.ExitError``; a handler that cannot be imported answers awslambdaric's own init error
(``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound`` ...). Relies on subprocess and ``memory.py``
(memory used, for the REPORT line).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import environment
from ..config import Settings
from ..logs import log_path
from .memory import ResidentMemory
from .models import MAX_SYNC_PAYLOAD, InvokeResult
from .runtime_api import Invocation, RuntimeApi

log = logging.getLogger("localcloud.lambda")

LOG_TAIL_BYTES = 4096


def tmp_root(state_dir: Path) -> Path:
    """Where the Lambda workers' ``/tmp`` folders live (``TMPDIR``, one per worker, removed with it)."""
    return state_dir / "lambda-tmp"


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run a function (a snapshot of its configuration)."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout: int
    memory: int
    environment: dict[str, str]
    layer_paths: tuple[Path, ...] = ()

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionSpec:
        return cls(
            name=doc["FunctionName"],
            arn=doc["FunctionArn"],
            handler=doc["Handler"],
            code_dir=Path(doc["CodeDir"]),
            runtime=doc.get("Runtime", "python3.11"),
            timeout=int(doc.get("Timeout", 3)),
            memory=int(doc.get("MemorySize", 128)),
            environment={
                str(k): str(v) for k, v in (doc.get("Environment") or {}).get("Variables", {}).items()
            },
            layer_paths=tuple(Path(p) for p in doc.get("LayerPaths", [])),
        )


def _python_path(code_dir: Path, layer_paths: tuple[Path, ...] = ()) -> str:
    entries = [str(code_dir), *map(str, layer_paths)]
    entries += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(entries))


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _result(invocation: Invocation, log_tail: str | None = None) -> InvokeResult:
    """What Invoke answers for a finished invocation (a result over 6 MB is an error)."""
    payload, error = invocation.result, invocation.error
    if not error and len(payload) > MAX_SYNC_PAYLOAD:
        payload, error = (
            _error_payload(
                "Function.ResponseSizeTooLarge",
                f"Response payload size ({len(payload)} bytes) exceeded maximum allowed "
                f"payload size ({MAX_SYNC_PAYLOAD} bytes).",
            ),
            True,
        )
    return InvokeResult(
        status=200,
        payload=payload,
        function_error="Unhandled" if error else None,
        log_tail=log_tail,
        request_id=invocation.request_id,
    )


class Worker:
    """One awslambdaric process and its Runtime API."""

    def __init__(self, spec: FunctionSpec, settings: Settings, generation: int) -> None:
        self.spec = spec
        self.generation = generation
        self.id = uuid.uuid4().hex
        self.current: Invocation | None = None
        self.init_error: bytes | None = None
        self.initialized = False
        self.init_started = time.monotonic()
        self.init_duration: float | None = None
        self.exited = threading.Event()
        self.killed = False
        self.api = RuntimeApi(self._deadline_ms, self._on_init_error)
        self.stream = f"{dt.datetime.now(dt.UTC):%Y-%m-%d}-{self.id[:16]}"
        group = f"/aws/lambda/{spec.name}"
        self.log_file = log_path(settings.state_dir, group, self.stream)
        self.tmp_dir = tmp_root(settings.state_dir) / self.id
        self.tmp_dir.mkdir(parents=True)
        env = dict(spec.environment)
        env.update(settings.child_env())
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/tmp"),
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": _python_path(spec.code_dir, spec.layer_paths),
                "PYTHONUNBUFFERED": "1",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
                "AWS_LAMBDA_LOG_GROUP_NAME": group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
                "AWS_LAMBDA_RUNTIME_API": self.api.address,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_DISABLE_PREVIEW_WARN": "1",
            }
        )
        # No X-Ray daemon here (Tracing: Active has nowhere to send): powertools' Tracer stays off
        # unless the function's own environment says otherwise.
        env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        env.setdefault("TMPDIR", str(self.tmp_dir))  # a Lambda environment's own /tmp
        # The platform lines (START/END/REPORT) go through one unbuffered append-mode handle kept
        # for the worker's life: an open per line cost more than the write.
        self._log = self.log_file.open("ab", buffering=0)
        self._log_lock = threading.Lock()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", spec.handler],
                cwd=spec.code_dir,
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            self._log.close()
            self.api.close()
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            raise
        self._memory = ResidentMemory(self.process.pid)  # opened once: read for every REPORT
        self.last_used = time.monotonic()
        self._watcher = threading.Thread(
            target=self._watch, daemon=True, name=f"lambda-worker-{self.process.pid}"
        )
        self._watcher.start()
        log.info("started worker pid %s for %s (%s)", self.process.pid, spec.name, spec.handler)

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def alive(self) -> bool:
        return not self.exited.is_set() and self.init_error is None

    def _deadline_ms(self, invocation: Invocation) -> int:
        if not self.initialized:
            self.initialized = True
            self.init_duration = time.monotonic() - self.init_started
        return int((time.time() + self.spec.timeout) * 1000)

    def _on_init_error(self, body: bytes) -> None:
        self.init_error = body
        if self.current is not None:
            self.current.finish(body, error=True, error_type="Unhandled")

    def _watch(self) -> None:
        code = self.process.wait()
        self.exited.set()
        current = self.current
        if current is not None and not current.done.is_set() and not self.killed:
            status = f"signal {-code}" if code < 0 else f"exit status {code}"
            current.finish(
                _error_payload(
                    "Runtime.ExitError",
                    f"RequestId: {current.request_id} Error: Runtime exited with error: {status}",
                ),
                error=True,
                error_type="Unhandled",
            )

    def write_log(self, text: str) -> int:
        """Append a platform line; returns the file size before it."""
        data = text.encode()
        with self._log_lock:
            if self._log.closed:  # killed (a timeout's lines come after the kill)
                with self.log_file.open("ab") as out:
                    offset = out.tell()
                    out.write(data)
                    return offset
            self._log.write(data)  # O_APPEND: lands at the end, after whatever the worker wrote
            return int(self._log.tell()) - len(data)

    def log_tail(self, offset: int) -> str:
        with self.log_file.open("rb") as src:
            src.seek(offset)
            data = src.read()
        return base64.b64encode(data[-LOG_TAIL_BYTES:]).decode()

    def memory_mb(self) -> int:
        return self._memory.mb()

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and anything it started), by its PID."""
        if self.killed:
            return
        self.killed = True
        if not self.exited.is_set():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("worker pid %s did not exit after SIGKILL", self.pid)
        self.api.close()
        self._memory.close()
        with self._log_lock:
            self._log.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # its /tmp goes with the environment, as on AWS


class _Call:
    """One invocation on one worker: START written when made; ``complete`` (the invocation's
    on_finish, on whichever thread records the outcome) writes END/REPORT, releases the worker and
    hands the result on; ``wait`` (the invoking thread) watches the timeout."""

    def __init__(
        self,
        pool: FunctionPool,
        worker: Worker,
        invocation: Invocation,
        on_result: Callable[[InvokeResult], None] | None,
    ) -> None:
        self.pool, self.worker, self.invocation, self.on_result = pool, worker, invocation, on_result
        self.offset = worker.write_log(f"START RequestId: {invocation.request_id} Version: $LATEST\n")
        self.started = time.monotonic()

    def complete(self, invocation: Invocation) -> None:
        worker = self.worker
        reusable = not invocation.expired and not (
            invocation.error and (worker.init_error is not None or worker.exited.is_set())
        )
        try:
            self.pool._report(
                worker, invocation.request_id, time.monotonic() - self.started, invocation.expired
            )
        finally:
            worker.current = None
            worker.last_used = time.monotonic()
            self.pool._release(worker, reusable)
        if self.on_result is not None:
            self.on_result(_result(invocation))

    def wait(self, tail: bool) -> InvokeResult:
        invocation = self.invocation
        if not self.pool._wait(self.worker, invocation) and invocation.expire():
            self.pool._expire(self)
        elif not invocation.done.is_set():  # the worker exited and no outcome was recorded
            invocation.finish(b"", error=False)
        invocation.done.wait()
        return _result(invocation, self.worker.log_tail(self.offset) if tail else None)


class FunctionPool:
    """Warm workers of one function; invocations beyond ``max_workers`` wait for a free one."""

    def __init__(self, spec: FunctionSpec, settings: Settings, max_workers: int) -> None:
        self.spec = spec
        self.settings = settings
        self.max_workers = max_workers
        self.generation = 0
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._cond = threading.Condition()
        self._closed = False

    def update(self, spec: FunctionSpec) -> None:
        """New configuration: idle workers stop now, busy ones after their invocation."""
        with self._cond:
            if spec == self.spec:
                return
            self.spec = spec
            self.generation += 1
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def workers(self) -> list[Worker]:
        with self._cond:
            return [*self._idle, *self._busy]

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("localcloud is shutting down")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    worker.kill()
                if len(self._busy) < self.max_workers:
                    worker = Worker(self.spec, self.settings, self.generation)
                    self._busy.add(worker)
                    return worker
                self._cond.wait(1.0)

    def _release(self, worker: Worker, reusable: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = reusable and worker.alive() and worker.generation == self.generation and not self._closed
            if keep:
                self._idle.append(worker)
            self._cond.notify()
        if not keep:
            worker.kill()

    def _reap_idle(self) -> None:
        """Stop workers idle for LOCALCLOUD_LAMBDA_IDLE_SECONDS (Lambda recycles idle environments too)."""
        cutoff = time.monotonic() - environment.current().lambda_idle_seconds
        with self._cond:
            stale = [w for w in self._idle if w.last_used < cutoff]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            worker.kill()

    def _take_idle(self) -> Worker | None:
        """An idle warm worker, without blocking; None when there is none (or it is stale or gone:
        ``invoke`` reaps and replaces those) or the pool is busy (starting a worker holds it)."""
        if not self._cond.acquire(blocking=False):
            return None
        try:
            if self._closed or not self._idle:
                return None
            worker = self._idle[-1]
            if (
                not worker.alive()
                or worker.last_used < time.monotonic() - environment.current().lambda_idle_seconds
            ):
                return None
            self._idle.pop()
            self._busy.add(worker)
            return worker
        finally:
            self._cond.release()

    def invoke(
        self,
        payload: bytes,
        *,
        tail: bool = False,
        client_context: str | None = None,
        on_result: Callable[[InvokeResult], None] | None = None,
    ) -> InvokeResult:
        """Run one invocation on a warm (or new) worker and return its result.

        The outcome is recorded on the thread that learnt it (the Runtime API's, for a worker's
        answer): END/REPORT written, the worker released, then ``on_result`` (if given) called
        with the result this returns, without waiting for this thread to wake up."""
        self._reap_idle()
        return self._begin(self._acquire(), payload, client_context, on_result).wait(tail)

    def start(
        self, payload: bytes, *, on_result: Callable[[InvokeResult], None], client_context: str | None = None
    ) -> Callable[[], InvokeResult] | None:
        """``invoke``'s first half without blocking, for a caller on an event loop: with a warm
        worker idle the invocation goes to it now (a waiting /next is answered on this thread) and
        the callable returned, run on a thread, watches its timeout and returns its result
        (``on_result`` gets it first); None when no worker is idle (then call ``invoke``)."""
        worker = self._take_idle()
        if worker is None:
            return None
        call = self._begin(worker, payload, client_context, on_result)
        return functools.partial(call.wait, False)

    def _begin(
        self,
        worker: Worker,
        payload: bytes,
        client_context: str | None,
        on_result: Callable[[InvokeResult], None] | None,
    ) -> _Call:
        try:
            call = _Call(
                self,
                worker,
                Invocation(str(uuid.uuid4()), payload, self.spec.arn, client_context=client_context),
                on_result,
            )
            call.invocation.on_finish = call.complete
            worker.current = call.invocation
            worker.api.next_invocation(call.invocation)
        except BaseException:
            worker.current = None
            self._release(worker, True)
            raise
        return call

    def _expire(self, call: _Call) -> None:
        """The function ran past its timeout (or never started): kill the worker, answer Sandbox.Timedout."""
        worker, request_id = call.worker, call.invocation.request_id
        worker.kill()
        message = f"Task timed out after {self.spec.timeout:.2f} seconds"
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        worker.write_log(f"{stamp} {request_id} {message}\n")
        call.invocation.finish(
            _error_payload("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}"),
            error=True,
            error_type="Unhandled",
            timeout=True,
        )

    def _wait(self, worker: Worker, invocation: Invocation) -> bool:
        """Wait for the outcome; False when the function timed out (the worker is then killed)."""
        init_deadline = time.monotonic() + environment.current().lambda_init_timeout
        while not invocation.picked_up.is_set() and not invocation.done.is_set():
            if invocation.done.wait(0.02):
                return True
            if worker.exited.is_set() and not invocation.done.is_set():
                invocation.done.wait(1.0)  # the watcher records Runtime.ExitError
                return True
            if time.monotonic() > init_deadline:
                return False
        deadline = time.monotonic() + self.spec.timeout
        return invocation.done.wait(max(0.0, deadline - time.monotonic()))

    def _report(self, worker: Worker, request_id: str, duration: float, timed_out: bool) -> None:
        init = f"\tInit Duration: {worker.init_duration * 1000:.2f} ms" if worker.init_duration else ""
        worker.init_duration = None
        status = "\tStatus: timeout" if timed_out else ""
        worker.write_log(
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration * 1000:.2f} ms\t"
            f"Billed Duration: {int(duration * 1000) + 1} ms\tMemory Size: {self.spec.memory} MB\t"
            f"Max Memory Used: {worker.memory_mb()} MB{init}{status}\n"
        )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
