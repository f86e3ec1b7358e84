"""AWS's median stopping rule (TrainingJobEarlyStoppingType=Auto)."""

from __future__ import annotations

from localcloud.sagemaker.early_stopping import should_stop


def test_stops_a_job_worse_than_the_median_of_running_averages() -> None:
    previous = [[0.5, 0.6, 0.7], [0.6, 0.7, 0.8], [0.1, 0.2, 0.3]]
    # running averages at epoch 2: 0.55, 0.65, 0.15 -> median 0.55
    assert should_stop([0.4, 0.5], previous, maximize=True)
    assert not should_stop([0.4, 0.56], previous, maximize=True)


def test_minimizing_flips_the_comparison() -> None:
    previous = [[1.0, 0.8], [0.9, 0.7], [2.0, 1.9]]
    # running averages at epoch 1: 1.0, 0.9, 2.0 -> median 1.0
    assert should_stop([1.2], previous, maximize=False)
    assert not should_stop([0.95], previous, maximize=False)


def test_only_jobs_that_reached_the_epoch_count() -> None:
    previous = [[0.9], [0.8]]
    assert not should_stop([0.1, 0.1], previous, maximize=True)  # nobody reached epoch 2
    assert not should_stop([], previous, maximize=True)
    assert should_stop([0.1], previous, maximize=True)
