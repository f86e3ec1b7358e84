"""Training jobs that name their own command: ``AlgorithmSpecification.ContainerEntrypoint``.

On SageMaker, ``ContainerEntrypoint`` + ``ContainerArguments`` replace the image's entry point, so
the sagemaker-training-toolkit (``sagemaker_program``) is not involved: the command runs inside
the container, where the job's files are at ``/opt/ml`` (``input/config/*.json``,
``input/data/<channel>``, ``model``, ``output``, ``checkpoints``). SDK 3.x ``ModelTrainer`` runs
script mode this way (``/bin/bash -c ".../sm_drivers/sm_train.sh"``), and such commands use the
absolute ``/opt/ml`` paths.

localcloud has no container, so it gives the command the one thing a container would: a private
mount namespace (``unshare --mount``, plus ``--map-root-user`` when not root) in which the host's
folder is bind-mounted at ``/opt/ml`` (and the job's checkpoint folder at
``/opt/ml/checkpoints``). Everything else (the local Python environment first on ``PATH``, the
``SM_*`` variables) is as for script mode. Where the kernel or the sandbox forbids mount
namespaces, or ``/opt/ml`` cannot be created as a mount point, the job fails with a
FailureReason saying so.

Relies on util-linux's ``unshare`` and ``mount``; written by hand (no library does this).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .script_mode import HostLayout

CONTAINER_ROOT = Path("/opt/ml")

# Runs inside the new mount namespace: $1 host /opt/ml, $2 host checkpoint folder, then the command.
_MOUNT_SCRIPT = (
    'set -e; mount --make-rprivate / 2>/dev/null || true; mount --bind "$1" /opt/ml; '
    'mkdir -p /opt/ml/checkpoints; mount --bind "$2" /opt/ml/checkpoints; cd /opt/ml; shift 2; exec "$@"'
)


def uses_container_entrypoint(job: dict[str, Any]) -> bool:
    return bool((job.get("AlgorithmSpecification") or {}).get("ContainerEntrypoint"))


def _unshare_argv() -> list[str]:
    argv = ["unshare", "--mount"]
    if os.geteuid() != 0:
        argv.append("--map-root-user")
    return argv


@functools.cache
def unavailable_reason() -> str | None:
    """None when commands can be given a private ``/opt/ml`` here, else why not."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "util-linux's unshare and mount are not installed"
    try:
        CONTAINER_ROOT.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{CONTAINER_ROOT} cannot be created as a mount point ({exc.strerror})"
    try:
        probe = subprocess.run(
            [*_unshare_argv(), "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if probe.returncode != 0:
        return f"mount namespaces are not permitted here (unshare: {probe.stderr.strip()[:200]})"
    return None


def command(layout: HostLayout, job: dict[str, Any]) -> list[str]:
    """The job's ContainerEntrypoint + ContainerArguments, run with ``layout.root`` at /opt/ml."""
    algorithm = job["AlgorithmSpecification"]
    argv = [*algorithm["ContainerEntrypoint"], *(algorithm.get("ContainerArguments") or [])]
    (layout.root / "checkpoints").mkdir(parents=True, exist_ok=True)
    return [
        *_unshare_argv(),
        "/bin/sh",
        "-c",
        _MOUNT_SCRIPT,
        "localcloud-container",
        str(layout.root),
        str(layout.checkpoint_dir),
        *argv,
    ]


def environment(python: str) -> dict[str, str]:
    """The local Python environment first on PATH (the container's ``python3`` and ``pip``)."""
    return {"PATH": os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "")])}
