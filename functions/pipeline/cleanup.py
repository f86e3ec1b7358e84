"""Cleanup: after any failure, stop what the execution started and say what went wrong.

Input: ``{"executionName": "<name>", "error": {"Error": ..., "Cause": ...}}`` (the caught error).
The execution's job names are derived again from its name, because the state may still be the raw
input when StartTuning itself failed; an in-progress tuning job and retrain are stopped. Only
JOB_NAME_PREFIX is read from the environment, so cleanup works even when the rest of it is broken.
Nothing is deleted: models, endpoint configs, the endpoint and S3 objects stay for the user.
Output: ``{"error", "cause"}`` for the Fail state: the error name and a readable cause (the
Lambda's message or the job's FailureReason, plus what cleanup stopped).
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from .aws import sagemaker_client, stop_if_running, throttling_as_retryable
from .names import job_names
from .observability import instrumented, make_logger, make_metrics, make_tracer

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()

DEFAULT_JOB_PREFIX = "dogs"
MAX_CAUSE = 32_000  # Fail's Cause holds at most 32,768 characters


class CaughtError(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    Error: str = "States.Unknown"
    Cause: str | None = None


class CleanupEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    executionName: str = Field(min_length=1)
    error: CaughtError = Field(default_factory=CaughtError)


def readable_cause(error: CaughtError) -> str:
    """The message inside a Lambda error's JSON Cause, or the Cause itself."""
    cause = error.Cause or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause or "no cause given"
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return cause


def cleanup(event: dict[str, Any], sagemaker: Any, job_prefix: str) -> dict[str, str]:
    request = CleanupEvent.model_validate(event)
    names = job_names(job_prefix, request.executionName)
    stopped = []
    with throttling_as_retryable():
        if stop_if_running(
            sagemaker.describe_hyper_parameter_tuning_job,
            sagemaker.stop_hyper_parameter_tuning_job,
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobStatus",
            names.tuningJob,
        ):
            stopped.append(f"tuning job {names.tuningJob}")
        if stop_if_running(
            sagemaker.describe_training_job,
            sagemaker.stop_training_job,
            "TrainingJobName",
            "TrainingJobStatus",
            names.retrainJob,
        ):
            stopped.append(f"training job {names.retrainJob}")
    cause = readable_cause(request.error)
    if stopped:
        cause += f" [cleanup stopped: {', '.join(stopped)}]"
    logger.info("cleanup", extra={"error": request.error.Error, "stopped": stopped})
    return {"error": request.error.Error, "cause": cause[:MAX_CAUSE]}


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return cleanup(event, sagemaker_client(), os.environ.get("JOB_NAME_PREFIX", DEFAULT_JOB_PREFIX))
