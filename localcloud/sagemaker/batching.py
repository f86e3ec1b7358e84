"""Request batching for the model server: its settings (from the container environment) and the batcher.

Settings come from the variables SageMaker's PyTorch serving stack reads
(sagemaker-pytorch-inference-toolkit, which writes them into TorchServe's model config):

- ``SAGEMAKER_TS_BATCH_SIZE`` (default 1): the most requests one forward pass serves;
- ``SAGEMAKER_TS_MAX_BATCH_DELAY`` (milliseconds, default 100): the longest the first request of a
  batch waits for the batch to fill;
- workers: when any ``SAGEMAKER_TS_*`` variable is set the toolkit starts ``SAGEMAKER_TS_MIN_WORKERS``
  (default 1; ``SAGEMAKER_TS_MAX_WORKERS``, default 1, may not be smaller), otherwise
  ``SAGEMAKER_MODEL_SERVER_WORKERS``, and without that TorchServe's own default: one worker per
  GPU the instance gives the server (``CUDA_VISIBLE_DEVICES``), else one per vCPU
  (:func:`default_workers`).

A value that is not a whole number in range raises :class:`SettingsError` naming the variable
(the server then exits and the endpoint goes Failed with that message, as a container would).

:class:`Batcher` runs every batch on one thread (the model server's main thread): PyTorch's OpenMP
runtime (libgomp) keeps a team of intra-op threads for each thread that runs a parallel region, and
once a process has more OpenMP threads than cores every team spins less at its barriers (a 2-thread
resnet18 forward on 2 cores: 13 ms with one team, 17 ms once a second one exists), so a forward run
on whichever request thread it arrived on would pay that for every request after the first.
It differs from TorchServe in one way on purpose: TorchServe holds a lone request
for the whole delay waiting for company; here the first request waits only while more are expected
(requests that were already queued when the previous batch finished, plus that batch's clients
if it finished less than the delay ago: they come back after their answers) and at most the delay
after the previous batch finished, so a lone client is served at once (also the first request of a
fresh server) while concurrent clients fill whole batches. A client that stops costs one wait.
Hand-written: a queue and a wait.
Relies on the standard library only (the model server must stay light to import).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

BATCH_SIZE = "SAGEMAKER_TS_BATCH_SIZE"
MAX_BATCH_DELAY = "SAGEMAKER_TS_MAX_BATCH_DELAY"
MIN_WORKERS = "SAGEMAKER_TS_MIN_WORKERS"
MAX_WORKERS = "SAGEMAKER_TS_MAX_WORKERS"
RESPONSE_TIMEOUT = "SAGEMAKER_TS_RESPONSE_TIMEOUT"
MODEL_SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
TS_VARIABLES = (BATCH_SIZE, MAX_BATCH_DELAY, MIN_WORKERS, MAX_WORKERS, RESPONSE_TIMEOUT)

MAX_BATCH_SIZE = 256
MAX_DELAY_MS = 60_000
MAX_WORKER_COUNT = 64

T = TypeVar("T")
R = TypeVar("R")


class SettingsError(ValueError):
    """A batching/worker variable with a value the server cannot use."""


def default_workers(env: Mapping[str, str], cores: int) -> int:
    """TorchServe's workers per model when nothing sets them: one per visible GPU, else one per vCPU."""
    gpus = [d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip() and d.strip() != "-1"]
    return max(1, min(MAX_WORKER_COUNT, len(gpus) or cores))


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return value


