"""The console's training charts read one point per metric line the job printed, however close in
time the lines came (localcloud/console/data.py over localcloud's CloudWatch Logs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.config import Settings
from localcloud.console.data import ConsoleData
from localcloud.logs import TRAINING_JOBS, log_path

JOB: dict[str, Any] = {
    "TrainingJobName": "quick",
    "AlgorithmSpecification": {
        "MetricDefinitions": [
            {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
            {"Name": "valid:accuracy", "Regex": r"valid_accuracy=([0-9.]+)"},
        ]
    },
}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(Settings(state_dir=tmp_path / "state"))
    yield cloud
    cloud.store.close()


def _metrics(data: ConsoleData, job: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """What the training page draws: the curves of the job's first host's stream."""
    return data.training_metrics(job, data.training_stream(job["TrainingJobName"]))


def _write(path: Path, text: str, mtime: float) -> None:
    with path.open("a") as out:
        out.write(text)
    os.utime(path, (mtime, mtime))


def test_epochs_printed_within_one_second_are_separate_points_and_polls_read_only_new_lines(
    cloud: LocalCloud,
) -> None:
    state = cloud.settings.state_dir
    log = log_path(state, TRAINING_JOBS, "quick/algo-1-1700000000")
    # a second host prints its own lines: the chart follows the first host's alone
    log_path(state, TRAINING_JOBS, "quick/algo-2-1700000000").write_text("epoch=1 train_loss=9.0\n")
    _write(log, "epoch=1 train_loss=0.9 valid_accuracy=0.5\nnoise\nepoch=2 train_loss=0.7\n", 1_700_000_010.2)
    data = ConsoleData(cloud)
    first = _metrics(data, JOB)
    assert [v for _, v in first["train:loss"]] == [0.9, 0.7]  # the same second, two epochs
    assert first["valid:accuracy"] == [(1_700_000_010.2, 0.5)]
    _write(log, "epoch=2 valid_accuracy=0.75\nepoch=3 train_loss=0.5\n", 1_700_000_010.4)
    second = _metrics(data, JOB)
    assert [v for _, v in second["train:loss"]] == [0.9, 0.7, 0.5]
    assert [v for _, v in second["valid:accuracy"]] == [0.5, 0.75]
    assert _metrics(data, JOB) == second  # nothing new: nothing added twice


def test_a_job_without_metric_definitions_or_log_has_no_series(cloud: LocalCloud) -> None:
    data = ConsoleData(cloud)
    assert _metrics(data, JOB) == {}  # no log group yet
    log_path(cloud.settings.state_dir, TRAINING_JOBS, "other/algo-1-1").write_text("train_loss=1\n")
    assert _metrics(data, JOB) == {}  # no stream of this job
    assert _metrics(data, {**JOB, "AlgorithmSpecification": {}}) == {}
