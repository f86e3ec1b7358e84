"""StartTuning: validate the execution input, ship the training code, start the tuning job.

Input (from the state machine): ``{"input": <execution input>, "executionName": "<name>"}``.
Output: the pipeline state (``state.PipelineState``) with the resolved configuration, the
execution's resource names and the tuning job. A bad input fails with ``InvalidInput`` naming
every wrong field; a retried call finds its tuning job already there and carries on.
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .aws import create_once, s3_client, sagemaker_client, throttling_as_retryable
from .code_package import publish_training_code
from .config import Defaults
from .errors import InvalidInput
from .execution_input import resolve_config
from .names import job_names
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .requests import tuning_job_request
from .state import PipelineState, TuningState

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()


class StartTuningEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    input: Any = None
    executionName: str = Field(min_length=1, max_length=80)


def start_tuning(event: dict[str, Any], sagemaker: Any, s3: Any, defaults: Defaults) -> dict[str, Any]:
    try:
        request_event = StartTuningEvent.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(
            f"StartTuning expects {{input, executionName}} from the state machine: {exc}"
        ) from None
    config = resolve_config(request_event.input, defaults)
    names = job_names(defaults.jobPrefix, request_event.executionName)
    with throttling_as_retryable():
        code_uri = publish_training_code(s3, defaults.bucket)
        request = tuning_job_request(config, names, defaults, code_uri)
        created = create_once(sagemaker.create_hyper_parameter_tuning_job, request)
        arn = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=names.tuningJob)[
            "HyperParameterTuningJobArn"
        ]
    logger.info(
        "tuning job started" if created else "tuning job already existed (retried step)",
        extra={"tuning_job": names.tuningJob, "strategy": config.tuning.strategy, "code_uri": code_uri},
    )
    if created:
        metrics.add_metric(name="TuningJobsStarted", unit=MetricUnit.Count, value=1)
    state = PipelineState(
        config=config,
        pollSeconds=config.pollSeconds,
        names=names,
        codeUri=code_uri,
        tuning=TuningState(name=names.tuningJob, arn=arn, status="InProgress"),
    )
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return start_tuning(event, sagemaker_client(), s3_client(), Defaults.from_env())
