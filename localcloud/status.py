"""``localcloud status``: what a running instance is doing, read through its AWS APIs with boto3.

Sections in :data:`SECTIONS`, each a function ``(View) -> Section`` (see
:mod:`localcloud.status_format`): Step Functions executions (from ``stepfunctions.status_table``),
tuning jobs, training jobs (with their final metrics), endpoints, the template's functions
(logical ID and function name, the names ``localcloud logs`` takes). Each shows its newest
``limit`` items (all with None) and says in one line how many more there are; only the items
shown are described (:mod:`localcloud.status_listing` counts the rest from List* pages). Tables
fit 80 columns; failure reasons go on lines of their own under their table. Ends with the state
dir and its size on disk. Exit status 1 when nothing answers on the edge port. Relies on boto3
and rich.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .clients import aws_client
from .config import Settings
from .logs import logical_ids
from .ports import localcloud_health
from .status_format import Section, duration, metrics, more, note, when
from .status_format import table as new_table
from .status_listing import Listing, newest, pages, take
from .stepfunctions.status_table import executions_section

Clients = dict[str, Any]
DEFAULT_LIMIT = 10
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


def _named_table(title: str, columns: tuple[str, ...]) -> Table:
    """A section's table: a Name column that folds, then short columns that never wrap."""
    table = new_table(title)
    table.add_column("Name", overflow="fold")
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


@dataclass
class View:
    """What the sections read: boto3 clients, how many items each shows, what was described.

    ``limit`` None shows every item. ``logical_ids`` maps the template's logical IDs to function
    names. Tuning jobs are described once: the tuning section's descriptions give the training
    section its objectives.
    """

    clients: Clients
    limit: int | None = DEFAULT_LIMIT
    logical_ids: dict[str, str] = field(default_factory=dict)
    tuning: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def tuning_job(self, name: str) -> dict[str, Any] | None:
        """DescribeHyperParameterTuningJob of ``name``, once; None when it is not found.

        Cached by the lower-cased name: SageMaker's names are case-insensitive, and a training
        job's TuningJobArn holds its tuning job's name lower-cased.
        """
        key = name.lower()
        if key not in self.tuning:
            try:
                self.tuning[key] = self.clients["sagemaker"].describe_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=name
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFound":
                    raise
                self.tuning[key] = None
        return self.tuning[key]

    def objective(self, job: dict[str, Any]) -> str | None:
        """The objective metric of the tuning job that launched ``job`` (None for a job of its own)."""
        arn = job.get("TuningJobArn")
        if not arn or len(job.get("FinalMetricDataList", [])) < 2:
            return None  # nothing to put first, so nothing to look up
        tuning = self.tuning_job(str(arn).rsplit("/", 1)[-1]) or {}
        config = tuning.get("HyperParameterTuningJobConfig", {})
        name = config.get("HyperParameterTuningJobObjective", {}).get("MetricName")
        return str(name) if name else None


def _section(title: str, table: Table, listing: Listing, noun: str, notes: list[Text]) -> Section:
    """The table, a line for the items it leaves out, then its notes; no body when it is empty."""
    if not table.row_count:
        return Section(title, None)
    left_out = [more(listing.more, noun)] if listing.more else []
    return Section(title, Group(table, *left_out, *notes))


def training_jobs(view: View) -> Section:
    sm = view.clients["sagemaker"]
    table = _named_table("Training jobs", ("Status", "Started", "Duration"))
    table.add_column("Metrics", overflow="fold")  # wraps between metrics when the row is long
    listing = newest(sm.list_training_jobs, "TrainingJobSummaries", view.limit)
    notes = []
    for summary in listing.shown:
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        status = job["TrainingJobStatus"]
        shown = job.get("SecondaryStatus") if status == "InProgress" else status
        table.add_row(
            job["TrainingJobName"],
            _status(status, shown),
            when(job.get("TrainingStartTime") or job.get("CreationTime")),
            duration(job.get("TrainingStartTime"), job.get("TrainingEndTime")),
            metrics(job.get("FinalMetricDataList", []), view.objective(job)),
        )
        if job.get("FailureReason"):
            notes.append(note(job["TrainingJobName"], job["FailureReason"]))
    return _section("Training jobs", table, listing, "training job", notes)


