"""Child processes of the SageMaker emulation: identity across restarts, stopping process groups,
and sharing this machine's GPUs between jobs.

Training jobs and model servers run in their own sessions (process groups), so a stop reaches
every process a job spawned (DataLoader workers, torch.distributed ranks). A process is
recognised after a localcloud restart by (pid, create time), never by pid alone.
GPUs are discovered with NVML (nvidia-ml-py) and handed out least-loaded first through
CUDA_VISIBLE_DEVICES; relies on psutil and nvidia-ml-py.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterable

import psutil

from .. import environment

log = logging.getLogger("localcloud.sagemaker")


def identity(pid: int) -> dict[str, float | int]:
    """What identifies a live process across restarts: its pid and its creation time."""
    try:
        return {"pid": pid, "created": psutil.Process(pid).create_time()}
    except psutil.Error:
        return {"pid": pid, "created": 0.0}


def alive(ident: dict[str, float | int] | None) -> bool:
    """True when the process recorded as ``ident`` still runs (same pid *and* same start time)."""
    if not ident:
        return False
    try:
        proc = psutil.Process(int(ident["pid"]))
        return bool(
            abs(proc.create_time() - float(ident["created"])) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(idents: Iterable[dict[str, float | int]], grace: float) -> None:
    """SIGTERM the process groups led by ``idents`` (if still theirs), then SIGKILL after ``grace``."""
    live = [i for i in idents if alive(i)]
    for ident in live:
        signal_group(int(ident["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(i) for i in live):
        time.sleep(0.1)
    for ident in live:
        signal_group(int(ident["pid"]), signal.SIGKILL)


@functools.cache
def gpu_count() -> int:
    """GPUs on this machine (0 without an NVIDIA driver). LOCALCLOUD_GPUS overrides."""
    override = environment.current().gpus
    if override is not None:
        return override
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver / library: a CPU machine
        return 0


# GPUs per instance for the instance families that have them (SageMaker instance specs). The
# g4dn/g5/g6/g6e families share one size table (the 12xlarge and up have 4 or 8 GPUs).
_G_SIZES = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}
_EIGHT_AT_48XL = {"48xlarge": 8}
_GPU_FAMILIES = {
    "p2": {"xlarge": 1, "8xlarge": 8, "16xlarge": 16},
    "p3": {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8},
    "p3dn": {"24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": _EIGHT_AT_48XL,
    "p5e": _EIGHT_AT_48XL,
    "p5en": _EIGHT_AT_48XL,
    "p6-b200": _EIGHT_AT_48XL,
    "g4dn": {size: gpus for size, gpus in _G_SIZES.items() if size not in ("24xlarge", "48xlarge")},
    "g5": _G_SIZES,
    "g6": _G_SIZES,
    "g6e": _G_SIZES,
}
_TYPE_RE = re.compile(r"^ml\.([a-z0-9-]+?)\.(\d*x?large|metal)$")


def instance_gpus(instance_type: str) -> int:
    """GPUs an instance type has on AWS (0 for CPU types and types this table does not know)."""
    match = _TYPE_RE.match(instance_type)
    if not match:
        return 0
    return _GPU_FAMILIES.get(match.group(1), {}).get(match.group(2), 0)


class GpuPool:
    """Hands out GPU indices, least-loaded first; several jobs may share one GPU (time-sliced)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._load: dict[int, int] = {}

    def acquire(self, wanted: int) -> list[int]:
        total = gpu_count()
        if wanted <= 0 or total == 0:
            return []
        with self._lock:
            order = sorted(range(total), key=lambda i: (self._load.get(i, 0), i))
            chosen = sorted(order[: min(wanted, total)])
            for index in chosen:
                self._load[index] = self._load.get(index, 0) + 1
            return chosen

    def release(self, gpus: Iterable[int]) -> None:
        with self._lock:
            for index in gpus:
                self._load[index] = max(0, self._load.get(index, 0) - 1)
