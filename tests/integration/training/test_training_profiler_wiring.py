"""The job hands the profiler its model and loss, so an smdebug hook (older DLCs) can watch them.

Runs the job in-process (same code as train.py) with a recording profiler in place of the real one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import torch

from classifier import job as job_module
from classifier.profiling import NoOpProfiler
from support.train_job import TRAIN_PY, Job


class RecordingProfiler(NoOpProfiler):
    def __init__(self) -> None:
        self.watched: list[tuple[Any, Any]] = []
        self.steps = 0

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        self.watched.append((model, loss_module))

    def step_end(self, batch_size: int) -> None:
        self.steps += 1


@pytest.mark.slow
def test_profiler_is_given_the_model_and_loss_before_training(
    job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = RecordingProfiler()
    monkeypatch.setattr(job_module, "create_profiler", lambda *args, **kwargs: recorder)
    monkeypatch.setattr(job_module.StopRequest, "install", lambda self: None)  # leave pytest's signals alone
    hyperparameters = {
        "arch": "resnet18",
        "pretrained": "none",
        "image-size": "32",
        "epochs": "1",
        "batch-size": "8",
        "max-steps-per-epoch": "2",
        "profile": "true",
    }
    for name, value in job.env(hyperparameters).items():
        monkeypatch.setenv(name, value)
    argv = [part for name, value in hyperparameters.items() for part in (f"--{name}", value)]

    assert job_module.main(argv, process_start=time.time(), script=TRAIN_PY) == 0

    assert len(recorder.watched) == 1
    model, loss = recorder.watched[0]
    assert isinstance(model, torch.nn.Module) and any(True for _ in model.parameters())
    assert isinstance(loss, torch.nn.CrossEntropyLoss)
    assert recorder.steps == 2  # the same profiler then saw the training steps
