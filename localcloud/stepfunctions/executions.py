"""Runs executions in threads of the server process, persists them, and resumes them after a restart.

Each execution is an :class:`~localcloud.stepfunctions.records.Execution` record plus its history
events. Every top-level state entry is checkpointed (state name, raw input, entered time); when localcloud
restarts, executions that were RUNNING are resumed from their last entered top-level state: a
Wait keeps its original deadline, a Task runs again (its Lambda is invoked again: at-least-once,
like a retry), a Parallel or Map state starts over; retry counters start from zero. An execution
that never reached its first state is started again from ``StartAt``.

StopExecution records ``ExecutionAborted`` at once and interrupts the thread; a shutdown
interrupts threads without recording anything, so the execution resumes on the next start.
Relies on the interpreter, the store and Lambda's Invoke (a :class:`LambdaInvoker` given by ``cloud.py``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import Settings
from ..lambda_.models import InvokeResult
from ..logs import log_path
from ..store import Store
from . import paths as jp
from .errors import ExecutionCancelled, StatesFailure
from .history import StoreHistory
from .interpreter import Cancellation, ExecutionInfo, Interpreter, ResumePoint
from .records import Checkpoint, Execution, Records

log = logging.getLogger("localcloud.stepfunctions")

SHUTDOWN = "shutdown"
ABORTED = "aborted"
TIMED_OUT = "timed out"


@dataclass
class _Running:
    thread: threading.Thread
    cancel: Cancellation
    history: StoreHistory
    lock: threading.Lock
    closed: bool = False


class LambdaInvoker(Protocol):
    """Lambda's Invoke as Task states call it (``LambdaService.invoke``)."""

    def __call__(self, function_name: str, payload: bytes, /, *, invocation_type: str) -> InvokeResult: ...


