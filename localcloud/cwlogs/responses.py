"""CloudWatch Logs read API (JSON 1.1, ``X-Amz-Target: Logs_20140328.<Operation>``) over ``models``.

DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents, with AWS's paging:
GetLogEvents' ``nextForwardToken``/``nextBackwardToken`` (``f/<n>``/``b/<n>``, ``n`` an event's
position in its stream; reading forward past the end returns the token it was given, which is
how clients such as the sagemaker SDK know they are caught up), and opaque ``nextToken`` for the
others. ``filterPattern`` supports CloudWatch's term syntax (``ERROR``, ``"exact phrase"``,
``-excluded``, ``?either ?or``); JSON (``{...}``) and space-delimited (``[...]``) patterns answer
a clear "not supported by localcloud" error. Hand-written (the service has no library).
"""

from __future__ import annotations

import hashlib
import shlex
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import AwsError
from ..paging import BadToken, TokenFormat, offset_page
from .models import Event, LogFiles, Stream

Handler = Callable[[dict[str, Any]], dict[str, Any]]
MAX_EVENTS_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of its message


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


_TOKENS = TokenFormat(urlsafe=True, compact=True)


def _encode(data: dict[str, Any]) -> str:
    return _TOKENS.encode(data)


def _decode(token: str) -> dict[str, Any]:
    try:
        return _TOKENS.decode(token)
    except BadToken as exc:
        raise _invalid("The specified nextToken is invalid.") from exc


class TermPattern:
    """CloudWatch Logs' unstructured filter pattern: all plain terms, any ``?`` term, no ``-`` term."""

    def __init__(self, pattern: str) -> None:
        text = pattern.strip()
        if text.startswith(("{", "[")) or text.startswith("%"):
            raise _invalid(
                f"filterPattern {pattern!r}: JSON, space-delimited and regular-expression patterns "
                'are not supported by localcloud (plain terms, "quoted phrases", -exclusions and '
                "?alternatives are)"
            )
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise _invalid(f"Invalid filter pattern {pattern!r}: {exc}") from exc
        self.required = [w for w in words if not w.startswith(("-", "?"))]
        self.excluded = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
        self.any_of = [w[1:] for w in words if w.startswith("?") and len(w) > 1]

    def matches(self, message: str) -> bool:
        if any(w in message for w in self.excluded):
            return False
        if self.any_of and not any(w in message for w in self.any_of):
            return False
        return all(w in message for w in self.required)


