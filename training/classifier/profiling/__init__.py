"""In-job profiling for train.py: step timings, a system sampler, SageMaker-style rules and a report.

train.py talks only to the :class:`Profiler` protocol returned by :func:`create_profiler`:

    profiler = create_profiler(args.profile, output_dir=..., device=device, batch_size=...,
                               num_workers=..., rank=rank, world_size=world_size,
                               process_start=process_start)
    try:
        for epoch in ...:
            profiler.step_start()        # before fetching the next batch (data wait begins)
            ...                          # fetch + move to device
            profiler.data_ready()
            ...                          # forward + loss
            profiler.forward_done()
            ...                          # backward
            profiler.backward_done()
            ...                          # optimizer step
            profiler.step_end(batch_size)
            profiler.epoch_end(epoch, metrics)
        rules_triggered = profiler.finish()
    finally:
        profiler.close()

``profiler.watch_model(model, loss_fn)`` is optional: it lets an smdebug hook (registered only when
smdebug is importable and SageMaker configured it, see :mod:`classifier.profiling.hooks`) save
tensors of the model.

When profiling is off a :class:`NoOpProfiler` is returned whose methods do nothing, so the
training loop needs no ``if profile:`` branches. Relies on: the standard library only (the real
profiler in :mod:`classifier.profiling.session` is imported lazily, with psutil, matplotlib and,
when present, nvidia-ml-py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

__all__ = ["NoOpProfiler", "Profiler", "create_profiler"]


@runtime_checkable
class Profiler(Protocol):
    """What the training loop calls; every method is cheap and never raises for profiling faults."""

    def step_start(self) -> None:
        """Mark the start of a step: the data wait (fetching the next batch) begins now."""

    def data_ready(self) -> None:
        """The batch has been fetched and moved to the device."""

    def forward_done(self) -> None:
        """Forward pass and loss computed."""

    def backward_done(self) -> None:
        """Backward pass done."""

    def step_end(self, batch_size: int) -> None:
        """Optimizer step done; ``batch_size`` is the number of samples in this step."""

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Record the epoch's metrics (train_loss, train_accuracy, valid_loss, valid_accuracy, ...)."""

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        """Optional: hand the model (and loss module) to an smdebug hook, when one is registered."""

    def finish(self) -> int:
        """Evaluate the rules, write the report (rank 0); return how many rules found issues."""
        ...

    def close(self) -> None:
        """Stop background sampling and release resources; safe to call more than once."""


class NoOpProfiler:
    """The profiler used when profiling is off: records nothing, reports 0 rules triggered."""

    def step_start(self) -> None:
        """Do nothing."""

    def data_ready(self) -> None:
        """Do nothing."""

    def forward_done(self) -> None:
        """Do nothing."""

    def backward_done(self) -> None:
        """Do nothing."""

    def step_end(self, batch_size: int) -> None:
        """Do nothing."""

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Do nothing."""

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        """Do nothing."""

    def finish(self) -> int:
        """Nothing evaluated: no rule triggered."""
        return 0

    def close(self) -> None:
        """Do nothing."""


def create_profiler(
    enabled: bool,
    *,
    output_dir: Path,
    device: torch.device,
    batch_size: int,
    num_workers: int,
    rank: int = 0,
    world_size: int = 1,
    process_start: float,
) -> Profiler:
    """Return the real profiler when ``enabled`` (sampler thread started), else a no-op one.

    ``output_dir`` is where ``profiler-report/`` is written (SM_OUTPUT_DATA_DIR); only rank 0
    writes. ``process_start`` is ``time.time()`` at the top of train.py.
    """
    if not enabled:
        return NoOpProfiler()
    from classifier.profiling.session import ProfilingSession

    return ProfilingSession(
        output_dir=Path(output_dir),
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        rank=rank,
        world_size=world_size,
        process_start=process_start,
    )
