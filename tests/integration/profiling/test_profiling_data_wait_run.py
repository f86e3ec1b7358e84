"""End to end: slow-to-decode training images make the data-wait rule fire; normal images do not.

Two profiled runs of train.py with the same arguments (no DataLoader workers, so images are decoded
in the training process between steps; a few steps) that differ only in the training images: the
same pictures, once as small JPEGs and once as 3000 x 3000 PNGs (~0.1 s each to decode and resize).
With the slow images the training loop spends most of every step waiting for the DataLoader, and
the Dataloader rule reports too few workers for the data; with the normal images the same setting
keeps up and the rule is quiet.
(With workers on a 2-core machine the decoding would instead compete with training for the CPU and
slow the compute phases, which is not a data wait.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from support.train_job import Job, TrainingRun, run_to_completion

pytestmark = pytest.mark.slow

HYPERPARAMETERS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "64",
    "epochs": "1",
    "batch-size": "8",
    "num-workers": "0",
    "max-steps-per-epoch": "6",
    "profile": "true",
}
SLOW_SIDE = 3000  # pixels; NEAREST upscaling keeps the files small (~150 KB) but decoding slow


def _make_slow_copy(normal: Path, slow: Path) -> None:
    """Same dataset, but every training image re-saved as a huge PNG."""
    shutil.copytree(normal, slow)
    for path in sorted((slow / "train").rglob("*.jpg")):
        with Image.open(path) as image:
            image.convert("RGB").resize((SLOW_SIDE, SLOW_SIDE), Image.Resampling.NEAREST).save(
                path.with_suffix(".png"), format="PNG", compress_level=1
            )
        path.unlink()


def _profiled_run(data: Path, root: Path) -> TrainingRun:
    root.mkdir()
    return run_to_completion(Job(root=root, data=data, gpus=torch.cuda.device_count()), HYPERPARAMETERS)


def test_slow_image_decoding_triggers_the_data_wait_rule(tmp_path: Path) -> None:
    from classifier.sample_data import generate

    normal = generate(
        tmp_path / "normal",
        classes=2,
        train_per_class=24,
        valid_per_class=4,
        test_per_class=4,
        size=64,
        seed=0,
    )
    _make_slow_copy(normal, tmp_path / "slow")

    slow_run = _profiled_run(tmp_path / "slow", tmp_path / "slow-job")
    normal_run = _profiled_run(normal, tmp_path / "normal-job")

    slow = slow_run.rules()["Dataloader"]
    fine = normal_run.rules()["Dataloader"]
    assert slow["RuleEvaluationStatus"] == "IssuesFound", slow["StatusDetails"]
    assert fine["RuleEvaluationStatus"] == "NoIssuesFound", fine["StatusDetails"]
    slow_wait = slow["Details"]["Observed"]["data_wait_percent_of_step_time"]
    normal_wait = fine["Details"]["Observed"]["data_wait_percent_of_step_time"]
    assert slow_wait > normal_wait + 20, (slow_wait, normal_wait)
    assert slow_run.rules_triggered() >= 1
    assert "Set num-workers" in slow["Recommendation"]
