"""The recorded points' copy in the localcloud store: what keeps them across restarts.

Other services record data points in memory (``models.MetricSource.record``, SageMaker Runtime's
per-invocation metrics); :class:`PointLog` writes them to the store, in the background and at
shutdown, and reads them back when localcloud starts.

Layout: kind ``cloudwatch/points``, one document per series per *segment* of at most
``SEGMENT_POINTS`` points, named ``<series>#<segment number, 10 digits>`` where ``<series>`` is
the compact JSON ``[namespace, metric name, [[dimension, value], ...]]`` (a complete JSON array,
so one series' names never prefix another's). A document is ``{"Namespace", "MetricName",
"Dimensions": [[name, value], ...], "Segment", "Points": [[epoch seconds, value], ...]}``.
Points go to the series' last segment until it is full, then to a new one: a write re-encodes at
most that one open segment plus the new points, however long the series is.

Bounds, applied on every write and on load: a series keeps its newest segments holding at least
``RECORDED_POINTS`` points (older ones are deleted: at most ``RECORDED_POINTS + SEGMENT_POINTS``
stay stored), and a segment whose newest point is older than ``RETENTION_SECONDS`` (15 days, as
CloudWatch keeps 1-minute data) is deleted; loaded points older than that are dropped. Relies on
``localcloud/store.py`` only. Hand-written: it is localcloud's own storage layout.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from ..store import Store

POINTS_KIND = "cloudwatch/points"
RECORDED_POINTS = 100_000  # per series, in memory and (give or take a segment) in the store
SEGMENT_POINTS = 1_000
RETENTION_SECONDS = 15 * 24 * 3600

Dimensions = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
SeriesKey = tuple[str, str, Dimensions]  # (namespace, metric name, dimensions)
Point = tuple[float, float]  # (epoch seconds, value)


@dataclass
class _Segment:
    number: int
    count: int
    newest: float


@dataclass
class _SeriesLog:
    """What is stored of one series: its segments, oldest first, and the last one's points."""

    segments: deque[_Segment] = field(default_factory=deque)
    tail: list[Point] = field(default_factory=list)  # the points of segments[-1]

    @property
    def stored(self) -> int:
        return sum(s.count for s in self.segments)


def _newest(points: list[Point]) -> float:
    return max((t for t, _ in points), default=0.0)


def _series_name(key: SeriesKey) -> str:
    namespace, name, dims = key
    return json.dumps([namespace, name, [list(d) for d in dims]], separators=(",", ":"))


def _doc_name(key: SeriesKey, number: int) -> str:
    return f"{_series_name(key)}#{number:010d}"


class PointLog:
    """Segments of every recorded series in the store. Not thread-safe: one writer at a time
    (``MetricSource.flush`` serialises its calls)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._series: dict[SeriesKey, _SeriesLog] = {}

    def load(self, cutoff: float) -> dict[SeriesKey, list[Point]]:
        """Every stored series' points newer than ``cutoff``, oldest segment first (the last
        ``RECORDED_POINTS`` of each); expired and surplus segments are deleted on the way."""
        loaded: dict[SeriesKey, list[Point]] = {}
        for key, segments in self._read().items():
            segments.sort(key=lambda segment: segment[0])
            log = self._series[key] = _SeriesLog(
                deque(_Segment(number, len(points), _newest(points)) for number, points in segments),
                segments[-1][1],
            )
            self._bound(key, log, cutoff)
            kept = {segment.number for segment in log.segments}
            fresh = [p for number, points in segments if number in kept for p in points if p[0] >= cutoff]
            if fresh:
                loaded[key] = fresh[-RECORDED_POINTS:]
        return loaded

    def _read(self) -> dict[SeriesKey, list[tuple[int, list[Point]]]]:
        """Every stored segment, (number, points), by series."""
        grouped: dict[SeriesKey, list[tuple[int, list[Point]]]] = {}
        for doc in self.store.list(POINTS_KIND):
            dims = tuple((str(n), str(v)) for n, v in doc["Dimensions"])
            key = (str(doc["Namespace"]), str(doc["MetricName"]), dims)
            points = [(float(t), float(v)) for t, v in doc["Points"]]
            grouped.setdefault(key, []).append((int(doc["Segment"]), points))
        return grouped

    def append(self, key: SeriesKey, points: list[Point], cutoff: float) -> None:
        """Store ``points`` after the series' stored ones, then apply the bounds. The in-memory
        state changes only once every write succeeded, so a failed call can be repeated as is."""
        log = self._series.get(key) or _SeriesLog()
        segments = list(log.segments)
        tail = list(log.tail) if segments and len(log.tail) < SEGMENT_POINTS else []
        number = segments[-1].number + (0 if tail else 1) if segments else 0
        if tail:
            segments.pop()
        rest = list(points)
        while rest:
            room = SEGMENT_POINTS - len(tail)
            tail, rest = tail + rest[:room], rest[room:]
            self._put(key, number, tail)
            segments.append(_Segment(number, len(tail), _newest(tail)))
            if rest:
                number, tail = number + 1, []
        log.segments, log.tail = deque(segments), tail
        self._series[key] = log
        self._bound(key, log, cutoff)

    def expire(self, cutoff: float) -> None:
        """Apply the bounds to every series (the retention deletes segments as time passes)."""
        for key, log in list(self._series.items()):
            self._bound(key, log, cutoff)

    def _put(self, key: SeriesKey, number: int, points: list[Point]) -> None:
        namespace, name, dims = key
        doc = {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [list(d) for d in dims],
            "Segment": number,
            "Points": [list(p) for p in points],
        }
        self.store.put(POINTS_KIND, _doc_name(key, number), doc)

    def _bound(self, key: SeriesKey, log: _SeriesLog, cutoff: float) -> None:
        """Delete the segments past the bounds (see the module docstring)."""
        while len(log.segments) > 1 and log.stored - log.segments[0].count >= RECORDED_POINTS:
            self._delete(key, log, log.segments[0])
        for segment in [s for s in log.segments if s.newest < cutoff]:
            self._delete(key, log, segment)
        if not log.segments:
            self._series.pop(key, None)

    def _delete(self, key: SeriesKey, log: _SeriesLog, segment: _Segment) -> None:
        self.store.delete(POINTS_KIND, _doc_name(key, segment.number))
        log.segments.remove(segment)
        if not log.segments or segment.number > log.segments[-1].number:
            log.tail = []
