"""SageMaker's JSON protocol (the wire layer, with shapes.py): one handler per operation.

Every request is first checked against botocore's model (:func:`validate`: patterns, lengths,
enums, unknown keys), then by the owning module's own rules, then handled: a handler turns the
request into a call on TrainingJobs / TuningJobs / Hosting / Tags and the records it gets back
into AWS's answer (shapes.py). Operations localcloud does not emulate answer "... is not
supported by localcloud".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..validation import validation_errors
from . import shapes

if TYPE_CHECKING:
    from . import SageMakerService

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _empty(action: Callable[[], object]) -> dict[str, Any]:
    action()
    return {}


def _training_handlers(sm: SageMakerService) -> dict[str, Handler]:
    training = sm.training

    def list_jobs(p: dict[str, Any]) -> dict[str, Any]:
        jobs = [] if p.get("WarmPoolStatusEquals") else training.descriptions()  # no warm pools here
        return shapes.list_page(shapes.TRAINING_JOBS, jobs, p)

    return {
        "CreateTrainingJob": lambda p: {"TrainingJobArn": training.create(p)},
        "DescribeTrainingJob": lambda p: shapes.describe_training_job(training.get(p["TrainingJobName"])),
        "ListTrainingJobs": list_jobs,
        "StopTrainingJob": lambda p: _empty(lambda: training.stop(p["TrainingJobName"])),
    }


def _tuning_handlers(sm: SageMakerService) -> dict[str, Handler]:
    tuning = sm.tuning

    def trial_jobs(p: dict[str, Any]) -> dict[str, Any]:
        job = tuning.get(p["HyperParameterTuningJobName"])
        return shapes.list_trial_jobs(list(tuning.summaries(job)), p)

    return {
        "CreateHyperParameterTuningJob": lambda p: {"HyperParameterTuningJobArn": tuning.create(p)},
        "DescribeHyperParameterTuningJob": lambda p: shapes.describe_tuning_job(
            tuning.get(p["HyperParameterTuningJobName"])
        ),
        "ListHyperParameterTuningJobs": lambda p: shapes.list_page(
            shapes.TUNING_JOBS, tuning.descriptions(), p
        ),
        "StopHyperParameterTuningJob": lambda p: _empty(
            lambda: tuning.stop(p["HyperParameterTuningJobName"])
        ),
        "ListTrainingJobsForHyperParameterTuningJob": trial_jobs,
    }


def _hosting_handlers(sm: SageMakerService) -> dict[str, Handler]:
    hosting = sm.hosting
    return {
        "CreateModel": lambda p: {"ModelArn": hosting.create_model(p)},
        "DescribeModel": lambda p: shapes.describe_model(hosting.model(p["ModelName"])),
        "DeleteModel": lambda p: _empty(lambda: hosting.delete_model(p["ModelName"])),
        "ListModels": lambda p: shapes.list_page(
            shapes.MODELS, [m.description for m in hosting.models.all()], p
        ),
        "CreateEndpointConfig": lambda p: {"EndpointConfigArn": hosting.create_endpoint_config(p)},
        "DescribeEndpointConfig": lambda p: dict(
            hosting.endpoint_config(p["EndpointConfigName"]).description
        ),
        "DeleteEndpointConfig": lambda p: _empty(
            lambda: hosting.delete_endpoint_config(p["EndpointConfigName"])
        ),
        "ListEndpointConfigs": lambda p: shapes.list_page(
            shapes.ENDPOINT_CONFIGS, [c.description for c in hosting.configs.all()], p
        ),
        "CreateEndpoint": lambda p: {"EndpointArn": hosting.create_endpoint(p)},
        "DescribeEndpoint": lambda p: dict(hosting.endpoint(p["EndpointName"]).description),
        "UpdateEndpoint": lambda p: {"EndpointArn": hosting.update_endpoint(p)},
        "DeleteEndpoint": lambda p: _empty(lambda: hosting.delete_endpoint(p["EndpointName"])),
        "ListEndpoints": lambda p: shapes.list_page(
            shapes.ENDPOINTS, [e.description for e in hosting.endpoints.all()], p
        ),
    }


def handlers(sm: SageMakerService) -> dict[str, Handler]:
    return {
        **_training_handlers(sm),
        **_tuning_handlers(sm),
        **_hosting_handlers(sm),
        "AddTags": lambda p: {"Tags": sm.tags.add(p["ResourceArn"], p["Tags"])},
        "ListTags": lambda p: {"Tags": sm.tags.list(p["ResourceArn"])},
        "DeleteTags": lambda p: _empty(lambda: sm.tags.delete(p["ResourceArn"], p["TagKeys"])),
    }


def _local_mode_uri(error: str) -> bool:
    """SageMaker local mode's file:// URIs fail botocore's s3:// patterns; localcloud accepts them."""
    return (
        error.startswith("Value 'file:///")
        and "failed to satisfy constraint: Member must satisfy regular expression pattern: (https|s3)://"
        in error
    )


def validate(operation: str, params: dict[str, Any]) -> None:
    """botocore's model constraints, AWS's wording (see :mod:`localcloud.validation`), file:// allowed."""
    errors = [e for e in validation_errors("sagemaker", operation, params) if not _local_mode_uri(e)]
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise AwsError(
            "ValidationException", f"{len(errors)} validation {noun} detected: {'; '.join(errors[:10])}"
        )


def dispatch(table: dict[str, Handler], operation: str, params: dict[str, Any]) -> dict[str, Any]:
    validate(operation, params)
    handler = table.get(operation)
    if handler is None:
        raise AwsError("UnknownOperationException", f"SageMaker {operation} is not supported by localcloud")
    return handler(params)
