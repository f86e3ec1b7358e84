"""The Step Functions API in process (no server): state machines, executions, history, stop, timeouts,
paging, and resuming executions after a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sfn_testkit import FakeLambdas

from localcloud.config import Settings
from localcloud.errors import AwsError
from localcloud.stepfunctions import StepFunctionsService, summary
from localcloud.store import Store

ROLE = "arn:aws:iam::000000000000:role/test"
WAIT_THEN_ADD = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Add"},
        "Add": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:add",
            "End": True,
        },
    },
}


class FakeLambdaService:
    def __init__(self) -> None:
        self.fake = FakeLambdas().add("add", lambda e: {"sum": e["a"] + e["b"]})

    def invoke(self, function: str, body: bytes, invocation_type: str = "RequestResponse") -> Any:
        return self.fake.invoke(function, body, invocation_type)


def make_service(state_dir: Path, store: Store | None = None) -> StepFunctionsService:
    service = StepFunctionsService(
        settings=Settings(state_dir=state_dir),
        store=store or Store(state_dir / "s.db"),
        invoke_lambda=FakeLambdaService().invoke,
    )
    service.start()
    return service


@pytest.fixture
def sfn(tmp_path: Path) -> Iterator[StepFunctionsService]:
    service = make_service(tmp_path)
    yield service
    service.stop()


def create(sfn: StepFunctionsService, definition: dict[str, Any], name: str = "machine") -> str:
    return str(
        sfn.dispatch(
            "CreateStateMachine", {"name": name, "definition": json.dumps(definition), "roleArn": ROLE}
        )["stateMachineArn"]
    )


def wait_done(sfn: StepFunctionsService, arn: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = sfn.dispatch("DescribeExecution", {"executionArn": arn})
        if doc["status"] != "RUNNING":
            return doc
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def test_state_machine_lifecycle(sfn: StepFunctionsService) -> None:
    arn = create(sfn, WAIT_THEN_ADD)
    assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:machine"
    described = sfn.dispatch("DescribeStateMachine", {"stateMachineArn": arn})
    assert described["status"] == "ACTIVE" and json.loads(described["definition"]) == WAIT_THEN_ADD
    assert create(sfn, WAIT_THEN_ADD) == arn  # same request again: idempotent
    with pytest.raises(AwsError) as err:
        create(sfn, {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}})
    assert err.value.code == "StateMachineAlreadyExists"
    new = {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
    sfn.dispatch("UpdateStateMachine", {"stateMachineArn": arn, "definition": json.dumps(new)})
    assert json.loads(sfn.dispatch("DescribeStateMachine", {"stateMachineArn": arn})["definition"]) == new
    assert [m["name"] for m in sfn.dispatch("ListStateMachines", {})["stateMachines"]] == ["machine"]
    sfn.dispatch("DeleteStateMachine", {"stateMachineArn": arn})
    with pytest.raises(AwsError) as err:
        sfn.dispatch("DescribeStateMachine", {"stateMachineArn": arn})
    assert err.value.code == "StateMachineDoesNotExist"


def test_request_errors(sfn: StepFunctionsService) -> None:
    with pytest.raises(AwsError) as err:
        sfn.dispatch("CreateStateMachine", {"name": "bad name", "definition": "{}", "roleArn": ROLE})
    assert err.value.code == "InvalidName"
    with pytest.raises(AwsError) as err:
        sfn.dispatch("CreateStateMachine", {"name": "m", "definition": '{"StartAt": "A"}', "roleArn": ROLE})
    assert err.value.code == "InvalidDefinition"
    with pytest.raises(AwsError) as err:
        sfn.dispatch("CreateStateMachine", {"name": "m", "definition": "{}"})
    assert err.value.code == "ValidationException" and "roleArn" in err.value.message
    arn = create(sfn, WAIT_THEN_ADD)
    with pytest.raises(AwsError) as err:
        sfn.dispatch("StartExecution", {"stateMachineArn": arn, "input": "{not json"})
    assert err.value.code == "InvalidExecutionInput"
    for too_deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 257 + "1" + "}" * 257):
        with pytest.raises(AwsError) as err:
            sfn.dispatch("StartExecution", {"stateMachineArn": arn, "input": too_deep})
        assert err.value.code == "InvalidExecutionInput" and "levels deep" in err.value.message
    with pytest.raises(AwsError) as err:
        sfn.dispatch(
            "DescribeExecution", {"executionArn": arn.replace("stateMachine", "execution") + ":nope"}
        )
    assert err.value.code == "ExecutionDoesNotExist"
    with pytest.raises(AwsError) as err:
        sfn.dispatch("SendTaskSuccess", {"taskToken": "t", "output": "{}"})
    assert "not supported by localcloud" in err.value.message


def test_execution_succeeds_with_output_and_history(sfn: StepFunctionsService) -> None:
    arn = create(sfn, WAIT_THEN_ADD)
    started = sfn.dispatch(
        "StartExecution",
        {"stateMachineArn": arn, "name": "run-1", "input": json.dumps({"wait": 0, "a": 2, "b": 3})},
    )
    assert started["executionArn"] == "arn:aws:states:us-east-1:000000000000:execution:machine:run-1"
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"sum": 5}
    assert done["stopDate"] >= done["startDate"]
    events = sfn.dispatch("GetExecutionHistory", {"executionArn": started["executionArn"]})["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert json.loads(events[0]["executionStartedEventDetails"]["input"])["a"] == 2
    reverse = sfn.dispatch(
        "GetExecutionHistory",
        {"executionArn": started["executionArn"], "reverseOrder": True, "maxResults": 2},
    )
    assert [e["type"] for e in reverse["events"]] == ["ExecutionSucceeded", "TaskStateExited"]
    rest = sfn.dispatch(
        "GetExecutionHistory",
        {
            "executionArn": started["executionArn"],
            "reverseOrder": True,
            "maxResults": 100,
            "nextToken": reverse["nextToken"],
        },
    )
    assert len(rest["events"]) == 7 and "nextToken" not in rest
    lean = sfn.dispatch(
        "GetExecutionHistory", {"executionArn": started["executionArn"], "includeExecutionData": False}
    )["events"]
    assert "input" not in lean[0]["executionStartedEventDetails"]
    log_file = Path(sfn.runner.settings.state_dir) / "logs/aws/states/machine/run-1.log"
    assert len(log_file.read_text().splitlines()) == 9


def test_failed_execution_reports_error_and_cause(sfn: StepFunctionsService) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "because"}}}
    arn = create(sfn, definition, "failing")
    done = wait_done(sfn, sfn.dispatch("StartExecution", {"stateMachineArn": arn})["executionArn"])
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Oops", "because")
    assert "output" not in done


def test_start_execution_idempotency(sfn: StepFunctionsService) -> None:
    arn = create(sfn, WAIT_THEN_ADD)
    body = {"stateMachineArn": arn, "name": "same", "input": json.dumps({"wait": 5, "a": 1, "b": 1})}
    first = sfn.dispatch("StartExecution", body)
    assert sfn.dispatch("StartExecution", body) == first  # running, same input: the same execution
    with pytest.raises(AwsError) as err:
        sfn.dispatch("StartExecution", {**body, "input": json.dumps({"wait": 5, "a": 9, "b": 9})})
    assert err.value.code == "ExecutionAlreadyExists"
    sfn.dispatch("StopExecution", {"executionArn": first["executionArn"]})
    with pytest.raises(AwsError) as err:
        sfn.dispatch("StartExecution", body)  # closed: the name is taken
    assert err.value.code == "ExecutionAlreadyExists"


def test_stop_execution_aborts_a_waiting_execution(sfn: StepFunctionsService) -> None:
    arn = create(sfn, WAIT_THEN_ADD)
    execution = sfn.dispatch(
        "StartExecution", {"stateMachineArn": arn, "input": json.dumps({"wait": 60, "a": 1, "b": 1})}
    )["executionArn"]
    time.sleep(0.2)
    stopped = sfn.dispatch(
        "StopExecution", {"executionArn": execution, "error": "Manual", "cause": "by test"}
    )
    done = sfn.dispatch("DescribeExecution", {"executionArn": execution})
    assert (done["status"], done["error"], done["cause"]) == ("ABORTED", "Manual", "by test")
    assert done["stopDate"] == stopped["stopDate"]
    time.sleep(0.3)
    events = sfn.dispatch("GetExecutionHistory", {"executionArn": execution})["events"]
    assert events[-1]["type"] == "ExecutionAborted"
    assert not sfn.runner.is_running(execution)


def test_execution_timeout_seconds(sfn: StepFunctionsService) -> None:
    definition = {
        "TimeoutSeconds": 1,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    arn = create(sfn, definition, "slow")
    done = wait_done(sfn, sfn.dispatch("StartExecution", {"stateMachineArn": arn})["executionArn"], timeout=5)
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")


def test_list_executions_filter_and_paging(sfn: StepFunctionsService) -> None:
    arn = create(sfn, WAIT_THEN_ADD)
    for i in range(3):
        wait_done(
            sfn,
            sfn.dispatch(
                "StartExecution",
                {"stateMachineArn": arn, "name": f"ok-{i}", "input": json.dumps({"wait": 0, "a": i, "b": 0})},
            )["executionArn"],
        )
    running = sfn.dispatch(
        "StartExecution",
        {"stateMachineArn": arn, "name": "slow", "input": json.dumps({"wait": 30, "a": 0, "b": 0})},
    )
    page = sfn.dispatch(
        "ListExecutions", {"stateMachineArn": arn, "statusFilter": "SUCCEEDED", "maxResults": 2}
    )
    assert [e["name"] for e in page["executions"]] == ["ok-2", "ok-1"]
    rest = sfn.dispatch(
        "ListExecutions",
        {"stateMachineArn": arn, "statusFilter": "SUCCEEDED", "nextToken": page["nextToken"]},
    )
    assert [e["name"] for e in rest["executions"]] == ["ok-0"]
    running_only = sfn.dispatch("ListExecutions", {"stateMachineArn": arn, "statusFilter": "RUNNING"})
    assert [e["executionArn"] for e in running_only["executions"]] == [running["executionArn"]]
    with pytest.raises(AwsError) as err:
        sfn.dispatch("ListExecutions", {"stateMachineArn": arn, "nextToken": "garbage"})
    assert err.value.code == "InvalidToken"
    deadline = time.monotonic() + 5
    while summary(sfn.store)[0]["currentState"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = summary(sfn.store)
    assert rows[0]["name"] == "slow" and rows[0]["currentState"] == "Wait" and rows[0]["status"] == "RUNNING"


def test_executions_resume_after_a_restart(tmp_path: Path) -> None:
    first = make_service(tmp_path)
    arn = create(first, WAIT_THEN_ADD)
    started = time.time()
    execution = first.dispatch(
        "StartExecution",
        {"stateMachineArn": arn, "name": "survivor", "input": json.dumps({"wait": 2, "a": 20, "b": 22})},
    )["executionArn"]
    time.sleep(0.5)
    first.stop()  # like a server shutdown: the execution stays RUNNING at its checkpoint
    assert first.dispatch("DescribeExecution", {"executionArn": execution})["status"] == "RUNNING"
    second = make_service(tmp_path, store=first.store)  # start() resumes it
    try:
        done = wait_done(second, execution)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"sum": 42}
        assert time.time() - started >= 2.0  # the Wait kept its original deadline
        types_ = [
            e["type"] for e in second.dispatch("GetExecutionHistory", {"executionArn": execution})["events"]
        ]
        assert types_.count("ExecutionStarted") == 1 and types_.count("WaitStateEntered") == 1
        assert types_[-1] == "ExecutionSucceeded"
    finally:
        second.stop()
