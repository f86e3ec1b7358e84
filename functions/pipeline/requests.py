"""Pure builders of the SageMaker requests the pipeline sends (no I/O, no clients).

Each function turns the resolved configuration into the exact keyword arguments of one boto3
SageMaker call, the way the SageMaker Python SDK would have built them for a PyTorch estimator in
script mode: hyperparameters are JSON-encoded strings (the training toolkit decodes them), the
code travels as ``sagemaker_submit_directory`` + ``sagemaker_program``, metrics are regexes on
train.py's log lines. Tests check every request against botocore's service model and
SageMaker's documented patterns, lengths and enums; mypy checks them against the SageMaker
TypedDicts of mypy-boto3-sagemaker (a type-checking-only dependency: nothing imports it at run time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .config import (
    CategoricalRange,
    Channels,
    Defaults,
    EndpointSettings,
    NumericRange,
    PipelineConfig,
    TrainingConfig,
)
from .metrics import metric_definitions
from .names import JobNames
from .state import BestJob, EvaluationSummary

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.literals import ProductionVariantInstanceTypeType, TrainingInstanceTypeType
    from mypy_boto3_sagemaker.type_defs import (
        AlgorithmSpecificationTypeDef,
        CategoricalParameterRangeTypeDef,
        ChannelTypeDef,
        ContinuousParameterRangeTypeDef,
        CreateEndpointConfigInputTypeDef,
        CreateEndpointInputTypeDef,
        CreateHyperParameterTuningJobRequestTypeDef,
        CreateModelInputTypeDef,
        CreateTrainingJobRequestTypeDef,
        DebugRuleConfigurationTypeDef,
        HyperParameterAlgorithmSpecificationTypeDef,
        HyperParameterTrainingJobDefinitionTypeDef,
        HyperParameterTuningJobConfigTypeDef,
        IntegerParameterRangeTypeDef,
        ParameterRangesTypeDef,
        ProductionVariantTypeDef,
        ResourceConfigTypeDef,
        RetryStrategyTypeDef,
        StoppingConditionTypeDef,
        TagTypeDef,
        UpdateEndpointInputTypeDef,
    )

APP_TAG: TagTypeDef = {"Key": "app", "Value": "image-classifier-pipeline"}
TRAINING_PROGRAM = "train.py"
INFERENCE_PROGRAM = "inference.py"
# The model artifact carries its own code/ (docs/contracts.md#model-artifact).
MODEL_CODE_DIR = "/opt/ml/model/code"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# A job whose instance is lost (an internal error) is retried; a failing script is not (docs/localcloud.md).
RETRY_STRATEGY: RetryStrategyTypeDef = {"MaximumRetryAttempts": 2}
VARIANT_NAME = "AllTraffic"
PROFILING_INTERVAL_MS = 500
PROFILER_REPORT_DIR = "profiler-report/"  # what train.py writes into SM_OUTPUT_DATA_DIR
DEBUGGER_RULES = ("LossNotDecreasing", "Overfit", "VanishingGradient")


def encode_hyperparameter(value: Any) -> str:
    """A hyperparameter value as SageMaker carries it: JSON text (``"resnet50"`` -> ``'"resnet50"'``)."""
    return json.dumps(value)


def decode_hyperparameter(text: str) -> Any:
    """The inverse of ``encode_hyperparameter``; text that is not JSON stays as it is."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else json.dumps(float(value))


def framework_hyperparameters(code_uri: str, region: str) -> dict[str, str]:
    """The ``sagemaker_*`` entries script mode needs to fetch and run train.py."""
    return {
        "sagemaker_program": encode_hyperparameter(TRAINING_PROGRAM),
        "sagemaker_submit_directory": encode_hyperparameter(code_uri),
        "sagemaker_region": encode_hyperparameter(region),
        "sagemaker_container_log_level": "20",
    }


def static_hyperparameters(config: PipelineConfig) -> dict[str, str]:
    """The tuning's static hyperparameters, encoded."""
    return {name: encode_hyperparameter(value) for name, value in sorted(config.tuning.static.items())}


def input_channels(data: Channels) -> list[ChannelTypeDef]:
    """One File-mode S3 channel per split (SM_CHANNEL_TRAIN / VALID / TEST in the container)."""
    channels: list[ChannelTypeDef] = []
    for name in ("train", "valid", "test"):
        uri = getattr(data, name)
        if uri is None:
            continue
        channels.append(
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
        )
    return channels


