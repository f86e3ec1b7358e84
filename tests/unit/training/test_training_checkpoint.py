"""Atomic checkpoint writes and RNG state that survives a weights_only round trip."""

import random

import numpy as np
import torch

from classifier.checkpoint import atomic_save, capture_rng_state, load_checkpoint, restore_rng_state


def test_atomic_save_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "ck" / "checkpoint.pt"
    atomic_save({"epoch": 1, "w": torch.ones(2)}, path)
    atomic_save({"epoch": 2, "w": torch.zeros(2)}, path)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]


def test_missing_checkpoint_is_none(tmp_path):
    assert load_checkpoint(tmp_path / "none.pt") is None


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    atomic_save({"rng": capture_rng_state()}, tmp_path / "rng.pt")
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
