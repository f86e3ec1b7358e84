"""Builders of synthetic profiles for the profiling unit tests (steps, system samples, epochs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.profiling.series import EpochRecord, JobInfo, ProfileData, StepSeries, SystemSeries

T0 = 1_700_000_000.0  # process start (wall clock) of every synthetic job


def make_steps(
    n: int,
    *,
    data: float | Sequence[float] = 0.01,
    forward: float = 0.05,
    backward: float = 0.08,
    optimizer: float = 0.01,
    start: float = T0 + 10.0,
    epochs: int = 1,
    batch_size: int = 32,
) -> StepSeries:
    """``n`` back-to-back steps starting at ``start`` (seconds), split evenly into ``epochs``."""
    data_a = np.broadcast_to(np.asarray(data, dtype=float), (n,)).copy()
    compute = forward + backward + optimizer
    totals = data_a + compute
    starts = start + np.concatenate(([0.0], np.cumsum(totals)[:-1]))
    return StepSeries.from_columns(
        start=starts,
        data=data_a,
        forward=np.full(n, forward),
        backward=np.full(n, backward),
        optimizer=np.full(n, optimizer),
        batch_size=np.full(n, batch_size),
        epoch=np.minimum(np.arange(n) * epochs // max(n, 1), epochs - 1),
    )


def make_system(
    steps: StepSeries,
    *,
    cpu: float | Sequence[float] = 50.0,
    iowait: float = 0.0,
    memory: float = 40.0,
    gpu_util: Sequence[float] | Sequence[Sequence[float]] | None = None,
    gpu_memory: Sequence[float] | Sequence[Sequence[float]] | None = None,
    cores: int = 2,
    interval: float = 0.5,
    before: float = 5.0,
) -> SystemSeries:
    """Samples every ``interval`` s from ``before`` s before the first step to the last step's end.

    ``gpu_util`` / ``gpu_memory``: one constant per GPU, or one column per GPU.
    """
    t = np.arange(steps.start[0] - before, steps.end[-1] + 1e-9, interval)
    n = t.size
    cpu_total = np.broadcast_to(np.asarray(cpu, dtype=float), (n,))
    per_core = np.repeat(cpu_total[:, None], cores, axis=1)

    def gpu_columns(values: Sequence[float] | Sequence[Sequence[float]] | None) -> np.ndarray:
        if values is None:
            return np.zeros((n, 0))
        columns = [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in values]
        return np.stack(columns, axis=1)

    util = gpu_columns(gpu_util)
    mem = gpu_columns(gpu_memory) if gpu_memory is not None else np.full_like(util, 50.0)
    return SystemSeries(
        time=t,
        cpu_per_core=per_core,
        iowait=np.full(n, iowait),
        memory_percent=np.full(n, memory),
        gpu_util=util,
        gpu_memory_percent=mem,
        gpu_names=[f"gpu{i} Test GPU" for i in range(util.shape[1])],
        interval=interval,
    )


def make_epochs(train_loss: Sequence[float], valid_loss: Sequence[float] | None = None) -> list[EpochRecord]:
    valid = list(valid_loss) if valid_loss is not None else [float("nan")] * len(train_loss)
    return [
        EpochRecord(
            epoch=i + 1,
            metrics={"train_loss": tl, "valid_loss": vl, "train_accuracy": 0.5, "valid_accuracy": 0.5},
            time=T0 + 60.0 * (i + 1),
        )
        for i, (tl, vl) in enumerate(zip(train_loss, valid, strict=True))
    ]


def make_profile(
    steps: StepSeries | None = None,
    system: SystemSeries | None = None,
    epochs: list[EpochRecord] | None = None,
    *,
    device: str = "cpu",
    num_workers: int = 2,
    cpu_count: int = 2,
    process_start: float = T0,
) -> ProfileData:
    steps = steps if steps is not None else make_steps(40)
    return ProfileData(
        steps=steps,
        system=system if system is not None else make_system(steps),
        epochs=epochs if epochs is not None else make_epochs([1.0, 0.8]),
        job=JobInfo(
            device_type=device,
            cpu_count=cpu_count,
            num_workers=num_workers,
            batch_size=32,
            process_start=process_start,
            finish_time=float(steps.end[-1]) + 5.0 if len(steps) else process_start + 5.0,
        ),
    )
