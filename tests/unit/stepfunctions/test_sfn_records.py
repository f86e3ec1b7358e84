"""State written before Step Functions had typed records opens unchanged: the documents an older
localcloud stored in state.db (state machine, execution with its checkpoint, history events) are read
back through the API in AWS's shapes, byte for byte, and a RUNNING one resumes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from test_sfn_service import FakeLambdaService

from localcloud.config import Settings
from localcloud.stepfunctions import StepFunctionsService
from localcloud.stepfunctions.records import EXECUTION_KIND, MACHINE_KIND, Execution, StateMachine
from localcloud.store import Store

MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:old"
EXEC_ARN = "arn:aws:states:us-east-1:000000000000:execution:old:run-1"
DEFINITION = json.dumps(
    {
        "StartAt": "Add",
        "States": {
            "Add": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:add",
                "End": True,
            }
        },
    }
)
# As the dict-document code wrote them (key order included).
OLD_MACHINE = {
    "stateMachineArn": MACHINE_ARN,
    "name": "old",
    "status": "ACTIVE",
    "definition": DEFINITION,
    "roleArn": "arn:aws:iam::000000000000:role/r",
    "type": "STANDARD",
    "creationDate": 1700000000.5,
    "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
    "tracingConfiguration": {"enabled": False},
    "revisionId": "abc",
    "tags": [],
    "updateDate": 1700000001.25,
}
OLD_EXECUTION = {
    "executionArn": EXEC_ARN,
    "stateMachineArn": MACHINE_ARN,
    "name": "run-1",
    "status": "RUNNING",
    "startDate": 1700000002.0,
    "input": '{"a": 1, "b": 2}',
    "definition": DEFINITION,
    "roleArn": "arn:aws:iam::000000000000:role/r",
    "type": "STANDARD",
    "checkpoint": {"state": "Add", "input": {"a": 1, "b": 2}, "enteredTime": 1700000002.1, "enteredEvent": 2},
    "currentState": "Add",
}
OLD_EVENTS = [
    {
        "timestamp": 1700000002.05,
        "type": "ExecutionStarted",
        "id": 1,
        "previousEventId": 0,
        "executionStartedEventDetails": {
            "input": '{"a": 1, "b": 2}',
            "inputDetails": {"truncated": False},
            "roleArn": "arn:aws:iam::000000000000:role/r",
        },
    },
    {
        "timestamp": 1700000002.1,
        "type": "TaskStateEntered",
        "id": 2,
        "previousEventId": 1,
        "stateEnteredEventDetails": {"name": "Add", "input": '{"a":1,"b":2}'},
    },
]


def old_store(path: Path) -> Store:
    store = Store(path / "state.db")
    store.put(MACHINE_KIND, MACHINE_ARN, OLD_MACHINE)
    store.put(EXECUTION_KIND, EXEC_ARN, OLD_EXECUTION)
    for event in OLD_EVENTS:
        store.append_event(EXECUTION_KIND, EXEC_ARN, event)
    return store


def test_records_keep_the_stored_documents_as_they_were() -> None:
    assert StateMachine.from_doc(OLD_MACHINE).to_doc() == OLD_MACHINE
    assert Execution.from_doc(OLD_EXECUTION).to_doc() == OLD_EXECUTION


def test_an_old_state_db_reads_back_in_aws_shapes_and_resumes(tmp_path: Path) -> None:
    store = old_store(tmp_path)
    sfn = StepFunctionsService(
        settings=Settings(state_dir=tmp_path), store=store, invoke_lambda=FakeLambdaService().invoke
    )
    described = sfn.dispatch("DescribeStateMachine", {"stateMachineArn": MACHINE_ARN})
    assert json.dumps(described) == json.dumps(
        {k: OLD_MACHINE[k] for k in OLD_MACHINE if k not in ("tags", "updateDate")}
    )
    history = sfn.dispatch("GetExecutionHistory", {"executionArn": EXEC_ARN})
    assert json.dumps(history) == json.dumps({"events": OLD_EVENTS})
    running = sfn.dispatch("DescribeExecution", {"executionArn": EXEC_ARN})
    assert running["status"] == "RUNNING" and running["input"] == OLD_EXECUTION["input"]
    sfn.start()  # resumes at its checkpoint: the Task runs again
    try:
        deadline = time.monotonic() + 10
        while sfn.dispatch("DescribeExecution", {"executionArn": EXEC_ARN})["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the old execution did not resume"
            time.sleep(0.05)
        done = sfn.dispatch("DescribeExecution", {"executionArn": EXEC_ARN})
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"sum": 3}
    finally:
        sfn.stop()
