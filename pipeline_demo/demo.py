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

The pieces: :mod:`.dataset` (1: the data and its upload), :mod:`.progress` (4: the live view),
:mod:`.outputs` (5: the outputs, the report and the prediction); this module runs them in order
and manages localcloud and the execution. localcloud going away (Ctrl-C of ``localcloud up``) or
Ctrl-C of the demo ends it with one line saying what happened and what to run. Everything goes
through AWS's APIs with boto3 (and plain HTTP for the API), exactly as a user would drive the real
deployment; the training logs are read from the instance's state dir.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from rich.console import Console

from localcloud.clients import aws_client
from localcloud.config import Settings
from localcloud.instance import NoStackError, spawn_up, stack_outputs, wait_ready
from localcloud.ports import localcloud_health, port_problems

from .dataset import check_dataset, ensure_sample_data, first_test_image, upload_dataset
from .errors import DemoError
from .outputs import local_report, predict, print_outputs
from .progress import Progress, follow


@dataclass
class DemoOptions:
    settings: Settings
    data: Path | None
    input_file: Path
    once: bool
    new: bool = False
    sample_classes: int = 4


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
