"""Execution history: AWS's event types with ``id``/``previousEventId``/``timestamp`` and details.

``detail_key`` maps an event type to its details member as GetExecutionHistory names it
(``TaskStateEntered`` -> ``stateEnteredEventDetails``, ``TaskScheduled`` ->
``taskScheduledEventDetails`` ...). ``StoreHistory`` appends events to the localcloud store (so
they survive a restart) and mirrors them, one JSON line each, to the CloudWatch-like log file of
``/aws/states/<state machine>``; ``MemoryHistory`` keeps them in a list (interpreter unit tests).
Relies on the store and the standard library.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from ..store import Store

EXECUTION_KIND = "states/execution"
MACHINE_KIND = "states/state-machine"


def detail_key(event_type: str) -> str | None:
    """The details member of an event type (None for types without details)."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    if event_type in (
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
    ):
        return None
    return event_type[0].lower() + event_type[1:] + "EventDetails"


class EventSink(Protocol):
    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        """Record an event; returns its id (1-based, in order)."""
        ...

    @property
    def last_id(self) -> int: ...


def make_event(
    event_id: int, event_type: str, details: dict[str, Any] | None, previous_event_id: int
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": time.time(),
        "type": event_type,
        "id": event_id,
        "previousEventId": previous_event_id,
    }
    key = detail_key(event_type)
    if key is not None and details is not None:
        event[key] = details
    return event


class MemoryHistory:
    """Events in a list; for tests and dry runs."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        with self._lock:
            event = make_event(len(self.events) + 1, event_type, details, previous_event_id)
            self.events.append(event)
            return int(event["id"])

    @property
    def last_id(self) -> int:
        return len(self.events)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


class StoreHistory:
    """Events of one execution in the store, mirrored to its log stream."""

    def __init__(self, store: Store, execution_arn: str, log_file: Path | None = None) -> None:
        self.store = store
        self.execution_arn = execution_arn
        self.log_file = log_file
        self._lock = threading.Lock()
        self._last = len(store.events(EXECUTION_KIND, execution_arn))
        self.closed = False

    def close(self) -> None:
        """Drop later events (a thread still unwinding after the execution's end event)."""
        with self._lock:
            self.closed = True

    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        with self._lock:
            if self.closed:
                return self._last
            event = make_event(self._last + 1, event_type, details, previous_event_id)
            self.store.append_event(EXECUTION_KIND, self.execution_arn, event)
            self._last += 1
            if self.log_file is not None:
                with self.log_file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(event, separators=(",", ":")) + "\n")
            return self._last

    @property
    def last_id(self) -> int:
        return self._last
