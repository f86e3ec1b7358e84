"""The metrics localcloud has: what SageMaker training jobs publish to CloudWatch.

A training job's metrics (its MetricDefinitions, parsed from its log by
``localcloud/sagemaker/metrics.py`` and kept in the job's document as ``_series``: per metric
name, ``[epoch seconds, value]`` points) are published, as SageMaker does, in namespace
``/aws/sagemaker/TrainingJobs`` with dimension ``Host = <job>/algo-1``; they are also found
under ``TrainingJobName = <job>``, the dimension the sagemaker SDK's ``TrainingJobAnalytics``
asks for. Reads the localcloud store, plus the points other services record in memory through
:meth:`MetricSource.record` (SageMaker Runtime's per-invocation AWS/SageMaker metrics; kept for
this localcloud process only, up to ``RECORDED_POINTS`` per series).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from ..store import Store

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
TRAINING_JOB_KIND = "sagemaker/training-job"  # localcloud/sagemaker/common.py's TRAINING_JOB
RECORDED_POINTS = 100_000


@dataclass(frozen=True)
class Series:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    points: tuple[tuple[float, float], ...]  # (epoch seconds, value), in time order

    def dimension_list(self) -> list[dict[str, str]]:
        return [{"Name": n, "Value": v} for n, v in self.dimensions]


def dimension_key(dimensions: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d["Name"], d["Value"]) for d in dimensions or []))


class MetricSource:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._recorded: dict[tuple[str, str, tuple[tuple[str, str], ...]], deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def record(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float, at: float | None = None
    ) -> None:
        """Add one data point (as PutMetricData would) to a series served alongside the stored ones."""
        key = (namespace, name, tuple(sorted(dimensions.items())))
        with self._lock:
            points = self._recorded.setdefault(key, deque(maxlen=RECORDED_POINTS))
            points.append((time.time() if at is None else at, float(value)))

    def all(self) -> list[Series]:
        with self._lock:
            out: list[Series] = [
                Series(namespace, name, dims, tuple(points))
                for (namespace, name, dims), points in self._recorded.items()
            ]
        for doc in self.store.list(TRAINING_JOB_KIND):
            out.extend(_job_series(doc))
        return out

    def find(self, namespace: str, name: str, dimensions: list[dict[str, str]] | None) -> Series | None:
        """The series with exactly this namespace, name and dimension set (CloudWatch's rule).

        A training job's series is read from that job's document alone (not every job's)."""
        key = dimension_key(dimensions)
        with self._lock:
            recorded = self._recorded.get((namespace, name, key))
            if recorded is not None:
                return Series(namespace, name, key, tuple(recorded))
        candidates: list[Series] = []
        if namespace == TRAINING_NAMESPACE and len(key) == 1:
            dim, value = key[0]
            job = {"Host": value.removesuffix("/algo-1"), "TrainingJobName": value}.get(dim, "")
            doc = self.store.get(TRAINING_JOB_KIND, job.lower()) if job else None
            candidates = _job_series(doc) if doc else []
        for series in candidates:
            if (series.namespace, series.name, series.dimensions) == (namespace, name, key):
                return series
        return None


def _job_series(doc: dict[str, object]) -> list[Series]:
    """A training job's metric series, under both dimension sets it is published with."""
    job = doc.get("TrainingJobName")
    series = doc.get("_series") or {}
    if not job or not isinstance(series, dict):
        return []
    out: list[Series] = []
    for name, raw in sorted(series.items()):
        points = tuple(sorted((float(t), float(v)) for t, v in raw))
        for dims in ((("Host", f"{job}/algo-1"),), (("TrainingJobName", str(job)),)):
            out.append(Series(TRAINING_NAMESPACE, str(name), dims, points))
    return out
