"""The Amazon States Language interpreter (JSONPath query language) that runs executions locally.

This interpreter is localcloud's own: no maintained Python library runs ASL state machines
against local Lambda functions (moto only records executions; the AWS Step Functions Local jar
needs Java and Docker-hosted Lambdas). It implements the states Task, Pass, Wait, Choice,
Parallel, Map (inline), Succeed and Fail; InputPath, Parameters, ResultSelector, ResultPath and
OutputPath; the intrinsic functions (``intrinsics``); the context object; Retry (IntervalSeconds,
MaxAttempts, BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch; Task TimeoutSeconds.
Paths go through jsonpath-ng (``paths``).

Task resources: ``arn:aws:states:::lambda:invoke`` (``Parameters.FunctionName``/``Payload``, the
result shaped like the AWS SDK response with ``Payload``/``StatusCode``) and plain Lambda
function ARNs (the effective input is the event, the function's output the result). A Lambda
function error fails the state with ``errorType`` as the error (``Lambda.Unknown`` when the
payload has none) and the payload as the cause, as Step Functions does; a Lambda timeout is
``Sandbox.Timedout`` (the function's own timeout), while a Task ``TimeoutSeconds`` overrun is
``States.Timeout``. Any other resource fails the execution with ``States.Runtime``: not supported
locally. ``HeartbeatSeconds`` is accepted but only matters to callback/activity tasks, which are
not supported.

Events go to an ``EventSink`` (history.py); a Parallel branch or Map iteration records its
events with its own ``previousEventId`` chain. Every wait (Wait states, retry intervals, Lambda
calls) is interruptible through a ``Cancellation`` (StopExecution, execution timeout, shutdown).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import AwsError
from ..lambda_.models import InvokeResult
from . import choice, errors, intrinsics, payload
from . import paths as jp
from .errors import ExecutionCancelled, StatesFailure
from .history import EventSink

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
_LAMBDA_INVOKE = re.compile(r"^arn:aws[a-z-]*:states:::lambda:invoke$")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$"
)
MAX_PAYLOAD = 256 * 1024
_MAP_THREADS = 40
_POLL = 0.2

LambdaInvoker = Callable[[str, bytes, str], InvokeResult]


def iso(timestamp: float) -> str:
    """An epoch time as the context object writes it (``2019-03-26T20:14:13.192Z``)."""
    return (
        dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class Cancellation:
    """A cancellable scope; cancelling it cancels every child scope (branches, iterations)."""

    def __init__(self, parent: Cancellation | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._children: list[Cancellation] = []
        self._parent = parent
        self.reason: str | None = None
        if parent is not None:
            parent._adopt(self)

    def _adopt(self, child: Cancellation) -> None:
        with self._lock:
            self._children.append(child)
        if self.is_set():
            child.cancel(self.reason or "cancelled")

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            children = list(self._children)
        self._event.set()
        for child in children:
            child.cancel(reason)

    def detach(self) -> None:
        if self._parent is not None:
            with self._parent._lock:
                if self in self._parent._children:
                    self._parent._children.remove(self)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(max(0.0, seconds))

    def check(self) -> None:
        if self._event.is_set():
            raise ExecutionCancelled(self.reason or "cancelled")


@dataclass(frozen=True)
class ExecutionInfo:
    """What the context object says about the execution."""

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    start_time: float
    input: Any
    region: str = "us-east-1"


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed execution picks up: a top-level state entered before a restart."""

    state: str
    input: Any
    entered_time: float
    entered_event: int


@dataclass
class Lane:
    """One thread of events: the execution itself, a Parallel branch or a Map iteration."""

    previous: int
    cancel: Cancellation
    top: bool = False


@dataclass
class StateRun:
    name: str
    state: dict[str, Any]
    entered_time: float
    entered_event: int
    lane: Lane
    retry_count: int = 0
    task_token: str | None = None
    map_item: tuple[int, Any] | None = field(default=None)


Checkpoint = Callable[[str, Any, float, int], None]
Sleeper = Callable[[float, Cancellation], None]


