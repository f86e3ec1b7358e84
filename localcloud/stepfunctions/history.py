"""Execution history: AWS's event types with ``id``/``previousEventId``/``timestamp`` and details.

``detail_key`` (in ``records.py``) maps an event type to its details member as GetExecutionHistory names it
(``TaskStateEntered`` -> ``stateEnteredEventDetails``, ``TaskScheduled`` ->
``taskScheduledEventDetails`` ...). ``StoreHistory`` appends events to the localcloud store (so
they survive a restart) and mirrors them, one JSON line each, to the CloudWatch-like log file of
``/aws/states/<state machine>``; ``MemoryHistory`` keeps them in a list (interpreter unit tests).
Events are :class:`~localcloud.stepfunctions.records.HistoryEvent` records. Relies on ``records.py``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol

from .records import EXECUTION_KIND, MACHINE_KIND, HistoryEvent, Records, detail_key

__all__ = ["EXECUTION_KIND", "MACHINE_KIND", "EventSink", "MemoryHistory", "StoreHistory", "detail_key"]


class EventSink(Protocol):
    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        """Record an event; returns its id (1-based, in order)."""
        ...

    @property
    def last_id(self) -> int: ...


class MemoryHistory:
    """Events in a list; for tests and dry runs."""

    def __init__(self) -> None:
        self.records: list[HistoryEvent] = []
        self._lock = threading.Lock()

    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        with self._lock:
            event = HistoryEvent.now(len(self.records) + 1, event_type, details, previous_event_id)
            self.records.append(event)
            return event.id

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events in GetExecutionHistory's shape."""
        return [e.to_doc() for e in self.records]

    @property
    def last_id(self) -> int:
        return len(self.records)

    def types(self) -> list[str]:
        return [e.type for e in self.records]


class StoreHistory:
    """Events of one execution in the store, mirrored to its log stream."""

    def __init__(self, records: Records, execution_arn: str, log_file: Path | None = None) -> None:
        self.records = records
        self.execution_arn = execution_arn
        self.log_file = log_file
        self._lock = threading.Lock()
        self._last = records.event_count(execution_arn)
        self.closed = False

    def close(self) -> None:
        """Drop later events (a thread still unwinding after the execution's end event)."""
        with self._lock:
            self.closed = True

    def append(self, event_type: str, details: dict[str, Any] | None, previous_event_id: int) -> int:
        with self._lock:
            if self.closed:
                return self._last
            event = HistoryEvent.now(self._last + 1, event_type, details, previous_event_id)
            self.records.append_event(self.execution_arn, event)
            self._last += 1
            if self.log_file is not None:
                with self.log_file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(event.to_doc(), separators=(",", ":")) + "\n")
            return self._last

    @property
    def last_id(self) -> int:
        return self._last
