"""Each console page's context: one function per page, from ``data.py`` reads to template values.

A page function takes the :class:`ConsoleData` and the request's path and query parameters and
returns the dict its template renders (``views.py`` and the SVG modules do the shaping). They
block (service calls), so the routes run them in a worker thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from . import charts, graph, views
from .data import PAGE, ConsoleData, epoch

Params = Mapping[str, str]
SHOWN_VISITS = 200  # history rows on the execution page: the latest state visits


def executions(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    rows = data.executions()
    return {"title": "Executions", "section": "executions", "rows": rows, "final": False, "page": PAGE}


def execution(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    arn = query.get("arn", "")
    found = data.execution(arn)
    described = found["execution"]
    definition = json.loads(found["definition"])
    result = graph.outcomes(found["events"], described["status"])
    return {
        "title": described["name"],
        "section": "executions",
        "execution": described,
        "graph": graph.svg(graph.layout(definition), result),
        "current": result.current,
        "rows": views.state_rows(found["events"])[-SHOWN_VISITS:],
        "visits": sum(result.visits.values()),
        "events": len(found["events"]),
        "final": described["status"] != "RUNNING",
    }


def tuning_jobs(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    return {"title": "Tuning jobs", "section": "tuning", "rows": data.tuning_jobs(), "final": False}


def tuning_job(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    found = data.tuning_job(path["name"])
    job = found["job"]
    best = (job.get("BestTrainingJob") or {}).get("TrainingJobName")
    rows = views.trial_rows(found["trials"], best)
    objective = job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    tuned = views.ranges(job)
    scatters = [
        {
            "name": item["name"],
            "svg": charts.scatter(
                views.hyperparameter_points(rows, item),
                item["name"],
                objective["MetricName"],
                x_log=item["log"],
                names=item["values"] or None,
            ),
        }
        for item in tuned
    ]
    return {
        "title": job["HyperParameterTuningJobName"],
        "section": "tuning",
        "job": job,
        "objective": objective,
        "rows": rows,
        "tuned": [item["name"] for item in tuned],
        "by_trial": charts.scatter(
            views.objective_points(rows), "trial", objective["MetricName"], whole=True
        ),
        "scatters": scatters,
        "best": best,
        "final": job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"),
    }


def training_jobs(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    found = data.training_jobs(token=query.get("token") or None)
    return {
        "title": "Training jobs",
        "section": "training",
        "rows": found.get("TrainingJobSummaries", []),
        "next": found.get("NextToken"),
        "final": False,
    }


def training_job(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    job = data.training_job(path["name"])
    stream = data.training_stream(job["TrainingJobName"])  # its first host's log: curves and tail
    metrics = data.training_metrics(job, stream)
    final = job["TrainingJobStatus"] not in ("InProgress", "Stopping")
    rules = job.get("ProfilerRuleEvaluationStatuses", []) + job.get("DebugRuleEvaluationStatuses", [])
    profiler = data.profiler_output(job) if final else {"report": None, "rules": []}
    return {
        "title": job["TrainingJobName"],
        "section": "training",
        "job": job,
        "loss": charts.line_chart(views.epoch_series(metrics, "loss"), "epoch", "loss"),
        "accuracy": charts.line_chart(views.epoch_series(metrics, "accuracy"), "epoch", "accuracy"),
        "latest": views.final_metrics(metrics),
        "log": data.training_log_tail(stream),
        "rules": rules or profiler["rules"],  # configured rules' statuses, else train.py's rules.json
        "has_report": profiler["report"] is not None,
        "final": final,
    }


def endpoints(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    rows = []
    for summary in data.endpoints():
        found = data.endpoint(summary["EndpointName"])
        since = epoch(summary.get("CreationTime")) or time.time() - 3600
        variants = [
            {**v, "metrics": data.endpoint_metrics(summary["EndpointName"], v["VariantName"], since)}
            for v in found["variants"]
        ]
        rows.append({"endpoint": found["endpoint"], "variants": variants})
    return {"title": "Endpoints", "section": "endpoints", "rows": rows, "final": False}


def endpoint(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    found = data.endpoint(path["name"])
    described = found["endpoint"]
    since = epoch(described.get("CreationTime")) or time.time() - 3600
    variants = [
        {**v, "metrics": data.endpoint_metrics(described["EndpointName"], v["VariantName"], since)}
        for v in found["variants"]
    ]
    return {
        "title": described["EndpointName"],
        "section": "endpoints",
        "rows": [{"endpoint": described, "variants": variants}],
        "endpoint": described,
        "final": False,
    }


def buckets(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    return {"title": "S3", "section": "s3", "buckets": data.buckets(), "final": True}


def bucket(data: ConsoleData, path: Params, query: Params) -> dict[str, Any]:
    prefix = query.get("prefix", "")
    found = data.objects(path["bucket"], prefix, query.get("token") or None)
    parents = []
    parts = [p for p in prefix.split("/") if p]
    for i in range(len(parts)):
        parents.append({"name": parts[i], "prefix": "/".join(parts[: i + 1]) + "/"})
    return {
        "title": f"s3://{path['bucket']}/{prefix}",
        "section": "s3",
        "bucket": path["bucket"],
        "key_prefix": prefix,
        "parents": parents,
        **found,
        "final": True,
    }
