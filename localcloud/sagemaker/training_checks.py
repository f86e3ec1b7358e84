"""Checks on CreateTrainingJob (and a tuning job's TrainingJobDefinition) beyond botocore's model.

botocore's model (applied by :func:`localcloud.validation.validate_input`) covers patterns,
lengths, enums (instance types included) and unknown keys. This adds SageMaker's cross-field
rules and says plainly what localcloud does not emulate: everything runs in script mode
(``sagemaker_program`` + ``sagemaker_submit_directory``), File-mode S3/file:// channels.
Relies on the standard library.
"""

from __future__ import annotations

from typing import Any

from ..errors import AwsError, not_supported
from .defaults import resource_config_from_tuning
from .locations import check_uri
from .script_mode import framework_parameters

MAX_RUNTIME_SECONDS = 28 * 24 * 3600

# Top-level CreateTrainingJob fields localcloud honours or accepts (recorded, no local effect).
TRAINING_FIELDS = {
    "TrainingJobName",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "Tags",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
}
DEFINITION_FIELDS = {
    "DefinitionName",
    "TuningObjective",
    "HyperParameterRanges",
    "StaticHyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "HyperParameterTuningResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
    "RetryStrategy",
}
_ALGORITHM_FIELDS = {
    "TrainingImage",
    "TrainingInputMode",
    "MetricDefinitions",
    "EnableSageMakerMetricsTimeSeries",
    "TrainingImageConfig",
    "ContainerEntrypoint",
    "ContainerArguments",
}
_RESOURCE_FIELDS = {
    "InstanceType",
    "InstanceCount",
    "VolumeSizeInGB",
    "VolumeKmsKeyId",
    "KeepAlivePeriodInSeconds",
}


_TUNING_RESOURCE_FIELDS = {
    "InstanceType",
    "InstanceCount",
    "VolumeSizeInGB",
    "VolumeKmsKeyId",
    "AllocationStrategy",
    "InstanceConfigs",
}


def check_tuning_resources(definition: dict[str, Any]) -> dict[str, Any]:
    """A TrainingJobDefinition's resources: ResourceConfig or HyperParameterTuningResourceConfig.

    Returns the definition with the ResourceConfig its training jobs run with (see
    :func:`localcloud.sagemaker.defaults.resource_config_from_tuning`).
    """
    tuning = definition.get("HyperParameterTuningResourceConfig")
    if tuning is None:
        if definition.get("ResourceConfig") is None:
            raise AwsError(
                "ValidationException",
                "TrainingJobDefinition must set ResourceConfig or HyperParameterTuningResourceConfig",
            )
        return definition
    if definition.get("ResourceConfig") is not None:
        raise AwsError(
            "ValidationException",
            "TrainingJobDefinition can set ResourceConfig or HyperParameterTuningResourceConfig, not both",
        )
    check_fields(tuning, _TUNING_RESOURCE_FIELDS, "TrainingJobDefinition.HyperParameterTuningResourceConfig.")
    if tuning.get("InstanceConfigs") and (tuning.get("InstanceType") or tuning.get("InstanceCount")):
        raise AwsError(
            "ValidationException",
            "HyperParameterTuningResourceConfig: set InstanceConfigs or InstanceType and InstanceCount, "
            "not both",
        )
    return {**definition, "ResourceConfig": resource_config_from_tuning(tuning)}


def check_fields(params: dict[str, Any], allowed: set[str], where: str) -> None:
    for name in params:
        if name not in allowed:
            raise not_supported(f"{where}{name}")


def _check_script_mode(hyperparameters: dict[str, str]) -> None:
    framework = framework_parameters(hyperparameters)
    program = framework.get("sagemaker_program")
    submit = framework.get("sagemaker_submit_directory")
    if not program or not submit:
        raise not_supported(
            "A training job without ContainerEntrypoint or the sagemaker_program and "
            "sagemaker_submit_directory hyperparameters (built-in algorithms and containers' own "
            "entry points)"
        )
    if not isinstance(program, str) or not program.endswith((".py", ".sh")):
        raise AwsError("ValidationException", f"sagemaker_program {program!r} must name a .py or .sh file")
    check_uri(str(submit), "sagemaker_submit_directory")


