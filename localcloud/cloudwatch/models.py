"""The metrics localcloud has: what SageMaker training jobs publish to CloudWatch.

A training job's metrics (its MetricDefinitions, parsed from its log by
``localcloud/sagemaker/metrics.py`` and kept in the job's document as ``_series``: per metric
name, ``[epoch seconds, value]`` points) are published, as SageMaker does, in namespace
``/aws/sagemaker/TrainingJobs`` with dimension ``Host = <job>/algo-1``; they are also found
under ``TrainingJobName = <job>``, the dimension the sagemaker SDK's ``TrainingJobAnalytics``
asks for. Reads the localcloud store only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
TRAINING_JOB_KIND = "sagemaker/training-job"  # localcloud/sagemaker/common.py's TRAINING_JOB


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

    def all(self) -> list[Series]:
        out: list[Series] = []
        for doc in self.store.list(TRAINING_JOB_KIND):
            job = doc.get("TrainingJobName")
            series = doc.get("_series") or {}
            if not job or not isinstance(series, dict):
                continue
            for name, raw in sorted(series.items()):
                points = tuple(sorted((float(t), float(v)) for t, v in raw))
                for dims in ((("Host", f"{job}/algo-1"),), (("TrainingJobName", str(job)),)):
                    out.append(Series(TRAINING_NAMESPACE, str(name), dims, points))
        return out

    def find(self, namespace: str, name: str, dimensions: list[dict[str, str]] | None) -> Series | None:
        """The series with exactly this namespace, name and dimension set (CloudWatch's rule)."""
        key = dimension_key(dimensions)
        for series in self.all():
            if (series.namespace, series.name, series.dimensions) == (namespace, name, key):
                return series
        return None
