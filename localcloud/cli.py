"""The ``localcloud`` command: ``up | stop | status | logs | demo | start-execution | predict``.

``up`` runs the emulator in the foreground (or ``--detach``ed, waiting until it is ready); the
other commands talk to a running instance over its AWS APIs with boto3, exactly as a user's own
scripts would. Relies on argparse and rich for output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .config import Settings
from .logs import find_streams
from .server import pid_file


def _settings(args: argparse.Namespace) -> Settings:
    template = None if getattr(args, "no_template", False) else getattr(args, "template", None)
    return Settings(
        state_dir=Path(args.state_dir),
        port=args.port,
        api_port=args.api_port,
        template=Path(template) if template else None,
    )


def health(edge_url: str, timeout: float = 2.0) -> dict[str, object] | None:
    """The health document of a running instance, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{edge_url}/_localcloud/health", timeout=timeout) as resp:
            return dict(json.load(resp))
    except urllib.error.HTTPError as err:
        try:
            return dict(json.load(err))
        except (ValueError, OSError):
            return {"status": f"http {err.code}"}
    except (OSError, ValueError):
        return None


def wait_ready(
    edge_url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: dict[str, object] | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"localcloud exited with code {proc.returncode} before it was ready")
        last = health(edge_url)
        if last and last.get("status") == "running":
            return last
        if last and last.get("status") == "failed":
            raise RuntimeError(f"localcloud failed to start: {last.get('error')}")
        time.sleep(0.1)
    raise TimeoutError(f"localcloud at {edge_url} not ready after {timeout:.0f}s (last: {last})")


def spawn_up(settings: Settings, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start ``localcloud up`` for ``settings`` as a child process logging to the state dir.

    ``detach`` puts it in its own session so that it outlives this command (``up --detach``).
    """
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "localcloud",
        "up",
        "--port",
        str(settings.port),
        "--api-port",
        str(settings.api_port),
        "--state-dir",
        str(settings.state_dir),
    ]
    argv += ["--template", str(settings.template)] if settings.template else ["--no-template"]
    with (settings.state_dir / "localcloud.log").open("ab") as log:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detach
        )


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    existing = health(settings.edge_url)
    if existing is not None:
        print(f"localcloud already answers on {settings.edge_url}: {existing.get('status')}", file=sys.stderr)
        return 1
    if args.detach:
        proc = spawn_up(settings, detach=True)
        try:
            wait_ready(settings.edge_url, args.wait, proc)
        except (RuntimeError, TimeoutError) as exc:
            print(f"{exc}; see {settings.state_dir / 'localcloud.log'}", file=sys.stderr)
            return 1
        print(f"localcloud up (pid {proc.pid}): edge {settings.edge_url}  api {settings.api_url}")
        return 0
    logging.basicConfig(
        level=os.environ.get("LOCALCLOUD_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import serve

    return serve(settings)


def cmd_stop(args: argparse.Namespace) -> int:
    path = pid_file(Path(args.state_dir))
    if not path.exists():
        print("localcloud is not running (no pid file)", file=sys.stderr)
        return 1
    pid = int(path.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        print(f"localcloud (pid {pid}) was not running; removed stale pid file", file=sys.stderr)
        return 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print(f"localcloud (pid {pid}) stopped")
            return 0
        time.sleep(0.1)
    print(f"localcloud (pid {pid}) did not stop within {args.wait:.0f}s", file=sys.stderr)
    return 1


def cmd_logs(args: argparse.Namespace) -> int:
    streams = find_streams(Path(args.state_dir), args.name)
    if not streams:
        print(f"no logs named {args.name} under {Path(args.state_dir) / 'logs'}", file=sys.stderr)
        return 1
    for stream in streams:
        if len(streams) > 1:
            print(f"==> {stream} <==")
        sys.stdout.write(stream.read_text(errors="replace"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import print_status

    return print_status(_settings(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import main_from_args

    return main_from_args(_settings(args), args.data, args.input, args.once)


def cmd_start_execution(args: argparse.Namespace) -> int:
    from .clients import aws_client
    from .demo import stack_outputs

    settings = _settings(args)
    sfn = aws_client(settings, "stepfunctions")
    arn = args.state_machine_arn or stack_outputs(settings)["StateMachineArn"]
    kwargs = {"stateMachineArn": arn, "input": Path(args.input).read_text() if args.input else "{}"}
    if args.name:
        kwargs["name"] = args.name
    print(json.dumps(sfn.start_execution(**kwargs), default=str, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .demo import predict

    settings = _settings(args)
    status, body = predict(settings.api_url, Path(args.image))
    print(json.dumps(body, indent=2))
    return 0 if status == 200 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localcloud", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=os.environ.get("LOCALCLOUD_STATE_DIR", ".localcloud"))
    common.add_argument("--port", type=int, default=int(os.environ.get("LOCALCLOUD_PORT", "4566")))
    common.add_argument("--api-port", type=int, default=int(os.environ.get("LOCALCLOUD_API_PORT", "3000")))
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", parents=[common], help="serve the emulated AWS APIs and the HTTP API")
    up.add_argument("--template", default="template.yaml", help="SAM template to deploy at start-up")
    up.add_argument("--no-template", action="store_true", help="start empty (no template)")
    up.add_argument("--detach", action="store_true", help="run in the background; wait until ready")
    up.add_argument("--wait", type=float, default=120.0, help="seconds to wait for readiness with --detach")
    up.set_defaults(func=cmd_up)

    stop = sub.add_parser("stop", parents=[common], help="stop a running instance")
    stop.add_argument("--wait", type=float, default=60.0)
    stop.set_defaults(func=cmd_stop)

    status = sub.add_parser("status", parents=[common], help="jobs, endpoints and executions")
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", parents=[common], help="print a job's, endpoint's or function's log")
    logs.add_argument("name", help="training job, endpoint, function or log group name")
    logs.set_defaults(func=cmd_logs)

    demo = sub.add_parser("demo", parents=[common], help="run the whole pipeline locally (the main job)")
    demo.add_argument(
        "--data", help="ImageFolder root with train/valid/test (default: generated sample data)"
    )
    demo.add_argument(
        "--input", default="examples/local-input.json", help="execution input (docs/contracts.md)"
    )
    demo.add_argument("--template", default="template.yaml")
    demo.add_argument("--once", action="store_true", help="exit 0 after the first prediction")
    demo.set_defaults(func=cmd_demo)

    start = sub.add_parser(
        "start-execution", parents=[common], help="start an execution of the template's state machine"
    )
    start.add_argument("--input", help="execution input JSON file")
    start.add_argument("--name", help="execution name")
    start.add_argument("--state-machine-arn", help="default: the template's StateMachineArn output")
    start.set_defaults(func=cmd_start_execution)

    pred = sub.add_parser("predict", parents=[common], help="POST an image to the local HTTP API")
    pred.add_argument("image")
    pred.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `localcloud logs job | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
