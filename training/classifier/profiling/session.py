"""The real profiler behind ``create_profiler(True, ...)``: records, then evaluates rules and reports.

Composes a :class:`~classifier.profiling.recorder.StepRecorder` (per-step timings, called from
the training loop), a :class:`~classifier.profiling.sampler.SystemSampler` (background thread),
the per-epoch metrics, and, at :meth:`ProfilingSession.finish`, the rules
(:mod:`classifier.profiling.rules`) and the report (:mod:`classifier.profiling.report`).

Profiling must never fail the job: every public method catches its own exceptions, logs a
warning once, and keeps going (a broken recorder simply stops recording). With DDP every rank
records its own steps; only rank 0 samples the system (NVML sees every GPU of the host, which is
what LoadBalancing compares) and writes ``profiler-report/``. Relies on: recorder, sampler,
rules, report, hooks from this package; torch for the device type.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
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
            try:
                self._sampler = SystemSampler(
                    interval=sample_interval, sample_gpus=self._device_type == "cuda"
                )
                self._sampler.start()
            except Exception as exc:
                self._warn("sampler", exc)
                self._sampler = None
        try:
            self._hooks = FrameworkHooks.register()
        except Exception as exc:
            self._warn("hooks", exc)
            self._hooks = FrameworkHooks()

    # -- training-loop marks (hot path: keep them tiny) ---------------------------------------
    def step_start(self) -> None:
        try:
            self._recorder.step_start()
        except Exception as exc:
            self._warn("step_start", exc)

    def data_ready(self) -> None:
        try:
            self._recorder.data_ready()
        except Exception as exc:
            self._warn("data_ready", exc)

    def forward_done(self) -> None:
        try:
            self._recorder.forward_done()
        except Exception as exc:
            self._warn("forward_done", exc)

    def backward_done(self) -> None:
        try:
            self._recorder.backward_done()
        except Exception as exc:
            self._warn("backward_done", exc)

    def step_end(self, batch_size: int) -> None:
        try:
            self._recorder.step_end(batch_size)
        except Exception as exc:
            self._warn("step_end", exc)

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        try:
            clean = {str(k): float(v) for k, v in metrics.items() if _is_number(v)}
            self._epochs.append(EpochRecord(epoch=int(epoch), metrics=clean, time=self._recorder.now_wall()))
            self._recorder.epoch_end()
        except Exception as exc:
            self._warn("epoch_end", exc)

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        """Optional: let an smdebug hook (when one is registered) watch the model and loss."""
        try:
            self._hooks.watch_model(model, loss_module)
        except Exception as exc:
            self._warn("watch_model", exc)

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
        except Exception as exc:
            self._warn("finish", exc)
        finally:
            self._hooks.close()
        self._finished = triggered
        return triggered

    def close(self) -> None:
        """Stop the sampler thread and hooks; safe to call more than once and after finish()."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._sampler is not None:
                self._sampler.stop()
            self._hooks.close()
        except Exception as exc:
            self._warn("close", exc)

    def _warn(self, where: str, exc: BaseException) -> None:
        if where not in self._failed:
            self._failed.add(where)
            print(
                f"profiler: {where} failed ({type(exc).__name__}: {exc}); training continues",
                file=sys.stderr,
                flush=True,
            )


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
