"""The pipeline's resolved configuration and the Lambda environment it starts from.

Contract: docs/contracts.md#execution-input.

``PipelineConfig`` is the execution input with every default filled in and every rule checked
(:func:`pipeline.execution_input.resolve_config` makes it); ``Defaults`` is the Lambda environment
(template.yaml's parameters, read by a plain pydantic model) that fills the gaps. The parts a user
gives whole and the pipeline keeps as they are (ranges, objective, deploy settings) are one model
each, in the input and in the configuration, so they live here with the input's base models.
Every model is built on first use (``defer_build``), so a step pays only for the validators it
needs. Relies on pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)

from .errors import ConfigurationError
from .metrics import DEFAULT_OBJECTIVE_METRIC, DEFAULT_OBJECTIVE_TYPE

Strategy = Literal["Bayesian", "Random", "Grid", "Hyperband"]
Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
EarlyStopping = Literal["Off", "Auto"]
ObjectiveType = Literal["Maximize", "Minimize"]

MAX_CATEGORICAL_VALUES = 30

SagemakerScalar = StrictStr | StrictInt | StrictFloat | StrictBool


def _range_kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "categorical" if "values" in value else "numeric"
    return "categorical" if isinstance(getattr(value, "values", None), list) else "numeric"


# --------------------------------------------------------------------------- input and configuration


class InputModel(BaseModel):
    """What a user sends: unknown keys and wrong types rejected. Like every model here, built on
    first use (``defer_build``): a step builds the validators of the models it uses, not all ~35."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class DefaultedInput(InputModel):
    """A part the user may give in part: its fields have defaults, and an explicit null means left out."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_left_out(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


class NumericRange(InputModel):
    min: float
    max: float
    scaling: Scaling = "Auto"
    integer: bool = False


class CategoricalRange(InputModel):
    values: list[SagemakerScalar] = Field(min_length=1, max_length=MAX_CATEGORICAL_VALUES)


Range = Annotated[
    Annotated[NumericRange, Tag("numeric")] | Annotated[CategoricalRange, Tag("categorical")],
    Discriminator(_range_kind),
]


class Objective(DefaultedInput):
    metric: str = DEFAULT_OBJECTIVE_METRIC
    type: ObjectiveType = DEFAULT_OBJECTIVE_TYPE


class DeploySettings(DefaultedInput):
    """The deployment gate (docs/evaluation.md): deploy when the retrain's test accuracy is >=
    minAccuracy and >= the serving model's - tolerance; force skips the comparison."""

    minAccuracy: float = Field(default=0.0, ge=0, le=1)
    tolerance: float = Field(default=0.01, ge=0, le=1)
    force: bool = False


# --------------------------------------------------------------------------- resolved configuration


class PipelineModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Channels(PipelineModel):
    train: str
    valid: str
    test: str | None = None


class Hyperband(PipelineModel):
    minResource: int
    maxResource: int


class TuningConfig(PipelineModel):
    strategy: Strategy
    maxJobs: int
    maxParallelJobs: int
    earlyStopping: EarlyStopping
    objective: Objective
    ranges: dict[str, Range]
    static: dict[str, SagemakerScalar]
    hyperband: Hyperband | None = None
    randomSeed: int | None = None
    maxRuntimeSeconds: int | None = None


class TrainingConfig(PipelineModel):
    instanceType: str
    instanceCount: int
    spot: bool
    maxRuntimeSeconds: int
    maxWaitSeconds: int | None = None
    volumeSizeGB: int


DEFAULT_SERVING_BATCH_SIZE = 8
DEFAULT_SERVING_MAX_BATCH_DELAY_MS = 10
# None: one worker per vCPU of the endpoint's instance type, TorchServe's own default
# (functions/pipeline/deploy_endpoint.py: serving_environment; docs/contracts.md#execution-input).
DEFAULT_SERVING_WORKERS: int | None = None


class EndpointSettings(PipelineModel):
    name: str
    instanceType: str
    instanceCount: int
    batchSize: int = DEFAULT_SERVING_BATCH_SIZE
    maxBatchDelayMs: int = DEFAULT_SERVING_MAX_BATCH_DELAY_MS
    workers: int | None = DEFAULT_SERVING_WORKERS


