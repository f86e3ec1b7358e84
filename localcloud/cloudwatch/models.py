"""The metrics localcloud has: what SageMaker training jobs publish to CloudWatch, and the points
other services record.

A training job's metrics (its MetricDefinitions, parsed from its log by
``localcloud/sagemaker/metrics.py``: per metric name, ``[epoch seconds, value]`` points) are
published, as SageMaker does, in namespace ``/aws/sagemaker/TrainingJobs`` with dimension
``Host = <job>/algo-1``; they are also found under ``TrainingJobName = <job>``, the dimension the
sagemaker SDK's ``TrainingJobAnalytics`` asks for. CloudWatch reads them from SageMaker through
:class:`TrainingMetrics` (SageMaker's ``TrainingMetricsView``, wired by cloud.py), never from
SageMaker's records: listing reads each job's ``FinalMetricDataList`` (its DescribeTrainingJob
field: every metric with a point, and the time of its last one), never a series; one series is
read for its job alone.

Other services record points through :meth:`MetricSource.record` (SageMaker Runtime's
per-invocation AWS/SageMaker metrics): an append to in-memory deques (the invoke path's cost),
up to ``RECORDED_POINTS`` per series. :meth:`MetricSource.flush` (CloudWatch's background thread,
every ``FLUSH_SECONDS``, and once more when the service stops) writes the new points to the store
(``recorded.py``), and they are loaded back when localcloud starts: a clean stop loses nothing, a
``kill -9`` at most the last ``FLUSH_SECONDS`` of points. Points older than ``RETENTION_SECONDS``
(15 days) are dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..store import Store
from .recorded import RECORDED_POINTS, RETENTION_SECONDS, Dimensions, Point, PointLog, SeriesKey

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
FLUSH_SECONDS = 2.0

__all__ = [
    "RECORDED_POINTS",
    "RETENTION_SECONDS",
    "Metric",
    "MetricSource",
    "NoTrainingMetrics",
    "Series",
    "TrainingMetrics",
    "dimension_key",
]


class TrainingMetrics(Protocol):
    """What CloudWatch reads of the training jobs' metrics (SageMaker answers it)."""

    def final_metrics(self) -> Sequence[tuple[str, Sequence[dict[str, Any]]]]:
        """(job name, FinalMetricDataList) of every training job, oldest first, no series read."""
        ...

    def metric_series(self, job: str) -> tuple[str, dict[str, list[list[float]]]] | None:
        """The job named ``job``, case-insensitively: its name as created and its series by metric
        name; None when there is no such job."""
        ...


class NoTrainingMetrics:
    """No training jobs (a CloudWatch without SageMaker)."""

    def final_metrics(self) -> Sequence[tuple[str, Sequence[dict[str, Any]]]]:
        return ()

    def metric_series(self, job: str) -> tuple[str, dict[str, list[list[float]]]] | None:
        return None


@dataclass(frozen=True)
class Metric:
    """One series' identity, as ListMetrics answers it."""

    namespace: str
    name: str
    dimensions: Dimensions  # sorted (name, value) pairs

    def dimension_list(self) -> list[dict[str, str]]:
        return [{"Name": n, "Value": v} for n, v in self.dimensions]


@dataclass(frozen=True)
class Series(Metric):
    points: tuple[Point, ...]  # (epoch seconds, value)


def dimension_key(dimensions: list[dict[str, str]] | None) -> Dimensions:
    return tuple(sorted((d["Name"], d["Value"]) for d in dimensions or []))


def _job_dimensions(job: str) -> tuple[Dimensions, Dimensions]:
    """The two dimension sets a training job's metrics are published with."""
    return (("Host", f"{job}/algo-1"),), (("TrainingJobName", job),)


