"""Helpers for the template/state-machine tests: CloudFormation YAML, IAM statements, tools, runs.

``load_template`` reads template.yaml with its short-form intrinsics (``!Ref``, ``!Sub``...)
turned into their long form, as CloudFormation itself does; ``iam_statements`` lists every
policy statement the template declares, wherever it sits. ``run_state_machine`` runs the
deployed definition through localcloud's ASL interpreter with ``InProcessLambdas`` standing in
for Lambda: each function ARN from DefinitionSubstitutions calls the template's handler in this
process, and a handler exception becomes the function error the Lambda Python runtime reports
(built with awslambdaric's own ``make_error``). Waits and retry intervals advance a virtual
clock instead of sleeping. Relies on PyYAML, awslambdaric and localcloud.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from awslambdaric.bootstrap import make_error
from awslambdaric.lambda_context import LambdaContext
from awslambdaric.lambda_runtime_marshaller import to_json

from localcloud.errors import AwsError
from localcloud.lambda_.models import InvokeResult
from localcloud.stepfunctions.definition import parse_definition
from localcloud.stepfunctions.errors import StatesFailure
from localcloud.stepfunctions.history import MemoryHistory
from localcloud.stepfunctions.interpreter import Cancellation, ExecutionInfo, Interpreter
from localcloud.template.loader import load_template as cfn_load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFINITION = ROOT / "statemachine" / "pipeline.asl.json"
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STATE_MACHINE = "PipelineStateMachine"

Handler = Callable[[Any, Any], Any]


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template with CloudFormation short-form tags, read by localcloud's own loader."""
    return cfn_load_template(path)


def walk(node: Any) -> Iterator[Any]:
    """Every dict, list and scalar inside ``node``."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(resource logical id, statement)`` for every IAM statement in the template."""
    for name, resource in template["Resources"].items():
        for node in walk(resource.get("Properties", {})):
            if isinstance(node, dict) and isinstance(node.get("Statement"), list):
                for statement in node["Statement"]:
                    yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def definition() -> dict[str, Any]:
    return json.loads(DEFINITION.read_text())


def substituted_definition(substitutions: dict[str, str]) -> str:
    """The ASL with its ``${...}`` DefinitionSubstitutions replaced, as Step Functions receives it."""
    text = DEFINITION.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    return text


def tool_env() -> dict[str, str]:
    """Environment for sam / cfn-lint: offline-safe dummy credentials, a region, no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_CONTEXT_DISABLE_UPDATE_CHECK": "1",
        }
    )
    env.pop("AWS_PROFILE", None)
    env.setdefault("PYENV_VERSION", "3.11.7:3.12.1")  # sam build needs a python3.12 next to ours
    return env


def which(tool: str) -> str | None:
    return shutil.which(tool)


# ---------------------------------------------------------------------- running the state machine
def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def state_machine_handlers(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``{substitution key: (function logical id, Handler)}`` for each Lambda the definition calls."""
    resources = template["Resources"]
    substitutions = resources[STATE_MACHINE]["Properties"]["DefinitionSubstitutions"]
    handlers = {}
    for key, value in substitutions.items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", (key, value)
            handlers[key] = (logical_id, resources[logical_id]["Properties"]["Handler"])
    return handlers


def import_handler(spec: str) -> Handler:
    """``pipeline.start_tuning.handler`` -> the function, as the Lambda runtime resolves it."""
    module, _, name = spec.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


@dataclass
class InProcessLambdas:
    """Lambda's synchronous Invoke, answered by handlers running in this process."""

    handlers: dict[str, Handler]  # function ARN -> handler
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def invoke(self, function: str, body: bytes, invocation_type: str) -> InvokeResult:
        handler = self.handlers.get(function)
        if handler is None:
            raise AwsError("ResourceNotFoundException", f"Function not found: {function}", status=404)
        if invocation_type != "RequestResponse":
            raise AwsError("InvalidParameterValueException", f"unsupported InvocationType {invocation_type}")
        event = json.loads(body) if body else {}
        self.calls.append((function, event))
        request_id = str(uuid.uuid4())
        context = LambdaContext(request_id, None, None, 2**62, function)
        context.function_name = function.rsplit(":", 1)[-1]
        context.function_version = "$LATEST"
        context.memory_limit_in_mb = "512"
        try:
            value = handler(event, context)
        except Exception as exc:  # what the runtime's bootstrap does with an unhandled exception
            frames = exc.__traceback__.tb_next if exc.__traceback__ else None  # from the handler down
            stack = traceback.format_list(traceback.extract_tb(frames))
            error = make_error(str(exc), type(exc).__name__, stack, request_id)
            return InvokeResult(200, to_json(error).encode(), "Unhandled", request_id=request_id)
        return InvokeResult(200, to_json(value).encode(), request_id=request_id)


@dataclass
class Execution:
    """How an execution ended, its history and the (virtual) sleeps it made."""

    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: MemoryHistory = field(default_factory=MemoryHistory)
    sleeps: list[tuple[str, float]] = field(default_factory=list)  # (state, seconds)

    @property
    def visited(self) -> list[str]:
        """Names of the states entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history.events
            if e["type"].endswith("StateEntered")
        ]


def run_state_machine(
    definition_text: str, execution_input: Any, execution_name: str, lambdas: InProcessLambdas
) -> Execution:
    """Run one execution of a deployable definition to its end with localcloud's interpreter."""
    definition = parse_definition(definition_text)  # rejects what CreateStateMachine would reject
    execution = Execution()
    now = [1_767_225_600.0]  # 2026-01-01T00:00:00Z, advanced only by sleeps

    def sleep(seconds: float, cancel: Cancellation) -> None:
        execution.sleeps.append((execution.visited[-1], round(seconds, 3)))
        now[0] += seconds

    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline"
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pipeline:{execution_name}",
        execution_name=execution_name,
        state_machine_arn=machine_arn,
        state_machine_name="pipeline",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/pipeline-StateMachineRole",
        start_time=now[0],
        input=execution_input,
        region=REGION,
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        interpreter = Interpreter(
            definition,
            info,
            invoke_lambda=lambdas.invoke,
            events=execution.history,
            cancel=Cancellation(),
            pool=pool,
            sleep=sleep,
            clock=lambda: now[0],
        )
        try:
            execution.output = interpreter.run()
            execution.status = "SUCCEEDED"
        except StatesFailure as failure:
            execution.status, execution.error, execution.cause = "FAILED", failure.error, failure.cause
    return execution
