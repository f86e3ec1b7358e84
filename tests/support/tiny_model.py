"""A tiny exported model (random resnet18, 3 dog classes) for the tests that serve one.

``export_tiny_model(directory, image_size=...)`` writes what training/train.py exports at the end of
a job (model.pt, model.json, code/ with inference.py and the ``classifier`` package) through the
real :func:`classifier.export.export_model`, with seeded random weights: the serving tests need a
loadable artifact, not an accurate one, and training one would take minutes.
"""

from __future__ import annotations

from pathlib import Path

import torch

from classifier.export import export_model
from classifier.models import create_architecture

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "training"
CLASSES = ["001.Golden_retriever", "002.Beagle", "003.Poodle"]
LABELS = ["Golden retriever", "Beagle", "Poodle"]


def export_tiny_model(directory: Path, *, image_size: int = 64) -> Path:
    """Export a seeded, untrained resnet18 for :data:`CLASSES` to ``directory`` and return it.

    The resize before the centre crop keeps torchvision's 256/224 ratio (37 for 32 px, 73 for 64 px).
    """
    torch.manual_seed(0)
    network, _ = create_architecture("resnet18", len(CLASSES))
    export_model(
        directory,
        network,
        arch="resnet18",
        classes=CLASSES,
        labels=LABELS,
        image_size=image_size,
        resize_size=round(image_size * 8 / 7),
        mean=[0.5] * 3,
        std=[0.25] * 3,
        hyperparameters={"arch": "resnet18"},
        metrics={"test_accuracy": 0.5},
        package_dir=TRAINING / "classifier",
        inference_script=TRAINING / "inference.py",
    )
    return directory
