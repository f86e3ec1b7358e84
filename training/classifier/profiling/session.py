"""The real profiler behind ``create_profiler(True, ...)``: records, then evaluates rules and reports.

Composes a :class:`~classifier.profiling.recorder.StepRecorder` (per-step timings, called from
the training loop), a :class:`~classifier.profiling.sampler.SystemSampler` (background thread),
the per-epoch metrics, and, at :meth:`ProfilingSession.finish`, the rules
(:mod:`classifier.profiling.rules`) and the report (:mod:`classifier.profiling.report`).

Profiling must never fail the job: every public method runs under a ``_Guard`` that catches its
exceptions, logs a warning once per place, and keeps going (a broken recorder simply stops
recording). With DDP every rank records its own steps; only rank 0 samples the system (NVML sees
every GPU of the host, which is what LoadBalancing compares) and writes ``profiler-report/``.
Relies on: recorder, sampler, rules, report, hooks from this package; torch for the device type.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from classifier.profiling.hooks import FrameworkHooks
from classifier.profiling.recorder import StepRecorder
from classifier.profiling.sampler import SystemSampler
from classifier.profiling.series import EpochRecord, JobInfo, ProfileData, SystemSeries

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

REPORT_DIR_NAME = "profiler-report"


class ProfilingSession:
    """Records one training job and writes ``<output_dir>/profiler-report/`` at :meth:`finish`."""

    def __init__(
        self,
        *,
        output_dir: Path,
        device: torch.device,
        batch_size: int,
        num_workers: int,
        rank: int = 0,
        world_size: int = 1,
        process_start: float,
        sample_interval: float = 0.5,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.report_dir = self.output_dir / REPORT_DIR_NAME
        self._device_type = str(getattr(device, "type", device))
        self._job = JobInfo(
            device_type=self._device_type,
            cpu_count=_usable_cores(),
            num_workers=int(num_workers),
            batch_size=int(batch_size),
            rank=int(rank),
            world_size=int(world_size),
            process_start=float(process_start),
        )
        self._epochs: list[EpochRecord] = []
        self._failed: set[str] = set()
        self._closed = False
        self._finished: int | None = None
        self._recorder = StepRecorder(device)
        self._job.gpu_timing = self._recorder.gpu_timing
        self._sampler: SystemSampler | None = None
        if rank == 0:
            with _Guard(self._warn, "sampler"):
                sampler = SystemSampler(interval=sample_interval, sample_gpus=self._device_type == "cuda")
                sampler.start()
                self._sampler = sampler
        self._hooks = FrameworkHooks()
        with _Guard(self._warn, "hooks"):
            self._hooks = FrameworkHooks.register()

    # -- training-loop marks (hot path: keep them tiny) ---------------------------------------
    def step_start(self) -> None:
        with _Guard(self._warn, "step_start"):
            self._recorder.step_start()

    def data_ready(self) -> None:
        with _Guard(self._warn, "data_ready"):
            self._recorder.data_ready()

    def forward_done(self) -> None:
        with _Guard(self._warn, "forward_done"):
            self._recorder.forward_done()

    def backward_done(self) -> None:
        with _Guard(self._warn, "backward_done"):
            self._recorder.backward_done()

    def step_end(self, batch_size: int) -> None:
        with _Guard(self._warn, "step_end"):
            self._recorder.step_end(batch_size)

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        with _Guard(self._warn, "epoch_end"):
            clean = {str(k): float(v) for k, v in metrics.items() if _is_number(v)}
            self._epochs.append(EpochRecord(epoch=int(epoch), metrics=clean, time=self._recorder.now_wall()))
            self._recorder.epoch_end()

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        """Optional: let an smdebug hook (when one is registered) watch the model and loss."""
        with _Guard(self._warn, "watch_model"):
            self._hooks.watch_model(model, loss_module)

    # -- end of job ------------------------------------------------------------------------------
    def profile_data(self) -> ProfileData:
        """Everything recorded so far (also what :meth:`finish` evaluates)."""
        self._recorder.finalize()
        system = self._sampler.series() if self._sampler is not None else SystemSeries()
        self._job.finish_time = time.time()
        return ProfileData(
            steps=self._recorder.series(), system=system, epochs=list(self._epochs), job=self._job
        )

    def finish(self) -> int:
        """Evaluate the rules; rank 0 writes rules.json and report.html. Returns rules with issues."""
        if self._finished is not None:
            return self._finished
        triggered = 0
        try:
            with _Guard(self._warn, "finish"):
                if self._sampler is not None:
                    self._sampler.sample_once()  # the tail of the job since the last tick
                    self._sampler.stop()
                data = self.profile_data()
                from classifier.profiling.rules import evaluate_rules

                results = evaluate_rules(data)
                triggered = sum(1 for r in results if r.status == "IssuesFound")
                if self._job.rank == 0:
                    from classifier.profiling.report import write_report

                    write_report(self.report_dir, data, results)
        finally:
            self._hooks.close()
        self._finished = triggered
        return triggered

    def close(self) -> None:
        """Stop the sampler thread and hooks; safe to call more than once and after finish()."""
        if self._closed:
            return
        self._closed = True
        with _Guard(self._warn, "close"):
            if self._sampler is not None:
                self._sampler.stop()
            self._hooks.close()

    def _warn(self, where: str, exc: BaseException) -> None:
        if where not in self._failed:
            self._failed.add(where)
            print(
                f"profiler: {where} failed ({type(exc).__name__}: {exc}); training continues",
                file=sys.stderr,
                flush=True,
            )


class _Guard:
    """``with _Guard(warn, where):`` an ``Exception`` inside goes to ``warn(where, exc)`` and stops there.

    A plain class rather than ``contextlib.contextmanager``: the training-loop marks enter one per
    phase of every step, and this costs a fraction of a generator-based context manager.
    ``BaseException`` (KeyboardInterrupt, SystemExit) still propagates.
    """

    __slots__ = ("_warn", "_where")

    def __init__(self, warn: Callable[[str, BaseException], None], where: str) -> None:
        self._warn = warn
        self._where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if not isinstance(exc, Exception):
            return False
        self._warn(self._where, exc)
        return True


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _usable_cores() -> int:
    """CPU cores this process may run on (affinity / cgroup-aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1
