"""statemachine/pipeline.asl.json: valid ASL, Retry and Catch everywhere, every path ends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_testkit import ASL_VALIDATOR, ROOT, definition, substituted_definition

DEFINITION = definition()
STATES: dict[str, Any] = DEFINITION["States"]
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
SUBSTITUTIONS = {
    "Partition": "aws",
    **{
        f"{fn}FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:pipeline-{fn}Function-AbC123"
        for fn in ("StartTuning", "CheckStatus", "PickBest", "StartTraining", "DeployEndpoint", "Cleanup")
    },
}


def _successors(state: dict[str, Any]) -> set[str]:
    nxt = {state["Next"]} if "Next" in state else set()
    nxt |= {c["Next"] for c in state.get("Choices", [])}
    if "Default" in state:
        nxt.add(state["Default"])
    nxt |= {c["Next"] for c in state.get("Catch", [])}
    return nxt


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


needs_validator = pytest.mark.skipif(
    not ASL_VALIDATOR.exists(), reason="asl-validator is not installed: run `make tools` (npm ci)"
)


@needs_validator
def test_asl_validator_accepts_the_definition(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.asl.json"
    path.write_text(substituted_definition(SUBSTITUTIONS))
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


@needs_validator
def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    """The check above can fail: a dangling Next is caught."""
    broken = json.loads(substituted_definition(SUBSTITUTIONS))
    broken["States"]["PickBest"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    result = _validate(path)
    assert result.returncode != 0 and "NoSuchState" in result.stdout + result.stderr


def test_query_language_and_placeholders() -> None:
    assert DEFINITION["QueryLanguage"] == "JSONPath"
    text = (ROOT / "statemachine" / "pipeline.asl.json").read_text()
    for key in SUBSTITUTIONS:
        assert "${" + key + "}" in text


@pytest.mark.parametrize("name", sorted(n for n, s in STATES.items() if s["Type"] == "Task"))
def test_every_task_retries_service_errors_and_is_caught(name: str) -> None:
    task = STATES[name]
    retried: set[str] = set()
    for retry in task["Retry"]:
        assert retry["MaxAttempts"] >= 2 and retry["BackoffRate"] > 1 and retry["IntervalSeconds"] >= 1
        retried |= set(retry["ErrorEquals"])
    assert LAMBDA_ERRORS | {"SageMakerThrottled"} <= retried
    (catch,) = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    if name == "Cleanup":
        assert catch["Next"] == "CleanupFailed" and catch["ResultPath"] == "$.cleanupError"
    elif name == "StartTuning":
        # its input is the execution input, any JSON value: the error replaces it, then is wrapped
        assert catch["Next"] == "StartTuningFailed" and catch["ResultPath"] == "$"
        wrap = STATES["StartTuningFailed"]
        assert wrap["Type"] == "Pass" and wrap["Parameters"] == {"error.$": "$"} and wrap["Next"] == "Cleanup"
    else:
        assert catch["Next"] == "Cleanup" and catch["ResultPath"] == "$.error"
    assert task["Resource"] == "arn:${Partition}:states:::lambda:invoke"


def test_deploy_retries_a_busy_endpoint() -> None:
    assert any("EndpointBusy" in r["ErrorEquals"] for r in STATES["DeployEndpoint"]["Retry"])


def test_every_path_ends_in_succeed_or_fail() -> None:
    assert DEFINITION["StartAt"] in STATES
    for name, state in STATES.items():
        successors = _successors(state)
        assert successors <= set(STATES), (name, successors - set(STATES))
        if state["Type"] in ("Succeed", "Fail"):
            assert not successors, name
        else:
            assert successors, f"{name} ({state['Type']}) leads nowhere"
            assert "End" not in state, f"{name} ends without Succeed/Fail"
    # every state is reachable, and from every state a Succeed or Fail is reachable
    reachable, frontier = set(), [DEFINITION["StartAt"]]
    while frontier:
        current = frontier.pop()
        if current not in reachable:
            reachable.add(current)
            frontier.extend(_successors(STATES[current]))
    assert reachable == set(STATES)
    terminal = {n for n, s in STATES.items() if s["Type"] in ("Succeed", "Fail")}
    can_end = set(terminal)
    changed = True
    while changed:
        changed = False
        for name, state in STATES.items():
            if name not in can_end and _successors(state) & can_end:
                can_end.add(name)
                changed = True
    assert can_end == set(STATES)
    assert {STATES[n]["Type"] for n in terminal} == {"Succeed", "Fail"}


def test_waits_are_driven_by_poll_seconds() -> None:
    waits = [s for s in STATES.values() if s["Type"] == "Wait"]
    assert len(waits) == 3
    for wait in waits:
        assert wait["SecondsPath"] == "$.pollSeconds" and "Seconds" not in wait


def test_workflow_order_of_design_3_5() -> None:
    order, current = [], DEFINITION["StartAt"]
    while STATES[current]["Type"] != "Succeed":
        order.append(current)
        state = STATES[current]
        current = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state["Next"]
    assert order == [
        "StartTuning",
        "WaitForTuning",
        "CheckTuning",
        "TuningCompleted?",
        "PickBest",
        "StartTraining",
        "WaitForTraining",
        "CheckTraining",
        "TrainingCompleted?",
        "DeployGate",
        "Deploy?",
        "DeployEndpoint",
        "WaitForEndpoint",
        "CheckEndpoint",
        "EndpointInService?",
    ]
    assert STATES["Succeeded"]["OutputPath"] == "$.output"
    # the gate's "no" ends the execution successfully, with the output DeployGate assembled
    assert STATES["Deploy?"]["Choices"] == [
        {"Variable": "$.gate.deploy", "BooleanEquals": True, "Next": "DeployEndpoint"}
    ]
    assert STATES["Deploy?"]["Default"] == "Succeeded"


def test_names_come_from_the_execution_and_failures_say_what_failed() -> None:
    assert STATES["StartTuning"]["Parameters"]["Payload"]["executionName.$"] == "$$.Execution.Name"
    assert STATES["Cleanup"]["Parameters"]["Payload"]["executionName.$"] == "$$.Execution.Name"
    assert STATES["Cleanup"]["Parameters"]["Payload"]["error.$"] == "$.error"
    assert STATES["Cleanup"]["Next"] == "Failed" and STATES["CleanupFailed"]["Next"] == "Failed"
    fail = STATES["Failed"]
    assert fail["Type"] == "Fail"
    assert fail["ErrorPath"] == "$.failure.error" and fail["CausePath"] == "$.failure.cause"