def parameter_ranges(config: PipelineConfig) -> ParameterRangesTypeDef:
    """``ParameterRanges``: continuous, integer and categorical ranges by name."""
    continuous: list[ContinuousParameterRangeTypeDef] = []
    integer: list[IntegerParameterRangeTypeDef] = []
    categorical: list[CategoricalParameterRangeTypeDef] = []
    for name, rng in sorted(config.tuning.ranges.items()):
        if isinstance(rng, CategoricalRange):
            categorical.append({"Name": name, "Values": [encode_hyperparameter(v) for v in rng.values]})
            continue
        assert isinstance(rng, NumericRange)
        low, high = _number(rng.min, rng.integer), _number(rng.max, rng.integer)
        if rng.integer:
            integer.append({"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": rng.scaling})
        else:
            continuous.append({"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": rng.scaling})
    return {
        "ContinuousParameterRanges": continuous,
        "IntegerParameterRanges": integer,
        "CategoricalParameterRanges": categorical,
    }


def _resource_config(training: TrainingConfig) -> ResourceConfigTypeDef:
    return {  # execution_input.py checked the instance type against SageMaker's enum
        "InstanceType": cast("TrainingInstanceTypeType", training.instanceType),
        "InstanceCount": training.instanceCount,
        "VolumeSizeInGB": training.volumeSizeGB,
    }


def _stopping_condition(training: TrainingConfig) -> StoppingConditionTypeDef:
    condition: StoppingConditionTypeDef = {"MaxRuntimeInSeconds": training.maxRuntimeSeconds}
    if training.spot and training.maxWaitSeconds is not None:
        condition["MaxWaitTimeInSeconds"] = training.maxWaitSeconds
    return condition


def _algorithm(defaults: Defaults) -> HyperParameterAlgorithmSpecificationTypeDef:
    """``HyperParameterAlgorithmSpecification`` (tuning); the retrain adds metrics time series."""
    return {
        "TrainingImage": defaults.trainingImage,
        "TrainingInputMode": "File",
        "MetricDefinitions": metric_definitions(),
    }


def tuning_job_request(
    config: PipelineConfig, names: JobNames, defaults: Defaults, code_uri: str
) -> CreateHyperParameterTuningJobRequestTypeDef:
    """Keyword arguments of ``CreateHyperParameterTuningJob``."""
    tuning = config.tuning
    job_config: HyperParameterTuningJobConfigTypeDef = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {
            "Type": tuning.objective.type,
            "MetricName": tuning.objective.metric,
        },
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": tuning.maxJobs,
            "MaxParallelTrainingJobs": tuning.maxParallelJobs,
        },
        "ParameterRanges": parameter_ranges(config),
        "TrainingJobEarlyStoppingType": tuning.earlyStopping,
    }
    if tuning.maxRuntimeSeconds is not None:
        job_config["ResourceLimits"]["MaxRuntimeInSeconds"] = tuning.maxRuntimeSeconds
    if tuning.hyperband is not None:
        job_config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": tuning.hyperband.minResource,
                "MaxResource": tuning.hyperband.maxResource,
            }
        }
    if tuning.randomSeed is not None:
        job_config["RandomSeed"] = tuning.randomSeed

    training = config.training
    definition: HyperParameterTrainingJobDefinitionTypeDef = {
        "StaticHyperParameters": {
            **static_hyperparameters(config),
            **framework_hyperparameters(code_uri, defaults.region),
        },
        "AlgorithmSpecification": _algorithm(defaults),
        "RoleArn": defaults.roleArn,
        "InputDataConfig": input_channels(config.data),
        "OutputDataConfig": {"S3OutputPath": f"s3://{defaults.bucket}/tuning/{names.tuningJob}/"},
        "ResourceConfig": _resource_config(training),
        "StoppingCondition": _stopping_condition(training),
        "EnableManagedSpotTraining": training.spot,
        "RetryStrategy": RETRY_STRATEGY,
    }
    return {
        "HyperParameterTuningJobName": names.tuningJob,
        "HyperParameterTuningJobConfig": job_config,
        "TrainingJobDefinition": definition,
        "Tags": [APP_TAG],
    }


def retrain_request(
    config: PipelineConfig, names: JobNames, defaults: Defaults, code_uri: str, best: BestJob
) -> CreateTrainingJobRequestTypeDef:
    """Keyword arguments of ``CreateTrainingJob`` for the profiled retrain with the best hyperparameters."""
    training = config.training
    hyperparameters = {
        **best.hyperParameters,
        "profile": encode_hyperparameter(True),
        **framework_hyperparameters(code_uri, defaults.region),
    }
    algorithm: AlgorithmSpecificationTypeDef = {
        "TrainingImage": defaults.trainingImage,
        "TrainingInputMode": "File",
        "MetricDefinitions": metric_definitions(),
        "EnableSageMakerMetricsTimeSeries": True,
    }
    request: CreateTrainingJobRequestTypeDef = {
        "TrainingJobName": names.retrainJob,
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": algorithm,
        "RoleArn": defaults.roleArn,
        "InputDataConfig": input_channels(config.data),
        "OutputDataConfig": {"S3OutputPath": f"s3://{defaults.bucket}/models/"},
        "ResourceConfig": _resource_config(training),
        "StoppingCondition": _stopping_condition(training),
        "EnableManagedSpotTraining": training.spot,
        "RetryStrategy": RETRY_STRATEGY,
        "CheckpointConfig": {
            "S3Uri": f"s3://{defaults.bucket}/checkpoints/{names.retrainJob}/",
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        },
        "Tags": [APP_TAG],
    }
    if defaults.debugger:
        add_debugger_configuration(request, names, defaults)
    else:
        # Profiling happens inside train.py (docs/profiling.md); SageMaker's own profiler stays off.
        request["ProfilerConfig"] = {"DisableProfiler": True}
    return request


