"""ListMetrics over many training jobs with long metric series names the same metrics as reading
every series would, without reading any series (localcloud/cloudwatch/models.py). The jobs are
documents as SageMaker keeps them: ``_series`` and the ``FinalMetricDataList`` derived from it by
localcloud/sagemaker/metrics.py."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloudwatch import CloudWatchService
from localcloud.cloudwatch.models import TRAINING_NAMESPACE
from localcloud.sagemaker.common import TRAINING_JOB as TRAINING_JOB_KIND
from localcloud.sagemaker.metrics import final_metrics
from localcloud.sagemaker.records import Records, TrainingJob, TrainingMetricsView
from localcloud.store import Doc, Store

METRICS = ("train:loss", "valid:loss", "train:accuracy", "valid:accuracy")


class ReadingStore(Store):
    """A store that keeps every document it hands out."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.read: list[Doc] = []

    def get(self, kind: str, name: str) -> Doc | None:
        doc = super().get(kind, name)
        self.read.extend([doc] if doc else [])
        return doc

    def list(self, kind: str, prefix: str = "", *, omit: Sequence[str] = ()) -> list[Doc]:
        docs = super().list(kind, prefix, omit=omit)
        self.read.extend(docs)
        return docs


def _job(i: int, now: float) -> Doc:
    name = f"Job-{i:04d}"
    recent = i % 3 == 0  # a third printed their last metric within the hour, the rest days ago
    end = now - (600 if recent else 5 * 86400)
    metrics = METRICS[: 1 + i % 4]  # 1 to 4 metrics
    series = {m: [[end - 10 * (50 - j), random.random()] for j in range(50)] for m in metrics}
    doc: Doc = {"TrainingJobName": name, "TrainingJobStatus": "Completed", "_series": series}
    if i % 7:
        doc["FinalMetricDataList"] = final_metrics(series)
    else:  # a job that printed no metric
        doc["_series"] = {}
    return doc


def _reference(store: Store, params: dict[str, Any]) -> list[dict[str, Any]]:
    """What ListMetrics answered when it read every job's series (the earlier implementation)."""
    namespace, name = params.get("Namespace"), params.get("MetricName")
    filters = params.get("Dimensions") or []
    since = time.time() - 3 * 3600
    found = []
    for doc in store.list(TRAINING_JOB_KIND):
        job = doc["TrainingJobName"]
        for metric, points in sorted(doc["_series"].items()):
            for dims in ({"Host": f"{job}/algo-1"}, {"TrainingJobName": job}):
                if (namespace and namespace != TRAINING_NAMESPACE) or (name and name != metric):
                    continue
                if any(
                    f["Name"] not in dims or ("Value" in f and dims[f["Name"]] != f["Value"]) for f in filters
                ):
                    continue
                if params.get("RecentlyActive") and not any(t >= since for t, _ in points):
                    continue
                listed = [{"Name": k, "Value": v} for k, v in dims.items()]
                found.append({"Namespace": TRAINING_NAMESPACE, "MetricName": metric, "Dimensions": listed})
    return found


def _all_pages(service: CloudWatchService, params: dict[str, Any]) -> list[dict[str, Any]]:
    metrics, token = [], None
    while True:
        page = service.dispatch("ListMetrics", {**params, **({"NextToken": token} if token else {})})
        metrics += page["Metrics"]
        token = page.get("NextToken")
        if not token:
            return metrics


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Namespace": TRAINING_NAMESPACE},
        {"MetricName": "valid:accuracy"},
        {"Dimensions": [{"Name": "Host"}]},
        {"Dimensions": [{"Name": "TrainingJobName", "Value": "Job-0005"}]},
        {
            "Namespace": TRAINING_NAMESPACE,
            "Dimensions": [{"Name": "TrainingJobName"}],
            "RecentlyActive": "PT3H",
        },
    ],
)
def test_list_metrics_names_every_series_without_reading_one(tmp_path: Path, params: dict[str, Any]) -> None:
    random.seed(1)
    store = ReadingStore(tmp_path / "state.db")
    now = time.time()
    for i in range(300):
        store.put(TRAINING_JOB_KIND, f"job-{i:04d}", _job(i, now))
    service = CloudWatchService(
        store=store, training=TrainingMetricsView(Records(store, TRAINING_JOB_KIND, TrainingJob))
    )
    expected = _reference(store, params)
    store.read.clear()
    listed = _all_pages(service, params)
    assert listed == expected and listed
    assert len(listed) > 500 or params  # several pages when unfiltered
    assert [doc for doc in store.read if "_series" in doc] == []
    store.close()


def test_one_series_is_read_for_its_job_alone_by_its_exact_name(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "state.db")
    now = time.time()
    jobs = [_job(i, now) for i in range(5)]
    for i, job in enumerate(jobs):
        store.put(TRAINING_JOB_KIND, f"job-{i:04d}", job)
    service = CloudWatchService(
        store=store, training=TrainingMetricsView(Records(store, TRAINING_JOB_KIND, TrainingJob))
    )
    store.read.clear()
    expected = sorted(jobs[3]["_series"]["train:loss"])
    for dimension in (
        {"Name": "Host", "Value": "Job-0003/algo-1"},
        {"Name": "TrainingJobName", "Value": "Job-0003"},
    ):
        found = service.source.find(TRAINING_NAMESPACE, "train:loss", [dimension])
        assert found is not None and [list(p) for p in found.points] == expected
    assert {doc["TrainingJobName"] for doc in store.read} == {"Job-0003"}
    # dimension values are case-sensitive in CloudWatch, though SageMaker's job names are not
    assert (
        service.source.find(
            TRAINING_NAMESPACE, "train:loss", [{"Name": "TrainingJobName", "Value": "job-0003"}]
        )
        is None
    )
    assert (
        service.source.find(TRAINING_NAMESPACE, "valid:loss", [{"Name": "Host", "Value": "Job-0009/algo-1"}])
        is None
    )
    store.close()
