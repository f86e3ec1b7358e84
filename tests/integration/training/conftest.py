"""Shared fixtures for the training integration tests: a job directory and one trained model.

train.py runs as SageMaker runs it (:mod:`support.train_job`). The acceptance model is trained
once per session (per worker: its tests are all in test_training_acceptance.py) on the shared
``sample_data`` (tests/integration/conftest.py); ``job`` trains on the shared ``small_data`` (its
tests check behaviour, not accuracy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.train_job import Job, TrainingRun

ACCEPTANCE_ARGS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "64",
    "epochs": "4",
    "lr": "0.001",
    "batch-size": "32",
}


@pytest.fixture
def job(tmp_path: Path, small_data: Path) -> Job:
    return Job(root=tmp_path, data=small_data)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> TrainingRun:
    """The Must-show run: resnet18 from scratch, 64 px, 4 epochs, lr 0.001, batch 32."""
    job = Job(root=tmp_path_factory.mktemp("acceptance-job"), data=sample_data)
    return TrainingRun(job=job, result=job.run(ACCEPTANCE_ARGS))
