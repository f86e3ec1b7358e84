"""Error types the Lambdas raise on purpose.

Step Functions sees a Python Lambda error as ``Error`` = the exception's class name and
``Cause`` = a JSON document holding its message, so these names are part of the state machine's
contract: its Retry blocks match ``SageMakerThrottled`` and ``EndpointBusy``, and its Catch
routes everything else to Cleanup, whose Fail state repeats the name and message.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a failure whose message is meant for the person who started the execution."""


class InvalidInput(PipelineError):
    """The execution input (or the defaults it falls back on) is not acceptable."""


class ConfigurationError(PipelineError):
    """The function's environment (set from the template's parameters) is incomplete or wrong."""


class JobFailed(PipelineError):
    """A SageMaker tuning or training job ended Failed or Stopped; the message has its FailureReason."""


class NoBestTrainingJob(PipelineError):
    """The tuning job completed without a single successful training job."""


class DeploymentFailed(PipelineError):
    """Creating or updating the endpoint failed (or was rolled back); the message says why."""


class EndpointBusy(PipelineError):
    """The endpoint is being created or updated by someone else; retried by the state machine."""


class SageMakerThrottled(PipelineError):
    """SageMaker throttled a request; retried with backoff by the state machine."""
