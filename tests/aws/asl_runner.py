"""A small in-process runner for the JSONPath subset pipeline.asl.json uses, for tests only.

It follows Step Functions' documented input/output processing (Parameters with ``.$`` keys and
``$$`` context paths, ResultSelector, ResultPath, OutputPath), Retry by error name, Catch with
``{"Error", "Cause"}``, Choice on StringEquals, Pass, Wait (not slept), Succeed and Fail with
ErrorPath/CausePath. Lambda tasks (``arn:...:states:::lambda:invoke``) call a Python function
in place of the Lambda; a Python exception becomes the error Step Functions would report:
``Error`` = the class name, ``Cause`` = the Lambda runtime's JSON error document.
The real interpreter is localcloud's (exercised end to end); this runner lets unit tests check
the definition's data flow against the real Lambda code without any service.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_TRANSITIONS = 500


class StatesError(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class Execution:
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    visited: list[str] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)


def get_path(document: Any, path: str, context: dict[str, Any]) -> Any:
    if path.startswith("$$"):
        document, path = context, path[1:]
    if path == "$":
        return document
    node = document
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, dict) or part not in node:
            raise StatesError("States.Runtime", f"path {path} not found")
        node = node[part]
    return node


def set_path(document: Any, path: str, value: Any) -> Any:
    if path == "$":
        return value
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    node = result
    parts = path.removeprefix("$.").split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return result


def resolve(template: Any, document: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = get_path(document, value, context)
            else:
                out[key] = resolve(value, document, context)
        return out
    if isinstance(template, list):
        return [resolve(v, document, context) for v in template]
    return template


def _matches(names: list[str], error: str) -> bool:
    return "States.ALL" in names or error in names


def run(
    definition: dict[str, Any],
    execution_input: Any,
    execution_name: str,
    functions: dict[str, Callable[[Any], Any]],
) -> Execution:
    """Run the state machine; ``functions`` maps a task's FunctionName to the code it runs."""
    execution = Execution()
    context = {"Execution": {"Name": execution_name, "Input": execution_input}}
    states = definition["States"]
    name, data = definition["StartAt"], execution_input
    for _ in range(MAX_TRANSITIONS):
        state = states[name]
        execution.visited.append(name)
        kind = state["Type"]
        if kind == "Succeed":
            execution.status = "SUCCEEDED"
            execution.output = get_path(data, state.get("OutputPath", "$"), context)
            return execution
        if kind == "Fail":
            execution.status = "FAILED"
            execution.error = (
                get_path(data, state["ErrorPath"], context) if "ErrorPath" in state else state.get("Error")
            )
            execution.cause = (
                get_path(data, state["CausePath"], context) if "CausePath" in state else state.get("Cause")
            )
            return execution
        if kind == "Wait":
            execution.waits.append(int(get_path(data, state["SecondsPath"], context)))
            name = state["Next"]
            continue
        if kind == "Choice":
            name = state.get("Default", "")
            for rule in state["Choices"]:
                try:
                    value = get_path(data, rule["Variable"], context)
                except StatesError:
                    continue
                if value == rule["StringEquals"]:
                    name = rule["Next"]
                    break
            continue
        if kind == "Pass":
            result = resolve(state["Parameters"], data, context) if "Parameters" in state else data
            data = set_path(data, state.get("ResultPath", "$"), result)
            name = state["Next"]
            continue
        assert kind == "Task", kind
        try:
            result = _task(state, data, context, functions)
        except StatesError as exc:
            catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], exc.error)), None)
            if catch is None:
                execution.status, execution.error, execution.cause = "FAILED", exc.error, exc.cause
                return execution
            data = set_path(data, catch.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
            name = catch["Next"]
            continue
        data = set_path(data, state.get("ResultPath", "$"), result)
        data = get_path(data, state.get("OutputPath", "$"), context)
        name = state["Next"]
    raise AssertionError(f"more than {MAX_TRANSITIONS} transitions: {execution.visited[-10:]}")


def _task(
    state: dict[str, Any], data: Any, context: dict[str, Any], functions: dict[str, Callable[[Any], Any]]
) -> Any:
    assert state["Resource"].endswith(":states:::lambda:invoke"), state["Resource"]
    params = resolve(state["Parameters"], data, context)
    function = functions[params["FunctionName"]]
    attempts: dict[int, int] = {}
    while True:
        try:
            payload = json.loads(json.dumps(function(params.get("Payload"))))  # JSON in, JSON out
            break
        except Exception as exc:  # a Lambda function error
            error = type(exc).__name__
            cause = json.dumps({"errorMessage": str(exc), "errorType": error, "stackTrace": []})
            for index, retry in enumerate(state.get("Retry", [])):
                if _matches(retry["ErrorEquals"], error):
                    attempts[index] = attempts.get(index, 0) + 1
                    if attempts[index] <= retry.get("MaxAttempts", 3):
                        break
                    raise StatesError(error, cause) from exc
            else:
                raise StatesError(error, cause) from exc
    result = {"Payload": payload, "StatusCode": 200, "ExecutedVersion": "$LATEST"}
    if "ResultSelector" in state:
        result = resolve(state["ResultSelector"], result, context)
    return result
