"""``localcloud demo``: the project's main job, the whole pipeline on this machine.

1. Data: ``--data`` (an ImageFolder root with train/valid/test) or a generated sample dataset
   (``python -m classifier.sample_data``, run as a subprocess: localcloud imports no app code).
2. Starts ``localcloud up`` with the repository's template.yaml (or reuses one that already
   answers on the port), uploads the data to the template's bucket in local S3.
3. Starts an execution of the template's state machine with ``examples/local-input.json``.
4. Shows live progress (current state, tuning trials, retrain progress) with rich.
5. Prints the outputs and a real prediction through the HTTP API, with the ``curl`` line to
   repeat it; keeps serving until Ctrl-C, or exits 0 right away with ``--once``.

Everything goes through AWS's APIs with boto3 (and plain HTTP for the API), exactly as a user
would drive the real deployment.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from .cli import health, spawn_up, wait_ready
from .clients import aws_client
from .config import Settings

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
    sample_classes: int = 4


def ensure_sample_data(root: Path, classes: int, console: Console) -> Path:
    """Generate the procedural sample dataset once (marker file makes it idempotent)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    console.print(f"[bold]data[/] generating a {classes}-class sample dataset in {root}")
    subprocess.run(
        [sys.executable, "-m", "classifier.sample_data", "--out", str(root), "--classes", str(classes)],
        check=True,
    )
    marker.write_text("ok\n")
    return root


def check_dataset(root: Path) -> None:
    missing = [split for split in SPLITS if not (root / split).is_dir()]
    if missing:
        raise DemoError(
            f"{root} is not an ImageFolder dataset with train/valid/test: missing {', '.join(missing)}"
        )


def upload_dataset(s3: Any, root: Path, bucket: str, prefix: str, console: Console) -> dict[str, str]:
    """Upload train/valid/test under s3://bucket/prefix/; skips objects already there with the same size."""
    existing: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        existing.update({obj["Key"]: obj["Size"] for obj in page.get("Contents", [])})
    files = [
        p
        for split in SPLITS
        for p in sorted((root / split).rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    todo = [
        p for p in files if existing.get(f"{prefix}/{p.relative_to(root).as_posix()}") != p.stat().st_size
    ]
    console.print(f"[bold]data[/] {len(files)} images; uploading {len(todo)} to s3://{bucket}/{prefix}/")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda p: s3.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(root).as_posix()}"), todo
            )
        )
    return {split: f"s3://{bucket}/{prefix}/{split}/" for split in SPLITS}


def stack_outputs(settings: Settings) -> dict[str, str]:
    """The deployed template's Outputs, as ``describe-stacks`` would list them."""
    try:
        with urllib.request.urlopen(f"{settings.edge_url}/_localcloud/stack", timeout=10) as resp:
            stack = json.load(resp)
    except urllib.error.HTTPError as err:
        raise DemoError(f"localcloud at {settings.edge_url} has no deployed template ({err.code})") from err
    return {o["OutputKey"]: str(o["OutputValue"]) for o in stack.get("Outputs", [])}


def find_app(settings: Settings) -> tuple[str, str]:
    """The template's state machine ARN and bucket name, from the stack outputs."""
    outputs = stack_outputs(settings)
    try:
        return outputs["StateMachineArn"], outputs["BucketName"]
    except KeyError as exc:
        raise DemoError(
            f"template.yaml has no output {exc}; the demo needs StateMachineArn and BucketName"
        ) from exc


