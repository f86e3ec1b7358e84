"""Per-step timing of the training loop: data wait, forward, backward, optimizer and total time.

The training loop calls five marks per step; each mark costs one ``time.perf_counter()`` call and
a list append (about a microsecond), so recording every step is cheap on CPU.

On CUDA, kernels run asynchronously: the CPU reaches ``forward_done`` long before the GPU has
finished the forward pass, so CPU timestamps alone cannot split forward from backward. Instead of
synchronising (which would stall the pipeline every step), the recorder records a CUDA event at
each mark (``data_ready``, ``forward_done``, ``backward_done``, ``step_end``) on the current
stream. Events are resolved lazily: at each ``step_end`` the recorder polls (non-blocking
``Event.query()``) the oldest pending steps and converts finished ones into GPU durations;
``finalize()`` synchronises once at the end for the rest. Events are recycled through a small pool.
Data wait and total step time are always CPU wall time (the loop blocks on the DataLoader on the
CPU side, and in steady state the CPU cannot run ahead of the GPU by more than the launch queue).

Relies on: the standard library; torch only when the device is CUDA.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier.profiling.series import StepSeries

if TYPE_CHECKING:
    import torch

_MAX_PENDING = 256  # steps whose CUDA events are not resolved yet; beyond that, block on the oldest


class StepRecorder:
    """Accumulates per-step timings; ``series()`` returns them as a :class:`StepSeries`."""

    def __init__(
        self,
        device: torch.device | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall_offset = wall_clock() - clock()
        self._epoch = 0
        self._t_start: float | None = None
        self._t_data: float | None = None
        self._t_forward: float | None = None
        self._t_backward: float | None = None
        self._start: list[float] = []
        self._data: list[float] = []
        self._forward: list[float] = []
        self._backward: list[float] = []
        self._optimizer: list[float] = []
        self._total: list[float] = []
        self._batch: list[float] = []
        self._epochs: list[float] = []
        self._cuda = _CudaPhaseTimer.create(device)

    @property
    def gpu_timing(self) -> str:
        """How forward/backward/optimizer are timed: 'cuda-events' or 'cpu-wall'."""
        return "cuda-events" if self._cuda is not None else "cpu-wall"

    def to_wall(self, t: float) -> float:
        """Convert a clock reading to wall-clock seconds."""
        return t + self._wall_offset

    def now_wall(self) -> float:
        return self._clock() + self._wall_offset

    def step_start(self) -> None:
        self._t_start = self._clock()
        self._t_data = self._t_forward = self._t_backward = None

    def data_ready(self) -> None:
        self._t_data = self._clock()
        if self._cuda is not None:
            self._cuda.mark(0)

    def forward_done(self) -> None:
        self._t_forward = self._clock()
        if self._cuda is not None:
            self._cuda.mark(1)

    def backward_done(self) -> None:
        self._t_backward = self._clock()
        if self._cuda is not None:
            self._cuda.mark(2)

    def step_end(self, batch_size: int) -> None:
        t_end = self._clock()
        # A missing mark collapses its phase to zero length instead of failing.
        t_start = self._t_start if self._t_start is not None else t_end
        t_data = self._t_data if self._t_data is not None else t_start
        t_forward = self._t_forward if self._t_forward is not None else t_data
        t_backward = self._t_backward if self._t_backward is not None else t_forward
        self._start.append(t_start + self._wall_offset)
        self._data.append(t_data - t_start)
        self._forward.append(t_forward - t_data)
        self._backward.append(t_backward - t_forward)
        self._optimizer.append(t_end - t_backward)
        self._total.append(t_end - t_start)
        self._batch.append(float(batch_size))
        self._epochs.append(float(self._epoch))
        self._t_start = None
        if self._cuda is not None:
            self._cuda.mark(3)
            self._cuda.close_step(len(self._total) - 1)
            self._apply(self._cuda.resolve_ready())

    def epoch_end(self) -> None:
        """Steps recorded after this call belong to the next epoch."""
        self._epoch += 1

    def finalize(self) -> None:
        """Resolve every pending CUDA timing (synchronises once)."""
        if self._cuda is not None:
            self._apply(self._cuda.resolve_all())

    def _apply(self, resolved: list[tuple[int, float, float, float]]) -> None:
        for index, forward, backward, optimizer in resolved:
            self._forward[index] = forward
            self._backward[index] = backward
            self._optimizer[index] = optimizer

    def __len__(self) -> int:
        return len(self._total)

    def series(self) -> StepSeries:
        """A snapshot of everything recorded so far."""
        return StepSeries(
            start=np.array(self._start, dtype=np.float64),
            data=np.array(self._data, dtype=np.float64),
            forward=np.array(self._forward, dtype=np.float64),
            backward=np.array(self._backward, dtype=np.float64),
            optimizer=np.array(self._optimizer, dtype=np.float64),
            total=np.array(self._total, dtype=np.float64),
            batch_size=np.array(self._batch, dtype=np.float64),
            epoch=np.array(self._epochs, dtype=np.float64),
        )


class _CudaPhaseTimer:
    """CUDA events at the four in-step marks, resolved without blocking the training loop."""

    def __init__(self, torch_module: Any) -> None:
        self._torch = torch_module
        self._pool: list[Any] = []
        self._current: list[Any | None] = [None, None, None, None]
        self._pending: deque[tuple[int, list[Any]]] = deque()

    @classmethod
    def create(cls, device: torch.device | None) -> _CudaPhaseTimer | None:
        if device is None or getattr(device, "type", "cpu") != "cuda":
            return None
        import torch

        if not torch.cuda.is_available():
            return None
        return cls(torch)

    def _event(self) -> Any:
        if self._pool:
            return self._pool.pop()
        return self._torch.cuda.Event(enable_timing=True)

    def mark(self, slot: int) -> None:
        event = self._event()
        event.record()
        previous = self._current[slot]
        if previous is not None:
            self._pool.append(previous)
        self._current[slot] = event

    def close_step(self, index: int) -> None:
        events = self._current
        self._current = [None, None, None, None]
        if any(e is None for e in events):
            self._pool.extend(e for e in events if e is not None)
            return
        self._pending.append((index, events))

    def _resolve(self, index: int, events: list[Any]) -> tuple[int, float, float, float]:
        data, forward, backward, end = events
        result = (
            index,
            data.elapsed_time(forward) / 1000.0,
            forward.elapsed_time(backward) / 1000.0,
            backward.elapsed_time(end) / 1000.0,
        )
        self._pool.extend(events)
        return result

    def resolve_ready(self) -> list[tuple[int, float, float, float]]:
        done = []
        while self._pending and (len(self._pending) > _MAX_PENDING or self._pending[0][1][3].query()):
            index, events = self._pending.popleft()
            events[3].synchronize()
            done.append(self._resolve(index, events))
        return done

    def resolve_all(self) -> list[tuple[int, float, float, float]]:
        if self._pending:
            self._torch.cuda.synchronize()
        done = []
        while self._pending:
            index, events = self._pending.popleft()
            done.append(self._resolve(index, events))
        return done
