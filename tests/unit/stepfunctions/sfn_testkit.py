"""Runs state machines in memory for the interpreter tests: fake Lambda functions, recorded sleeps."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localcloud.errors import AwsError
from localcloud.lambda_.models import InvokeResult
from localcloud.stepfunctions.definition import parse_definition
from localcloud.stepfunctions.errors import StatesFailure
from localcloud.stepfunctions.history import MemoryHistory
from localcloud.stepfunctions.interpreter import Cancellation, ExecutionInfo, Interpreter

POOL = ThreadPoolExecutor(max_workers=16)
REGION = "us-east-1"
ACCOUNT = "123456789012"


class FunctionError(Exception):
    """Raised by a fake function: becomes a Lambda function error payload."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class FakeLambdas:
    functions: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, name: str, fn: Callable[[Any], Any]) -> FakeLambdas:
        self.functions[name] = fn
        return self

    def invoke(self, function: str, body: bytes, invocation_type: str) -> InvokeResult:
        name = function.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        if name not in self.functions:
            raise AwsError("ResourceNotFoundException", f"Function not found: {function}", status=404)
        event = json.loads(body) if body else {}
        self.calls.append((name, event))
        try:
            value = self.functions[name](event)
        except FunctionError as exc:
            payload = {"errorMessage": str(exc), "errorType": exc.error_type, "stackTrace": []}
            return InvokeResult(200, json.dumps(payload).encode(), "Unhandled", request_id="req-1")
        return InvokeResult(200, json.dumps(value).encode(), request_id="req-1")


@dataclass
class Outcome:
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: MemoryHistory = field(default_factory=MemoryHistory)
    sleeps: list[float] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return self.history.types()


def run(
    definition: dict[str, Any],
    data: Any = None,
    *,
    lambdas: FakeLambdas | None = None,
    clock: Callable[[], float] = time.time,
    real_sleep: bool = False,
    validate: bool = True,
) -> Outcome:
    """Run an execution to its end; errors are returned in the Outcome, not raised.

    With ``SFN_CORPUS`` set to a file, every run is also appended to it as one JSON line (definition,
    input, outcome): test_sfn_differential.py replays that corpus in moto's executor."""
    if validate:
        try:
            parse_definition(json.dumps(definition))
        except AwsError as exc:
            _record(definition, data, None, lambdas=lambdas, clock=clock, invalid=exc.message)
            raise
    outcome = Outcome()
    data = {} if data is None else data
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:machine:run-1",
        execution_name="run-1",
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:machine",
        state_machine_name="machine",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/machine-role",
        start_time=1553631253.192,
        input=data,
        region=REGION,
    )

    def sleep(seconds: float, cancel: Cancellation) -> None:
        outcome.sleeps.append(round(seconds, 3))
        if real_sleep and cancel.wait(seconds):
            cancel.check()

    interpreter = Interpreter(
        definition,
        info,
        invoke_lambda=(lambdas or FakeLambdas()).invoke,
        events=outcome.history,
        cancel=Cancellation(),
        pool=POOL,
        sleep=sleep,
        clock=clock,
    )
    try:
        outcome.output = interpreter.run()
    except StatesFailure as failure:
        outcome.error, outcome.cause = failure.error, failure.cause
    _record(definition, data, outcome, lambdas=lambdas, clock=clock, invalid=None)
    return outcome


def _record(
    definition: dict[str, Any],
    data: Any,
    outcome: Outcome | None,
    *,
    lambdas: FakeLambdas | None,
    clock: Callable[[], float],
    invalid: str | None,
) -> None:
    corpus = os.environ.get("SFN_CORPUS")
    if not corpus:
        return
    case = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0],
        "definition": definition,
        "input": {} if data is None else data,
        # Cases the reference cannot replay: fake Lambda functions, a fake clock.
        "lambdas": lambdas is not None and bool(lambdas.functions),
        "clock": clock is not time.time,
        "invalid": invalid,
    }
    if outcome is not None:
        case.update(output=outcome.output, error=outcome.error, cause=outcome.cause)
    with open(corpus, "a", encoding="utf-8") as out:
        out.write(json.dumps(case, default=str) + "\n")


def single(state: dict[str, Any], data: Any = None, **kwargs: Any) -> Outcome:
    """Run a one-state machine (the state gets ``End: true`` unless it is terminal)."""
    state = dict(state)
    if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state:
        state["End"] = True
    return run({"StartAt": "S", "States": {"S": state}}, data, **kwargs)


def record_expression(expression: str, data: Any, result: Any, error: str | None) -> None:
    """Add an intrinsic-function evaluation to the ``SFN_CORPUS`` as the one-state machine that runs it
    (a Pass state whose Parameters field ``r.$`` holds the expression)."""
    if not os.environ.get("SFN_CORPUS"):
        return
    definition = {
        "StartAt": "S",
        "States": {"S": {"Type": "Pass", "Parameters": {"r.$": expression}, "End": True}},
    }
    outcome = Outcome(output=None if error else {"r": result}, error=error)
    _record(definition, data, outcome, lambdas=None, clock=time.time, invalid=None)
