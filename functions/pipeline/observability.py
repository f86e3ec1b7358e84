"""Powertools logging, metrics and tracing set up the same way in every function.

Logger and Metrics read POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE (template.yaml's
Globals); the namespace falls back to the app's so a module imported outside Lambda (tests,
tools) still emits well-formed EMF. ``instrumented`` wraps a handler in all three:

* Tracer (aws-xray-sdk, shipped with the functions' dependencies): a subsegment per invocation with
  the ``ColdStart`` annotation, and the botocore calls traced (only botocore is patched: patching
  every library X-Ray knows costs cold-start time for nothing). Lambda's active tracing
  (template.yaml ``Tracing: Active``) supplies the trace header and the daemon. Off Lambda (tests)
  powertools disables it by itself; localcloud, which has no X-Ray daemon, sets
  POWERTOOLS_TRACE_DISABLED in its Lambda workers (docs/localcloud.md). Where tracing is off by
  powertools' own rule (``tracing_on``), no Tracer is made at all: a disabled Tracer still imports
  the X-Ray SDK (~30 ms of every cold start, for nothing).
* Metrics: the function's own metrics plus powertools' ``ColdStart`` metric, once per container.
* Logger: the Lambda context in every line; with ``correlation_id_path`` (a JMESPath into the
  event, powertools' ``correlation_paths``) the correlation id too.
Relies on aws-lambda-powertools (Logger, Metrics, Tracer).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import strtobool
from aws_lambda_powertools.utilities.typing import LambdaContext

from . import coldstart

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

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


def tracing_on(env: Mapping[str, str] | None = None) -> bool:
    """Whether powertools' Tracer would trace here, by its rule and with its own constants and
    parsing: not with POWERTOOLS_TRACE_DISABLED true, and only inside Lambda (LAMBDA_TASK_ROOT
    set), not under ``sam local`` or ``chalice local``."""
    env = os.environ if env is None else env
    if strtobool(env.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    if env.get(constants.SAM_LOCAL_ENV) or env.get(constants.CHALICE_LOCAL_ENV):
        return False
    return bool(env.get(constants.LAMBDA_TASK_ROOT_ENV))


def make_tracer() -> Tracer | None:
    """The Tracer, patching botocore; None where tracing is off (see ``tracing_on``)."""
    if not tracing_on():
        return None
    from aws_lambda_powertools import Tracer  # imports the X-Ray SDK's recorder: only when it traces

    return Tracer(patch_modules=TRACED_MODULES)


def instrumented(
    logger: Logger,
    metrics: Metrics,
    tracer: Tracer | None,
    correlation_id_path: str | None = None,
) -> Callable[[Handler[Result]], Handler[Result]]:
    """Decorate a handler: traced (when tracing is on), its metrics flushed with the ColdStart one,
    its logs in context."""

    def decorate(handler: Handler[Result]) -> Handler[Result]:
        traced = handler if tracer is None else tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(traced, capture_cold_start_metric=True)
        logged: Handler[Result] = logger.inject_lambda_context(
            measured, correlation_id_path=correlation_id_path
        )

        @functools.wraps(handler)
        def invoke(event: dict[str, Any], context: LambdaContext) -> Result:
            try:
                return logged(event, context)
            finally:
                coldstart.resume()  # after the first invocation: garbage collection again

        return invoke

    return decorate