class LogsApi:
    def __init__(self, files: LogFiles, settings: Settings, declared: Callable[[], list[str]]) -> None:
        self.files = files
        self.settings = settings
        self.declared = declared  # groups that exist without any stream yet (the stack's)
        self.started = int(time.time() * 1000)
        self.operations: dict[str, Handler] = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    # ------------------------------------------------------------------ helpers
    def group_arn(self, group: str) -> str:
        return self.settings.arn("logs", f"log-group:{group}")

    def _group_name(self, params: dict[str, Any]) -> str:
        name = params.get("logGroupName")
        ident = params.get("logGroupIdentifier")
        if name and ident:
            raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if ident:
            name = ident.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in ident else ident
        if not name:
            raise _invalid("Either logGroupName or logGroupIdentifier must be specified.")
        return str(name)

    def _streams(self, group: str) -> list[Stream]:
        streams = self.files.streams(group)
        if not streams and group not in self.declared():
            raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")
        return streams

    # ------------------------------------------------------------------ operations
    def describe_log_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix and pattern:
            raise _invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        wanted = set(params.get("logGroupIdentifiers") or [])
        groups = []
        found: dict[str, list[Stream]] = {name: [] for name in self.declared()}
        found.update(self.files.groups())
        for name, streams in sorted(found.items()):
            if prefix and not name.startswith(prefix):
                continue
            if pattern and pattern.lower() not in name.lower():
                continue
            arn = self.group_arn(name)
            if wanted and name not in wanted and arn not in wanted:
                continue
            groups.append(
                {
                    "logGroupName": name,
                    "creationTime": min((s.created for s in streams), default=self.started),
                    "metricFilterCount": 0,
                    "arn": f"{arn}:*",
                    "logGroupArn": arn,
                    "storedBytes": sum(s.size for s in streams),
                    "logGroupClass": "STANDARD",
                    "deletionProtectionEnabled": False,
                }
            )
        return self._page(groups, "logGroups", params, limit_default=50)

    def describe_log_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy") or "LogStreamName"
        if prefix and order == "LastEventTime":
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [s for s in self._streams(group) if not prefix or s.name.startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name))
        if params.get("descending"):
            streams.reverse()
        items = []
        for s in streams:
            item: dict[str, Any] = {
                "logStreamName": s.name,
                "creationTime": s.created,
                "arn": f"{self.group_arn(group)}:log-stream:{s.name}",
                "storedBytes": 0,
            }
            if s.events:
                item["firstEventTimestamp"] = s.first_event
                item["lastEventTimestamp"] = s.last_event
            if s.last_ingestion is not None:
                item["lastIngestionTime"] = s.last_ingestion
            items.append(item)
        return self._page(items, "logStreams", params, limit_default=50)

    def get_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        name = params.get("logStreamName")
        if not name:
            raise _invalid("logStreamName must be specified.")
        stream = next((s for s in self._streams(group) if s.name == name), None)
        if stream is None:
            raise AwsError("ResourceNotFoundException", "The specified log stream does not exist.")
        start, end = params.get("startTime"), params.get("endTime")
        limit = int(params.get("limit") or 10_000)
        with stream.lock:
            events = list(stream.events)
        window = [e for e in events if _within(e.timestamp, start, end)]
        token = params.get("nextToken")
        if token:
            direction, position = _position(token, len(events))
        else:
            direction, position = ("f", 0) if params.get("startFromHead") else ("b", len(events))
        if direction == "f":
            chosen = _capped([e for e in window if e.index >= position][:limit])
        else:
            chosen = _capped_tail([e for e in window if e.index < position][-limit:] if limit else [])
        first = chosen[0].index if chosen else position
        after = chosen[-1].index + 1 if chosen else position
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp} for e in chosen
            ],
            "nextForwardToken": f"f/{after:056d}",
            "nextBackwardToken": f"b/{first:056d}",
        }

    def filter_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        streams = self._filtered_streams(group, params)
        pattern = TermPattern(params.get("filterPattern") or "")
        start, end = params.get("startTime"), params.get("endTime")
        limit = int(params.get("limit") or 10_000)
        after = _filter_position(params.get("nextToken"))
        found: list[tuple[int, str, int, Event]] = []
        for stream in streams:
            with stream.lock:
                events = list(stream.events)
            for e in events:
                key = (e.timestamp, stream.name, e.index)
                if after is not None and key <= after:
                    continue
                if _within(e.timestamp, start, end) and pattern.matches(e.message):
                    found.append((*key, e))
        found.sort(key=lambda f: f[:3])
        page = found[:limit]
        size = 0
        for count, item in enumerate(page):
            size += len(item[3].message.encode()) + EVENT_OVERHEAD
            if size > MAX_EVENTS_BYTES and count:
                page = page[:count]
                break
        out: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": name,
                    "timestamp": ts,
                    "message": e.message,
                    "ingestionTime": ts,
                    "eventId": _event_id(group, name, index, ts),
                }
                for ts, name, index, e in page
            ],
            "searchedLogStreams": [{"logStreamName": s.name, "searchedCompletely": True} for s in streams],
        }
        if len(page) < len(found):
            ts, name, index, _ = page[-1]
            out["nextToken"] = _encode({"t": ts, "s": name, "i": index})
        return out

    def _filtered_streams(self, group: str, params: dict[str, Any]) -> list[Stream]:
        """The group's streams FilterLogEvents searches: those named, or with the prefix, or all."""
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        streams = self._streams(group)
        if names:
            return [s for s in streams if s.name in names]
        if prefix:
            return [s for s in streams if s.name.startswith(prefix)]
        return streams

    # ------------------------------------------------------------------ paging
    @staticmethod
    def _page(
        items: list[dict[str, Any]], key: str, params: dict[str, Any], limit_default: int
    ) -> dict[str, Any]:
        limit = int(params.get("limit") or limit_default)
        try:
            page, token = offset_page(items, params.get("nextToken"), limit, field="o", tokens=_TOKENS)
        except BadToken as exc:
            raise _invalid("The specified nextToken is invalid.") from exc
        return {key: page, **({"nextToken": token} if token else {})}


def _filter_position(token: str | None) -> tuple[int, str, int] | None:
    """The (timestamp, stream, index) a FilterLogEvents token continues after (None: the start)."""
    if not token:
        return None
    data = _decode(token)
    try:
        return (int(data["t"]), str(data["s"]), int(data["i"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _invalid("The specified nextToken is invalid.") from exc


def _within(ts: int, start: int | None, end: int | None) -> bool:
    return (start is None or ts >= start) and (end is None or ts <= end)


def _position(token: str, count: int) -> tuple[str, int]:
    direction, _, number = token.partition("/")
    if direction not in ("f", "b") or not number.isdigit() or int(number) > count:
        raise _invalid("The specified nextToken is invalid.")
    return direction, int(number)


def _capped(events: list[Event]) -> list[Event]:
    """The first events that fit AWS's 1 MB response limit (at least one)."""
    size = 0
    for count, e in enumerate(events):
        size += len(e.message.encode()) + EVENT_OVERHEAD
        if size > MAX_EVENTS_BYTES and count:
            return events[:count]
    return events


def _capped_tail(events: list[Event]) -> list[Event]:
    return list(reversed(_capped(list(reversed(events)))))


def _event_id(group: str, stream: str, index: int, ts: int) -> str:
    digest = int(hashlib.sha1(f"{group}\0{stream}".encode()).hexdigest()[:12], 16)
    return f"{ts:015d}{digest:015d}{index:010d}"
