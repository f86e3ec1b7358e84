"""``localcloud status``: what a running instance is doing, read through its AWS APIs with boto3.

One rich table per section: training jobs, tuning jobs, endpoints. Each section is a function
``(clients) -> Table`` listed in :data:`SECTIONS`, the Step Functions executions section included
(from ``stepfunctions.status_table``). Exit status 1 when nothing answers on the edge port.
Relies on boto3 and rich.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from .clients import aws_client
from .config import Settings
from .stepfunctions.status_table import executions_table

Clients = dict[str, Any]
_STATUS_STYLE = {
    "Completed": "green",
    "InService": "green",
    "Succeeded": "green",
    "InProgress": "yellow",
    "Creating": "yellow",
    "Updating": "yellow",
    "Stopping": "yellow",
    "Running": "yellow",
    "Failed": "red",
    "Stopped": "magenta",
    "Deleting": "magenta",
}


def _status(text: str) -> str:
    style = _STATUS_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def _when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None:
        return ""
    seconds = int(((end or dt.datetime.now(dt.UTC)) - start).total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _all(call: Callable[..., dict[str, Any]], key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**params)
        items.extend(page.get(key, []))
        if not page.get("NextToken"):
            return items
        params["NextToken"] = page["NextToken"]


def training_jobs(clients: Clients) -> Table:
    sm = clients["sagemaker"]
    table = Table(title="Training jobs", title_justify="left")
    for column in ("Name", "Status", "Secondary status", "Created", "Duration", "Final metrics"):
        table.add_column(column)
    for summary in _all(
        sm.list_training_jobs,
        "TrainingJobSummaries",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=100,
    ):
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        metrics = ", ".join(f"{m['MetricName']}={m['Value']:.4g}" for m in job.get("FinalMetricDataList", []))
        if job.get("FailureReason"):
            metrics = f"[red]{job['FailureReason'].splitlines()[0][:80]}[/red]"
        table.add_row(
            job["TrainingJobName"],
            _status(job["TrainingJobStatus"]),
            job.get("SecondaryStatus", ""),
            _when(job.get("CreationTime")),
            _duration(job.get("TrainingStartTime"), job.get("TrainingEndTime")),
            metrics,
        )
    return table


def tuning_jobs(clients: Clients) -> Table:
    sm = clients["sagemaker"]
    table = Table(title="Hyperparameter tuning jobs", title_justify="left")
    for column in (
        "Name",
        "Status",
        "Strategy",
        "Jobs (done/running/failed/stopped)",
        "Best training job",
        "Objective",
    ):
        table.add_column(column)
    for summary in _all(
        sm.list_hyper_parameter_tuning_jobs,
        "HyperParameterTuningJobSummaries",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=100,
    ):
        job = sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
        )
        counters = job["TrainingJobStatusCounters"]
        failed = counters.get("NonRetryableError", 0) + counters.get("RetryableError", 0)
        best = job.get("BestTrainingJob") or {}
        metric = best.get("FinalHyperParameterTuningJobObjectiveMetric")
        objective = f"{metric['MetricName']}={metric['Value']:.4g}" if metric else ""
        table.add_row(
            job["HyperParameterTuningJobName"],
            _status(job["HyperParameterTuningJobStatus"]),
            job["HyperParameterTuningJobConfig"]["Strategy"],
            f"{counters.get('Completed', 0)}/{counters.get('InProgress', 0)}/{failed}/"
            f"{counters.get('Stopped', 0)}",
            best.get("TrainingJobName", ""),
            objective,
        )
    return table


def endpoints(clients: Clients) -> Table:
    sm = clients["sagemaker"]
    table = Table(title="Endpoints", title_justify="left")
    for column in ("Name", "Status", "Endpoint config", "Instances", "Created", "Note"):
        table.add_column(column)
    for summary in _all(
        sm.list_endpoints, "Endpoints", SortBy="CreationTime", SortOrder="Descending", MaxResults=100
    ):
        endpoint = sm.describe_endpoint(EndpointName=summary["EndpointName"])
        instances = sum(v.get("CurrentInstanceCount", 0) for v in endpoint.get("ProductionVariants", []))
        table.add_row(
            endpoint["EndpointName"],
            _status(endpoint["EndpointStatus"]),
            endpoint.get("EndpointConfigName", ""),
            str(instances),
            _when(endpoint.get("CreationTime")),
            (endpoint.get("FailureReason") or "")[:80],
        )
    return table


# Sections in display order. Step Functions executions: add ``executions`` (a (clients) -> Table
# function over stepfunctions.list_state_machines / list_executions) to this list.
SECTIONS: list[Callable[[Clients], Table]] = [executions_table, tuning_jobs, training_jobs, endpoints]


def print_status(settings: Settings, console: Console | None = None) -> int:
    """Print every section; 1 when localcloud does not answer at ``settings.edge_url``."""
    console = console or Console()
    clients: Clients = {
        name: aws_client(settings, name, attempts=1, connect_timeout=2, read_timeout=10)
        for name in ("sagemaker", "stepfunctions")
    }
    try:
        tables = [section(clients) for section in SECTIONS]
    except (BotoCoreError, ClientError) as exc:
        console.print(f"[red]localcloud at {settings.edge_url} did not answer: {exc}[/red]")
        return 1
    console.print(f"localcloud at {settings.edge_url} (state {settings.state_dir})")
    for table in tables:
        if table.row_count:
            console.print(table)
        else:
            console.print(f"[dim]{table.title}: none[/dim]")
    return 0