class ExecutionRunner:
    def __init__(self, *, settings: Settings, store: Store, invoke_lambda: LambdaInvoker) -> None:
        self.settings = settings
        self.records = Records(store)
        self._invoke = invoke_lambda
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="sfn-task")

    # ------------------------------------------------------------------ lambda bridge
    def invoke_lambda(self, function: str, body: bytes, invocation_type: str) -> InvokeResult:
        return self._invoke(function, body, invocation_type=invocation_type)

    # ------------------------------------------------------------------ lifecycle
    def _log_group(self, execution: Execution) -> str:
        """The log group of the state machine's logging configuration (its first CloudWatch Logs
        destination, when logging is on), else ``/aws/states/<machine>``."""
        machine = self.records.machine(execution.state_machine_arn)
        group = machine.log_group() if machine is not None else None
        return group or f"/aws/states/{execution.machine_name}"

    def launch(
        self,
        execution: Execution,
        definition: dict[str, Any],
        resume: ResumePoint | None = None,
        *,
        fresh: bool = True,
    ) -> None:
        arn = execution.arn
        history = StoreHistory(
            self.records,
            arn,
            log_path(self.settings.state_dir, self._log_group(execution), execution.name),
        )
        cancel = Cancellation()
        running = _Running(
            threading.Thread(
                target=self._run,
                args=(arn, definition, resume, fresh),
                daemon=True,
                name=f"sfn-{execution.name[:40]}",
            ),
            cancel,
            history,
            threading.Lock(),
        )
        with self._lock:
            if self._stopping:
                return
            self._running[arn] = running
        running.thread.start()

    def _info(self, execution: Execution) -> ExecutionInfo:
        return ExecutionInfo(
            execution_arn=execution.arn,
            execution_name=execution.name,
            state_machine_arn=execution.state_machine_arn,
            state_machine_name=execution.machine_name,
            role_arn=execution.role_arn,
            start_time=float(execution.start_date),
            input=json.loads(execution.input),
            region=self.settings.region,
        )

    def _run(self, arn: str, definition: dict[str, Any], resume: ResumePoint | None, fresh: bool) -> None:
        running = self._running[arn]
        execution = self.records.execution(arn)
        if execution is None:
            return
        info = self._info(execution)
        timer: threading.Timer | None = None
        if "TimeoutSeconds" in definition:
            remaining = info.start_time + float(definition["TimeoutSeconds"]) - time.time()
            timer = threading.Timer(max(0.0, remaining), running.cancel.cancel, args=(TIMED_OUT,))
            timer.daemon = True
            timer.start()
        if fresh:
            running.history.append(
                "ExecutionStarted",
                {
                    "input": execution.input,
                    "inputDetails": {"truncated": False},
                    "roleArn": info.role_arn,
                },
                0,
            )

        def checkpoint(state: str, data: Any, entered: float, event_id: int) -> None:
            point = Checkpoint(state, data, entered, event_id)

            def enter(record: Execution) -> None:
                record.checkpoint, record.current_state = point, state

            self.records.update_execution(arn, enter)

        interpreter = Interpreter(
            definition,
            info,
            invoke_lambda=self.invoke_lambda,
            events=running.history,
            cancel=running.cancel,
            pool=self.pool,
            checkpoint=checkpoint,
        )
        try:
            output = interpreter.run(resume)
        except StatesFailure as failure:
            self._close(arn, "FAILED", "ExecutionFailed", error=failure.error, cause=failure.cause)
        except ExecutionCancelled as cancelled:
            if cancelled.reason == TIMED_OUT:
                self._close(
                    arn,
                    "TIMED_OUT",
                    "ExecutionTimedOut",
                    error="States.Timeout",
                    cause=f"The execution exceeded its TimeoutSeconds ({definition.get('TimeoutSeconds')})",
                )
            # ABORTED was recorded by stop(); SHUTDOWN leaves it RUNNING to resume on the next start.
        except Exception as exc:  # a bug in localcloud: fail the execution and say so
            log.exception("execution %s failed inside localcloud", arn)
            self._close(
                arn,
                "FAILED",
                "ExecutionFailed",
                error="States.Runtime",
                cause=f"localcloud internal error: {type(exc).__name__}: {exc}",
            )
        else:
            self._close(arn, "SUCCEEDED", "ExecutionSucceeded", output=output)
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._running.pop(arn, None)

    def _close(
        self,
        arn: str,
        status: str,
        event_type: str,
        *,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> bool:
        """Record the execution's end once (first caller wins); False if it had already ended."""
        running = self._running.get(arn)
        lock = running.lock if running else threading.Lock()
        with lock:
            if running is not None:
                if running.closed:
                    return False
                running.closed = True
            stop = time.time()
            details: dict[str, Any]
            if status == "SUCCEEDED":
                text = jp.to_json(output)
                details = {"output": text, "outputDetails": {"truncated": False}}
            else:
                details = {k: v for k, v in (("error", error), ("cause", cause)) if v}

            def change(record: Execution) -> None:
                record.status, record.stop_date = status, stop
                if status == "SUCCEEDED":
                    record.output = details["output"]
                else:
                    record.error = error or record.error
                    record.cause = cause or record.cause

            self.records.update_execution(arn, change)
            history = running.history if running else StoreHistory(self.records, arn)
            history.append(event_type, details, history.last_id)
            history.close()
            return True

    def stop(self, arn: str, error: str | None, cause: str | None) -> bool:
        """Abort a running execution (ExecutionAborted); False when it was not running here."""
        running = self._running.get(arn)
        if running is None:
            return False
        closed = self._close(arn, "ABORTED", "ExecutionAborted", error=error, cause=cause)
        running.cancel.cancel(ABORTED)
        return closed

    def is_running(self, arn: str) -> bool:
        return arn in self._running

    def resume_all(self) -> list[str]:
        """Resume every execution left RUNNING by a previous server; returns their ARNs."""
        resumed = []
        for execution in self.records.executions():
            if execution.status != "RUNNING" or execution.arn in self._running:
                continue
            definition = json.loads(execution.definition)
            point = execution.checkpoint
            if point:
                resume = ResumePoint(point.state, point.input, point.entered_time, point.entered_event)
                self.launch(execution, definition, resume, fresh=False)
            else:
                fresh = not self.records.event_count(execution.arn)
                self.launch(execution, definition, None, fresh=fresh)
            resumed.append(execution.arn)
            log.info("resumed execution %s at %s", execution.arn, point.state if point else "StartAt")
        return resumed

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            running = list(self._running.values())
        for item in running:
            item.cancel.cancel(SHUTDOWN)
        deadline = time.monotonic() + timeout
        for item in running:
            item.thread.join(max(0.0, deadline - time.monotonic()))
        self.pool.shutdown(wait=False, cancel_futures=True)
