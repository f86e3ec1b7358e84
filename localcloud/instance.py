"""A localcloud instance seen from outside: start one, wait until it is ready, read its stack.

Used by the ``localcloud`` command and by anything driving an instance as a user would (the
project's demo, benchmarks): ``spawn_up`` starts ``localcloud up`` as a child process,
``wait_ready`` polls ``/_localcloud/health``, ``stack_outputs`` and ``stack_state_machine`` read
the deployed template's Outputs and its state machine from ``/_localcloud/stack``. Relies on the
standard library only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from .config import Settings

STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


class NoStackError(Exception):
    """The instance answers but has no deployed template."""


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


def deployed_stack(settings: Settings) -> dict[str, Any]:
    """The deployed template's stack record: name, Outputs, Resources (with physical IDs)."""
    try:
        with urllib.request.urlopen(f"{settings.edge_url}/_localcloud/stack", timeout=10) as resp:
            return dict(json.load(resp))
    except urllib.error.HTTPError as err:
        message = f"localcloud at {settings.edge_url} has no deployed template ({err.code})"
        raise NoStackError(message) from err


def stack_outputs(settings: Settings) -> dict[str, str]:
    """The deployed template's Outputs, as ``describe-stacks`` would list them."""
    stack = deployed_stack(settings)
    return {o["OutputKey"]: str(o["OutputValue"]) for o in stack.get("Outputs", [])}


def stack_state_machine(settings: Settings) -> str:
    """The ARN of the deployed template's state machine; NoStackError unless it has exactly one."""
    machines = [
        str(res["PhysicalResourceId"])
        for res in (deployed_stack(settings).get("Resources") or {}).values()
        if res.get("Type") in STATE_MACHINE_TYPES
    ]
    if len(machines) != 1:
        raise NoStackError(f"the deployed template has {len(machines)} state machines, not one")
    return machines[0]
