"""Records as SageMaker's answers: the Describe* documents and the List* pages (the other half of
the wire layer, next to ``api.py``).

A Describe* answer is the record's description with the defaults AWS fills in (defaults.py); a
List* answer filters the descriptions (NameContains, the time ranges, StatusEquals), sorts and
pages them (common.py's one NextToken scheme) and keeps each summary's fields.
Relies on records.py, defaults.py and common.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import Doc
from . import common, defaults
from .records import Model, TrainingJob, TuningJob

_TRAINING_SUMMARY = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)
_TUNING_SUMMARY = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)


def describe_training_job(job: TrainingJob) -> Doc:
    return defaults.training_spec(job.description)


def describe_tuning_job(job: TuningJob) -> Doc:
    out = dict(job.description)
    out["TrainingJobDefinition"] = defaults.tuning_definition(
        out["TrainingJobDefinition"], job.objective["MetricName"]
    )
    return out


def describe_model(model: Model) -> Doc:
    out = dict(model.description)
    if out.get("PrimaryContainer"):
        out["PrimaryContainer"] = defaults.model_container(out["PrimaryContainer"])
    if out.get("Containers"):
        out["Containers"] = [defaults.model_container(c) for c in out["Containers"]]
    return out


def _fields(*names: str) -> Callable[[Doc], Doc]:
    return lambda doc: {k: doc[k] for k in names if k in doc}


def _tuning_summary(doc: Doc) -> Doc:
    summary = _fields(*_TUNING_SUMMARY)(doc)
    summary["Strategy"] = doc["HyperParameterTuningJobConfig"]["Strategy"]
    summary["ResourceLimits"] = doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
    return summary


@dataclass(frozen=True)
class Listing:
    """How one List* operation answers."""

    field: str  # the answer's list
    name: str  # the resource's name field (NameContains, SortBy=Name)
    status: str | None  # its status field (StatusEquals, SortBy=Status)
    default_sort: str
    default_order: str
    summary: Callable[[Doc], Doc]


TRAINING_JOBS = Listing(
    "TrainingJobSummaries",
    "TrainingJobName",
    "TrainingJobStatus",
    "CreationTime",
    "Ascending",
    _fields(*_TRAINING_SUMMARY),
)
TUNING_JOBS = Listing(
    "HyperParameterTuningJobSummaries",
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobStatus",
    "Name",
    "Ascending",
    _tuning_summary,
)
MODELS = Listing(
    "Models",
    "ModelName",
    None,
    "CreationTime",
    "Descending",
    _fields("ModelName", "ModelArn", "CreationTime"),
)
ENDPOINT_CONFIGS = Listing(
    "EndpointConfigs",
    "EndpointConfigName",
    None,
    "CreationTime",
    "Descending",
    _fields("EndpointConfigName", "EndpointConfigArn", "CreationTime"),
)
ENDPOINTS = Listing(
    "Endpoints",
    "EndpointName",
    "EndpointStatus",
    "CreationTime",
    "Descending",
    _fields("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus"),
)


def list_page(listing: Listing, descriptions: list[Doc], params: dict[str, Any]) -> Doc:
    """One page of a List* answer over ``descriptions`` (oldest first)."""
    docs = common.list_filters(descriptions, params, name_field=listing.name)
    if listing.status and params.get("StatusEquals"):
        docs = [d for d in docs if d[listing.status] == params["StatusEquals"]]
    names = (listing.name, "CreationTime", *((listing.status,) if listing.status else ()))
    return common.list_page(
        listing.field,
        docs,
        params,
        summary=listing.summary,
        sort_fields=common.by_fields(*names),
        default_sort=listing.default_sort,
        default_order=listing.default_order,
    )


def list_trial_jobs(summaries: list[Doc], params: dict[str, Any]) -> Doc:
    """ListTrainingJobsForHyperParameterTuningJob over a tuning job's trial summaries."""
    if params.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
    if params.get("SortBy") == "FinalObjectiveMetricValue":
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    sort_fields = common.by_fields("TrainingJobName", "CreationTime", "TrainingJobStatus")
    sort_fields["FinalObjectiveMetricValue"] = lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"][
        "Value"
    ]
    return common.list_page(
        "TrainingJobSummaries",
        summaries,
        params,
        sort_fields=sort_fields,
        default_sort="Name",
        default_order="Ascending",
    )
