"""The ``localcloud`` command: up, stop, status, logs, start-execution.

``up`` runs the emulator in the foreground (or ``--detach``ed, waiting until it is ready); the
other commands talk to a running instance over its AWS APIs with boto3, exactly as a user's own
scripts would. A user's mistake (a missing file, broken JSON, localcloud not running, a taken
port) ends the command with one line naming the problem and what to do, exit status 1, never a
traceback. Relies on argparse, botocore's exceptions and rich for output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from . import environment
from .config import Settings
from .instance import NoStackError, health, spawn_up, stack_state_machine, wait_ready
from .logs import find_streams, is_execution_log, readable_history
from .ports import port_problems
from .server import pid_file

DESCRIPTION = (
    "localcloud: the AWS services this app uses (S3, SageMaker, Step Functions, Lambda, HTTP API), "
    "on this machine. `localcloud up` serves them; the other commands talk to a running instance."
)


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def settings_from_args(args: argparse.Namespace) -> Settings:
    template = None if getattr(args, "no_template", False) else getattr(args, "template", None)
    return Settings(
        state_dir=Path(args.state_dir),
        port=args.port,
        api_port=args.api_port,
        template=Path(template) if template else None,
    )


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings.template is not None and not settings.template.is_file():
        raise CliError(f"no template at {settings.template}: pass --template PATH or --no-template")
    problems = port_problems(settings)
    if problems:
        raise CliError("; ".join(problems))
    if args.detach:
        proc = spawn_up(settings, detach=True)
        try:
            wait_ready(settings.edge_url, args.wait, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise CliError(f"{exc}; see {settings.state_dir / 'localcloud.log'}") from None
        print(f"localcloud up (pid {proc.pid}): edge {settings.edge_url}  api {settings.api_url}")
        print(f"console: {settings.edge_url}/_localcloud/")
        return 0
    logging.basicConfig(
        level=environment.current().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import serve

    print(f"console: {settings.edge_url}/_localcloud/", flush=True)

    return serve(settings)


def cmd_stop(args: argparse.Namespace) -> int:
    state_dir = settings_from_args(args).state_dir
    path = pid_file(state_dir)
    if not path.exists():
        print(f"localcloud is not running with state dir {state_dir} (no pid file)", file=sys.stderr)
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
    state_dir = settings_from_args(args).state_dir
    streams = find_streams(state_dir, args.name)
    if not streams:
        raise CliError(
            f"no logs named {args.name} under {state_dir / 'logs'}: give a job, endpoint, function "
            "(or its logical ID, e.g. PredictFunction) or execution name; `localcloud status` lists them"
        )
    for stream in streams:
        if len(streams) > 1:
            print(f"==> {stream} <==")
        text = stream.read_text(errors="replace")
        if is_execution_log(state_dir, stream) and not args.json:
            text = readable_history(text)
        sys.stdout.write(text)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import print_status

    return print_status(settings_from_args(args), limit=None if args.all else args.limit)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value} (--all shows everything)")
    return value


def port_number(env: str) -> Callable[[str], int]:
    """argparse type of a port option whose default comes from the environment variable ``env``:
    a whole number from 1 to 65535. argparse converts a string default with the option's type, so
    a bad value in ``env`` is the same one-line argument error as a bad option, naming both."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value not in environment.PORTS:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a port number ({environment.PORTS.start}-{environment.PORTS.stop - 1}; "
                f"the option, or {env} when it is not given)"
            )
        return value

    return convert


def _read_json_file(option: str, value: str) -> str:
    path = Path(value.removeprefix("file://"))
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CliError(f"{option} {value}: no such file") from None
    except OSError as exc:
        raise CliError(f"{option} {value}: cannot read it ({exc.strerror})") from None
    try:
        json.loads(text)
    except ValueError as exc:
        raise CliError(f"{option} {value} is not valid JSON: {exc}") from None
    return text


