"""Powertools logging, metrics and tracing set up the same way in every function.

Logger and Metrics read POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE (template.yaml's
Globals); the namespace falls back to the app's so a module imported outside Lambda (tests,
tools) still emits well-formed EMF. ``instrumented`` wraps a handler in all three:

* Tracer (aws-xray-sdk, shipped with the functions' dependencies): a subsegment per invocation with
  the ``ColdStart`` annotation, and the botocore calls traced (only botocore is patched: patching
  every library X-Ray knows costs cold-start time for nothing). Lambda's active tracing
  (template.yaml ``Tracing: Active``) supplies the trace header and the daemon. Off Lambda (tests)
  powertools disables it by itself; localcloud, which has no X-Ray daemon, sets
  POWERTOOLS_TRACE_DISABLED in its Lambda workers (docs/localcloud.md).
* Metrics: the function's own metrics plus powertools' ``ColdStart`` metric, once per container.
* Logger: the Lambda context in every line; with ``correlation_id_path`` (a JMESPath into the
  event, powertools' ``correlation_paths``) the correlation id too.
Relies on aws-lambda-powertools (Logger, Metrics, Tracer).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

DEFAULT_NAMESPACE = "ImageClassifierPipeline"
TRACED_MODULES = ("botocore",)

Result = TypeVar("Result")
Handler = Callable[[dict[str, Any], LambdaContext], Result]

# A step without metrics of its own still flushes, for the ColdStart metric: not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def make_logger() -> Logger:
    return Logger()


def make_metrics() -> Metrics:
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE))


def make_tracer() -> Tracer:
    return Tracer(patch_modules=TRACED_MODULES)


def instrumented(
    logger: Logger,
    metrics: Metrics,
    tracer: Tracer,
    correlation_id_path: str | None = None,
) -> Callable[[Handler[Result]], Handler[Result]]:
    """Decorate a handler: traced, its metrics flushed with the ColdStart one, its logs in context."""

    def decorate(handler: Handler[Result]) -> Handler[Result]:
        traced = tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(traced, capture_cold_start_metric=True)
        logged: Handler[Result] = logger.inject_lambda_context(
            measured, correlation_id_path=correlation_id_path
        )
        return logged

    return decorate