class Progress:
    """Polls the execution, its tuning trials and the retrain, and renders them."""

    def __init__(self, settings: Settings, execution_arn: str) -> None:
        self.sfn = aws_client(settings, "stepfunctions")
        self.sm = aws_client(settings, "sagemaker")
        self.execution_arn = execution_arn
        self.state = "starting"
        self.tuning_job: str | None = None
        self.training_job: str | None = None
        self.trials: list[dict[str, Any]] = []
        self.training: dict[str, Any] | None = None
        self.description: dict[str, Any] = {}

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
        return str(self.description["status"])

    def _pick_job_names(self, doc: Any) -> None:
        """Job names from the state document the app's steps pass along (``names``)."""
        names = doc.get("names") if isinstance(doc, dict) else None
        if isinstance(names, dict):
            self.tuning_job = names.get("tuningJob") or self.tuning_job
            if doc.get("retrain"):  # the retrain was started (no describe before that)
                self.training_job = names.get("retrainJob") or self.training_job

    def render(self) -> Group:
        head = Table.grid(padding=(0, 2))
        head.add_row(
            "[bold]execution[/]",
            self.execution_arn.rsplit(":", 1)[-1],
            "[bold]state[/]",
            f"[cyan]{self.state}[/]",
            "[bold]status[/]",
            str(self.description.get("status", "RUNNING")),
        )
        parts: list[Any] = [head]
        if self.trials:
            table = Table(title=f"tuning {self.tuning_job}", title_justify="left")
            for column in ("trial", "status", "hyperparameters", "objective"):
                table.add_column(column)
            for trial in sorted(self.trials, key=lambda t: t["TrainingJobName"]):
                objective = trial.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
                hps = ", ".join(f"{k}={v}" for k, v in sorted(trial.get("TunedHyperParameters", {}).items()))
                table.add_row(
                    trial["TrainingJobName"],
                    trial["TrainingJobStatus"],
                    hps,
                    "" if objective is None else f"{objective:.4f}",
                )
            parts.append(table)
        if self.training:
            metrics = {m["MetricName"]: m["Value"] for m in self.training.get("FinalMetricDataList", [])}
            shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
            parts.append(
                f"[bold]retrain[/] {self.training_job}: {self.training['TrainingJobStatus']} / "
                f"{self.training.get('SecondaryStatus', '')} {shown}"
            )
        return Group(*parts)

    def line(self) -> str:
        done = sum(t["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") for t in self.trials)
        text = f"state={self.state} trials={done}/{len(self.trials)}"
        if self.training:
            text += (
                f" retrain={self.training['TrainingJobStatus']}/{self.training.get('SecondaryStatus', '')}"
            )
        return text


def follow(progress: Progress, console: Console, poll_seconds: float = 1.0) -> dict[str, Any]:
    """Poll until the execution ends; live table on a terminal, one line per change otherwise."""
    if console.is_terminal:
        with Live(progress.render(), console=console, refresh_per_second=4) as live:
            while progress.poll() == "RUNNING":
                live.update(progress.render())
                time.sleep(poll_seconds)
            live.update(progress.render())
    else:
        last = ""
        while progress.poll() == "RUNNING":
            line = progress.line()
            if line != last:
                console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}", highlight=False)
                last = line
            time.sleep(poll_seconds)
        console.print(progress.render())
    return progress.description


def local_report(settings: Settings, output: dict[str, Any]) -> Path | None:
    """Extract the profiler report from the retrain's output.tar.gz into the state dir."""
    profiler = output.get("profiler") or {}
    uri = profiler.get("reportUri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    archive = settings.state_dir / "s3" / bucket / key
    if not archive.is_file():
        return None
    folder = str(profiler.get("reportPath") or "profiler-report").strip("/")
    target = settings.state_dir / "reports" / str(output.get("retrainJob", "retrain"))
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


def print_outputs(console: Console, output: dict[str, Any], report: Path | None, api_url: str) -> None:
    table = Table(title="pipeline outputs", title_justify="left", show_header=False)
    table.add_column(style="bold")
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
        ("best hyperparameters", json.dumps(output.get("bestHyperparameters", {}))),
        ("best objective", f"{objective.get('metric')} = {objective.get('value')}"),
        ("retrain job", output.get("retrainJob")),
        ("retrain metrics", ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))),
        ("model", output.get("modelArtifact")),
        (
            "profiler rules",
            f"{len(rules)} evaluated, {len(triggered)} found issues "
            f"{'(' + ', '.join(triggered) + ')' if triggered else ''}",
        ),
        ("profiler report", str(report) if report else profiler.get("reportUri")),
        ("endpoint", f"{endpoint.get('name')} ({endpoint.get('status')})"),
        ("API", f"{api_url}/predict"),
    ]
    for name, value in rows:
        if value is not None:
            table.add_row(name, str(value))
    console.print(table)


