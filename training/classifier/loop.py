"""One training epoch and one evaluation pass: AMP, channels_last, DDP sums, profiler hooks, SIGTERM stops.

Batches arrive as uint8 and are normalised on the device. Per-step loss and accuracy stay on the
device (no host sync per step); the sums are reduced over all ranks at the end of the phase.
A stop request (SIGTERM) is honoured between steps by raising :class:`TrainingInterrupted`.
A tqdm bar is drawn only when stderr is a terminal. Relies on torch and tqdm.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from classifier.distributed import DistributedContext, all_reduce_sums
from classifier.imaging import normalize
from classifier.models import freeze_backbone_norms
from classifier.profiling import Profiler

__all__ = ["PhaseResult", "StopRequest", "Trainer", "TrainingInterrupted"]

Batch = tuple[torch.Tensor, torch.Tensor, int]
_DISTRIBUTED_STOP_CHECK_EVERY = 10  # steps between the ranks' stop agreements


class TrainingInterrupted(Exception):
    """Training stopped on request (SIGTERM: SageMaker StopTrainingJob or a spot interruption)."""


class StopRequest:
    """Set by SIGTERM/SIGINT; the loop checks it between steps."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.exit_code = 0

    @property
    def requested(self) -> bool:
        """Whether a stop signal arrived."""
        return self.signal_name is not None

    def install(self) -> None:
        """Handle SIGTERM (and SIGINT) by recording the request instead of dying mid-write."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum  # what the shell reports for a process killed by it


@dataclass(frozen=True)
class PhaseResult:
    """Totals of one pass over a split, summed over all ranks."""

    loss: float
    accuracy: float
    images: int
    seconds: float
    failed_images: int

    @property
    def images_per_second(self) -> float:
        """Throughput of the pass."""
        return self.images / self.seconds if self.seconds > 0 else 0.0


def _progress(iterable_len: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=iterable_len, desc=description, leave=False, file=sys.stderr, dynamic_ncols=True)


class Trainer:
    """Runs training and evaluation passes for one model on one device."""

    def __init__(
        self,
        *,
        criterion: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        ctx: DistributedContext,
        amp_dtype: torch.dtype | None,
        channels_last: bool,
        mean: Sequence[float],
        std: Sequence[float],
        profiler: Profiler,
        stop: StopRequest,
        max_steps_per_epoch: int = 0,
        show_progress: bool = False,
    ):
        self.criterion = criterion
        self.eval_criterion = nn.CrossEntropyLoss(reduction="sum")
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scaler = scaler
        self.ctx = ctx
        self.device = ctx.device
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.profiler = profiler
        self.stop = stop
        self.max_steps = max_steps_per_epoch
        self.show_progress = show_progress and ctx.is_main

    def _to_device(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        non_blocking = self.device.type == "cuda"
        images = images.to(self.device, non_blocking=non_blocking)
        labels = labels.to(self.device, non_blocking=non_blocking)
        return normalize(images, self.mean, self.std, channels_last=self.channels_last), labels

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _check_stop(self, step: int, *, last: bool = False) -> None:
        """Raise :class:`TrainingInterrupted` once a stop was requested.

        With several processes the ranks agree first (an all-reduce every few steps and at the
        end of a pass), so that none of them is left waiting in a collective for a rank that left.
        """
        if not self.ctx.distributed:
            if self.stop.requested:
                raise TrainingInterrupted(f"stopped by {self.stop.signal_name}")
            return
        if not last and step % _DISTRIBUTED_STOP_CHECK_EVERY:
            return
        flag = torch.tensor([1.0 if self.stop.requested else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() > 0:
            raise TrainingInterrupted(
                f"stopped by {self.stop.signal_name or 'a stop request on another rank'}"
            )

    def train_epoch(
        self, model: nn.Module, loader: Iterable[Batch], steps: int, epoch: int, *, freeze_norms: bool = False
    ) -> PhaseResult:
        """One pass over ``loader`` (at most ``max_steps_per_epoch`` steps); ``model`` may be DDP-wrapped.

        ``freeze_norms`` keeps the frozen backbone's BatchNorm statistics fixed (head-only warm-up).
        """
        model.train()
        if freeze_norms:
            freeze_backbone_norms(model)
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        count = failed = step = 0
        limit = min(steps, self.max_steps) if self.max_steps else steps
        bar = _progress(limit, f"epoch {epoch}", self.show_progress)
        iterator = iter(loader)
        start = time.perf_counter()
        while step < limit:
            self.profiler.step_start()
            try:
                images, labels, batch_failed = next(iterator)
            except StopIteration:
                break
            failed += batch_failed
            if labels.numel() == 0:
                continue
            inputs, targets = self._to_device(images, labels)
            self.profiler.data_ready()
            with self._autocast():
                logits = model(inputs)
                loss = self.criterion(logits, targets)
            self.profiler.forward_done()
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.profiler.backward_done()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            batch = targets.shape[0]
            self.profiler.step_end(batch)
            loss_sum += loss.detach().double() * batch
            correct += (logits.detach().argmax(dim=1) == targets).sum()
            count += batch
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            self._check_stop(step)
        self._check_stop(step, last=True)
        return self._phase_result(bar, start, loss_sum, correct, count=count, failed=failed)

    @torch.inference_mode()
    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], steps: int, description: str
    ) -> PhaseResult:
        """Mean cross-entropy (no label smoothing) and accuracy over ``loader``; ``model`` unwrapped."""
        model.eval()
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        count = failed = 0
        bar = _progress(steps, description, self.show_progress)
        start = time.perf_counter()
        for step, (images, labels, batch_failed) in enumerate(loader, start=1):
            failed += batch_failed
            if labels.numel() == 0:
                continue
            inputs, targets = self._to_device(images, labels)
            with self._autocast():
                logits = model(inputs)
            loss_sum += self.eval_criterion(logits.float(), targets).double()
            correct += (logits.argmax(dim=1) == targets).sum()
            count += targets.shape[0]
            if bar is not None:
                bar.update(1)
            if not self.ctx.distributed:  # ranks may hold one batch more or less here: agree at the end only
                self._check_stop(step)
        self._check_stop(0, last=True)
        return self._phase_result(bar, start, loss_sum, correct, count=count, failed=failed)

    def _phase_result(
        self,
        bar: Any,
        start: float,
        loss_sum: torch.Tensor,
        correct: torch.Tensor,
        *,
        count: int,
        failed: int,
    ) -> PhaseResult:
        """End of a pass over a loader: wait for the device, close the bar, reduce across ranks."""
        self._synchronize()
        seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
        return self._reduce(loss_sum, correct, count, failed, seconds)

    @torch.inference_mode()
    def predict(self, model: nn.Module, loader: Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax probabilities (N x C, float32, CPU) and each batch's second item, concatenated.

        This process only (no collective): the evaluation loader yields dataset indices as the
        second item, so every probability row can be traced to its image.
        """
        model.eval()
        probabilities: list[torch.Tensor] = []
        keys: list[torch.Tensor] = []
        for images, batch_keys, _failed in loader:
            if batch_keys.numel() == 0:
                continue
            inputs, _ = self._to_device(images, batch_keys)
            with self._autocast():
                logits = model(inputs)
            probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
            keys.append(batch_keys.cpu())
            if self.stop.requested:
                raise TrainingInterrupted(f"stopped by {self.stop.signal_name}")
        if not probabilities:
            return torch.empty(0, 0), torch.empty(0, dtype=torch.long)
        return torch.cat(probabilities), torch.cat(keys)

    def _reduce(
        self, loss_sum: torch.Tensor, correct: torch.Tensor, count: int, failed: int, seconds: float
    ) -> PhaseResult:
        total_loss, total_correct, total_count, total_failed = all_reduce_sums(
            [float(loss_sum.item()), float(correct.item()), count, failed], self.ctx
        )
        images = int(total_count)
        return PhaseResult(
            loss=total_loss / images if images else float("nan"),
            accuracy=total_correct / images if images else float("nan"),
            images=images,
            seconds=seconds,
            failed_images=int(total_failed),
        )
