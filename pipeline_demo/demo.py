"""``make demo`` (``pipeline-demo run``): the project's main job, the whole pipeline on this machine.

1. Data: ``--data`` (an ImageFolder root with train/valid/test) or a generated sample dataset
   (``python -m classifier.sample_data``, run as a subprocess: the demo drives the app from outside).
   A missing or empty split stops the demo before anything starts.
2. Starts ``localcloud up`` with the repository's template.yaml (or reuses one that already
   answers on the port; a port held by something else is reported, see :mod:`localcloud.ports`),
   and makes ``datasets/demo/`` in the template's bucket mirror the data (stale files deleted).
3. Starts an execution of the template's state machine with ``examples/local-input.json``, or
   follows one that is still RUNNING (after a restart) unless ``--new`` is given.
4. Shows live progress (current state, tuning trials, retrain; epoch N/M, elapsed and left for a
   training job, from its metric lines) with rich, in 80 columns.
5. Prints the outputs and a real prediction through the HTTP API, with the ``curl`` line to
   repeat it; keeps serving until Ctrl-C, or exits 0 right away with ``--once``.

localcloud going away (Ctrl-C of ``localcloud up``) or Ctrl-C of the demo ends it with one line
saying what happened and what to run. Everything goes through AWS's APIs with boto3 (and plain
HTTP for the API), exactly as a user would drive the real deployment; the training logs are read
from the instance's state dir.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.padding import Padding
from rich.table import Table

from localcloud.clients import aws_client
from localcloud.config import Settings
from localcloud.instance import NoStackError, spawn_up, stack_outputs, wait_ready
from localcloud.logs import find_streams
from localcloud.ports import localcloud_health, port_problems

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


class DemoError(Exception):
    """A failure the demo reports as one clear line (exit code 1)."""


@dataclass
class DemoOptions:
    settings: Settings
    data: Path | None
    input_file: Path
    once: bool
    new: bool = False
    sample_classes: int = 4


def ensure_sample_data(root: Path, classes: int, console: Console) -> Path:
    """Generate the procedural sample dataset once (marker file makes it idempotent)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    console.print(f"[bold]data[/] generating a {classes}-class sample dataset in {root}", soft_wrap=True)
    subprocess.run(
        [sys.executable, "-m", "classifier.sample_data", "--out", str(root), "--classes", str(classes)],
        check=True,
    )
    marker.write_text("ok\n")
    return root


def dataset_files(root: Path) -> list[Path]:
    """Every image of the train/valid/test splits, in a stable order."""
    return [
        p
        for split in SPLITS
        for p in sorted((root / split).rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]


def check_dataset(root: Path) -> None:
    """DemoError naming the split unless every split of ``root`` is a folder holding images."""
    if not root.is_dir():
        raise DemoError(f"--data {root}: no such folder (give an ImageFolder root with train/ valid/ test/)")
    missing = [split for split in SPLITS if not (root / split).is_dir()]
    if missing:
        raise DemoError(
            f"{root} is not an ImageFolder dataset with train/valid/test: missing {', '.join(missing)}"
        )
    empty = [split for split in SPLITS if not any(dataset_files_in(root / split))]
    if empty:
        raise DemoError(
            f"{root}: split {', '.join(empty)} has no images ({', '.join(sorted(IMAGE_SUFFIXES))} "
            "files in one folder per class); nothing was started"
        )


def dataset_files_in(split: Path) -> Iterator[Path]:
    return (p for p in split.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def upload_dataset(s3: Any, root: Path, bucket: str, prefix: str, console: Console) -> dict[str, str]:
    """Make s3://bucket/prefix/ mirror the train/valid/test images of ``root`` exactly.

    Objects already there with the same size are kept, others uploaded, and objects that are not
    in ``root`` deleted, so a run never trains on an earlier run's files (``aws s3 sync --delete``).
    """
    existing: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        existing.update({obj["Key"]: obj["Size"] for obj in page.get("Contents", [])})
    files = {f"{prefix}/{p.relative_to(root).as_posix()}": p for p in dataset_files(root)}
    todo = [(key, p) for key, p in files.items() if existing.get(key) != p.stat().st_size]
    stale = sorted(set(existing) - set(files))
    console.print(
        f"[bold]data[/] {len(files)} images; uploading {len(todo)}, deleting {len(stale)} "
        f"stale in s3://{bucket}/{prefix}/",
        highlight=False,
        soft_wrap=True,
    )
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]], "Quiet": True},
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: s3.upload_file(str(item[1]), bucket, item[0]), todo))
    return {split: f"s3://{bucket}/{prefix}/{split}/" for split in SPLITS}