def start_localcloud(settings: Settings, console: Console) -> subprocess.Popen[bytes] | None:
    """Start ``localcloud up`` in its own process unless one already answers; None when reused."""
    if health(settings.edge_url) is not None:
        console.print(f"[bold]localcloud[/] reusing the instance on {settings.edge_url}")
        wait_ready(settings.edge_url, 120)
        return None
    proc = spawn_up(settings)
    console.print(
        f"[bold]localcloud[/] starting (pid {proc.pid}): edge {settings.edge_url}, "
        f"api {settings.api_url}, log {settings.state_dir / 'localcloud.log'}"
    )
    try:
        wait_ready(settings.edge_url, 180, proc)
    except (RuntimeError, TimeoutError) as exc:
        stop_localcloud(proc)
        raise DemoError(f"{exc}; see {settings.state_dir / 'localcloud.log'}") from exc
    return proc


def stop_localcloud(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    console = console or Console()
    settings = options.settings
    started = time.monotonic()
    data_root = options.data or ensure_sample_data(
        settings.state_dir / "sample-data", options.sample_classes, console
    )
    check_dataset(data_root)
    execution_input = json.loads(options.input_file.read_text())
    proc = start_localcloud(settings, console)
    try:
        state_machine_arn, bucket = find_app(settings)
        s3 = aws_client(settings, "s3")
        execution_input["data"] = upload_dataset(s3, data_root, bucket, "datasets/demo", console)
        name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
        input_file = settings.state_dir / f"{name}-input.json"  # the example input plus the uploaded data
        input_file.write_text(json.dumps(execution_input, indent=2))
        execution_arn = aws_client(settings, "stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=input_file.read_text()
        )["executionArn"]
        console.print(f"[bold]execution[/] {execution_arn}")
        console.print(
            f"  same as: aws stepfunctions start-execution --endpoint-url {settings.edge_url} "
            f"--state-machine-arn {state_machine_arn} --name {name} --input file://{input_file}",
            highlight=False,
            soft_wrap=True,
        )
        description = follow(Progress(settings, execution_arn), console)
        if description["status"] != "SUCCEEDED":
            console.print(
                f"[bold red]execution {description['status']}[/]: {description.get('error')}: "
                f"{description.get('cause')}",
                highlight=False,
            )
            return 1
        output = json.loads(description["output"])
        print_outputs(console, output, local_report(settings, output), settings.api_url)
        image = first_test_image(data_root)
        status, body = predict(settings.api_url, image)
        console.print(f"[bold]prediction[/] for {image} (HTTP {status}):")
        console.print_json(data=body)
        console.print(
            f"  same as: curl -X POST --data-binary @{image} {settings.api_url}/predict",
            highlight=False,
            soft_wrap=True,
        )
        if status != 200:
            return 1
        console.print(f"[green]pipeline completed in {time.monotonic() - started:.0f}s[/]")
        if options.once:
            return 0
        console.print(f"serving {settings.api_url}/predict — Ctrl-C to stop")
        while proc is None or proc.poll() is None:
            time.sleep(1)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop_localcloud(proc)


def main_from_args(settings: Settings, data: str | None, input_file: str, once: bool) -> int:
    try:
        return run_demo(
            DemoOptions(
                settings=settings, data=Path(data) if data else None, input_file=Path(input_file), once=once
            )
        )
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