class PipelineConfig(PipelineModel):
    """The execution input with every default filled in and every rule checked."""

    data: Channels
    tuning: TuningConfig
    training: TrainingConfig
    endpoint: EndpointSettings
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    pollSeconds: int


# --------------------------------------------------------------------------- defaults (environment)


class Defaults(BaseModel):
    """The Lambda environment: template parameters that serve as defaults, and the app's wiring.

    Each field is read from the variable its alias names (as strings, converted by pydantic's lax
    mode: ``"8"`` -> 8, ``"false"`` -> False), other variables ignored. A plain model rather than
    pydantic-settings' BaseSettings: this is all of the environment reading the functions need, and
    importing pydantic-settings cost every cold start ~35 ms."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    bucket: str = Field(alias="BUCKET_NAME", min_length=3)
    roleArn: str = Field(alias="SAGEMAKER_ROLE_ARN", min_length=20)
    trainingImage: str = Field(alias="TRAINING_IMAGE_URI", min_length=1)
    inferenceImage: str = Field(alias="INFERENCE_IMAGE_URI", min_length=1)
    jobPrefix: str = Field(default="dogs", alias="JOB_NAME_PREFIX", pattern=r"^[a-z0-9](-*[a-z0-9]){0,9}$")
    datasetPrefix: str = Field(default="dogImages", alias="DATASET_PREFIX")
    strategy: Strategy = Field(default="Bayesian", alias="TUNING_STRATEGY")
    maxJobs: int = Field(default=8, alias="TUNING_MAX_JOBS", ge=1)
    maxParallelJobs: int = Field(default=2, alias="TUNING_MAX_PARALLEL_JOBS", ge=1)
    earlyStopping: EarlyStopping = Field(default="Auto", alias="TUNING_EARLY_STOPPING")
    trainingInstanceType: str = Field(default="ml.g4dn.xlarge", alias="TRAINING_INSTANCE_TYPE")
    trainingInstanceCount: int = Field(default=1, alias="TRAINING_INSTANCE_COUNT", ge=1)
    spot: bool = Field(default=False, alias="TRAINING_USE_SPOT")
    maxRuntimeSeconds: int = Field(default=86_400, alias="TRAINING_MAX_RUNTIME_SECONDS", ge=60)
    volumeSizeGB: int = Field(default=50, alias="TRAINING_VOLUME_GB", ge=1)
    endpointName: str = Field(default="dog-breeds", alias="ENDPOINT_NAME", min_length=1)
    endpointInstanceType: str = Field(default="ml.m5.large", alias="ENDPOINT_INSTANCE_TYPE")
    endpointInstanceCount: int = Field(default=1, alias="ENDPOINT_INSTANCE_COUNT", ge=1)
    pollSeconds: int = Field(default=60, alias="POLL_SECONDS", ge=1)
    debugger: bool = Field(default=False, alias="ENABLE_SAGEMAKER_DEBUGGER")
    debuggerRuleImage: str = Field(default="", alias="DEBUGGER_RULE_IMAGE_URI")
    region: str = Field(
        default="us-east-1",
        alias="AWS_REGION",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    endpointUrl: str = Field(default="", alias="AWS_ENDPOINT_URL")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Defaults:
        """Read the environment (or ``env``); a missing or malformed variable is a ConfigurationError
        naming it."""
        try:
            return cls.model_validate(dict(os.environ if env is None else env))
        except ValidationError as exc:
            problems = [f"{err['loc'][0] if err['loc'] else '?'}: {err['msg']}" for err in exc.errors()]
            raise ConfigurationError(
                "The function's environment (template.yaml parameters) is invalid: " + "; ".join(problems)
            ) from None

    @property
    def local_files_allowed(self) -> bool:
        """``file://`` channels are a SageMaker local-mode convention: accepted only off AWS."""
        return bool(self.endpointUrl)

    def data_channel(self, channel: str) -> str:
        prefix = self.datasetPrefix.strip("/")
        return f"s3://{self.bucket}/{prefix}/{channel}/" if prefix else f"s3://{self.bucket}/{channel}/"
