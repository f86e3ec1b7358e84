"""Metric regexes on training logs, and checkpoint mirroring."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.errors import AwsError
from localcloud.sagemaker.checkpoints import CheckpointSync
from localcloud.sagemaker.locations import Locations
from localcloud.sagemaker.metrics import MetricParser, add_points, final_metrics

DEFINITIONS = [
    {"Name": "valid:accuracy", "Regex": r"valid_accuracy=([0-9.]+)"},
    {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
]


def test_values_are_parsed_line_by_line_across_partial_reads() -> None:
    parser = MetricParser(DEFINITIONS)
    assert parser.feed("epoch=1 train_loss=0.9 valid_acc") == []  # no complete line yet
    assert parser.feed("uracy=0.5\nnoise\nepoch=2 train_loss=0.7") == [
        ("valid:accuracy", 0.5),
        ("train:loss", 0.9),
    ]
    assert parser.flush() == [("train:loss", 0.7)]


def test_series_keep_every_value_and_final_metrics_the_last() -> None:
    series: dict[str, list[list[float]]] = {}
    add_points(series, [("valid:accuracy", 0.5)], 1.0)
    add_points(series, [("valid:accuracy", 0.7), ("train:loss", 0.3)], 2.0)
    assert [v for _, v in series["valid:accuracy"]] == [0.5, 0.7]
    assert final_metrics(series) == [
        {"MetricName": "train:loss", "Value": 0.3, "Timestamp": 2.0},
        {"MetricName": "valid:accuracy", "Value": 0.7, "Timestamp": 2.0},
    ]


def test_bad_regex_is_a_validation_error() -> None:
    with pytest.raises(AwsError, match="not valid"):
        MetricParser([{"Name": "x", "Regex": "([0-9"}])


def test_checkpoints_are_mirrored_once_stable(tmp_path: Path) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    sync = CheckpointSync(Locations(s3=None), local, f"file://{remote}")  # type: ignore[arg-type]
    assert sync.restore() == 0
    (local / "epoch.pt").write_bytes(b"1")
    assert sync.sync() == 0  # first seen: may still be being written
    assert sync.sync() == 1 and (remote / "epoch.pt").read_bytes() == b"1"
    (local / "epoch.pt").unlink()
    (local / "last.pt").write_bytes(b"2")
    sync.sync(final=True)
    assert not (remote / "epoch.pt").exists() and (remote / "last.pt").read_bytes() == b"2"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert CheckpointSync(Locations(s3=None), fresh, f"file://{remote}").restore() == 1  # type: ignore[arg-type]
    assert (fresh / "last.pt").read_bytes() == b"2"


def test_a_resumed_jobs_own_checkpoints_reach_the_remote(tmp_path: Path) -> None:
    # localcloud was killed after the job wrote its checkpoints but before a sync uploaded them
    # (or it had uploaded an older set): after the restart the remote gets exactly the local folder.
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    remote.mkdir()
    (local / "last.pt").write_bytes(b"epoch 3")
    (remote / "old.pt").write_bytes(b"epoch 1")  # deleted locally before the kill
    sync = CheckpointSync(Locations(s3=None), local, f"file://{remote}")  # type: ignore[arg-type]
    assert sync.restore() == 0  # the local folder is kept as the job left it
    assert (local / "last.pt").read_bytes() == b"epoch 3" and not (local / "old.pt").exists()
    sync.sync(final=True)
    assert sorted(p.name for p in remote.iterdir()) == ["last.pt"]
    assert (remote / "last.pt").read_bytes() == b"epoch 3"
