"""PickBest: the tuning job's best training job, its hyperparameters and objective value.

Input and output: the pipeline state; ``best`` gets the best job's name, its tuned
hyperparameters, the full set for the retrain (the tuning's static ones + the tuned ones, as
SageMaker passed them) and the objective metric's final value. A tuning job that completed
without any successful training job raises ``NoBestTrainingJob`` with one failed trial's reason.
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from .aws import first_failed_trial, sagemaker_client, throttling_as_retryable
from .errors import NoBestTrainingJob
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .requests import static_hyperparameters
from .state import BestJob, ObjectiveValue, PipelineState

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()


def pick_best(event: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    state = PipelineState.model_validate(event)
    name = state.names.tuningJob
    with throttling_as_retryable():
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        best = job.get("BestTrainingJob")
        if not best:
            counters = job.get("TrainingJobStatusCounters", {})
            trial = first_failed_trial(sagemaker, name)
            detail = f"; e.g. training job {trial}" if trial else ""
            raise NoBestTrainingJob(
                f"Tuning job {name} finished without a successful training job "
                f"(completed {counters.get('Completed', 0)}, failed "
                f"{counters.get('NonRetryableError', 0) + counters.get('RetryableError', 0)}, "
                f"stopped {counters.get('Stopped', 0)}){detail}"
            )
    tuned = {str(k): str(v) for k, v in best.get("TunedHyperParameters", {}).items()}
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    objective = state.config.tuning.objective
    state.best = BestJob(
        trainingJob=best["TrainingJobName"],
        tunedHyperParameters=tuned,
        hyperParameters={**static_hyperparameters(state.config), **tuned},
        objective=ObjectiveValue(
            metric=metric.get("MetricName", objective.metric),
            type=metric.get("Type", objective.type),
            value=metric.get("Value"),
        ),
    )
    logger.info("best training job", extra={"best": state.best.model_dump()})
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return pick_best(event, sagemaker_client())