class MetricSource:
    def __init__(self, store: Store, training: TrainingMetrics | None = None) -> None:
        self.store = store
        self.training = training or NoTrainingMetrics()
        self._log = PointLog(store)
        self._lock = threading.Lock()  # the in-memory series (record's lock: held briefly)
        self._flush_lock = threading.Lock()  # one writer to the store at a time
        self._recorded: dict[SeriesKey, deque[Point]] = {}
        self._pending: dict[SeriesKey, deque[Point]] = {}  # recorded, not yet in the store
        loaded = self._log.load(time.time() - RETENTION_SECONDS)
        for key, points in loaded.items():
            self._recorded[key] = deque(points, maxlen=RECORDED_POINTS)

    def record(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float, at: float | None = None
    ) -> None:
        """Add one data point (as PutMetricData would) to a series served alongside the stored ones.

        In memory only (the invoke path calls it); :meth:`flush` stores it."""
        key = (namespace, name, tuple(sorted(dimensions.items())))
        point = (time.time() if at is None else at, float(value))
        with self._lock:
            series = self._recorded.get(key)
            if series is None:
                series = self._recorded[key] = deque(maxlen=RECORDED_POINTS)
            series.append(point)
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = deque(maxlen=RECORDED_POINTS)
            pending.append(point)

    def flush(self) -> None:
        """Write the points recorded since the last flush to the store, and apply the retention.

        A series whose write fails keeps its points pending (with those not yet tried), so the
        next flush tries them again."""
        with self._flush_lock:
            cutoff = time.time() - RETENTION_SECONDS
            with self._lock:
                pending, self._pending = self._pending, {}
                for series in self._recorded.values():
                    while series and series[0][0] < cutoff:
                        series.popleft()
            todo = [(key, list(points)) for key, points in pending.items() if points]
            for done, (key, points) in enumerate(todo):
                try:
                    self._log.append(key, points, cutoff)
                except Exception:
                    self._requeue(todo[done:])
                    raise
            self._log.expire(cutoff)

    def _requeue(self, failed: list[tuple[SeriesKey, list[Point]]]) -> None:
        with self._lock:
            for key, points in failed:
                newer = self._pending.get(key) or ()
                self._pending[key] = deque([*points, *newer], maxlen=RECORDED_POINTS)

    def metrics(self, active_since: float | None = None) -> list[Metric]:
        """Every series' identity (recorded ones first, then each training job's, oldest job
        first), without reading any series' points from the store; with ``active_since``, only
        the series with a point at or after it."""
        with self._lock:
            recorded = [
                Metric(*key)
                for key, points in self._recorded.items()
                if points and (active_since is None or _has_point_since(points, active_since))
            ]
        return recorded + list(self._training_metrics(active_since))

    def _training_metrics(self, active_since: float | None) -> Iterable[Metric]:
        for job, finals in self.training.final_metrics():
            for final in sorted(finals, key=lambda m: str(m["MetricName"])):
                if active_since is not None and not float(final.get("Timestamp") or 0) >= active_since:
                    continue
                for dims in _job_dimensions(str(job)):
                    yield Metric(TRAINING_NAMESPACE, str(final["MetricName"]), dims)

    def find(self, namespace: str, name: str, dimensions: list[dict[str, str]] | None) -> Series | None:
        """The series with exactly this namespace, name and dimension set (CloudWatch's rule).

        A training job's series is read for that job alone (not every job's)."""
        key = dimension_key(dimensions)
        with self._lock:
            recorded = self._recorded.get((namespace, name, key))
            if recorded is not None:
                return Series(namespace, name, key, tuple(recorded))
        if namespace != TRAINING_NAMESPACE or len(key) != 1:
            return None
        dim, value = key[0]
        job = {"Host": value.removesuffix("/algo-1"), "TrainingJobName": value}.get(dim, "")
        found = self.training.metric_series(job) if job else None
        return _job_series(*found, name, key) if found is not None else None


def _has_point_since(points: deque[Point], since: float) -> bool:
    """Newest last, as recorded: scanning from the end finds a recent point at once."""
    return any(ts >= since for ts, _ in reversed(points))


def _job_series(job: str, series: dict[str, list[list[float]]], name: str, key: Dimensions) -> Series | None:
    """The job's series ``name`` if ``key`` is one of the dimension sets it is published with."""
    if name not in series or key not in _job_dimensions(job):
        return None
    points = tuple(sorted((float(t), float(v)) for t, v in series[name]))
    return Series(TRAINING_NAMESPACE, name, key, points)
