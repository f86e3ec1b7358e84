"""``localcloud status``: what a running instance is doing, read through its AWS APIs with boto3.

Sections in :data:`SECTIONS`, each a function ``(clients) -> Section`` (see
:mod:`localcloud.status_format`): Step Functions executions (from ``stepfunctions.status_table``),
tuning jobs, training jobs, endpoints, the template's functions (logical ID and function name, the
names ``localcloud logs`` takes). Tables fit 80 columns; failure reasons go on lines of their own
under their table. Ends with the state dir and its size on disk. Exit status 1 when nothing
answers on the edge port. Relies on boto3 and rich.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console, Group, RenderableType
from rich.table import Table

from .clients import aws_client
from .config import Settings
from .logs import logical_ids
from .ports import localcloud_health
from .status_format import Section, duration, note, when
from .status_format import table as new_table
from .stepfunctions.status_table import executions_section

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


def _status(text: str, shown: str | None = None) -> str:
    style = _STATUS_STYLE.get(text)
    shown = shown or text
    return f"[{style}]{shown}[/{style}]" if style else shown


def _all(call: Callable[..., dict[str, Any]], key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**params)
        items.extend(page.get(key, []))
        if not page.get("NextToken"):
            return items
        params["NextToken"] = page["NextToken"]


def _named_table(title: str, columns: tuple[str, ...]) -> Table:
    """A section's table: a Name column that folds, then short columns that never wrap."""
    table = new_table(title)
    table.add_column("Name", overflow="fold")
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def _newest(call: Callable[..., dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Every item a SageMaker List* call returns, newest first."""
    return _all(call, key, SortBy="CreationTime", SortOrder="Descending", MaxResults=100)


def _body(table: Table, notes: list[Any]) -> RenderableType | None:
    return Group(table, *notes) if table.row_count else None


def training_jobs(clients: Clients) -> Section:
    sm = clients["sagemaker"]
    table = _named_table("Training jobs", ("Status", "Started", "Duration", "valid acc"))
    notes = []
    for summary in _newest(sm.list_training_jobs, "TrainingJobSummaries"):
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        accuracy = metrics.get("valid:accuracy")
        status = job["TrainingJobStatus"]
        shown = job.get("SecondaryStatus") if status == "InProgress" else status
        table.add_row(
            job["TrainingJobName"],
            _status(status, shown),
            when(job.get("TrainingStartTime") or job.get("CreationTime")),
            duration(job.get("TrainingStartTime"), job.get("TrainingEndTime")),
            "" if accuracy is None else f"{accuracy:.4f}",
        )
        if job.get("FailureReason"):
            notes.append(note(job["TrainingJobName"], job["FailureReason"]))
    return Section("Training jobs", _body(table, notes))


def tuning_jobs(clients: Clients) -> Section:
    sm = clients["sagemaker"]
    table = _named_table("Hyperparameter tuning jobs", ("Status", "Strategy", "Done/run/fail", "Best"))
    notes = []
    for summary in _newest(sm.list_hyper_parameter_tuning_jobs, "HyperParameterTuningJobSummaries"):
        job = sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
        )
        counters = job["TrainingJobStatusCounters"]
        failed = counters.get("NonRetryableError", 0) + counters.get("RetryableError", 0)
        best = job.get("BestTrainingJob") or {}
        metric = best.get("FinalHyperParameterTuningJobObjectiveMetric")
        table.add_row(
            job["HyperParameterTuningJobName"],
            _status(job["HyperParameterTuningJobStatus"]),
            job["HyperParameterTuningJobConfig"]["Strategy"],
            f"{counters.get('Completed', 0)}/{counters.get('InProgress', 0)}/{failed}",
            f"{metric['Value']:.4f}" if metric else "",
        )
        if best.get("TrainingJobName"):
            objective = f" ({metric['MetricName']})" if metric else ""
            notes.append(
                note(job["HyperParameterTuningJobName"], f"best {best['TrainingJobName']}{objective}", "")
            )
        if job.get("FailureReason"):
            notes.append(note(job["HyperParameterTuningJobName"], job["FailureReason"]))
    return Section("Hyperparameter tuning jobs", _body(table, notes))


def endpoints(clients: Clients) -> Section:
    sm = clients["sagemaker"]
    table = _named_table("Endpoints", ("Status", "Instances", "Created"))
    notes = []
    for summary in _newest(sm.list_endpoints, "Endpoints"):
        endpoint = sm.describe_endpoint(EndpointName=summary["EndpointName"])
        instances = sum(v.get("CurrentInstanceCount", 0) for v in endpoint.get("ProductionVariants", []))
        table.add_row(
            endpoint["EndpointName"],
            _status(endpoint["EndpointStatus"]),
            str(instances),
            when(endpoint.get("CreationTime")),
        )
        if endpoint.get("FailureReason"):
            notes.append(note(endpoint["EndpointName"], endpoint["FailureReason"]))
    return Section("Endpoints", _body(table, notes))


def functions(clients: Clients) -> Section:
    """Lambda function names (with the template's logical ID when the name does not show it).

    ``localcloud logs`` takes either. One column: a template's function names run to 60
    characters, and the logical ID is usually part of them.
    """
    logical = {physical: name for name, physical in clients.get("logical_ids", {}).items()}
    table = new_table("Functions (localcloud logs takes the name or the logical ID)")
    table.add_column("Function name", overflow="fold")
    for function in _all(clients["lambda"].list_functions, "Functions", MaxItems=50):
        name = function["FunctionName"]
        logical_id = logical.get(name, "")
        table.add_row(name if logical_id in name else f"{name} ({logical_id})")
    return Section("Functions", _body(table, []))


# Sections in display order.
SECTIONS: list[Callable[[Clients], Section]] = [
    executions_section,
    tuning_jobs,
    training_jobs,
    endpoints,
    functions,
]


def disk_usage(path: Path) -> int:
    """Bytes on disk under ``path``; hard links (S3 objects linked into jobs) counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = (Path(root) / name).lstat()
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512 if hasattr(stat, "st_blocks") else stat.st_size
    return total


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def print_status(settings: Settings, console: Console | None = None) -> int:
    """Print every section; 1 when localcloud does not answer at ``settings.edge_url``."""
    console = console or Console()
    doc, answer = localcloud_health(settings.edge_url)
    if doc is None:
        console.print(
            f"[red]localcloud does not answer on {settings.edge_url} ({answer})[/red]: start it with "
            "`localcloud up`, or pass --port if it serves another port",
            highlight=False,
        )
        return 1
    state_dir = Path(str(doc.get("stateDir") or settings.state_dir))
    clients: Clients = {
        name: aws_client(settings, name, attempts=1, connect_timeout=2, read_timeout=10)
        for name in ("sagemaker", "stepfunctions", "lambda")
    }
    clients["logical_ids"] = logical_ids(state_dir)
    try:
        sections = [section(clients) for section in SECTIONS]
    except (BotoCoreError, ClientError) as exc:
        console.print(f"[red]localcloud at {settings.edge_url} did not answer: {exc}[/red]", highlight=False)
        return 1
    console.print(f"localcloud at {settings.edge_url} (pid {doc.get('pid', '?')})", highlight=False)
    for section in sections:
        console.print()
        if section.body is None:
            console.print(f"[dim]{section.title}: none[/dim]")
        else:
            console.print(section.body)
    console.print()
    console.print(f"[bold]state dir[/] {human_size(disk_usage(state_dir))}", highlight=False)
    console.print(f"  {state_dir}", highlight=False, soft_wrap=True)
    return 0
