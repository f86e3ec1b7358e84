"""The recorded profile of one training job, as plain arrays: what the rules and the report read.

Three kinds of data, all timestamps in wall-clock seconds (``time.time()`` scale):

- :class:`StepSeries`: one row per training step (data wait, forward, backward, optimizer, total);
- :class:`SystemSeries`: one row per sampler tick (every ~500 ms): per-core CPU %, IO wait %,
  memory %, and per-GPU utilisation % and memory % when GPUs are sampled;
- :class:`EpochRecord`: the per-epoch metrics train.py reports (loss, accuracy, throughput).

:class:`JobInfo` carries the static facts (device, cores, DataLoader workers, start time).
Relies on numpy only; these are pure data holders so rules can be unit-tested with synthetic series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _empty(columns: int | None = None) -> FloatArray:
    if columns is None:
        return np.zeros(0, dtype=np.float64)
    return np.zeros((0, columns), dtype=np.float64)


@dataclass
class StepSeries:
    """Per-step timings in seconds; ``start`` is the wall-clock time the data wait began."""

    start: FloatArray = field(default_factory=_empty)
    data: FloatArray = field(default_factory=_empty)
    forward: FloatArray = field(default_factory=_empty)
    backward: FloatArray = field(default_factory=_empty)
    optimizer: FloatArray = field(default_factory=_empty)
    total: FloatArray = field(default_factory=_empty)
    batch_size: FloatArray = field(default_factory=_empty)
    epoch: FloatArray = field(default_factory=_empty)

    def __len__(self) -> int:
        return int(self.total.shape[0])

    @property
    def end(self) -> FloatArray:
        """Wall-clock time each step ended (after the optimizer step)."""
        return self.start + self.total

    @classmethod
    def from_columns(
        cls,
        *,
        start: npt.ArrayLike,
        data: npt.ArrayLike,
        forward: npt.ArrayLike,
        backward: npt.ArrayLike,
        optimizer: npt.ArrayLike,
        batch_size: npt.ArrayLike | None = None,
        epoch: npt.ArrayLike | None = None,
    ) -> StepSeries:
        """Build from columns; ``total`` is the sum of the four phases."""
        data_a = np.asarray(data, dtype=np.float64)
        forward_a = np.asarray(forward, dtype=np.float64)
        backward_a = np.asarray(backward, dtype=np.float64)
        optimizer_a = np.asarray(optimizer, dtype=np.float64)
        n = data_a.shape[0]
        return cls(
            start=np.asarray(start, dtype=np.float64),
            data=data_a,
            forward=forward_a,
            backward=backward_a,
            optimizer=optimizer_a,
            total=data_a + forward_a + backward_a + optimizer_a,
            batch_size=np.asarray(batch_size if batch_size is not None else np.ones(n), dtype=np.float64),
            epoch=np.asarray(epoch if epoch is not None else np.zeros(n), dtype=np.float64),
        )


@dataclass
class SystemSeries:
    """System samples: ``cpu_per_core`` is (samples, cores); ``gpu_*`` are (samples, gpus)."""

    time: FloatArray = field(default_factory=_empty)
    cpu_per_core: FloatArray = field(default_factory=lambda: _empty(1))
    iowait: FloatArray = field(default_factory=_empty)
    memory_percent: FloatArray = field(default_factory=_empty)
    gpu_util: FloatArray = field(default_factory=lambda: _empty(0))
    gpu_memory_percent: FloatArray = field(default_factory=lambda: _empty(0))
    gpu_names: list[str] = field(default_factory=list)
    interval: float = 0.5

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @property
    def cpu_total(self) -> FloatArray:
        """Mean utilisation over all cores, per sample (0-100)."""
        if self.cpu_per_core.size == 0:
            return np.zeros(len(self), dtype=np.float64)
        return np.asarray(self.cpu_per_core.mean(axis=1), dtype=np.float64)

    @property
    def gpu_count(self) -> int:
        return int(self.gpu_util.shape[1]) if self.gpu_util.ndim == 2 else 0


@dataclass
class EpochRecord:
    """Metrics of one epoch as reported by train.py (missing keys are NaN)."""

    epoch: int
    metrics: Mapping[str, float]
    time: float

    def get(self, key: str) -> float:
        value = self.metrics.get(key)
        return float("nan") if value is None else float(value)


@dataclass
class JobInfo:
    """Static facts about the job the rules need."""

    device_type: str = "cpu"
    cpu_count: int = 1
    num_workers: int = 0
    batch_size: int = 1
    rank: int = 0
    world_size: int = 1
    process_start: float = 0.0
    finish_time: float = 0.0
    gpu_timing: str = "none"


@dataclass
class ProfileData:
    """Everything recorded for one job (rank)."""

    steps: StepSeries
    system: SystemSeries
    epochs: list[EpochRecord]
    job: JobInfo

    @property
    def first_step_start(self) -> float | None:
        return float(self.steps.start[0]) if len(self.steps) else None
