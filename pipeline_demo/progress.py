"""The demo's live view of an execution: its current state, the tuning trials, the retrain, and for
each job that trains its epoch, elapsed time and an estimate of what is left (from its metric lines
in the instance's state dir); a live table on a terminal, one line per change otherwise (80 columns).

Relies on boto3 clients aimed at localcloud (Step Functions, SageMaker), localcloud's log files
(``localcloud.logs.find_streams``) and rich.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from localcloud.clients import aws_client
from localcloud.config import Settings
from localcloud.logs import find_streams

EPOCH_LINE = re.compile(r"^epoch=(\d+) .*?epoch_seconds=([0-9.]+)", re.MULTILINE)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 60}:{seconds % 60:02d}"
        if seconds < 3600
        else f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    )


def epochs_total(job: dict[str, Any]) -> int | None:
    """The job's ``epochs`` hyperparameter (SageMaker passes hyperparameters as JSON-ish strings)."""
    value = str((job.get("HyperParameters") or {}).get("epochs", "")).strip('"')
    return int(value) if value.isdigit() else None


def training_progress(job: dict[str, Any], log_text: str, now: dt.datetime) -> str:
    """``epoch 3/4, 1:10 elapsed, ~0:40 left`` for a training job in progress, from its metric lines.

    train.py prints ``epoch=N ... epoch_seconds=S`` after each epoch (N counts from 1); what is
    left is the mean epoch time times the epochs to go, less the time spent in the current one.
    """
    status = str(job.get("TrainingJobStatus", ""))
    secondary = str(job.get("SecondaryStatus", ""))
    if status != "InProgress":
        return ""
    start = job.get("TrainingStartTime")
    if secondary != "Training" or not isinstance(start, dt.datetime):
        return secondary
    elapsed = (now - start).total_seconds()
    epochs = [(int(n), float(sec)) for n, sec in EPOCH_LINE.findall(log_text)]
    done = epochs[-1][0] if epochs else 0
    total = epochs_total(job)
    text = f"epoch {min(done + 1, total) if total else done + 1}/{total or '?'}, {_clock(elapsed)} elapsed"
    if epochs and total:
        mean = sum(sec for _, sec in epochs) / len(epochs)
        in_current = max(0.0, elapsed - sum(sec for _, sec in epochs))
        text += f", ~{_clock(max(0.0, mean * (total - done) - in_current))} left"
    return text


