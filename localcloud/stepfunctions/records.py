"""Step Functions' state as typed records: state machines, executions and history events.

The records are what the service works with; ``api.py`` (the wire layer) turns requests into
calls and records into AWS's response shapes. :class:`Records` keeps them in the localcloud store
(kinds ``states/state-machine`` and ``states/execution``, with each execution's history as the
execution's event log). A record's stored document is exactly the JSON document localcloud has
always written for it (``to_doc``/``from_doc``), so existing ``state.db`` files open unchanged.
Relies on the store and the standard library's dataclasses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..store import Store

EXECUTION_KIND = "states/execution"
MACHINE_KIND = "states/state-machine"

_NO_DETAILS = frozenset(
    {
        "LambdaFunctionStarted",
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "ParallelStateFailed",
        "ParallelStateAborted",
        "MapStateSucceeded",
        "MapStateFailed",
        "MapStateAborted",
        "WaitStateAborted",
        "TaskStateAborted",
    }
)


def default_logging() -> dict[str, Any]:
    return {"level": "OFF", "includeExecutionData": False}


def default_tracing() -> dict[str, Any]:
    return {"enabled": False}


def detail_key(event_type: str) -> str | None:
    """The details member of an event type as GetExecutionHistory names it (None: no details)."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    if event_type in _NO_DETAILS:
        return None
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass
class StateMachine:
    arn: str
    name: str
    definition: str
    role_arn: str
    type: str = "STANDARD"
    creation_date: float = 0.0
    logging: dict[str, Any] = field(default_factory=default_logging)
    tracing: dict[str, Any] = field(default_factory=default_tracing)
    revision_id: str = ""
    tags: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ACTIVE"
    update_date: float | None = None

    @property
    def changed_date(self) -> float:
        """When the definition last changed: the update date, else the creation date."""
        return self.creation_date if self.update_date is None else self.update_date

    def log_group(self) -> str | None:
        """The log group of the logging configuration's first CloudWatch Logs destination when
        logging is on, else None."""
        if self.logging.get("level", "OFF") == "OFF":
            return None
        for destination in self.logging.get("destinations") or []:
            group_arn = str((destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn") or "")
            if ":log-group:" in group_arn:
                return group_arn.split(":log-group:", 1)[1].removesuffix(":*")
        return None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "stateMachineArn": self.arn,
            "name": self.name,
            "status": self.status,
            "definition": self.definition,
            "roleArn": self.role_arn,
            "type": self.type,
            "creationDate": self.creation_date,
            "loggingConfiguration": self.logging,
            "tracingConfiguration": self.tracing,
            "revisionId": self.revision_id,
            "tags": self.tags,
        }
        if self.update_date is not None:
            doc["updateDate"] = self.update_date
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StateMachine:
        return cls(
            arn=doc["stateMachineArn"],
            name=doc["name"],
            definition=doc["definition"],
            role_arn=doc["roleArn"],
            type=doc.get("type", "STANDARD"),
            creation_date=doc["creationDate"],
            logging=doc.get("loggingConfiguration") or default_logging(),
            tracing=doc.get("tracingConfiguration") or default_tracing(),
            revision_id=doc.get("revisionId", ""),
            tags=doc.get("tags") or [],
            status=doc.get("status", "ACTIVE"),
            update_date=doc.get("updateDate"),
        )


@dataclass(frozen=True)
class Checkpoint:
    """The last top-level state an execution entered: where it resumes after a restart."""

    state: str
    input: Any
    entered_time: float
    entered_event: int

    def to_doc(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "input": self.input,
            "enteredTime": self.entered_time,
            "enteredEvent": self.entered_event,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Checkpoint:
        return cls(doc["state"], doc["input"], float(doc["enteredTime"]), int(doc["enteredEvent"]))


@dataclass
class Execution:
    arn: str
    state_machine_arn: str
    name: str
    start_date: float
    input: str
    definition: str
    role_arn: str = ""
    type: str = "STANDARD"
    status: str = "RUNNING"
    stop_date: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    current_state: str | None = None
    checkpoint: Checkpoint | None = None

    @property
    def machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": self.input,
            "definition": self.definition,
            "roleArn": self.role_arn,
            "type": self.type,
        }
        optional = {
            "checkpoint": self.checkpoint.to_doc() if self.checkpoint else None,
            "currentState": self.current_state,
            "stopDate": self.stop_date,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
        }
        doc.update({k: v for k, v in optional.items() if v is not None})
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Execution:
        point = doc.get("checkpoint")
        return cls(
            arn=doc["executionArn"],
            state_machine_arn=doc["stateMachineArn"],
            name=doc["name"],
            start_date=doc["startDate"],
            input=doc["input"],
            definition=doc["definition"],
            role_arn=doc.get("roleArn", ""),
            type=doc.get("type", "STANDARD"),
            status=doc["status"],
            stop_date=doc.get("stopDate"),
            output=doc.get("output"),
            error=doc.get("error"),
            cause=doc.get("cause"),
            current_state=doc.get("currentState"),
            checkpoint=Checkpoint.from_doc(point) if point else None,
        )


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    type: str
    previous_event_id: int
    timestamp: float
    details: dict[str, Any] | None = None

    @classmethod
    def now(
        cls, event_id: int, event_type: str, details: dict[str, Any] | None, previous_event_id: int
    ) -> HistoryEvent:
        return cls(event_id, event_type, previous_event_id, time.time(), details)

    def to_doc(self) -> dict[str, Any]:
        """GetExecutionHistory's event shape (also how the store and the log stream keep it)."""
        doc: dict[str, Any] = {
            "timestamp": self.timestamp,
            "type": self.type,
            "id": self.id,
            "previousEventId": self.previous_event_id,
        }
        key = detail_key(self.type)
        if key is not None and self.details is not None:
            doc[key] = self.details
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> HistoryEvent:
        key = detail_key(doc["type"])
        details = doc.get(key) if key is not None else None
        return cls(int(doc["id"]), doc["type"], int(doc["previousEventId"]), doc["timestamp"], details)


class Records:
    """State machines, executions and their histories in the localcloud store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ state machines
    def machine(self, arn: str) -> StateMachine | None:
        doc = self.store.get(MACHINE_KIND, arn)
        return None if doc is None else StateMachine.from_doc(doc)

    def machines(self) -> list[StateMachine]:
        return [StateMachine.from_doc(d) for d in self.store.list(MACHINE_KIND)]

    def create_machine(self, machine: StateMachine) -> bool:
        """Store a new state machine; False when one with its ARN exists."""
        return self.store.create(MACHINE_KIND, machine.arn, machine.to_doc())

    def update_machine(self, arn: str, change: Callable[[StateMachine], None]) -> None:
        self.store.update(MACHINE_KIND, arn, _through(StateMachine, change))

    def delete_machine(self, arn: str) -> None:
        self.store.delete(MACHINE_KIND, arn)

    # ------------------------------------------------------------------ executions
    def execution(self, arn: str) -> Execution | None:
        doc = self.store.get(EXECUTION_KIND, arn)
        return None if doc is None else Execution.from_doc(doc)

    def executions(self) -> list[Execution]:
        return [Execution.from_doc(d) for d in self.store.list(EXECUTION_KIND)]

    def create_execution(self, execution: Execution) -> bool:
        """Store a new execution; False when one with its ARN exists."""
        return self.store.create(EXECUTION_KIND, execution.arn, execution.to_doc())

    def update_execution(self, arn: str, change: Callable[[Execution], None]) -> None:
        self.store.update(EXECUTION_KIND, arn, _through(Execution, change))

    # ------------------------------------------------------------------ history
    def events(self, execution_arn: str) -> list[HistoryEvent]:
        return [HistoryEvent.from_doc(d) for d in self.store.events(EXECUTION_KIND, execution_arn)]

    def event_count(self, execution_arn: str) -> int:
        return len(self.store.events(EXECUTION_KIND, execution_arn))

    def append_event(self, execution_arn: str, event: HistoryEvent) -> None:
        self.store.append_event(EXECUTION_KIND, execution_arn, event.to_doc())


def _through(
    record_type: type[StateMachine] | type[Execution], change: Callable[[Any], None]
) -> Callable[[dict[str, Any]], None]:
    """A store change that applies ``change`` to the document's record and writes the record back."""

    def apply(doc: dict[str, Any]) -> None:
        record = record_type.from_doc(doc)
        change(record)
        doc.clear()
        doc.update(record.to_doc())

    return apply
