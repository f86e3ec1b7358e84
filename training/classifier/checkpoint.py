"""Per-epoch checkpoints: atomic writes, random-number state, and resume.

A checkpoint (``checkpoint.pt`` in the checkpoint directory) holds everything needed to continue
after an interruption losing at most the epoch in progress: model, optimizer, scheduler and
grad-scaler state, the last completed epoch, the best metric and early-stopping counter, and
the RNG states. The best model's weights are kept beside it (``best-model.pt``) so the export
after a resume is still the best epoch's. Files are written to a temporary name and renamed,
so a kill mid-write never leaves a torn checkpoint. Everything is loadable with
``weights_only=True``. Relies on torch and the standard library.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "BEST_MODEL_FILE",
    "CHECKPOINT_FILE",
    "atomic_save",
    "capture_rng_state",
    "load_checkpoint",
    "restore_rng_state",
]

CHECKPOINT_FILE = "checkpoint.pt"
BEST_MODEL_FILE = "best-model.pt"


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or ``None`` when there is none."""
    if not path.is_file():
        return None
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    return loaded if isinstance(loaded, dict) else None


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) RNG states in weights_only-loadable types."""
    np_state: tuple[Any, ...] = tuple(np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [
            str(np_state[0]),
            torch.from_numpy(np.asarray(np_state[1]).copy()),
            *map(float, np_state[2:]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng_state`; silently skips parts that do not apply on this machine."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy(), int(pos), int(has_gauss), float(cached)))
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