def _tuning_row(table: Table, job: dict[str, Any]) -> list[Text]:
    """``job``'s row in ``table``; its notes (best training job, failure reason)."""
    counters = job["TrainingJobStatusCounters"]
    failed = counters.get("NonRetryableError", 0) + counters.get("RetryableError", 0)
    best = job.get("BestTrainingJob") or {}
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric")
    name = job["HyperParameterTuningJobName"]
    table.add_row(
        name,
        _status(job["HyperParameterTuningJobStatus"]),
        job["HyperParameterTuningJobConfig"]["Strategy"],
        f"{counters.get('Completed', 0)}/{counters.get('InProgress', 0)}/{failed}",
        f"{metric['Value']:.4f}" if metric else "",
    )
    notes = []
    if best.get("TrainingJobName"):
        objective = f" ({metric['MetricName']})" if metric else ""
        notes.append(note(name, f"best {best['TrainingJobName']}{objective}", ""))
    if job.get("FailureReason"):
        notes.append(note(name, job["FailureReason"]))
    return notes


def tuning_jobs(view: View) -> Section:
    sm = view.clients["sagemaker"]
    table = _named_table("Hyperparameter tuning jobs", ("Status", "Strategy", "Done/run/fail", "Best"))
    listing = newest(sm.list_hyper_parameter_tuning_jobs, "HyperParameterTuningJobSummaries", view.limit)
    notes = []
    for summary in listing.shown:
        job = view.tuning_job(summary["HyperParameterTuningJobName"])
        if job is not None:  # None: gone between the list and the describe
            notes.extend(_tuning_row(table, job))
    return _section("Hyperparameter tuning jobs", table, listing, "tuning job", notes)


def endpoints(view: View) -> Section:
    sm = view.clients["sagemaker"]
    table = _named_table("Endpoints", ("Status", "Instances", "Created"))
    listing = newest(sm.list_endpoints, "Endpoints", view.limit)
    notes = []
    for summary in listing.shown:
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
    return _section("Endpoints", table, listing, "endpoint", notes)


def functions(view: View) -> Section:
    """Lambda function names (with the template's logical ID when the name does not show it).

    ``localcloud logs`` takes either. One column: a template's function names run to 60
    characters, and the logical ID is usually part of them. In the order ListFunctions gives:
    Lambda lists no creation time to sort by.
    """
    logical = {physical: name for name, physical in view.logical_ids.items()}
    table = new_table("Functions (localcloud logs takes the name or the logical ID)")
    table.add_column("Function name", overflow="fold")
    listed = pages(
        view.clients["lambda"].list_functions,
        "Functions",
        token_in="Marker",
        token_out="NextMarker",
        MaxItems=50,
    )
    listing = take(listed, view.limit)
    for function in listing.shown:
        name = function["FunctionName"]
        logical_id = logical.get(name, "")
        table.add_row(name if logical_id in name else f"{name} ({logical_id})")
    return _section("Functions", table, listing, "function", [])


def executions(view: View) -> Section:
    """The newest ``view.limit`` executions of each state machine."""
    return executions_section(view.clients, per_machine=view.limit)


# Sections in display order.
SECTIONS: list[Callable[[View], Section]] = [
    executions,
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


def print_status(
    settings: Settings, console: Console | None = None, limit: int | None = DEFAULT_LIMIT
) -> int:
    """Print every section, the newest ``limit`` items of each (all with None).

    1 when localcloud does not answer at ``settings.edge_url``.
    """
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
    view = View(clients, limit, logical_ids(state_dir))
    try:
        sections = [section(view) for section in SECTIONS]
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
