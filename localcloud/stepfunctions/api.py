"""The Step Functions API (JSON 1.0 protocol, ``X-Amz-Target: AWSStepFunctions.<Operation>``).

CreateStateMachine, UpdateStateMachine, DeleteStateMachine, DescribeStateMachine,
ListStateMachines, StartExecution, DescribeExecution, StopExecution, ListExecutions and
GetExecutionHistory, with AWS's error codes and messages (``StateMachineDoesNotExist``,
``ExecutionAlreadyExists``, ``InvalidDefinition``, ``InvalidExecutionInput``, ``InvalidName``,
``InvalidToken`` ...). Requests are first checked against botocore's model (``validation.py``).
State lives in the store: kinds ``states/state-machine`` and ``states/execution`` (+ events).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import AwsError
from ..store import Store
from ..validation import operation_model, validate_input
from .definition import parse_definition
from .executions import ExecutionRunner
from .history import EXECUTION_KIND, MACHINE_KIND

MAX_INPUT = 256 * 1024
# AWS publishes no nesting limit; this is localcloud's, well above any real input and below what the
# interpreter's recursive path and payload processing can take (about 500 levels).
MAX_INPUT_DEPTH = 256
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}


def check_name(name: str, what: str) -> None:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise AwsError(
            "InvalidName",
            f"Invalid Name: '{name}' ({what} names are 1-80 characters without "
            "whitespace, brackets, wildcards or special characters)",
        )


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests arrays and objects (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in node)
    return deepest


def execution_input_problem(text: str) -> str | None:
    """Why StartExecution must refuse ``text`` as input (InvalidExecutionInput), or None.

    Any JSON value is a valid input (an object, an array, a string...): the state machine decides
    what it needs. Refused: more than 256 KiB, text that is not JSON, nesting deeper than
    ``MAX_INPUT_DEPTH`` (a 100,000-deep input would otherwise exhaust Python's recursion limit).
    """
    if len(text.encode()) > MAX_INPUT:
        return f"input is larger than {MAX_INPUT} bytes"
    try:
        depth = json_depth(json.loads(text))
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    except RecursionError:  # json's decoder recurses once per level: deeper than Python allows
        depth = MAX_INPUT_DEPTH + 1
    if depth > MAX_INPUT_DEPTH:
        return f"input nests arrays/objects more than {MAX_INPUT_DEPTH} levels deep (localcloud's limit)"
    return None


def _page(
    items: list[dict[str, Any]], params: dict[str, Any], default: int = 100
) -> tuple[list[dict[str, Any]], str | None]:
    limit = int(params.get("maxResults") or default)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token))["offset"])
        except (ValueError, KeyError, TypeError):
            raise AwsError("InvalidToken", f"Invalid Token: '{token}'") from None
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_token = base64.b64encode(json.dumps({"offset": start + limit}).encode()).decode() if more else None
    return page, next_token


class StepFunctionsApi:
    def __init__(self, *, settings: Settings, store: Store, runner: ExecutionRunner) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateStateMachine": self.create_state_machine,
            "UpdateStateMachine": self.update_state_machine,
            "DeleteStateMachine": self.delete_state_machine,
            "DescribeStateMachine": self.describe_state_machine,
            "ListStateMachines": self.list_state_machines,
            "StartExecution": self.start_execution,
            "DescribeExecution": self.describe_execution,
            "StopExecution": self.stop_execution,
            "ListExecutions": self.list_executions,
            "GetExecutionHistory": self.get_execution_history,
            "DescribeStateMachineForExecution": self.describe_state_machine_for_execution,
        }

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            operation_model("stepfunctions", operation)  # UnknownOperationException for a non-operation
            raise AwsError(
                "UnknownOperationException",
                f"AWSStepFunctions.{operation} is not supported by localcloud (supported: "
                f"{', '.join(sorted(self.operations))})",
            )
        validate_input("stepfunctions", operation, params)
        return handler(params)

    # ------------------------------------------------------------------ helpers
    def machine_arn(self, name: str) -> str:
        return self.settings.arn("states", f"stateMachine:{name}")

    def execution_arn(self, machine_name: str, name: str) -> str:
        return self.settings.arn("states", f"execution:{machine_name}:{name}")

    def machine(self, arn: str) -> dict[str, Any]:
        doc = self.store.get(MACHINE_KIND, arn)
        if doc is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return doc

    def execution(self, arn: str) -> dict[str, Any]:
        doc = self.store.get(EXECUTION_KIND, arn)
        if doc is None:
            raise AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return doc

    # ------------------------------------------------------------------ state machines
    def create_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        check_name(name, "State machine")
        definition = params["definition"]
        parse_definition(definition)
        machine_type = params.get("type", "STANDARD")
        arn = self.machine_arn(name)
        now = time.time()
        doc = {
            "stateMachineArn": arn,
            "name": name,
            "status": "ACTIVE",
            "definition": definition,
            "roleArn": params["roleArn"],
            "type": machine_type,
            "creationDate": now,
            "loggingConfiguration": params.get("loggingConfiguration") or _DEFAULT_LOGGING,
            "tracingConfiguration": params.get("tracingConfiguration") or {"enabled": False},
            "revisionId": uuid.uuid4().hex,
            "tags": params.get("tags") or [],
        }
        if not self.store.create(MACHINE_KIND, arn, doc):
            existing = self.machine(arn)
            same = (
                existing["definition"] == definition
                and existing["roleArn"] == params["roleArn"]
                and existing.get("type", "STANDARD") == machine_type
            )
            if not same:
                raise AwsError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
        return {"stateMachineArn": arn, "creationDate": now}

    def update_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["stateMachineArn"]
        self.machine(arn)
        if not any(
            k in params for k in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        ):
            raise AwsError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified",
            )
        if "definition" in params:
            parse_definition(params["definition"])
        now = time.time()
        revision = uuid.uuid4().hex

        def change(doc: dict[str, Any]) -> None:
            for key in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration"):
                if key in params:
                    doc[key] = params[key]
            doc.update(updateDate=now, revisionId=revision)

        self.store.update(MACHINE_KIND, arn, change)
        return {"updateDate": now, "revisionId": revision}

    def delete_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        # AWS: running executions carry on; the machine is gone for new executions.
        self.store.delete(MACHINE_KIND, params["stateMachineArn"])
        return {}

    def describe_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.machine(params["stateMachineArn"])
        keys = (
            "stateMachineArn",
            "name",
            "status",
            "definition",
            "roleArn",
            "type",
            "creationDate",
            "loggingConfiguration",
            "tracingConfiguration",
            "revisionId",
        )
        return {k: doc[k] for k in keys if k in doc}

    def list_state_machines(self, params: dict[str, Any]) -> dict[str, Any]:
        items: list[dict[str, Any]] = [
            {k: d[k] for k in ("stateMachineArn", "name", "type", "creationDate")}
            for d in self.store.list(MACHINE_KIND)
        ]
        page, token = _page(items, params)
        return {"stateMachines": page, **({"nextToken": token} if token else {})}

    # ------------------------------------------------------------------ executions
    def start_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        machine = self.machine(params["stateMachineArn"])
        name = params.get("name") or str(uuid.uuid4())
        check_name(name, "Execution")
        text = params.get("input", "{}")
        problem = execution_input_problem(text)
        if problem is not None:
            raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{problem}'")
        arn = self.execution_arn(machine["name"], name)
        now = time.time()
        doc = {
            "executionArn": arn,
            "stateMachineArn": machine["stateMachineArn"],
            "name": name,
            "status": "RUNNING",
            "startDate": now,
            "input": text,
            "definition": machine["definition"],
            "roleArn": machine["roleArn"],
            "type": machine.get("type", "STANDARD"),
        }
        if not self.store.create(EXECUTION_KIND, arn, doc):
            existing = self.execution(arn)
            if existing["status"] == "RUNNING" and existing["input"] == text:
                return {"executionArn": arn, "startDate": existing["startDate"]}  # idempotent retry
            raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        self.runner.launch(doc, json.loads(machine["definition"]))
        return {"executionArn": arn, "startDate": now}

    def describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.execution(params["executionArn"])
        out = {k: doc[k] for k in ("executionArn", "stateMachineArn", "name", "status", "startDate", "input")}
        out["inputDetails"] = {"included": True}
        for key in ("stopDate", "error", "cause"):
            if key in doc:
                out[key] = doc[key]
        if doc["status"] == "SUCCEEDED":
            out["output"] = doc.get("output", "null")
            out["outputDetails"] = {"included": True}
        out["redriveCount"] = 0
        out["redriveStatus"] = "NOT_REDRIVABLE"
        return out

    def describe_state_machine_for_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.execution(params["executionArn"])
        machine = self.store.get(MACHINE_KIND, doc["stateMachineArn"]) or {}
        return {
            "stateMachineArn": doc["stateMachineArn"],
            "name": doc["stateMachineArn"].rsplit(":", 1)[-1],
            "definition": doc["definition"],
            "roleArn": doc.get("roleArn", ""),
            "updateDate": machine.get("updateDate", machine.get("creationDate", doc["startDate"])),
            "loggingConfiguration": machine.get("loggingConfiguration", _DEFAULT_LOGGING),
            "tracingConfiguration": machine.get("tracingConfiguration", {"enabled": False}),
        }

    def stop_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["executionArn"]
        doc = self.execution(arn)
        if doc["status"] == "RUNNING":
            self.runner.stop(arn, params.get("error"), params.get("cause"))
            doc = self.execution(arn)
        return {"stopDate": doc.get("stopDate", time.time())}

    def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        machine_arn = params.get("stateMachineArn")
        if not machine_arn:
            raise AwsError(
                "ValidationException",
                "stateMachineArn is required (mapRunArn is not supported by localcloud)",
            )
        if self.store.get(MACHINE_KIND, machine_arn) is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'")
        docs = [d for d in self.store.list(EXECUTION_KIND) if d["stateMachineArn"] == machine_arn]
        status = params.get("statusFilter")
        if status:
            docs = [d for d in docs if d["status"] == status]
        docs.sort(key=lambda d: d["startDate"], reverse=True)
        keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")
        items: list[dict[str, Any]] = [{k: d[k] for k in keys if k in d} for d in docs]
        page, token = _page(items, params)
        return {"executions": page, **({"nextToken": token} if token else {})}

    def get_execution_history(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["executionArn"]
        self.execution(arn)
        events = self.store.events(EXECUTION_KIND, arn)
        if params.get("reverseOrder"):
            events.reverse()
        if params.get("includeExecutionData") is False:
            events = [_strip_data(e) for e in events]
        page, token = _page(events, params)
        return {"events": page, **({"nextToken": token} if token else {})}


def _strip_data(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k not in ("input", "output", "parameters")}
    return out