class Progress:
    """Polls the execution, its tuning trials and the retrain, and renders them (80 columns)."""

    def __init__(self, settings: Settings, execution_arn: str, logs_dir: Path | None = None) -> None:
        self.sfn = aws_client(settings, "stepfunctions")
        self.sm = aws_client(settings, "sagemaker")
        self.execution_arn = execution_arn
        self.logs_dir = logs_dir if logs_dir is not None else settings.state_dir
        self.state = "starting"
        self.tuning_job: str | None = None
        self.training_job: str | None = None
        self.trials: list[dict[str, Any]] = []
        self.training: dict[str, Any] | None = None
        self.description: dict[str, Any] = {}
        self.running: dict[str, str] = {}  # job name -> epoch/elapsed/left text

    def poll(self) -> str:
        self.description = self.sfn.describe_execution(executionArn=self.execution_arn)
        events = self.sfn.get_execution_history(
            executionArn=self.execution_arn, reverseOrder=True, maxResults=50
        )["events"]
        for event in events:
            details = event.get("stateEnteredEventDetails")
            if details:
                self.state = details["name"]
                break
        for event in reversed(events):
            output = (event.get("stateExitedEventDetails") or {}).get("output")
            if output:
                self._pick_job_names(json.loads(output))
        if self.tuning_job:
            self.trials = self.sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.tuning_job, MaxResults=100
            )["TrainingJobSummaries"]
        if self.training_job:
            try:
                self.training = self.sm.describe_training_job(TrainingJobName=self.training_job)
            except self.sm.exceptions.ClientError:
                self.training = None
        self._progress()
        return str(self.description["status"])

    def _progress(self) -> None:
        """Epoch N/M, elapsed and left for every job in progress, from its log stream."""
        running = [t["TrainingJobName"] for t in self.trials if t["TrainingJobStatus"] == "InProgress"]
        self.running = {}
        for name in running + ([self.training_job] if self.training else []):
            job = self.training if name == self.training_job else None
            if job is None:
                try:
                    job = self.sm.describe_training_job(TrainingJobName=name)
                except self.sm.exceptions.ClientError:
                    continue
            streams = find_streams(self.logs_dir, name)
            text = streams[0].read_text(errors="replace") if streams else ""
            shown = training_progress(job, text, dt.datetime.now(dt.UTC))
            if shown:
                self.running[name] = shown

    def _pick_job_names(self, doc: Any) -> None:
        """Job names from the state document the app's steps pass along (``names``)."""
        names = doc.get("names") if isinstance(doc, dict) else None
        if isinstance(names, dict):
            self.tuning_job = names.get("tuningJob") or self.tuning_job
            if doc.get("retrain"):  # the retrain was started (no describe before that)
                self.training_job = names.get("retrainJob") or self.training_job

    def _trial_name(self, name: str) -> str:
        return name.removeprefix(f"{self.tuning_job}-") if self.tuning_job else name

    def render(self) -> Group:
        head = Table.grid(padding=(0, 1))
        head.add_row(
            "[bold]execution[/]",
            self.execution_arn.rsplit(":", 1)[-1],
            "[bold]state[/]",
            f"[cyan]{self.state}[/]",
            str(self.description.get("status", "RUNNING")),
        )
        parts: list[Any] = [head]
        if self.trials:
            table = Table(title=f"tuning {self.tuning_job}", title_justify="left", box=box.SIMPLE_HEAD)
            table.add_column("trial", no_wrap=True)
            table.add_column("status", no_wrap=True)
            table.add_column("hyperparameters")
            table.add_column("objective", justify="right", no_wrap=True)
            for trial in sorted(self.trials, key=lambda t: t["TrainingJobName"]):
                objective = trial.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
                hps = ", ".join(
                    f"{k}={short_number(v)}" for k, v in sorted(trial.get("TunedHyperParameters", {}).items())
                )
                table.add_row(
                    self._trial_name(trial["TrainingJobName"]),
                    trial["TrainingJobStatus"],
                    hps,
                    "" if objective is None else f"{objective:.4f}",
                )
            parts.append(table)
            for trial in sorted(self.trials, key=lambda t: t["TrainingJobName"]):
                shown = self.running.get(trial["TrainingJobName"])
                if shown:
                    parts.append(f"  [bold]{self._trial_name(trial['TrainingJobName'])}[/] {shown}")
        if self.training:
            metrics = {m["MetricName"]: m["Value"] for m in self.training.get("FinalMetricDataList", [])}
            shown = metrics.get("valid:accuracy")
            status = self.running.get(str(self.training_job)) or self.training["TrainingJobStatus"]
            parts.append(
                f"[bold]retrain[/] {status}"
                + ("" if shown is None else f", valid:accuracy {shown:.4f}")
                + f"\n  {self.training_job}"
            )
        return Group(*parts)

    def line(self) -> str:
        done = sum(t["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") for t in self.trials)
        text = f"state={self.state} trials={done}/{len(self.trials)}"
        if self.training:
            text += f" retrain={self.training['TrainingJobStatus']}"
        for name, shown in self.running.items():
            label = "retrain" if name == self.training_job else self._trial_name(name)
            text += f" | {label} {shown}"
        return text


def short_number(value: Any) -> str:
    try:
        number = float(str(value).strip('"'))
    except ValueError:
        return str(value)
    return f"{number:.3g}"


def follow(progress: Progress, console: Console, poll_seconds: float = 1.0) -> dict[str, Any]:
    """Poll until the execution ends; live table on a terminal, one line per change otherwise.

    Off a terminal a line is printed when the state, a trial or an epoch changes, and at least
    every 30 s while a job trains (with its elapsed time and what is left).
    """
    if console.is_terminal:
        with Live(progress.render(), console=console, refresh_per_second=4) as live:
            while progress.poll() == "RUNNING":
                live.update(progress.render())
                time.sleep(poll_seconds)
            live.update(progress.render())
    else:
        last_key, last_at = "", 0.0
        while progress.poll() == "RUNNING":
            line = progress.line()
            key = re.sub(r"[\d:hm]+ elapsed, ~[\d:hm]+ left|[\d:hm]+ elapsed", "", line)
            key = re.sub(r"state=(WaitFor|Check)?(\w+?)(Completed\?)?( |$)", r"state=\2\4", key)
            if key != last_key or (progress.running and time.monotonic() - last_at > 30):
                console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}", highlight=False, soft_wrap=True)
                last_key, last_at = key, time.monotonic()
            time.sleep(poll_seconds)
        console.print(progress.render())
    return progress.description
