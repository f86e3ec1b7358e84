"""The execution input (what a user may send to ``start-execution``) and its resolution into the
pipeline's configuration.

Contract: docs/contracts.md#execution-input.

``ExecutionInput``: every field optional, unknown keys and wrong types rejected; the parts that a
user gives in part have an all-optional input model here and a resolved one in
:mod:`pipeline.config`. ``resolve_config`` fills the gaps from ``Defaults`` (the Lambda
environment) and applies SageMaker's own rules that no request schema checks: min < max, scalings
that fit their range, Grid takes categorical ranges only and runs exactly their combinations,
Hyperband gets its epochs budget statically and no early stopping of its own, instance types from
SageMaker's enums, and so on. Hyperparameter names and values (static ones, categorical values,
numeric range ends) are checked against train.py's own definition (:mod:`pipeline.hyperparameters`).
Every problem is reported with the path of the field that caused it (``tuning.ranges.lr.min: ...``).
Only StartTuning resolves the input; the later steps read the resolved configuration from the
state (:mod:`pipeline.state`). Relies on pydantic and botocore's SageMaker service model (the
trimmed one in botocore_data/, for the instance-type enums).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from .aws import botocore_session
from .config import (
    DEFAULT_SERVING_BATCH_SIZE,
    DEFAULT_SERVING_MAX_BATCH_DELAY_MS,
    DEFAULT_SERVING_WORKERS,
    CategoricalRange,
    Channels,
    Defaults,
    DeploySettings,
    EarlyStopping,
    EndpointSettings,
    Hyperband,
    InputModel,
    NumericRange,
    Objective,
    PipelineConfig,
    Range,
    SagemakerScalar,
    Strategy,
    TrainingConfig,
    TuningConfig,
)
from .errors import InvalidInput
from .metrics import DEFAULT_OBJECTIVE_METRIC, METRIC_REGEXES

MAX_TUNED_PARAMETERS = 30  # SageMaker: all ranges together
MAX_HYPERPARAMETERS = 100  # SageMaker: static + tuned, including the sagemaker_* ones
MAX_TRAINING_SECONDS = 28 * 24 * 3600  # SageMaker's longest training job
HYPERBAND_MAX_RESOURCE = 20_000
ENDPOINT_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
S3_URI_RE = re.compile(r"s3://([^/]+)/?(.*)")  # SageMaker's S3Uri pattern, s3 scheme only

# --------------------------------------------------------------------------- input (all optional)


class DataInput(InputModel):
    train: str | None = None
    valid: str | None = None
    test: str | None = None


class HyperbandInput(InputModel):
    minResource: int | None = Field(default=None, ge=1, le=HYPERBAND_MAX_RESOURCE)
    maxResource: int | None = Field(default=None, ge=1, le=HYPERBAND_MAX_RESOURCE)


class TuningInput(InputModel):
    strategy: Strategy | None = None
    maxJobs: int | None = Field(default=None, ge=1, le=750)
    maxParallelJobs: int | None = Field(default=None, ge=1, le=100)
    earlyStopping: EarlyStopping | None = None
    objective: Objective | None = None
    ranges: dict[str, Range] | None = None
    static: dict[str, SagemakerScalar] | None = None
    hyperband: HyperbandInput | None = None
    randomSeed: int | None = Field(default=None, ge=0)
    maxRuntimeSeconds: int | None = Field(default=None, ge=120, le=15_768_000)


class TrainingInput(InputModel):
    instanceType: str | None = None
    instanceCount: int | None = Field(default=None, ge=1, le=64)
    spot: bool | None = None
    maxRuntimeSeconds: int | None = Field(default=None, ge=60, le=MAX_TRAINING_SECONDS)
    maxWaitSeconds: int | None = Field(default=None, ge=60)
    volumeSizeGB: int | None = Field(default=None, ge=1, le=16_384)


class EndpointInput(InputModel):
    name: str | None = None
    instanceType: str | None = None
    instanceCount: int | None = Field(default=None, ge=1, le=32)
    # Batched serving (docs/contracts.md#execution-input): becomes the model's SAGEMAKER_TS_* variables.
    batchSize: int | None = Field(default=None, ge=1, le=64)
    maxBatchDelayMs: int | None = Field(default=None, ge=0, le=1000)
    workers: int | None = Field(default=None, ge=1, le=32)


class ExecutionInput(InputModel):
    """What ``start-execution --input`` may contain, all optional (docs/contracts.md#execution-input)."""

    data: DataInput | None = None
    tuning: TuningInput | None = None
    training: TrainingInput | None = None
    endpoint: EndpointInput | None = None
    deploy: DeploySettings | None = None
    pollSeconds: int | None = Field(default=None, ge=1, le=3600)


# --------------------------------------------------------------------------- resolution


@functools.cache
def sagemaker_enum(shape: str) -> frozenset[str]:
    """An enum of SageMaker's service model (e.g. ``TrainingInstanceType``)."""
    model = botocore_session().get_service_model("sagemaker")  # the clients' loader: parsed once
    return frozenset(model.shape_for(shape).enum)


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if part in ("numeric", "categorical"):  # discriminated-union tags, not fields
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(input)"


_SCALAR_MEMBERS = frozenset({"str", "int", "float", "bool"})


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems: dict[str, None] = {}  # ordered, without repeats
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if loc and loc[-1] in _SCALAR_MEMBERS:  # one error per member of a scalar union: say it once
            problems[f"{_loc(loc[:-1])}: must be a string, a number or true/false"] = None
        elif err["type"] == "extra_forbidden":
            problems[f"{_loc(loc)}: unknown field"] = None
        elif err["type"] in ("model_type", "dict_type", "union_tag_invalid"):
            problems[f"{_loc(loc)}: must be a JSON object"] = None
        else:
            problems[f"{_loc(loc)}: {err['msg']}"] = None
    return list(problems)


def _default_ranges(strategy: str) -> dict[str, NumericRange | CategoricalRange]:
    if strategy == "Grid":
        return {
            "lr": CategoricalRange(values=[0.001, 0.01]),
            "batch-size": CategoricalRange(values=[32, 64]),
        }
    ranges: dict[str, NumericRange | CategoricalRange] = {
        "lr": NumericRange(min=1e-4, max=1e-1, scaling="Logarithmic"),
        "batch-size": CategoricalRange(values=[32, 64, 128]),
    }
    if strategy != "Hyperband":  # Hyperband spends epochs itself: they stay static
        ranges["epochs"] = NumericRange(min=2, max=6, integer=True)
    return ranges


DEFAULT_STATIC: dict[str, str | int | float | bool] = {
    "arch": "resnet50",
    "pretrained": "imagenet",
    "epochs": 6,
}


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _check_uri(where: str, uri: str, defaults: Defaults, problems: _Problems) -> None:
    if uri.startswith("file://"):
        if not defaults.local_files_allowed:
            problems.add(where, "file:// URIs work only under localcloud (SageMaker local mode); use s3://")
        elif not uri.startswith("file:///"):
            problems.add(where, "file:// URIs must be absolute (file:///path/to/dir)")
        return
    match = S3_URI_RE.fullmatch(uri)
    if not match or len(uri) > 1024:
        problems.add(where, f"must be an s3://bucket/prefix/ URI, got {uri!r}")


def _check_range(where: str, rng: NumericRange | CategoricalRange, problems: _Problems) -> None:
    if isinstance(rng, CategoricalRange):
        encoded = [str(v) for v in rng.values]
        if len(set(encoded)) != len(encoded):
            problems.add(f"{where}.values", "values must be distinct")
        return
    for bound in ("min", "max"):
        value = getattr(rng, bound)
        if not math.isfinite(value):
            problems.add(f"{where}.{bound}", "must be a finite number")
            return
        if rng.integer and value != int(value):
            problems.add(f"{where}.{bound}", f"must be a whole number for an integer range, got {value}")
    if rng.min >= rng.max:
        problems.add(where, f"min ({rng.min:g}) must be less than max ({rng.max:g})")
    if rng.scaling == "Logarithmic" and rng.min <= 0:
        problems.add(f"{where}.scaling", "Logarithmic scaling needs min > 0")
    if rng.scaling == "ReverseLogarithmic":
        if rng.integer:
            problems.add(f"{where}.scaling", "ReverseLogarithmic scaling is for continuous ranges only")
        elif not (rng.min >= 0 and rng.max < 1):
            problems.add(f"{where}.scaling", "ReverseLogarithmic scaling needs 0 <= min and max < 1")


# pipeline.hyperparameters (train.py's rules, with its pydantic TypeAdapters and the code package)
# is imported by the three checks below alone: they run only for ranges or static values given in
# the execution input, so no other step's cold start (nor StartTuning's on defaults) pays ~3 ms.


def _check_hyperparameter_name(where: str, name: str, problems: _Problems) -> bool:
    """Whether ``name`` is one a user may set (train.py's spec, less what the pipeline sets)."""
    from . import hyperparameters

    spec = hyperparameters.load_spec()
    if name in spec.reserved:
        problems.add(where, f"'{name}' is set by the pipeline (the retrain is profiled); remove it")
        return False
    if name not in spec.user_settable:
        known = ", ".join(sorted(spec.user_settable))
        problems.add(where, f"unknown hyperparameter '{name}' (train.py takes: {known})")
        return False
    return True


def _check_hyperparameter_range(
    where: str, name: str, rng: NumericRange | CategoricalRange, problems: _Problems
) -> None:
    """Every value the range can give train.py must be one train.py takes."""
    from . import hyperparameters

    if isinstance(rng, CategoricalRange):
        for index, value in enumerate(rng.values):
            problem = hyperparameters.check_value(name, value)
            if problem:
                problems.add(f"{where}.values[{index}]", problem)
        return
    for bound, problem in hyperparameters.check_numeric_range(name, rng.min, rng.max, rng.integer):
        problems.add(f"{where}.{bound}" if bound else where, problem)


def _resolve_ranges(raw: TuningInput, strategy: str, problems: _Problems) -> dict[str, Range]:
    if raw.ranges is None:
        return _default_ranges(strategy)
    if not raw.ranges:
        problems.add("tuning.ranges", "give at least one hyperparameter range")
    for name, rng in raw.ranges.items():
        if _check_hyperparameter_name(f"tuning.ranges.{name}", name, problems):
            _check_hyperparameter_range(f"tuning.ranges.{name}", name, rng, problems)
        _check_range(f"tuning.ranges.{name}", rng, problems)
    if len(raw.ranges) > MAX_TUNED_PARAMETERS:
        problems.add("tuning.ranges", f"SageMaker tunes at most {MAX_TUNED_PARAMETERS} hyperparameters")
    return dict(raw.ranges)


def _resolve_static(
    raw: TuningInput, ranges: Mapping[str, Range], problems: _Problems
) -> dict[str, str | int | float | bool]:
    static: dict[str, str | int | float | bool] = {k: v for k, v in DEFAULT_STATIC.items() if k not in ranges}
    for name, value in (raw.static or {}).items():
        if _check_hyperparameter_name(f"tuning.static.{name}", name, problems):
            from . import hyperparameters  # a static value given: only then (see above)

            problem = hyperparameters.check_value(name, value)
            if problem:
                problems.add(f"tuning.static.{name}", problem)
        if name in ranges:
            problems.add(f"tuning.static.{name}", "is also in tuning.ranges: give it in one place only")
        static[name] = value
    if len(static) + len(ranges) + 3 > MAX_HYPERPARAMETERS:
        problems.add("tuning.static", f"SageMaker takes at most {MAX_HYPERPARAMETERS} hyperparameters in all")
    return static


def _resolve_objective(raw: TuningInput, problems: _Problems) -> Objective:
    given = raw.objective or Objective()
    metric = given.metric or DEFAULT_OBJECTIVE_METRIC
    if metric not in METRIC_REGEXES:
        known = ", ".join(METRIC_REGEXES)
        problems.add("tuning.objective.metric", f"unknown metric '{metric}' (one of: {known})")
    return Objective(metric=metric, type=given.type)


def _grid_jobs(raw: TuningInput, ranges: Mapping[str, Range], problems: _Problems) -> int:
    """Grid search runs every combination of its categorical ranges: that is its maxJobs."""
    numeric = sorted(name for name, rng in ranges.items() if isinstance(rng, NumericRange))
    if numeric:
        problems.add(
            "tuning.ranges",
            f"Grid search takes categorical ranges only (values lists); not: {', '.join(numeric)}",
        )
    combinations = math.prod(len(r.values) for r in ranges.values() if isinstance(r, CategoricalRange))
    if "maxJobs" in raw.model_fields_set and raw.maxJobs != combinations:
        problems.add(
            "tuning.maxJobs",
            f"Grid search runs every combination: maxJobs must be {combinations} or left out, "
            f"got {raw.maxJobs}",
        )
    return combinations


def _hyperband(
    raw: TuningInput, ranges: Mapping[str, Range], static: Mapping[str, Any], problems: _Problems
) -> Hyperband | None:
    """Hyperband's resource bounds: its epochs budget, from tuning.hyperband or the static epochs."""
    if "epochs" in ranges:
        problems.add(
            "tuning.ranges.epochs",
            "Hyperband decides how many epochs each job runs: give epochs in tuning.static instead",
        )
    given = raw.hyperband or HyperbandInput()
    max_resource = given.maxResource
    if max_resource is None:
        epochs = static.get("epochs")
        if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1:
            max_resource = epochs
        else:
            problems.add(
                "tuning.static.epochs",
                "Hyperband needs the epochs budget: a whole number here or tuning.hyperband.maxResource",
            )
            return None
    min_resource = given.minResource or 1
    if min_resource > max_resource:
        problems.add("tuning.hyperband.minResource", f"must be <= maxResource ({max_resource})")
    return Hyperband(minResource=min_resource, maxResource=max_resource)


def _hyperband_early_stopping(raw: TuningInput, early: str, problems: _Problems) -> str:
    """Hyperband stops jobs itself: SageMaker's own early stopping must be Off."""
    if early == "Auto" and "earlyStopping" in raw.model_fields_set:
        problems.add("tuning.earlyStopping", "Hyperband stops jobs itself: earlyStopping must be Off")
    return "Off"


def _max_parallel(raw: TuningInput, defaults: Defaults, max_jobs: int, problems: _Problems) -> int:
    max_parallel = raw.maxParallelJobs if raw.maxParallelJobs is not None else defaults.maxParallelJobs
    if max_parallel > max_jobs:
        if "maxParallelJobs" in raw.model_fields_set:
            problems.add("tuning.maxParallelJobs", f"must be <= maxJobs ({max_jobs}), got {max_parallel}")
        max_parallel = max_jobs
    return max_parallel


def _resolve_tuning(raw: TuningInput, defaults: Defaults, problems: _Problems) -> TuningConfig | None:
    strategy: str = raw.strategy or defaults.strategy
    ranges = _resolve_ranges(raw, strategy, problems)
    static = _resolve_static(raw, ranges, problems)
    objective = _resolve_objective(raw, problems)
    max_jobs = raw.maxJobs if raw.maxJobs is not None else defaults.maxJobs
    early: str = raw.earlyStopping or defaults.earlyStopping
    hyperband: Hyperband | None = None
    if raw.hyperband is not None and strategy != "Hyperband":
        problems.add("tuning.hyperband", f"only applies to strategy Hyperband, not {strategy}")
    if strategy == "Grid":
        max_jobs = _grid_jobs(raw, ranges, problems)
    elif strategy == "Hyperband":
        early = _hyperband_early_stopping(raw, early, problems)
        hyperband = _hyperband(raw, ranges, static, problems)
    try:
        return TuningConfig(
            strategy=strategy,  # type: ignore[arg-type]
            maxJobs=max_jobs,
            maxParallelJobs=_max_parallel(raw, defaults, max_jobs, problems),
            earlyStopping=early,  # type: ignore[arg-type]
            objective=objective,
            ranges=ranges,
            static=static,
            hyperband=hyperband,
            randomSeed=raw.randomSeed,
            maxRuntimeSeconds=raw.maxRuntimeSeconds,
        )
    except ValidationError as exc:  # defaults from the environment that do not fit
        for problem in _pydantic_problems(exc):
            problems.add("tuning", problem)
        return None


def _resolve_training(raw: TrainingInput, defaults: Defaults, problems: _Problems) -> TrainingConfig:
    instance_type = raw.instanceType or defaults.trainingInstanceType
    if instance_type not in sagemaker_enum("TrainingInstanceType"):
        problems.add("training.instanceType", f"'{instance_type}' is not a SageMaker training instance type")
    runtime = raw.maxRuntimeSeconds or defaults.maxRuntimeSeconds
    spot = raw.spot if raw.spot is not None else defaults.spot
    max_wait = None
    if spot:
        max_wait = raw.maxWaitSeconds or min(2 * runtime, MAX_TRAINING_SECONDS)
        if max_wait < runtime:
            problems.add("training.maxWaitSeconds", f"must be >= maxRuntimeSeconds ({runtime}) with spot")
    elif raw.maxWaitSeconds is not None:
        problems.add("training.maxWaitSeconds", "only applies with spot: true")
    return TrainingConfig(
        instanceType=instance_type,
        instanceCount=raw.instanceCount or defaults.trainingInstanceCount,
        spot=spot,
        maxRuntimeSeconds=runtime,
        maxWaitSeconds=max_wait,
        volumeSizeGB=raw.volumeSizeGB or defaults.volumeSizeGB,
    )


def _resolve_endpoint(raw: EndpointInput, defaults: Defaults, problems: _Problems) -> EndpointSettings:
    name = raw.name or defaults.endpointName
    if not ENDPOINT_NAME_RE.fullmatch(name):
        problems.add(
            "endpoint.name", "must be 1-63 letters, digits and hyphens, starting and ending alphanumeric"
        )
    elif not name.lower().startswith(defaults.endpointName.lower()):
        problems.add(
            "endpoint.name",
            f"must start with '{defaults.endpointName}' (the stack's EndpointName, which IAM allows)",
        )
    instance_type = raw.instanceType or defaults.endpointInstanceType
    if instance_type not in sagemaker_enum("ProductionVariantInstanceType"):
        problems.add("endpoint.instanceType", f"'{instance_type}' is not a SageMaker endpoint instance type")
    count = raw.instanceCount or defaults.endpointInstanceCount
    return EndpointSettings(
        name=name,
        instanceType=instance_type,
        instanceCount=count,
        batchSize=raw.batchSize or DEFAULT_SERVING_BATCH_SIZE,
        maxBatchDelayMs=(
            raw.maxBatchDelayMs if raw.maxBatchDelayMs is not None else DEFAULT_SERVING_MAX_BATCH_DELAY_MS
        ),
        workers=raw.workers or DEFAULT_SERVING_WORKERS,
    )


def _json_kind(value: Any) -> str:
    """What JSON value ``value`` was, in the words a user who wrote the JSON would use."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def resolve_config(execution_input: Any, defaults: Defaults) -> PipelineConfig:
    """Validate the execution input and fill in the defaults; ``InvalidInput`` names every bad field."""
    if execution_input is None:
        execution_input = {}
    if not isinstance(execution_input, dict):
        raise InvalidInput(
            f"Invalid execution input: must be a JSON object, got {_json_kind(execution_input)}"
        )
    try:
        raw = ExecutionInput.model_validate(execution_input)
    except ValidationError as exc:
        raise InvalidInput("Invalid execution input: " + "; ".join(_pydantic_problems(exc))) from None

    problems = _Problems()
    data_in = raw.data or DataInput()
    channels = {}
    for channel in ("train", "valid", "test"):
        uri = getattr(data_in, channel) or defaults.data_channel(channel)
        _check_uri(f"data.{channel}", uri, defaults, problems)
        channels[channel] = uri
    tuning = _resolve_tuning(raw.tuning or TuningInput(), defaults, problems)
    training = _resolve_training(raw.training or TrainingInput(), defaults, problems)
    endpoint = _resolve_endpoint(raw.endpoint or EndpointInput(), defaults, problems)
    deploy = raw.deploy or DeploySettings()
    if problems.items or tuning is None:
        raise InvalidInput("Invalid execution input: " + "; ".join(problems.items))
    return PipelineConfig(
        data=Channels(**channels),
        tuning=tuning,
        training=training,
        endpoint=endpoint,
        deploy=deploy,
        pollSeconds=raw.pollSeconds or defaults.pollSeconds,
    )
