"""Shared fixtures for the training integration tests: the sample dataset and one trained model.

train.py runs as SageMaker runs it: a subprocess with the SM_* environment and ``--name value``
arguments, ``classifier`` found next to train.py (no PYTHONPATH). The acceptance model is trained
once per session and shared by the tests that need it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TRAIN_PY = REPO / "training" / "train.py"

try:
    import classifier  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "training"))

from classifier.sample_data import generate  # noqa: E402

ACCEPTANCE_ARGS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "64",
    "epochs": "4",
    "lr": "0.001",
    "batch-size": "32",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Job:
    """Paths of one SageMaker-style job under a temporary directory."""

    root: Path
    data: Path

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def env(self, hyperparameters: dict[str, str], **extra: str) -> dict[str, str]:
        """The environment SageMaker gives a single-host CPU training job (plus ``extra``)."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "WORLD_SIZE", "RANK"}}
        env.update(
            {
                "SM_MODEL_DIR": str(self.model_dir),
                "SM_OUTPUT_DIR": str(self.output_dir),
                "SM_OUTPUT_DATA_DIR": str(self.output_dir / "data"),
                "SM_CHECKPOINT_DIR": str(self.checkpoint_dir),
                "SM_INPUT_DIR": str(self.root / "input"),
                "SM_NUM_GPUS": "0",
                "SM_HOSTS": '["algo-1"]',
                "SM_CURRENT_HOST": "algo-1",
                "SM_HPS": json.dumps(hyperparameters),
                "TORCH_HOME": str(self.root / "torch-home"),
                # Any download attempt fails at once instead of waiting on the network.
                "HTTPS_PROXY": f"http://127.0.0.1:{_closed_port()}",
                "HTTP_PROXY": f"http://127.0.0.1:{_closed_port()}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for split in ("train", "valid", "test"):
            if (self.data / split).is_dir():
                env[f"SM_CHANNEL_{split.upper()}"] = str(self.data / split)
        env.update(extra)
        return env

    def command(self, hyperparameters: dict[str, str]) -> list[str]:
        """``python train.py --name value ...`` as the SageMaker training toolkit builds it."""
        args = [part for name, value in hyperparameters.items() for part in (f"--{name}", value)]
        return [sys.executable, str(TRAIN_PY), *args]

    def run(
        self, hyperparameters: dict[str, str], timeout: float = 600, **extra: str
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(hyperparameters),
            env=self.env(hyperparameters, **extra),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """The acceptance dataset: 4 classes, 100/25/25 images a class, 96 px."""
    return generate(
        tmp_path_factory.mktemp("sample-data"),
        classes=4,
        train_per_class=100,
        valid_per_class=25,
        test_per_class=25,
        size=96,
        seed=0,
    )


@pytest.fixture
def job(tmp_path, sample_data) -> Job:
    return Job(root=tmp_path, data=sample_data)


@dataclass
class TrainedModel:
    job: Job
    result: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, sample_data) -> TrainedModel:
    """The Must-show run: resnet18 from scratch, 64 px, 4 epochs, lr 0.001, batch 32."""
    job = Job(root=tmp_path_factory.mktemp("acceptance-job"), data=sample_data)
    result = job.run(ACCEPTANCE_ARGS)
    return TrainedModel(job=job, result=result)