@dataclass(frozen=True)
class BatchSettings:
    """How many requests a forward pass takes, how long the first waits, how many workers serve."""

    batch_size: int = 1
    max_delay_ms: int = 100
    workers: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cores: int | None = None) -> BatchSettings:
        """Read the toolkit's variables (``cores``: this instance's vCPUs, by default the ones this
        process may run on); :class:`SettingsError` names a bad one."""
        env = os.environ if env is None else env
        cores = len(os.sched_getaffinity(0)) if cores is None else cores
        batch_size = _whole(env, BATCH_SIZE, 1, 1, MAX_BATCH_SIZE)
        delay = _whole(env, MAX_BATCH_DELAY, 100, 0, MAX_DELAY_MS)
        if any(name in env for name in TS_VARIABLES):
            workers = _whole(env, MIN_WORKERS, 1, 1, MAX_WORKER_COUNT)
            most = _whole(env, MAX_WORKERS, 1, 1, MAX_WORKER_COUNT)
            if most < workers:
                raise SettingsError(
                    f"{MAX_WORKERS} ({most}) must not be smaller than {MIN_WORKERS} ({workers})"
                )
        else:
            workers = _whole(env, MODEL_SERVER_WORKERS, default_workers(env, cores), 1, MAX_WORKER_COUNT)
        return cls(batch_size=batch_size, max_delay_ms=delay, workers=workers)

    def threads_per_worker(self, cores: int) -> int:
        """Intra-op threads for each worker so that workers x threads <= cores."""
        return max(1, cores // self.workers)


@dataclass
class _Pending(Generic[T, R]):
    item: T
    arrived: float
    future: Future[R] = field(default_factory=Future)


class Batcher(Generic[T, R]):
    """Collects items submitted from request threads into batches run by one thread (``run_forever``).

    ``run`` takes the batch's items and returns one result per item, in order; if it raises,
    every request of that batch gets the exception.
    """

    def __init__(self, run: Callable[[list[T]], Sequence[R]], settings: BatchSettings) -> None:
        self._run = run
        self._size = settings.batch_size
        self._delay = settings.max_delay_ms / 1000.0
        self._queue: queue.SimpleQueue[_Pending[T, R] | None] = queue.SimpleQueue()
        self._last_size = 0
        self._last_done: float | None = None
        self._lock = threading.Lock()
        self._sizes: Counter[int] = Counter()

    def submit(self, item: T) -> R:
        """Run ``item`` in a batch on the batching thread and return its result (or raise the
        batch's exception)."""
        pending: _Pending[T, R] = _Pending(item, time.monotonic())
        self._queue.put(pending)
        return pending.future.result()

    def stop(self) -> None:
        self._queue.put(None)

    def stats(self) -> dict[str, object]:
        """Requests and batches run so far, how many batches had each size, and how many requests
        wait in the queue now (not yet taken into a batch)."""
        with self._lock:
            sizes = dict(sorted(self._sizes.items()))
        return {
            "batchSize": self._size,
            "maxBatchDelayMs": round(self._delay * 1000),
            "queued": self._queue.qsize(),
            "requests": sum(size * count for size, count in sizes.items()),
            "batches": sum(sizes.values()),
            "batchSizes": {str(size): count for size, count in sizes.items()},
        }

    def run_forever(self) -> None:
        while (first := self._queue.get()) is not None:
            batch, stop = self._collect(first)
            self._execute(batch)
            if stop:
                return

    def _collect(self, first: _Pending[T, R]) -> tuple[list[_Pending[T, R]], bool]:
        """The batch starting with ``first``: what is queued, then who is expected within the delay."""
        batch = [first]
        target, deadline = self._size, first.arrived + self._delay
        while len(batch) < self._size:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                if target == self._size:  # everything queued is in: how many more are on their way?
                    target, deadline = self._expectation(batch)
                remaining = deadline - time.monotonic()
                if len(batch) >= target or remaining <= 0:
                    break
                try:
                    pending = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if pending is None:
                return batch, True
            batch.append(pending)
        self._last_size = len(batch)
        return batch, False

    def _expectation(self, batch: list[_Pending[T, R]]) -> tuple[int, float]:
        """(batch size worth waiting for, wait until): the queued requests that were already waiting
        when the last batch finished, plus that batch's clients, who come back after their answers
        (if it finished less than the delay ago). A fresh server expects no one: its first request
        runs at once with whatever was queued by then."""
        first = batch[0].arrived
        if self._last_done is None:
            return 1, first
        done = self._last_done
        waiting = sum(1 for pending in batch if pending.arrived <= done)
        returning = self._last_size if time.monotonic() - done <= self._delay else 0
        return max(1, min(self._size, waiting + returning)), max(first, done) + self._delay

    def _execute(self, batch: list[_Pending[T, R]]) -> None:
        with self._lock:
            self._sizes[len(batch)] += 1
        try:
            results = list(self._run([p.item for p in batch]))
            if len(results) != len(batch):
                raise RuntimeError(
                    f"the batch handler returned {len(results)} results for {len(batch)} inputs"
                )
        except BaseException as exc:
            self._last_done = time.monotonic()
            for pending in batch:
                pending.future.set_exception(exc)
        else:
            # Stamped before the answers go out: a request that arrives later cannot have been
            # waiting during this batch (it may be one of its clients coming back).
            self._last_done = time.monotonic()
            for pending, result in zip(batch, results, strict=True):
                pending.future.set_result(result)