def cmd_start_execution(args: argparse.Namespace) -> int:
    from .clients import aws_client

    settings = settings_from_args(args)
    execution_input = _read_json_file("--input", args.input) if args.input else "{}"
    if args.state_machine_arn:
        arn = args.state_machine_arn
    else:
        if health(settings.edge_url) is None:
            raise EndpointConnectionError(endpoint_url=settings.edge_url)
        try:
            arn = stack_state_machine(settings)
        except NoStackError as exc:
            raise CliError(f"no state machine to start ({exc}): pass --state-machine-arn ARN") from None
    kwargs = {"stateMachineArn": arn, "input": execution_input}
    if args.name:
        kwargs["name"] = args.name
    execution_arn = aws_client(settings, "stepfunctions").start_execution(**kwargs)["executionArn"]
    name = execution_arn.rsplit(":", 1)[-1]
    print(execution_arn)
    print(f"follow it: localcloud status   or   localcloud logs {name}", file=sys.stderr)
    return 0


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        default=os.environ.get("LOCALCLOUD_STATE_DIR", ".localcloud"),
        help="where state, data and logs live (default: %(default)s; env LOCALCLOUD_STATE_DIR)",
    )
    common.add_argument(
        "--port",
        type=port_number("LOCALCLOUD_PORT"),
        default=os.environ.get("LOCALCLOUD_PORT") or "4566",
        help="edge port: the AWS APIs (default: %(default)s; env LOCALCLOUD_PORT)",
    )
    common.add_argument(
        "--api-port",
        type=port_number("LOCALCLOUD_API_PORT"),
        default=os.environ.get("LOCALCLOUD_API_PORT") or "3000",
        help="HTTP API port: the template's API (default: %(default)s; env LOCALCLOUD_API_PORT)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localcloud", description=DESCRIPTION)
    common = common_options()
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", parents=[common], help="serve the emulated AWS APIs and the HTTP API")
    up.add_argument(
        "--template",
        default="template.yaml",
        help="SAM template to deploy at start-up (default: %(default)s)",
    )
    up.add_argument("--no-template", action="store_true", help="start empty, with no template (default: off)")
    up.add_argument(
        "--detach", action="store_true", help="run in the background; wait until ready (default: off)"
    )
    up.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="seconds to wait for readiness with --detach (default: %(default)s)",
    )
    up.set_defaults(func=cmd_up)

    stop = sub.add_parser("stop", parents=[common], help="stop the instance running with this state dir")
    stop.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for it to stop (default: %(default)s)"
    )
    stop.set_defaults(func=cmd_stop)

    status = sub.add_parser(
        "status", parents=[common], help="executions, jobs, endpoints, functions, state dir size"
    )
    shown = status.add_mutually_exclusive_group()
    shown.add_argument(
        "--limit",
        type=positive_int,
        default=10,
        metavar="N",
        help="show the newest N items of each section, and how many more there are (default: %(default)s)",
    )
    shown.add_argument(
        "--all", action="store_true", help="show every item of each section (default: off, see --limit)"
    )
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser(
        "logs", parents=[common], help="print a job's, endpoint's, function's or execution's log"
    )
    logs.add_argument(
        "name",
        help="training job, endpoint, function, execution or log group name, or a template logical "
        "ID such as PredictFunction",
    )
    logs.add_argument(
        "--json",
        action="store_true",
        help="print an execution's history as raw JSON events (default: one line per event)",
    )
    logs.set_defaults(func=cmd_logs)

    start = sub.add_parser(
        "start-execution", parents=[common], help="start an execution of the template's state machine"
    )
    start.add_argument("--input", help="execution input JSON file (default: none, the input is {})")
    start.add_argument("--name", help="execution name (default: a generated UUID)")
    start.add_argument(
        "--state-machine-arn",
        help="state machine to start (default: the deployed template's state machine, when it has one)",
    )
    start.set_defaults(func=cmd_start_execution)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_errors(f"localcloud {args.command}", args)


def report_errors(command: str, args: argparse.Namespace) -> int:
    """Run ``args.func``; a user's mistake (a bad ``LOCALCLOUD_*`` value included: checked first) or
    an instance that does not answer is one line, exit 1."""
    try:
        environment.current()
        return int(args.func(args))
    except (CliError, environment.EnvironmentProblem) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError):
        settings = settings_from_args(args)
        print(
            f"{command}: localcloud does not answer on {settings.edge_url}: start it with `localcloud up` "
            "(or `make demo`), or pass --port if it serves another port",
            file=sys.stderr,
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"{command}: {error.get('Code', 'Error')}: {error.get('Message', exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `localcloud logs job | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 1
