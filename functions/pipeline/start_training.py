"""StartTraining: the profiled retrain with the best hyperparameters.

Input and output: the pipeline state; ``retrain`` gets the training job. The job runs train.py
with ``profile=true`` (train.py profiles itself and evaluates the rules, docs/profiling.md), a
CheckpointConfig under the bucket (resume after a spot interruption), managed spot when the
input asks for it, and SageMaker Debugger's profiler and rules only when the template's
EnableSageMakerDebugger is true. The training code is re-published idempotently (same key when
unchanged). A retried call finds its job already there and carries on.
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .aws import create_once, s3_client, sagemaker_client, throttling_as_retryable
from .code_package import publish_training_code
from .config import Defaults
from .errors import NoBestTrainingJob
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .requests import retrain_request
from .state import PipelineState, RetrainState

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()


def start_training(event: dict[str, Any], sagemaker: Any, s3: Any, defaults: Defaults) -> dict[str, Any]:
    state = PipelineState.model_validate(event)
    if state.best is None:
        raise NoBestTrainingJob("StartTraining ran before PickBest chose the best training job")
    with throttling_as_retryable():
        code_uri = publish_training_code(s3, defaults.bucket)
        request = retrain_request(state.config, state.names, defaults, code_uri, state.best)
        created = create_once(sagemaker.create_training_job, request)
        arn = sagemaker.describe_training_job(TrainingJobName=state.names.retrainJob)["TrainingJobArn"]
    logger.info(
        "retrain started" if created else "retrain already existed (retried step)",
        extra={"training_job": state.names.retrainJob, "debugger": defaults.debugger},
    )
    if created:
        metrics.add_metric(name="RetrainJobsStarted", unit=MetricUnit.Count, value=1)
    state.codeUri = code_uri
    state.retrain = RetrainState(name=state.names.retrainJob, arn=arn, status="InProgress")
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return start_training(event, sagemaker_client(), s3_client(), Defaults.from_env())