def _default_sleep(seconds: float, cancel: Cancellation) -> None:
    if cancel.wait(seconds):
        cancel.check()


class Interpreter:
    """Runs one execution of a (validated) definition; ``run`` returns its output or raises."""

    def __init__(
        self,
        definition: dict[str, Any],
        info: ExecutionInfo,
        *,
        invoke_lambda: LambdaInvoker,
        events: EventSink,
        cancel: Cancellation,
        pool: ThreadPoolExecutor,
        checkpoint: Checkpoint | None = None,
        sleep: Sleeper = _default_sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.definition = definition
        self.info = info
        self.invoke_lambda = invoke_lambda
        self.events = events
        self.cancel = cancel
        self.pool = pool
        self.checkpoint = checkpoint
        self.sleep = sleep
        self.clock = clock

    # ------------------------------------------------------------------ machine loop
    def run(self, resume: ResumePoint | None = None) -> Any:
        lane = Lane(previous=self.events.last_id, cancel=self.cancel, top=True)
        return self.run_machine(self.definition, self.info.input, lane, resume=resume)

    def emit(self, lane: Lane, event_type: str, details: dict[str, Any] | None = None) -> int:
        event_id = self.events.append(event_type, details, lane.previous)
        lane.previous = event_id
        return event_id

    def run_machine(
        self,
        machine: dict[str, Any],
        data: Any,
        lane: Lane,
        *,
        resume: ResumePoint | None = None,
        map_item: tuple[int, Any] | None = None,
    ) -> Any:
        name = resume.state if resume else machine["StartAt"]
        while True:
            lane.cancel.check()
            state = machine["States"][name]
            kind = state["Type"]
            if resume is not None:
                run = StateRun(name, state, resume.entered_time, resume.entered_event, lane)
                data = resume.input
                resume = None
            else:
                entered = self.clock()
                event_id = self.emit(
                    lane,
                    f"{kind}StateEntered",
                    {"name": name, "input": jp.to_json(data), "inputDetails": {"truncated": False}},
                )
                run = StateRun(name, state, entered, event_id, lane)
                if lane.top and self.checkpoint is not None:
                    self.checkpoint(name, data, entered, event_id)
            next_state, output = self.execute(run, data)
            lane.cancel.check()
            text = jp.to_json(output)
            if len(text.encode()) > MAX_PAYLOAD:
                raise StatesFailure(
                    errors.DATA_LIMIT_EXCEEDED,
                    f"The state/task '{name}' returned a result with a size exceeding the maximum "
                    f"number of bytes service limit ({MAX_PAYLOAD}).",
                )
            self.emit(
                lane,
                f"{kind}StateExited",
                {"name": name, "output": text, "outputDetails": {"truncated": False}},
            )
            if next_state is None:
                return output
            name, data = next_state, output

    def execute(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        kind = run.state["Type"]
        if kind == "Pass":
            return self.pass_state(run, data)
        if kind == "Wait":
            return self.wait_state(run, data)
        if kind == "Choice":
            return self.choice_state(run, data)
        if kind == "Succeed":
            return None, self.output_path(run, self.input_path(run, data))
        if kind == "Fail":
            raise self.fail_state(run, data)
        work = {"Task": self.task_work, "Parallel": self.parallel_work, "Map": self.map_work}[kind]
        return self.with_retry(run, data, work)

    # ------------------------------------------------------------------ input/output processing
    def context(self, run: StateRun) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "Execution": {
                "Id": self.info.execution_arn,
                "Input": self.info.input,
                "Name": self.info.execution_name,
                "RoleArn": self.info.role_arn,
                "StartTime": iso(self.info.start_time),
                "RedriveCount": 0,
            },
            "State": {"EnteredTime": iso(run.entered_time), "Name": run.name, "RetryCount": run.retry_count},
            "StateMachine": {"Id": self.info.state_machine_arn, "Name": self.info.state_machine_name},
        }
        if run.task_token is not None:
            ctx["Task"] = {"Token": run.task_token}
        if run.map_item is not None:
            ctx["Map"] = {"Item": {"Index": run.map_item[0], "Value": run.map_item[1]}}
        return ctx

    def select(self, run: StateRun, data: Any, path: str | None, field_name: str) -> Any:
        if path is None:
            return {}
        try:
            return jp.select(data, path)
        except jp.PathNotFound:
            raise errors.runtime_error(
                run.name,
                run.entered_event,
                f"Invalid path '{path}' : The JSONPath '{path}' specified for the field '{field_name}' "
                f"could not be found in the input '{jp.to_json(data)}'",
            ) from None

    def input_path(self, run: StateRun, data: Any) -> Any:
        return self.select(run, data, run.state.get("InputPath", "$"), "InputPath")

    def output_path(self, run: StateRun, data: Any) -> Any:
        return self.select(run, data, run.state.get("OutputPath", "$"), "OutputPath")

    def render(self, run: StateRun, template: Any, data: Any) -> Any:
        return payload.render(
            template, data, self.context(run), state=run.name, entered_event=run.entered_event
        )

    def effective_input(self, run: StateRun, data: Any) -> Any:
        effective = self.input_path(run, data)
        if "Parameters" in run.state:
            effective = self.render(run, run.state["Parameters"], effective)
        return effective

    def finish(self, run: StateRun, data: Any, result: Any) -> Any:
        """ResultSelector, ResultPath (onto the raw input) and OutputPath."""
        if "ResultSelector" in run.state:
            result = self.render(run, run.state["ResultSelector"], result)
        result_path = run.state.get("ResultPath", "$")
        return self.output_path(run, jp.apply_result_path(data, result_path, result))

    @staticmethod
    def next_of(state: dict[str, Any]) -> str | None:
        return None if state.get("End") else state.get("Next")

    # ------------------------------------------------------------------ simple states
    def pass_state(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        effective = self.effective_input(run, data)
        result = run.state.get("Result", effective)
        return self.next_of(run.state), self.finish(run, data, result)

    def wait_state(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        state = run.state
        effective = self.input_path(run, data)
        if "Seconds" in state or "SecondsPath" in state:
            seconds = state.get("Seconds")
            if "SecondsPath" in state:
                seconds = self.select(run, effective, state["SecondsPath"], "SecondsPath")
                if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                    raise errors.runtime_error(
                        run.name,
                        run.entered_event,
                        f"The SecondsPath parameter does not reference a valid non-negative integer: "
                        f"{jp.to_json(seconds)}",
                    )
            deadline = run.entered_time + float(seconds or 0)
        else:
            stamp = state.get("Timestamp")
            if "TimestampPath" in state:
                stamp = self.select(run, effective, state["TimestampPath"], "TimestampPath")
            when = choice.parse_timestamp(stamp)
            if when is None:
                raise errors.runtime_error(
                    run.name,
                    run.entered_event,
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                    "date-time "
                    f"format string: {jp.to_json(stamp)}",
                )
            deadline = when.timestamp()
        remaining = deadline - self.clock()
        if remaining > 0:
            self.sleep(remaining, run.lane.cancel)
        return self.next_of(state), self.output_path(run, effective)

    def choice_state(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        effective = self.input_path(run, data)
        context = self.context(run)
        for rule in run.state["Choices"]:
            try:
                matched = choice.evaluate(rule, effective, context)
            except choice.ChoicePathError as exc:
                raise errors.runtime_error(
                    run.name,
                    run.entered_event,
                    f"Invalid path '{exc.path}': The choice state's condition path references an invalid "
                    "value.",
                ) from None
            if matched:
                return str(rule["Next"]), self.output_path(run, effective)
        if "Default" in run.state:
            return str(run.state["Default"]), self.output_path(run, effective)
        raise StatesFailure(
            errors.NO_CHOICE_MATCHED,
            f"No Choice Rule matched and no Default is set in the state '{run.name}'",
        )

    def fail_state(self, run: StateRun, data: Any) -> StatesFailure:
        def value(field_name: str) -> str:
            if field_name in run.state:
                return str(run.state[field_name])
            path = run.state.get(f"{field_name}Path")
            if path is None:
                return ""
            if intrinsics.looks_like_call(path):
                result = intrinsics.evaluate(path, data, self.context(run))
            else:
                result = self.select(run, data, path, f"{field_name}Path")
            if not isinstance(result, str):
                raise errors.runtime_error(
                    run.name,
                    run.entered_event,
                    f"The {field_name}Path '{path}' must resolve to a string, got {jp.to_json(result)}",
                )
            return result

        return StatesFailure(value("Error"), value("Cause"))

    # ------------------------------------------------------------------ Retry / Catch
    def with_retry(
        self, run: StateRun, data: Any, work: Callable[[StateRun, Any], Any]
    ) -> tuple[str | None, Any]:
        retriers: list[dict[str, Any]] = run.state.get("Retry") or []
        # As the ASL spec's "complex retry scenario" describes: the backoff grows with every retry a
        # retrier made, while MaxAttempts counts the retries of each error name separately.
        attempts = [0] * len(retriers)
        per_error: dict[tuple[int, str], int] = {}
        while True:
            try:
                result = work(run, data)
                return self.next_of(run.state), self.finish(run, data, result)
            except StatesFailure as failure:
                index = next(
                    (
                        i
                        for i, r in enumerate(retriers)
                        if errors.error_matches(failure.error, r["ErrorEquals"])
                    ),
                    None,
                )
                key = (index if index is not None else -1, failure.error)
                if index is not None and per_error.get(key, 0) < retriers[index].get("MaxAttempts", 3):
                    self.sleep(self.retry_delay(retriers[index], attempts[index]), run.lane.cancel)
                    attempts[index] += 1
                    per_error[key] = per_error.get(key, 0) + 1
                    run.retry_count += 1
                    continue
                for catcher in run.state.get("Catch") or []:
                    if errors.error_matches(failure.error, catcher["ErrorEquals"]):
                        result_path = catcher.get("ResultPath", "$")
                        return str(catcher["Next"]), jp.apply_result_path(data, result_path, failure.output())
                raise

    @staticmethod
    def retry_delay(retrier: dict[str, Any], attempt: int) -> float:
        """Seconds before retry number ``attempt + 1`` (backoff, cap, jitter)."""
        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** attempt
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        if retrier.get("JitterStrategy") == "FULL":
            delay = random.uniform(0, delay)
        return delay

    # ------------------------------------------------------------------ Task
    def task_timeout(self, run: StateRun, effective: Any) -> int | None:
        if "TimeoutSeconds" in run.state:
            return int(run.state["TimeoutSeconds"])
        if "TimeoutSecondsPath" in run.state:
            value = self.select(run, effective, run.state["TimeoutSecondsPath"], "TimeoutSecondsPath")
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise errors.runtime_error(
                    run.name,
                    run.entered_event,
                    f"The TimeoutSecondsPath parameter does not reference a valid positive "
                    f"integer: {jp.to_json(value)}",
                )
            return value
        return None

    def task_work(self, run: StateRun, data: Any) -> Any:
        run.task_token = run.task_token or uuid.uuid4().hex
        effective = self.effective_input(run, data)
        resource = run.state["Resource"]
        timeout = self.task_timeout(run, self.input_path(run, data))
        if _LAMBDA_INVOKE.match(resource):
            return self.lambda_integration(run, effective, timeout)
        if _LAMBDA_ARN.match(resource):
            return self.lambda_resource(run, resource, effective, timeout)
        raise errors.runtime_error(
            run.name,
            run.entered_event,
            f"The resource '{resource}' is not supported by localcloud: Task states run "
            f"'{LAMBDA_INVOKE}' and Lambda function ARNs only",
        )

    def call_lambda(
        self, run: StateRun, function: str, body: bytes, invocation_type: str, timeout: int | None
    ) -> InvokeResult | None:
        """Invoke; None when TimeoutSeconds passed first. Raises StatesFailure for Lambda service errors."""
        done = threading.Event()
        future: Future[InvokeResult] = self.pool.submit(self.invoke_lambda, function, body, invocation_type)
        future.add_done_callback(lambda _f: done.set())
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(_POLL):
            run.lane.cancel.check()
            if deadline is not None and time.monotonic() >= deadline:
                return None
        run.lane.cancel.check()
        try:
            return future.result()
        except AwsError as err:
            raise StatesFailure(
                f"Lambda.{err.code}",
                f"{err.message} (Service: Lambda, Status Code: {err.status}, Error Code: {err.code})",
            ) from None

    @staticmethod
    def function_error(result: InvokeResult) -> StatesFailure | None:
        if not result.function_error:
            return None
        return StatesFailure(result.error_type or "Lambda.Unknown", result.payload.decode(errors="replace"))

    def lambda_integration(self, run: StateRun, params: Any, timeout: int | None) -> Any:
        if not isinstance(params, dict) or not isinstance(params.get("FunctionName"), str):
            raise errors.runtime_error(
                run.name,
                run.entered_event,
                "The Parameters of a lambda:invoke task must contain a 'FunctionName' string",
            )
        base = {"resourceType": "lambda", "resource": "invoke"}
        scheduled: dict[str, Any] = {**base, "region": self.info.region, "parameters": jp.to_json(params)}
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        self.emit(run.lane, "TaskScheduled", scheduled)
        self.emit(run.lane, "TaskStarted", dict(base))
        body = json.dumps(params["Payload"]).encode() if "Payload" in params else b""
        invocation_type = str(params.get("InvocationType", "RequestResponse"))
        try:
            result = self.call_lambda(run, params["FunctionName"], body, invocation_type, timeout)
        except StatesFailure as failure:
            self.emit(run.lane, "TaskFailed", {**base, "error": failure.error, "cause": failure.cause})
            raise
        if result is None:
            self.emit(run.lane, "TaskTimedOut", {**base, "error": errors.TIMEOUT, "cause": ""})
            raise StatesFailure(errors.TIMEOUT, "")
        error = self.function_error(result)
        if error is not None:
            self.emit(run.lane, "TaskFailed", {**base, "error": error.error, "cause": error.cause})
            raise error
        output = self.sdk_response(result)
        self.emit(
            run.lane,
            "TaskSucceeded",
            {**base, "output": jp.to_json(output), "outputDetails": {"truncated": False}},
        )
        return output

    @staticmethod
    def sdk_response(result: InvokeResult) -> dict[str, Any]:
        """The lambda:invoke task result, shaped like Step Functions' (AWS SDK) response."""
        text = result.payload.decode(errors="replace")
        try:
            body: Any = json.loads(text) if text else ""
        except ValueError:
            body = text
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": result.executed_version,
            "x-amzn-RequestId": result.request_id,
            "Content-Length": str(len(result.payload)),
        }
        return {
            "ExecutedVersion": result.executed_version,
            "Payload": body,
            "SdkHttpMetadata": {
                "AllHttpHeaders": {k: [v] for k, v in headers.items()},
                "HttpHeaders": headers,
                "HttpStatusCode": result.status,
            },
            "SdkResponseMetadata": {"RequestId": result.request_id},
            "StatusCode": result.status,
        }

    def lambda_resource(self, run: StateRun, arn: str, effective: Any, timeout: int | None) -> Any:
        scheduled: dict[str, Any] = {
            "resource": arn,
            "input": jp.to_json(effective),
            "inputDetails": {"truncated": False},
        }
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        self.emit(run.lane, "LambdaFunctionScheduled", scheduled)
        self.emit(run.lane, "LambdaFunctionStarted")
        try:
            result = self.call_lambda(run, arn, json.dumps(effective).encode(), "RequestResponse", timeout)
        except StatesFailure as failure:
            self.emit(run.lane, "LambdaFunctionFailed", {"error": failure.error, "cause": failure.cause})
            raise
        if result is None:
            self.emit(run.lane, "LambdaFunctionTimedOut", {"error": errors.TIMEOUT, "cause": ""})
            raise StatesFailure(errors.TIMEOUT, "")
        error = self.function_error(result)
        if error is not None:
            self.emit(run.lane, "LambdaFunctionFailed", {"error": error.error, "cause": error.cause})
            raise error
        output = result.json()
        self.emit(
            run.lane,
            "LambdaFunctionSucceeded",
            {"output": jp.to_json(output), "outputDetails": {"truncated": False}},
        )
        return output

    # ------------------------------------------------------------------ Parallel / Map
    def parallel_work(self, run: StateRun, data: Any) -> list[Any]:
        effective = self.effective_input(run, data)
        started = self.emit(run.lane, "ParallelStateStarted")
        branches = run.state["Branches"]
        results: list[Any] = [None] * len(branches)
        failures: list[StatesFailure] = []
        scope = Cancellation(run.lane.cancel)

        def branch(i: int) -> None:
            lane = Lane(previous=started, cancel=scope)
            try:
                results[i] = self.run_machine(branches[i], effective, lane)
            except StatesFailure as failure:
                failures.append(failure)
                scope.cancel("a sibling branch failed")
            except ExecutionCancelled:
                pass

        threads = [
            threading.Thread(target=branch, args=(i,), daemon=True, name=f"sfn-branch-{i}")
            for i in range(len(branches))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.join(run, scope, failures, "Parallel")
        return results

    def join(self, run: StateRun, scope: Cancellation, failures: list[StatesFailure], kind: str) -> None:
        """Once every branch or iteration has ended: carry on after their events and record the
        state's outcome, ``<kind>StateFailed`` (raising the first failure) or ``<kind>StateSucceeded``."""
        scope.detach()
        run.lane.previous = self.events.last_id
        run.lane.cancel.check()
        if failures:
            self.emit(run.lane, f"{kind}StateFailed")
            raise failures[0]
        self.emit(run.lane, f"{kind}StateSucceeded")

    def map_work(self, run: StateRun, data: Any) -> list[Any]:
        state = run.state
        effective = self.input_path(run, data)
        items = self.select(run, effective, state.get("ItemsPath", "$"), "ItemsPath")
        if not isinstance(items, list):
            raise errors.runtime_error(
                run.name,
                run.entered_event,
                f"Invalid path '{state.get('ItemsPath', '$')}': The value of ItemsPath must "
                f"be an array, got {jp.to_json(items)}",
            )
        limit = state.get("MaxConcurrency", 0)
        if "MaxConcurrencyPath" in state:
            limit = self.select(run, effective, state["MaxConcurrencyPath"], "MaxConcurrencyPath")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise errors.runtime_error(
                    run.name,
                    run.entered_event,
                    f"MaxConcurrencyPath must reference a non-negative integer, got {jp.to_json(limit)}",
                )
        processor = state.get("ItemProcessor") or state["Iterator"]
        selector = state.get("ItemSelector", state.get("Parameters"))
        started = self.emit(run.lane, "MapStateStarted", {"length": len(items)})
        results: list[Any] = [None] * len(items)
        failures: list[StatesFailure] = []
        scope = Cancellation(run.lane.cancel)
        lock = threading.Lock()

        def iteration(index: int) -> None:
            if scope.is_set():
                return
            lane = Lane(previous=started, cancel=scope)
            item_run = StateRun(
                run.name, state, run.entered_time, run.entered_event, lane, map_item=(index, items[index])
            )
            try:
                item_input = (
                    payload.render(
                        selector,
                        effective,
                        self.context(item_run),
                        state=run.name,
                        entered_event=run.entered_event,
                    )
                    if selector is not None
                    else items[index]
                )
                self.emit(lane, "MapIterationStarted", {"name": run.name, "index": index})
                results[index] = self.run_machine(processor, item_input, lane)
                self.emit(lane, "MapIterationSucceeded", {"name": run.name, "index": index})
            except StatesFailure as failure:
                with lock:
                    failures.append(failure)
                self.emit(lane, "MapIterationFailed", {"name": run.name, "index": index})
                scope.cancel("another iteration failed")
            except ExecutionCancelled:
                if lane.previous != started:
                    self.emit(lane, "MapIterationAborted", {"name": run.name, "index": index})

        workers = max(1, min(len(items), limit or _MAP_THREADS, _MAP_THREADS))
        if items:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sfn-map") as executor:
                list(executor.map(iteration, range(len(items))))
        self.join(run, scope, failures, "Map")
        return results