def check_training_spec(spec: dict[str, Any], *, hyperparameters: dict[str, str], where: str = "") -> None:
    """Rules shared by CreateTrainingJob and a tuning job's TrainingJobDefinition."""
    _check_algorithm(spec.get("AlgorithmSpecification") or {}, hyperparameters, where)
    _check_resources(spec.get("ResourceConfig") or {}, where)
    seen: set[str] = set()
    for channel in spec.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        if name.lower() in seen:
            raise AwsError("ValidationException", f"Channel names must be unique; {name} appears twice")
        seen.add(name.lower())
        _check_channel(channel, name)
    output = spec.get("OutputDataConfig") or {}
    check_uri(output["S3OutputPath"], "OutputDataConfig.S3OutputPath")
    checkpoint = spec.get("CheckpointConfig")
    if checkpoint:
        check_uri(checkpoint["S3Uri"], "CheckpointConfig.S3Uri")
    _check_stopping(spec.get("StoppingCondition") or {}, spot=bool(spec.get("EnableManagedSpotTraining")))


def _check_algorithm(algorithm: dict[str, Any], hyperparameters: dict[str, str], where: str) -> None:
    check_fields(algorithm, _ALGORITHM_FIELDS, f"{where}AlgorithmSpecification.")
    if algorithm.get("TrainingInputMode") == "Pipe":
        raise not_supported("TrainingInputMode Pipe (use File)")
    definitions = algorithm.get("MetricDefinitions") or []
    names = [d["Name"] for d in definitions]
    if len(set(names)) != len(names):
        raise AwsError("ValidationException", "MetricDefinitions names must be unique")
    if algorithm.get("ContainerArguments") and not algorithm.get("ContainerEntrypoint"):
        raise AwsError(
            "ValidationException",
            "ContainerArguments can only be specified together with ContainerEntrypoint",
        )
    if not algorithm.get("ContainerEntrypoint"):  # else the command runs instead of the toolkit
        _check_script_mode(hyperparameters)


def _check_resources(resources: dict[str, Any], where: str) -> None:
    check_fields(resources, _RESOURCE_FIELDS, f"{where}ResourceConfig.")
    if not resources.get("InstanceType"):
        raise AwsError(
            "ValidationException",
            "ResourceConfig.InstanceType is required (InstanceGroups are not supported by localcloud)",
        )
    if not resources.get("InstanceCount"):
        raise AwsError("ValidationException", "ResourceConfig.InstanceCount is required")


def _check_channel(channel: dict[str, Any], name: str) -> None:
    if channel.get("InputMode") == "Pipe":
        raise not_supported(f"InputMode Pipe (channel {name})")
    source = channel.get("DataSource") or {}
    s3 = source.get("S3DataSource")
    if s3 is None:
        raise not_supported(f"A channel without S3DataSource (channel {name})")
    if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise not_supported(f"S3DataType {s3.get('S3DataType')} (channel {name}); use S3Prefix")
    check_uri(s3["S3Uri"], f"Channel {name} S3Uri")
    if channel.get("CompressionType", "None") != "None":
        raise not_supported(f"CompressionType {channel['CompressionType']} (channel {name})")


def _check_stopping(stopping: dict[str, Any], *, spot: bool) -> None:
    runtime = stopping.get("MaxRuntimeInSeconds")
    if runtime is not None and runtime > MAX_RUNTIME_SECONDS:
        raise AwsError(
            "ValidationException",
            f"MaxRuntimeInSeconds {runtime} exceeds the maximum of {MAX_RUNTIME_SECONDS} seconds (28 days)",
        )
    if spot:
        wait = stopping.get("MaxWaitTimeInSeconds")
        if wait is None:
            raise AwsError(
                "ValidationException", "MaxWaitTimeInSeconds is required for managed spot training"
            )
        if runtime is not None and wait < runtime:
            raise AwsError(
                "ValidationException",
                "MaxWaitTimeInSeconds must be greater than or equal to MaxRuntimeInSeconds",
            )
    elif stopping.get("MaxWaitTimeInSeconds") is not None:
        raise AwsError(
            "ValidationException",
            "MaxWaitTimeInSeconds is only valid with managed spot training (EnableManagedSpotTraining)",
        )


def check_create_training_job(params: dict[str, Any]) -> None:
    check_fields(params, TRAINING_FIELDS, "")
    check_training_spec(params, hyperparameters=params.get("HyperParameters") or {})
    rules = [r["RuleConfigurationName"] for r in params.get("ProfilerRuleConfigurations") or []]
    rules += [r["RuleConfigurationName"] for r in params.get("DebugRuleConfigurations") or []]
    if len(set(rules)) != len(rules):
        raise AwsError("ValidationException", "RuleConfigurationName values must be unique")