def add_debugger_configuration(
    request: CreateTrainingJobRequestTypeDef, names: JobNames, defaults: Defaults
) -> None:
    """SageMaker Debugger profiler + rules (only with the template's EnableSageMakerDebugger=true)."""
    base = f"s3://{defaults.bucket}/debugger/{names.retrainJob}"
    image = defaults.debuggerRuleImage

    def rule(name: str) -> DebugRuleConfigurationTypeDef:  # the profiler's rules have the same shape
        return {
            "RuleConfigurationName": name,
            "RuleEvaluatorImage": image,
            "RuleParameters": {"rule_to_invoke": name},
        }

    request["ProfilerConfig"] = {
        "S3OutputPath": f"{base}/profiler/",
        "ProfilingIntervalInMilliseconds": PROFILING_INTERVAL_MS,
    }
    request["ProfilerRuleConfigurations"] = [rule("ProfilerReport")]
    request["DebugHookConfig"] = {
        "S3OutputPath": f"{base}/tensors/",
        "CollectionConfigurations": [{"CollectionName": "losses"}, {"CollectionName": "gradients"}],
    }
    request["DebugRuleConfigurations"] = [rule(name) for name in DEBUGGER_RULES]


def evaluation_tags(evaluation: EvaluationSummary | None) -> list[TagTypeDef]:
    """The model's test evaluation as tags, read back by DeployGate to judge the next retrain."""
    if evaluation is None:
        return []
    tags: list[TagTypeDef] = [{"Key": "evaluation:top1Accuracy", "Value": f"{evaluation.top1Accuracy:.6f}"}]
    if evaluation.testSet:
        tags.append({"Key": "evaluation:testSet", "Value": evaluation.testSet})
    return tags


def model_request(
    names: JobNames,
    defaults: Defaults,
    model_artifact: str,
    evaluation: EvaluationSummary | None = None,
    serving: Mapping[str, str] | None = None,
) -> CreateModelInputTypeDef:
    """``CreateModel``: the retrain's model.tar.gz served by inference.py from its own code/;
    ``serving``: the model server's settings (batching, workers) added to its Environment."""
    return {
        "ModelName": names.model,
        "PrimaryContainer": {
            "Image": defaults.inferenceImage,
            "ModelDataUrl": model_artifact,
            "Environment": {
                "SAGEMAKER_PROGRAM": INFERENCE_PROGRAM,
                "SAGEMAKER_SUBMIT_DIRECTORY": MODEL_CODE_DIR,
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": defaults.region,
                **(serving or {}),
            },
        },
        "ExecutionRoleArn": defaults.roleArn,
        "Tags": [APP_TAG, *evaluation_tags(evaluation)],
    }


def endpoint_config_request(names: JobNames, endpoint: EndpointSettings) -> CreateEndpointConfigInputTypeDef:
    """``CreateEndpointConfig``: a new config per execution, so an update is a blue/green switch."""
    variant: ProductionVariantTypeDef = {
        "VariantName": VARIANT_NAME,
        "ModelName": names.model,
        "InitialInstanceCount": endpoint.instanceCount,
        # execution_input.py checked the instance type against SageMaker's enum
        "InstanceType": cast("ProductionVariantInstanceTypeType", endpoint.instanceType),
        "InitialVariantWeight": 1.0,
    }
    return {"EndpointConfigName": names.endpointConfig, "ProductionVariants": [variant], "Tags": [APP_TAG]}


def create_endpoint_request(endpoint_name: str, config_name: str) -> CreateEndpointInputTypeDef:
    """``CreateEndpoint``."""
    return {"EndpointName": endpoint_name, "EndpointConfigName": config_name, "Tags": [APP_TAG]}


def update_endpoint_request(endpoint_name: str, config_name: str) -> UpdateEndpointInputTypeDef:
    """``UpdateEndpoint`` as an explicit blue/green deployment: traffic moves once green is healthy."""
    return {
        "EndpointName": endpoint_name,
        "EndpointConfigName": config_name,
        "RetainAllVariantProperties": False,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "TerminationWaitInSeconds": 120,
                "MaximumExecutionTimeoutInSeconds": 3600,
            }
        },
    }


def training_output_uri(output_path: str, job_name: str) -> str:
    """Where SageMaker puts a job's ``output.tar.gz`` (SM_OUTPUT_DATA_DIR, incl. profiler-report/)."""
    return f"{output_path.rstrip('/')}/{job_name}/output/output.tar.gz"
