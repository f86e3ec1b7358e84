"""Background system sampler: every ~500 ms, per-core CPU %, IO wait %, memory %, and GPUs via NVML.

A daemon thread wakes every ``interval`` seconds (500 ms, SageMaker Debugger's default system
monitoring interval) and appends one row. CPU figures are deltas since the previous tick
(``psutil.cpu_percent(percpu=True)`` / ``cpu_times_percent()`` with ``interval=None``), so a tick
costs well under a millisecond and never sleeps inside psutil. IO wait is Linux's ``iowait``
share of CPU time (0 on platforms without it).

GPU utilisation and memory come from NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``)
when it is importable and a driver answers; otherwise the GPU columns stay empty and GPU rules
report that they do not apply. Only the GPUs this job can see are sampled
(``CUDA_VISIBLE_DEVICES`` indices or UUIDs, else every device NVML lists).

Relies on: psutil; pynvml optional.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from classifier.profiling.series import SystemSeries

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.5


class NvmlGpus:
    """Thin wrapper over NVML for the GPUs visible to this process; ``None`` from :meth:`open` if absent."""

    def __init__(self, nvml: Any, handles: list[Any], names: list[str]) -> None:
        self._nvml = nvml
        self.handles = handles
        self.names = names

    @classmethod
    def open(cls) -> NvmlGpus | None:
        try:
            import pynvml
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # no driver / no GPU: NVML raises NVMLError subclasses
            log.debug("NVML unavailable: %s", exc)
            return None
        try:
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            handles = _visible(pynvml, handles, os.environ.get("CUDA_VISIBLE_DEVICES"))
            names = []
            for i, handle in enumerate(handles):
                name = pynvml.nvmlDeviceGetName(handle)
                names.append(f"gpu{i} {name.decode() if isinstance(name, bytes) else name}")
        except Exception as exc:
            log.debug("NVML device enumeration failed: %s", exc)
            _shutdown(pynvml)
            return None
        if not handles:
            _shutdown(pynvml)
            return None
        return cls(pynvml, handles, names)

    def read(self) -> tuple[list[float], list[float]]:
        """Utilisation % and memory-used % per GPU (NaN where a reading fails)."""
        utils: list[float] = []
        memory: list[float] = []
        for handle in self.handles:
            try:
                utils.append(float(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
            except Exception:
                utils.append(float("nan"))
            try:
                info = self._nvml.nvmlDeviceGetMemoryInfo(handle)
                memory.append(100.0 * float(info.used) / float(info.total) if info.total else float("nan"))
            except Exception:
                memory.append(float("nan"))
        return utils, memory

    def close(self) -> None:
        _shutdown(self._nvml)


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception as exc:
        log.debug("nvmlShutdown failed: %s", exc)


def _visible(nvml: Any, handles: list[Any], visible: str | None) -> list[Any]:
    """Restrict NVML handles to CUDA_VISIBLE_DEVICES (indices or GPU-UUIDs); unknown forms: keep all."""
    if visible is None or not visible.strip():
        return handles if visible is None else []
    wanted = [item.strip() for item in visible.split(",") if item.strip()]
    if all(item.isdigit() for item in wanted):
        return [handles[int(item)] for item in wanted if int(item) < len(handles)]
    by_uuid: dict[str, Any] = {}
    for handle in handles:
        try:
            uuid = nvml.nvmlDeviceGetUUID(handle)
            by_uuid[uuid.decode() if isinstance(uuid, bytes) else uuid] = handle
        except Exception:
            return handles
    picked = [h for item in wanted for uuid, h in by_uuid.items() if uuid.startswith(item)]
    return picked or handles


class SystemSampler:
    """Samples the system on a daemon thread until :meth:`stop`; :meth:`series` returns the rows."""

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        sample_gpus: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval = interval
        self._wall_clock = wall_clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._cpu: list[list[float]] = []
        self._iowait: list[float] = []
        self._memory: list[float] = []
        self._gpu_util: list[list[float]] = []
        self._gpu_memory: list[list[float]] = []
        self._gpus = NvmlGpus.open() if sample_gpus else None
        self._gpu_names = list(self._gpus.names) if self._gpus is not None else []
        self._cores = psutil.cpu_count(logical=True) or 1
        self._thread = threading.Thread(target=self._run, name="profiler-system-sampler", daemon=True)

    @property
    def gpu_names(self) -> list[str]:
        return list(self._gpu_names)

    def start(self) -> None:
        # Prime the delta counters so the first real tick reports the interval since start.
        psutil.cpu_percent(percpu=True)
        psutil.cpu_times_percent()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample_once()
            except Exception as exc:  # never let sampling kill the thread silently mid-job
                log.warning("system sampler tick failed: %s", exc)

    def sample_once(self) -> None:
        """Take one sample now (the thread calls this every interval)."""
        cpu = psutil.cpu_percent(percpu=True)
        times = psutil.cpu_times_percent()
        iowait = float(getattr(times, "iowait", 0.0))
        memory = float(psutil.virtual_memory().percent)
        if self._gpus is not None:
            gpu_util, gpu_memory = self._gpus.read()
        else:
            gpu_util, gpu_memory = [], []
        now = self._wall_clock()
        cpu_row = [float(c) for c in cpu][: self._cores]
        cpu_row += [0.0] * (self._cores - len(cpu_row))
        with self._lock:
            self._times.append(now)
            self._cpu.append(cpu_row)
            self._iowait.append(iowait)
            self._memory.append(memory)
            self._gpu_util.append(gpu_util)
            self._gpu_memory.append(gpu_memory)

    def stop(self) -> None:
        """Stop the thread (waits at most one interval) and release NVML; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(2.0, 4 * self.interval))
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None

    def series(self) -> SystemSeries:
        """A snapshot of the samples so far."""
        with self._lock:
            n = len(self._times)
            gpus = len(self._gpu_util[0]) if n and self._gpu_util[0] else 0
            names = self.gpu_names
            return SystemSeries(
                time=np.array(self._times, dtype=np.float64),
                cpu_per_core=np.array(self._cpu, dtype=np.float64).reshape(n, self._cores),
                iowait=np.array(self._iowait, dtype=np.float64),
                memory_percent=np.array(self._memory, dtype=np.float64),
                gpu_util=np.array(self._gpu_util if gpus else [], dtype=np.float64).reshape(n, gpus),
                gpu_memory_percent=np.array(self._gpu_memory if gpus else [], dtype=np.float64).reshape(
                    n, gpus
                ),
                gpu_names=names[:gpus],
                interval=self.interval,
            )
