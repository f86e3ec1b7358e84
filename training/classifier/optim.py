"""Optimizer (adamw | sgd | adam, no weight decay on biases and norms) and a cosine schedule with warm-up.

One optimizer holds every parameter for the whole run: during the ``freeze-epochs`` warm-up the
frozen backbone simply has no gradients, so the optimizer and scheduler state stay the same
objects across phases and across a resume. Relies on torch (the schedule formula is the usual
linear warm-up then half-cosine, written as a LambdaLR factor).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["build_optimizer", "build_scheduler", "warmup_cosine_factor"]


def build_optimizer(
    model: nn.Module, name: str, *, lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    """``name`` in adamw | sgd | adam; 1-D parameters (biases, norm scales) get no weight decay."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
    raise ValueError(f"unknown optimizer {name!r}")


def warmup_cosine_factor(step: int, *, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier: linear up to 1 over ``warmup_steps``, then half a cosine down to 0 at the end."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR following :func:`warmup_cosine_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine_factor(step, total_steps=total_steps, warmup_steps=warmup_steps),
    )
