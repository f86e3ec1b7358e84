"""The Step Functions API (JSON 1.0 protocol, ``X-Amz-Target: AWSStepFunctions.<Operation>``).

CreateStateMachine, UpdateStateMachine, DeleteStateMachine, DescribeStateMachine,
ListStateMachines, StartExecution, DescribeExecution, StopExecution, ListExecutions and
GetExecutionHistory, with AWS's error codes and messages (``StateMachineDoesNotExist``,
``ExecutionAlreadyExists``, ``InvalidDefinition``, ``InvalidExecutionInput``, ``InvalidName``,
``InvalidToken`` ...). Requests are first checked against botocore's model (``validation.py``).
The wire layer: requests become calls on the typed records of ``records.py`` (kept in the store),
records become AWS's response shapes here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..config import Settings
from ..errors import AwsError
from ..paging import BadToken, offset_page
from ..store import Store
from ..validation import operation_model, validate_input
from .definition import parse_definition
from .executions import ExecutionRunner
from .records import Execution, HistoryEvent, Records, StateMachine, default_logging, default_tracing

MAX_INPUT = 256 * 1024
# AWS publishes no nesting limit; this is localcloud's, well above any real input and below what the
# interpreter's recursive path and payload processing can take (about 500 levels).
MAX_INPUT_DEPTH = 256
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


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


def page_of(items: list[dict[str, Any]], params: dict[str, Any], member: str) -> dict[str, Any]:
    """One page of a List* answer: ``member`` holds the items, ``nextToken`` where the rest starts."""
    token = params.get("nextToken")
    try:
        page, next_token = offset_page(items, token, int(params.get("maxResults") or 100))
    except BadToken:
        raise AwsError("InvalidToken", f"Invalid Token: '{token}'") from None
    return {member: page, **({"nextToken": next_token} if next_token else {})}


class StepFunctionsApi:
    def __init__(self, *, settings: Settings, store: Store, runner: ExecutionRunner) -> None:
        self.settings = settings
        self.records = Records(store)
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

    def machine(self, arn: str) -> StateMachine:
        machine = self.records.machine(arn)
        if machine is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    def execution(self, arn: str) -> Execution:
        execution = self.records.execution(arn)
        if execution is None:
            raise AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    # ------------------------------------------------------------------ state machines
    def create_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        check_name(name, "State machine")
        definition = params["definition"]
        parse_definition(definition)
        machine = StateMachine(
            arn=self.machine_arn(name),
            name=name,
            definition=definition,
            role_arn=params["roleArn"],
            type=params.get("type", "STANDARD"),
            creation_date=time.time(),
            logging=params.get("loggingConfiguration") or default_logging(),
            tracing=params.get("tracingConfiguration") or default_tracing(),
            revision_id=uuid.uuid4().hex,
            tags=params.get("tags") or [],
        )
        if not self.records.create_machine(machine):
            existing = self.machine(machine.arn)
            same = (existing.definition, existing.role_arn, existing.type) == (
                machine.definition,
                machine.role_arn,
                machine.type,
            )
            if not same:
                raise AwsError("StateMachineAlreadyExists", f"State Machine Already Exists: '{machine.arn}'")
            return {"stateMachineArn": machine.arn, "creationDate": existing.creation_date}
        return {"stateMachineArn": machine.arn, "creationDate": machine.creation_date}

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

        def change(machine: StateMachine) -> None:
            machine.definition = params.get("definition", machine.definition)
            machine.role_arn = params.get("roleArn", machine.role_arn)
            machine.logging = params.get("loggingConfiguration", machine.logging)
            machine.tracing = params.get("tracingConfiguration", machine.tracing)
            machine.update_date, machine.revision_id = now, revision

        self.records.update_machine(arn, change)
        return {"updateDate": now, "revisionId": revision}

    def delete_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        # AWS: running executions carry on; the machine is gone for new executions.
        self.records.delete_machine(params["stateMachineArn"])
        return {}

    def describe_state_machine(self, params: dict[str, Any]) -> dict[str, Any]:
        # the stored document is DescribeStateMachine's answer plus the tags and the update date
        doc = self.machine(params["stateMachineArn"]).to_doc()
        return {k: v for k, v in doc.items() if k not in ("tags", "updateDate")}

    def list_state_machines(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date}
            for m in self.records.machines()
        ]
        return page_of(items, params, "stateMachines")

    # ------------------------------------------------------------------ executions
    def start_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        machine = self.machine(params["stateMachineArn"])
        name = params.get("name") or str(uuid.uuid4())
        check_name(name, "Execution")
        text = params.get("input", "{}")
        problem = execution_input_problem(text)
        if problem is not None:
            raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{problem}'")
        execution = Execution(
            arn=self.execution_arn(machine.name, name),
            state_machine_arn=machine.arn,
            name=name,
            start_date=time.time(),
            input=text,
            definition=machine.definition,
            role_arn=machine.role_arn,
            type=machine.type,
        )
        if not self.records.create_execution(execution):
            existing = self.execution(execution.arn)
            if existing.status == "RUNNING" and existing.input == text:  # idempotent retry
                return {"executionArn": existing.arn, "startDate": existing.start_date}
            raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{execution.arn}'")
        self.runner.launch(execution, json.loads(machine.definition))
        return {"executionArn": execution.arn, "startDate": execution.start_date}

    def describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(params["executionArn"])
        out: dict[str, Any] = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.start_date,
            "input": execution.input,
            "inputDetails": {"included": True},
        }
        ending = {"stopDate": execution.stop_date, "error": execution.error, "cause": execution.cause}
        out.update({k: v for k, v in ending.items() if v is not None})
        if execution.status == "SUCCEEDED":
            out["output"] = "null" if execution.output is None else execution.output
            out["outputDetails"] = {"included": True}
        out["redriveCount"] = 0
        out["redriveStatus"] = "NOT_REDRIVABLE"
        return out

    def describe_state_machine_for_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(params["executionArn"])
        machine = self.records.machine(execution.state_machine_arn)
        return {
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.machine_name,
            "definition": execution.definition,
            "roleArn": execution.role_arn,
            "updateDate": machine.changed_date if machine else execution.start_date,
            "loggingConfiguration": machine.logging if machine else default_logging(),
            "tracingConfiguration": machine.tracing if machine else default_tracing(),
        }

    def stop_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["executionArn"]
        execution = self.execution(arn)
        if execution.status == "RUNNING":
            self.runner.stop(arn, params.get("error"), params.get("cause"))
            execution = self.execution(arn)
        return {"stopDate": time.time() if execution.stop_date is None else execution.stop_date}

    def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        machine_arn = params.get("stateMachineArn")
        if not machine_arn:
            raise AwsError(
                "ValidationException",
                "stateMachineArn is required (mapRunArn is not supported by localcloud)",
            )
        self.machine(machine_arn)
        status = params.get("statusFilter")
        executions = [
            e
            for e in self.records.executions()
            if e.state_machine_arn == machine_arn and (not status or e.status == status)
        ]
        executions.sort(key=lambda e: e.start_date, reverse=True)
        return page_of([_listed(e) for e in executions], params, "executions")

    def get_execution_history(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["executionArn"]
        self.execution(arn)
        events = self.records.events(arn)
        if params.get("reverseOrder"):
            events.reverse()
        with_data = params.get("includeExecutionData") is not False
        return page_of([_event(e, with_data) for e in events], params, "events")


def _listed(execution: Execution) -> dict[str, Any]:
    """ListExecutions' item for an execution."""
    item: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": execution.start_date,
    }
    if execution.stop_date is not None:
        item["stopDate"] = execution.stop_date
    return item


def _event(event: HistoryEvent, with_data: bool) -> dict[str, Any]:
    """GetExecutionHistory's event; without data, details lose their input, output and parameters."""
    if with_data or event.details is None:
        return event.to_doc()
    details = {k: v for k, v in event.details.items() if k not in ("input", "output", "parameters")}
    return replace(event, details=details).to_doc()
