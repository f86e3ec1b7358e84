"""Cleanup: stops the failed execution's running jobs, deletes nothing, phrases Error/Cause."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipeline_testkit import FakeContext, training_description, tuning_description

from pipeline import cleanup as module
from pipeline.names import job_names

EXECUTION = "nightly-2026-01-01"
NAMES = job_names("dogs", EXECUTION)


def _lambda_error(error_type: str, message: str) -> dict[str, str]:
    """A Catch result for a Lambda function error, as Step Functions hands it over."""
    cause = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "r-1",
        "stackTrace": ["  File ..."],
    }
    return {"Error": error_type, "Cause": json.dumps(cause)}


def test_stops_in_progress_tuning_and_training_jobs(sm: Any) -> None:
    client, stub = sm
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(NAMES.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": NAMES.tuningJob},
    )
    stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": NAMES.tuningJob})
    stub.add_response(
        "describe_training_job",
        training_description(NAMES.retrainJob, "InProgress"),
        {"TrainingJobName": NAMES.retrainJob},
    )
    stub.add_response("stop_training_job", {}, {"TrainingJobName": NAMES.retrainJob})
    error = _lambda_error(
        "JobFailed", "Training job dogs-x-retrain failed: AlgorithmError: CUDA out of memory"
    )
    out = module.cleanup({"executionName": EXECUTION, "error": error}, client, "dogs")
    assert out["error"] == "JobFailed"
    assert out["cause"].startswith("Training job dogs-x-retrain failed: AlgorithmError: CUDA out of memory")
    assert f"cleanup stopped: tuning job {NAMES.tuningJob}, training job {NAMES.retrainJob}" in out["cause"]


def test_finished_or_never_started_jobs_are_left_alone(sm: Any) -> None:
    client, stub = sm  # no stop_* call queued: one would fail the test
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(NAMES.tuningJob, "Completed"),
        {"HyperParameterTuningJobName": NAMES.tuningJob},
    )
    stub.add_client_error(
        "describe_training_job",
        "ValidationException",
        f"Requested resource not found: {NAMES.retrainJob}",
        400,
    )
    error = _lambda_error(
        "InvalidInput", "Invalid execution input: tuning.maxJobs: Input should be a valid integer"
    )
    out = module.cleanup({"executionName": EXECUTION, "error": error}, client, "dogs")
    assert out == {
        "error": "InvalidInput",
        "cause": "Invalid execution input: tuning.maxJobs: Input should be a valid integer",
    }


def test_non_lambda_errors_keep_their_cause(sm: Any) -> None:
    client, stub = sm
    stub.add_client_error("describe_hyper_parameter_tuning_job", "ResourceNotFound", "not found", 400)
    stub.add_client_error("describe_training_job", "ResourceNotFound", "not found", 400)
    error = {"Error": "States.Timeout", "Cause": "The task timed out"}
    assert module.cleanup({"executionName": EXECUTION, "error": error}, client, "dogs") == {
        "error": "States.Timeout",
        "cause": "The task timed out",
    }


def test_a_job_that_ended_meanwhile_is_not_an_error(sm: Any) -> None:
    client, stub = sm
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        tuning_description(NAMES.tuningJob, "InProgress"),
        {"HyperParameterTuningJobName": NAMES.tuningJob},
    )
    stub.add_client_error(
        "stop_hyper_parameter_tuning_job", "ValidationException", "The job is not in progress", 400
    )
    stub.add_client_error("describe_training_job", "ResourceNotFound", "not found", 400)
    out = module.cleanup(
        {"executionName": EXECUTION, "error": {"Error": "JobFailed", "Cause": "x"}}, client, "dogs"
    )
    assert "cleanup stopped" not in out["cause"]


def test_access_problems_are_not_hidden(sm: Any) -> None:
    client, stub = sm
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job", "AccessDeniedException", "not authorized", 400
    )
    with pytest.raises(Exception, match="not authorized"):
        module.cleanup({"executionName": EXECUTION, "error": {"Error": "JobFailed"}}, client, "dogs")


def test_handler_uses_only_the_job_prefix(monkeypatch: pytest.MonkeyPatch, sm: Any) -> None:
    client, stub = sm
    monkeypatch.setenv("JOB_NAME_PREFIX", "cats")  # and nothing else: cleanup must work with a broken env
    names = job_names("cats", EXECUTION)
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job",
        "ResourceNotFound",
        "x",
        400,
        expected_params={"HyperParameterTuningJobName": names.tuningJob},
    )
    stub.add_client_error(
        "describe_training_job",
        "ResourceNotFound",
        "x",
        400,
        expected_params={"TrainingJobName": names.retrainJob},
    )
    monkeypatch.setattr(module, "sagemaker_client", lambda: client)
    out = module.handler({"executionName": EXECUTION, "error": {"Error": "E", "Cause": "c"}}, FakeContext())  # type: ignore[arg-type]
    assert out == {"error": "E", "cause": "c"}
