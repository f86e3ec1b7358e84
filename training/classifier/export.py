"""The model directory: ``model.pt``, ``model.json`` and ``code/`` (a self-serving artifact).

Contract: docs/contracts.md#model-artifact.

``model.pt`` is a plain state_dict (contiguous CPU tensors, loadable with ``weights_only=True``);
``model.json`` describes how to rebuild and feed the model; ``code/`` holds ``inference.py`` and a
copy of this package so SageMaker (or localcloud) serves the artifact with nothing else installed
but torch, torchvision and Pillow. Relies on torch and the standard library.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import PIL
import torch
import torchvision
from torch import nn

from classifier.checkpoint import atomic_save

__all__ = ["MODEL_FILE", "MODEL_JSON", "export_model", "read_model_json"]

MODEL_FILE = "model.pt"
MODEL_JSON = "model.json"
FORMAT_VERSION = 1
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def export_model(
    model_dir: Path,
    model: nn.Module,
    *,
    arch: str,
    classes: Sequence[str],
    labels: Sequence[str],
    image_size: int,
    resize_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    package_dir: Path,
    inference_script: Path,
) -> None:
    """Write model.pt, model.json and code/ (inference.py + the ``classifier`` package) to ``model_dir``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    atomic_save(state, model_dir / MODEL_FILE)
    description = {
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "num_classes": len(classes),
        "classes": list(classes),
        "labels": list(labels),
        "image_size": image_size,
        "resize_size": resize_size,
        "mean": list(mean),
        "std": list(std),
        "hyperparameters": dict(hyperparameters),
        "metrics": dict(metrics),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "pillow": PIL.__version__,
        },
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (model_dir / MODEL_JSON).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    code_dir = model_dir / "code"
    if code_dir.exists():
        shutil.rmtree(code_dir)
    shutil.copytree(package_dir, code_dir / package_dir.name, ignore=_COPY_IGNORE)
    shutil.copy2(inference_script, code_dir / inference_script.name)


def read_model_json(model_dir: Path) -> dict[str, Any]:
    """The parsed model.json of an exported model directory."""
    loaded: dict[str, Any] = json.loads((model_dir / MODEL_JSON).read_text(encoding="utf-8"))
    return loaded
