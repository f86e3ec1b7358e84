"""Warm-up then cosine learning-rate schedule and the optimizer choices."""

import itertools

import pytest
import torch
from torch import nn

from classifier.optim import build_optimizer, build_scheduler, warmup_cosine_factor


def test_warmup_rises_linearly_then_cosine_decays_to_zero():
    factors = [warmup_cosine_factor(s, total_steps=10, warmup_steps=2) for s in range(11)]
    assert factors[0] == pytest.approx(0.5)
    assert factors[1] == pytest.approx(1.0)
    assert factors[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(factors[2:]))
    assert factors[10] == pytest.approx(0.0)


def test_no_warmup_starts_at_full_rate():
    assert warmup_cosine_factor(0, total_steps=5, warmup_steps=0) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "kind"), [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)]
)
def test_optimizers_exclude_biases_and_norms_from_weight_decay(name, kind):
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    optimizer = build_optimizer(model, name, lr=0.1, weight_decay=0.01, momentum=0.9)
    assert isinstance(optimizer, kind)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.01 and all(p.ndim == 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0 and all(p.ndim == 1 for p in no_decay["params"])


def test_scheduler_state_round_trips():
    model = nn.Linear(2, 2)
    optimizer = build_optimizer(model, "sgd", lr=1.0, weight_decay=0.0, momentum=0.0)
    scheduler = build_scheduler(optimizer, total_steps=10, warmup_steps=2)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh_opt = build_optimizer(model, "sgd", lr=1.0, weight_decay=0.0, momentum=0.0)
    fresh = build_scheduler(fresh_opt, total_steps=10, warmup_steps=2)
    fresh.load_state_dict(state)
    assert fresh.last_epoch == 4
    assert fresh.get_last_lr() == scheduler.get_last_lr()