def find_app(settings: Settings) -> tuple[str, str]:
    """The template's state machine ARN and bucket name, from the stack outputs."""
    try:
        outputs = stack_outputs(settings)
    except NoStackError as exc:
        raise DemoError(str(exc)) from exc
    try:
        return outputs["StateMachineArn"], outputs["BucketName"]
    except KeyError as exc:
        raise DemoError(
            f"template.yaml has no output {exc}; the demo needs StateMachineArn and BucketName"
        ) from exc


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
                    f"{k}={_short_number(v)}"
                    for k, v in sorted(trial.get("TunedHyperParameters", {}).items())
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


def _short_number(value: Any) -> str:
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


def local_report(state_dir: Path, output: dict[str, Any]) -> Path | None:
    """Extract the profiler report from the retrain's output.tar.gz into the state dir."""
    profiler = output.get("profiler") or {}
    uri = profiler.get("reportUri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    archive = state_dir / "s3" / bucket / key
    if not archive.is_file():
        return None
    folder = str(profiler.get("reportPath") or "profiler-report").strip("/")
    target = state_dir / "reports" / str(output.get("retrainJob", "retrain"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.removeprefix("./").startswith(f"{folder}/")]
        tar.extractall(target, members=members, filter="data")
    report = target / folder / "report.html"
    return report if report.is_file() else None


def predict(api_url: str, image: Path) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{api_url}/predict",
        data=image.read_bytes(),
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def first_test_image(root: Path) -> Path:
    for path in sorted((root / "test").rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    raise DemoError(f"no test image under {root / 'test'}")


def _hyperparameters(values: dict[str, Any]) -> str:
    shown = {k: v for k, v in values.items() if not k.startswith(("sagemaker_", "_"))}
    return ", ".join(f"{k}={_short_number(v)}" for k, v in sorted(shown.items()))


def _evaluation(evaluation: dict[str, Any]) -> str | None:
    """``top-1 0.9700, top-5 1.0000, macro F1 0.9698`` from the execution output's evaluation."""
    parts = [
        f"{label} {evaluation[key]:.4f}"
        for key, label in (("top1Accuracy", "top-1"), ("top5Accuracy", "top-5"), ("macroF1", "macro F1"))
        if isinstance(evaluation.get(key), (int, float))
    ]
    return ", ".join(parts) or None


def _deployed(output: dict[str, Any]) -> str | None:
    """``yes`` / ``no: the serving model was kept`` (the gate's reason follows under the table)."""
    if "deployed" not in output:
        return None
    return "yes" if output["deployed"] else "no: the serving model was kept (reason below)"


def print_outputs(console: Console, output: dict[str, Any], report: Path | None, api_url: str) -> None:
    """The outputs as a table that fits 80 columns; the model URI and report path on lines of their own."""
    table = Table(title="pipeline outputs", title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    objective = output.get("objective") or {}
    profiler = output.get("profiler") or {}
    rules = profiler.get("rules") or []
    triggered = [r["name"] for r in rules if r.get("status") == "IssuesFound"]
    endpoint = output.get("endpoint") or {}
    metrics = output.get("finalMetrics") or {}
    rows = [
        ("tuning job", output.get("tuningJob")),
        ("best trial", output.get("bestTrainingJob")),
        ("best hyperparameters", _hyperparameters(output.get("bestHyperparameters") or {})),
        ("best objective", f"{objective.get('metric')} = {objective.get('value')}"),
        ("retrain job", output.get("retrainJob")),
        (
            "retrain metrics",
            ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()) if k.endswith(("accuracy", "loss"))),
        ),
        (
            "profiler rules",
            f"{len(rules)} evaluated, {len(triggered)} found issues"
            + (f": {', '.join(triggered)}" if triggered else ""),
        ),
        ("test evaluation", _evaluation(output.get("evaluation") or {})),
        ("deployed", _deployed(output)),
        ("endpoint", f"{endpoint.get('name')} ({endpoint.get('status')})"),
        ("API", f"{api_url}/predict"),
    ]
    for name, value in rows:
        if value is not None:
            table.add_row(name, str(value))
    console.print(table)
    if output.get("reason"):  # prose: wrapped to the terminal, unlike the paths below
        console.print("[bold]deployment gate[/]", highlight=False)
        console.print(Padding(str(output["reason"]), (0, 0, 0, 2)), highlight=False)
    for label, value in (
        ("model", output.get("modelArtifact")),
        ("profiler report", str(report) if report else profiler.get("reportUri")),
    ):
        if value:
            console.print(f"[bold]{label}[/]", highlight=False)
            console.print(f"  {value}", highlight=False, soft_wrap=True)


def start_localcloud(
    settings: Settings, console: Console
) -> tuple[subprocess.Popen[bytes] | None, Path, str]:
    """Start ``localcloud up`` unless one already answers on the edge port (reused: proc None).

    Returns the process, the state dir and the HTTP API URL of the instance in use (a reused
    instance keeps the ports it was started with). A port held by something else
    is a DemoError saying which port, who holds it and what to do.
    """
    doc, _ = localcloud_health(settings.edge_url)
    if doc is not None:
        state_dir = Path(str(doc.get("stateDir") or settings.state_dir))
        console.print(
            f"[bold]localcloud[/] reusing the instance on {settings.edge_url} (pid {doc.get('pid', '?')}, "
            f"state dir {state_dir})",
            highlight=False,
            soft_wrap=True,
        )
        try:
            wait_ready(settings.edge_url, 120)
        except (RuntimeError, TimeoutError) as exc:
            raise DemoError(str(exc)) from None
        return None, state_dir, str(doc.get("api") or settings.api_url)
    problems = port_problems(settings)
    if problems:
        raise DemoError("; ".join(problems))
    proc = spawn_up(settings)
    console.print(
        f"[bold]localcloud[/] starting (pid {proc.pid}): edge {settings.edge_url}, "
        f"api {settings.api_url}, log {settings.state_dir / 'localcloud.log'}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        wait_ready(settings.edge_url, 180, proc)
    except (RuntimeError, TimeoutError) as exc:
        stop_localcloud(proc)
        raise DemoError(f"{exc}; see {settings.state_dir / 'localcloud.log'}") from None
    return proc, settings.state_dir, settings.api_url


def stop_localcloud(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def running_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    """Executions of the state machine still RUNNING (e.g. resumed after a restart), newest first."""
    listed = sfn.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=100)
    return sorted(listed.get("executions", []), key=lambda e: e["startDate"], reverse=True)


def read_input(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise DemoError(f"--input {path}: no such file") from None
    except ValueError as exc:
        raise DemoError(f"--input {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DemoError(f"--input {path} must hold a JSON object")
    return doc


def _start_execution(
    settings: Settings,
    console: Console,
    *,
    state_machine_arn: str,
    bucket: str,
    execution_input: dict[str, Any],
    data_root: Path,
    others: list[dict[str, Any]],
) -> str:
    name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    # a running execution still reads datasets/demo/: another one gets a prefix of its own
    prefix = f"datasets/{name}" if others else "datasets/demo"
    execution_input["data"] = upload_dataset(aws_client(settings, "s3"), data_root, bucket, prefix, console)
    input_file = settings.state_dir / f"{name}-input.json"  # the example input plus the uploaded data
    input_file.write_text(json.dumps(execution_input, indent=2))
    execution_arn = str(
        aws_client(settings, "stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=input_file.read_text()
        )["executionArn"]
    )
    console.print(f"[bold]execution[/] {execution_arn}", highlight=False, soft_wrap=True)
    console.print(
        f"  watch it: {settings.edge_url}/_localcloud/execution?arn="
        + urllib.parse.quote(execution_arn, safe=""),
        highlight=False,
        soft_wrap=True,
    )
    if others:
        console.print(
            f"  started another execution although {', '.join(o['name'] for o in others)} still "
            "runs, because --new was given",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"  same as: aws stepfunctions start-execution --endpoint-url {settings.edge_url} "
        f"--state-machine-arn {state_machine_arn} --name {name} --input file://{input_file}",
        highlight=False,
        soft_wrap=True,
    )
    return execution_arn


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    console = console or Console()
    settings = options.settings
    started = time.monotonic()
    if options.data is not None:
        check_dataset(options.data)  # before anything is generated, started or uploaded
    execution_input = read_input(options.input_file)
    if settings.template is not None and not settings.template.is_file():
        raise DemoError(
            f"no template at {settings.template}: run from the repository root or pass --template PATH"
        )
    data_root = options.data or ensure_sample_data(
        settings.state_dir / "sample-data", options.sample_classes, console
    )
    check_dataset(data_root)
    proc, state_dir, api_url = start_localcloud(settings, console)
    execution_arn: str | None = None
    try:
        state_machine_arn, bucket = find_app(settings)
        running = running_executions(aws_client(settings, "stepfunctions"), state_machine_arn)
        if running and not options.new:
            execution_arn = str(running[0]["executionArn"])
            console.print(
                f"[bold]execution[/] {running[0]['name']} is still running (started "
                f"{running[0]['startDate']:%H:%M:%S}): following it instead of starting another "
                "(`pipeline-demo run --new` starts a new one)",
                highlight=False,
                soft_wrap=True,
            )
        else:
            execution_arn = _start_execution(
                settings,
                console,
                state_machine_arn=state_machine_arn,
                bucket=bucket,
                execution_input=execution_input,
                data_root=data_root,
                others=running,
            )
        description = follow(Progress(settings, execution_arn, state_dir), console)
        if description["status"] != "SUCCEEDED":
            console.print(
                f"[bold red]execution {description['status']}[/]: {description.get('error')}: "
                f"{description.get('cause')}",
                highlight=False,
                soft_wrap=True,
            )
            return 1
        output = json.loads(description["output"])
        print_outputs(console, output, local_report(state_dir, output), api_url)
        image = first_test_image(data_root)
        status, body = predict(api_url, image)
        console.print(f"[bold]prediction[/] for {image} (HTTP {status}):", highlight=False, soft_wrap=True)
        console.print_json(data=body)
        console.print(
            f"  same as: curl -X POST --data-binary @{image} {api_url}/predict",
            highlight=False,
            soft_wrap=True,
        )
        if status != 200:
            return 1
        console.print(f"[green]pipeline completed in {time.monotonic() - started:.0f}s[/]")
        if options.once:
            return 0
        console.print(f"serving {api_url}/predict (upload page: {api_url}/) — Ctrl-C to stop")
        console.print(f"console: {settings.edge_url}/_localcloud/", highlight=False)
        while proc is None or proc.poll() is None:
            time.sleep(1)
        return 0
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, urllib.error.URLError):
        raise DemoError(_lost(settings, state_dir, proc, execution_arn)) from None
    except ClientError as exc:  # e.g. 503 while a restarted localcloud is still starting
        error = exc.response.get("Error", {})
        raise DemoError(
            f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}; "
            f"see {state_dir / 'localcloud.log'}"
        ) from None
    except KeyboardInterrupt:
        console.print(_interrupted(state_dir, execution_arn), highlight=False, soft_wrap=True)
        return 130
    finally:
        stop_localcloud(proc)


def _lost(
    settings: Settings, state_dir: Path, proc: subprocess.Popen[bytes] | None, execution_arn: str | None
) -> str:
    """One line for localcloud going away under the demo (Ctrl-C of ``localcloud up``, a crash)."""
    who = f"localcloud (pid {proc.pid}) exited" if proc and proc.poll() is not None else "localcloud stopped"
    what = f" while following execution {execution_arn.rsplit(':', 1)[-1]}" if execution_arn else ""
    return (
        f"{who}{what}; nothing answers on {settings.edge_url}. Its state is kept in {state_dir}: "
        f"run `pipeline-demo run --state-dir {state_dir}` to resume the execution and follow it "
        f"(see {state_dir / 'localcloud.log'})"
    )


def _interrupted(state_dir: Path, execution_arn: str | None) -> str:
    if execution_arn is None:
        return "demo interrupted before an execution started"
    return (
        f"demo interrupted: execution {execution_arn.rsplit(':', 1)[-1]} is kept in {state_dir} and "
        f"resumes with the next `pipeline-demo run --state-dir {state_dir}` (or `localcloud up`)"
    )


def main_from_args(
    settings: Settings, data: str | None, input_file: str, once: bool, *, new: bool = False
) -> int:
    try:
        return run_demo(
            DemoOptions(
                settings=settings,
                data=Path(data).absolute() if data else None,
                input_file=Path(input_file),
                once=once,
                new=new,
            )
        )
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
