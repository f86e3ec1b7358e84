"""The values SageMaker fills into a resource when the request left them out.

AWS stores a training job, tuning job or model with its defaults applied, and every Describe*
returns them: ``OutputDataConfig.KmsKeyId`` is ``""`` and ``CompressionType`` ``GZIP``, a
channel's ``S3DataDistributionType`` is ``FullyReplicated`` and its ``CompressionType`` /
``RecordWrapperType`` ``None``, ``StoppingCondition.MaxRuntimeInSeconds`` is 86400, a tuning job's
``StaticHyperParameters`` carry ``_tuning_objective_metric``, a model's container has
``Mode: SingleModel``. Clients rely on them (the SageMaker SDK's ``Estimator.attach()`` reads
``OutputDataConfig["KmsKeyId"]``, ``HyperparameterTuner.attach()`` deletes
``StaticHyperParameters["_tuning_objective_metric"]`` and reads the definition's
``ResourceConfig``), so the documents are stored with them, as AWS does.

Pure functions over plain dicts; relies on nothing else.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_MAX_RUNTIME = 86400
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"


def _output_data_config(output: dict[str, Any]) -> dict[str, Any]:
    return {"KmsKeyId": "", **output, "CompressionType": output.get("CompressionType") or "GZIP"}


def _channel(channel: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(channel)
    s3 = (out.get("DataSource") or {}).get("S3DataSource")
    if s3 is not None:
        s3.setdefault("S3DataDistributionType", "FullyReplicated")
    out.setdefault("CompressionType", "None")
    out.setdefault("RecordWrapperType", "None")
    return out


def _stopping_condition(stopping: dict[str, Any] | None) -> dict[str, Any]:
    return {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME, **(stopping or {})}


def _algorithm(algorithm: dict[str, Any]) -> dict[str, Any]:
    return {
        "TrainingInputMode": "File",
        **algorithm,
        "EnableSageMakerMetricsTimeSeries": bool(algorithm.get("EnableSageMakerMetricsTimeSeries", False)),
    }


def training_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The parts a training job and a tuning job's TrainingJobDefinition share, defaults applied."""
    out = dict(spec)
    out["AlgorithmSpecification"] = _algorithm(spec.get("AlgorithmSpecification") or {})
    if spec.get("OutputDataConfig") is not None:
        out["OutputDataConfig"] = _output_data_config(spec["OutputDataConfig"])
    if spec.get("InputDataConfig"):
        out["InputDataConfig"] = [_channel(c) for c in spec["InputDataConfig"]]
    out["StoppingCondition"] = _stopping_condition(spec.get("StoppingCondition"))
    for flag in (
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ):
        out[flag] = bool(spec.get(flag, False))
    return out


def resource_config_from_tuning(resources: dict[str, Any]) -> dict[str, Any]:
    """The ResourceConfig a trial runs with, from a HyperParameterTuningResourceConfig.

    ``InstanceType``/``InstanceCount``/``VolumeSizeInGB`` when given; else the first of
    ``InstanceConfigs`` (AllocationStrategy ``Prioritized``: the first type with capacity, and
    one machine always has capacity).
    """
    chosen = resources if resources.get("InstanceType") else (resources.get("InstanceConfigs") or [{}])[0]
    out = {
        "InstanceType": chosen.get("InstanceType"),
        "InstanceCount": chosen.get("InstanceCount"),
        "VolumeSizeInGB": chosen.get("VolumeSizeInGB") or resources.get("VolumeSizeInGB"),
    }
    if resources.get("VolumeKmsKeyId"):
        out["VolumeKmsKeyId"] = resources["VolumeKmsKeyId"]
    return {k: v for k, v in out.items() if v is not None}


def tuning_definition(definition: dict[str, Any], objective_metric: str) -> dict[str, Any]:
    """A tuning job's TrainingJobDefinition as DescribeHyperParameterTuningJob returns it."""
    out = training_spec(definition)
    out["StaticHyperParameters"] = {
        **(definition.get("StaticHyperParameters") or {}),
        TUNING_OBJECTIVE_HYPERPARAMETER: objective_metric,
    }
    tuning_resources = definition.get("HyperParameterTuningResourceConfig")
    if tuning_resources is not None:
        out.setdefault("ResourceConfig", resource_config_from_tuning(tuning_resources))
    return out


def model_container(container: dict[str, Any]) -> dict[str, Any]:
    return {"Mode": "SingleModel", **container}
