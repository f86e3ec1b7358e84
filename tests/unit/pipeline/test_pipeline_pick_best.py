"""PickBest: the best job's hyperparameters (tuned + static) and objective, or a clear failure."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_testkit import FakeContext, sample_state, tuning_description

from pipeline import pick_best as module
from pipeline.config import Defaults
from pipeline.errors import NoBestTrainingJob

INPUT = {
    "tuning": {
        "ranges": {"lr": {"min": 0.001, "max": 0.1}, "batch-size": {"values": [16, 32]}},
        "static": {"arch": "resnet18", "pretrained": "none", "epochs": 3},
    }
}


def _best(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": f"{name}-002-0a1b2c3d",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}-002-0a1b2c3d",
        "CreationTime": "2026-01-01T00:00:00Z",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"lr": "0.0123", "batch-size": "32"},
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": "Maximize",
            "MetricName": "valid:accuracy",
            "Value": 0.87,
        },
    }


def test_best_job_tuned_plus_static_hyperparameters(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, sample_state(defaults, execution_input=INPUT)
    name = state.names.tuningJob
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(name, "Completed", best=_best(name)),
        {"HyperParameterTuningJobName": name},
    )
    out = module.pick_best(state.dump(), client)
    best = out["best"]
    assert best["trainingJob"] == f"{name}-002-0a1b2c3d"
    assert best["tunedHyperParameters"] == {"lr": "0.0123", "batch-size": "32"}
    assert best["hyperParameters"] == {
        "arch": '"resnet18"',
        "pretrained": '"none"',
        "epochs": "3",
        "lr": "0.0123",
        "batch-size": "32",
    }
    assert best["objective"] == {"metric": "valid:accuracy", "type": "Maximize", "value": 0.87}


def test_no_successful_training_job_fails_with_counts_and_an_example(sm: Any, defaults: Defaults) -> None:
    (client, stub), state = sm, sample_state(defaults, execution_input=INPUT)
    name = state.names.tuningJob
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 3, "Stopped": 0}
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(name, "Completed", counters=counters),
        {"HyperParameterTuningJobName": name},
    )
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": []},
        {"HyperParameterTuningJobName": name, "StatusEquals": "Failed", "MaxResults": 1},
    )
    with pytest.raises(NoBestTrainingJob, match=r"without a successful training job \(completed 0, failed 3"):
        module.pick_best(state.dump(), client)


def test_handler(monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], sm: Any) -> None:
    (client, stub), state = sm, sample_state(Defaults.from_env(lambda_env), execution_input=INPUT)
    name = state.names.tuningJob
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(name, "Completed", best=_best(name)),
        {"HyperParameterTuningJobName": name},
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: client)
    assert module.handler(state.dump(), FakeContext())["best"]["objective"]["value"] == 0.87  # type: ignore[arg-type]
