"""SageMaker's JSON protocol (the "responses" half): one handler per operation.

Every request is first checked against botocore's model (:func:`validate_input`: patterns,
lengths, enums, unknown keys), then by the owning module's own rules, then handled. Operations
localcloud does not emulate answer "... is not supported by localcloud".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..validation import validation_errors

if TYPE_CHECKING:
    from . import SageMakerService

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def handlers(sm: SageMakerService) -> dict[str, Handler]:
    training, tuning, hosting = sm.training, sm.tuning, sm.hosting

    def empty(action: Callable[[], object]) -> dict[str, Any]:
        action()
        return {}

    return {
        "CreateTrainingJob": training.create,
        "DescribeTrainingJob": lambda p: training.describe(p["TrainingJobName"]),
        "ListTrainingJobs": training.list,
        "StopTrainingJob": lambda p: empty(lambda: training.stop(p["TrainingJobName"])),
        "CreateHyperParameterTuningJob": tuning.create,
        "DescribeHyperParameterTuningJob": lambda p: tuning.describe(p["HyperParameterTuningJobName"]),
        "ListHyperParameterTuningJobs": tuning.list,
        "StopHyperParameterTuningJob": lambda p: empty(lambda: tuning.stop(p["HyperParameterTuningJobName"])),
        "ListTrainingJobsForHyperParameterTuningJob": tuning.list_training_jobs,
        "CreateModel": hosting.create_model,
        "DescribeModel": lambda p: hosting.describe_model(p["ModelName"]),
        "DeleteModel": lambda p: empty(lambda: hosting.delete_model(p["ModelName"])),
        "ListModels": hosting.list_models,
        "CreateEndpointConfig": hosting.create_endpoint_config,
        "DescribeEndpointConfig": lambda p: hosting.describe_endpoint_config(p["EndpointConfigName"]),
        "DeleteEndpointConfig": lambda p: empty(
            lambda: hosting.delete_endpoint_config(p["EndpointConfigName"])
        ),
        "ListEndpointConfigs": hosting.list_endpoint_configs,
        "CreateEndpoint": hosting.create_endpoint,
        "DescribeEndpoint": lambda p: hosting.describe_endpoint(p["EndpointName"]),
        "UpdateEndpoint": hosting.update_endpoint,
        "DeleteEndpoint": lambda p: empty(lambda: hosting.delete_endpoint(p["EndpointName"])),
        "ListEndpoints": hosting.list_endpoints,
        "AddTags": sm.tags.add,
        "ListTags": sm.tags.list,
        "DeleteTags": sm.tags.delete,
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
