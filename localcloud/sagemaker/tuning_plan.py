"""CreateHyperParameterTuningJob's rules beyond botocore's model, and the plan a tuner follows.

:func:`make_plan` validates a request the way SageMaker does (objective defined by a metric
regex, ranges valid for their scaling, Grid = categorical ranges only and MaxNumberOfTrainingJobs
equal to the number of combinations, Hyperband needs a MaxResource and early stopping Off, ...)
and returns a :class:`TuningPlan`. The same function rebuilds the plan from the stored request
after a restart. Relies on the modules next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import AwsError, not_supported
from .search_space import Param, grid_size, grid_space, parse_ranges
from .training_checks import DEFINITION_FIELDS, check_fields, check_training_spec, check_tuning_resources

_CONFIG_FIELDS = {
    "Strategy",
    "StrategyConfig",
    "HyperParameterTuningJobObjective",
    "ResourceLimits",
    "ParameterRanges",
    "TrainingJobEarlyStoppingType",
    "TuningJobCompletionCriteria",
    "RandomSeed",
}
_REQUEST_FIELDS = {
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobConfig",
    "TrainingJobDefinition",
    "Tags",
}
_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


@dataclass(frozen=True)
class TuningPlan:
    strategy: str
    params: list[Param]
    metric: str
    maximize: bool
    max_jobs: int
    max_parallel: int
    max_runtime: int | None
    early_stopping: bool
    target: float | None
    not_improving: int | None
    seed: int | None
    grid: dict[str, list[str]] | None
    min_resource: int
    max_resource: int | None


def make_plan(request: dict[str, Any]) -> TuningPlan:
    for name in request:
        if name not in _REQUEST_FIELDS:
            raise not_supported(name)
    config = request["HyperParameterTuningJobConfig"]
    check_fields(config, _CONFIG_FIELDS, "HyperParameterTuningJobConfig.")
    definition = _checked_definition(request.get("TrainingJobDefinition"))
    static = definition.get("StaticHyperParameters") or {}
    objective = _objective(config, definition)
    params = parse_ranges(config.get("ParameterRanges"))
    overlap = sorted({p.name for p in params} & set(static))
    if overlap:
        raise _invalid(f"Hyperparameter {overlap[0]} is both a static hyperparameter and a tunable one")
    if not params and config["Strategy"] != "Grid":
        raise _invalid("ParameterRanges must define at least one hyperparameter to tune")
    strategy = config["Strategy"]
    limits = config["ResourceLimits"]
    max_jobs, grid = _max_jobs(strategy, limits.get("MaxNumberOfTrainingJobs"), params)
    early = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
    min_resource, max_resource = _hyperband(config, strategy, early, static)
    criteria = config.get("TuningJobCompletionCriteria") or {}
    convergence = (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
    if convergence == "Enabled":
        raise not_supported("TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence Enabled")
    not_improving = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    return TuningPlan(
        strategy=strategy,
        params=params,
        metric=objective["MetricName"],
        maximize=objective["Type"] == "Maximize",
        max_jobs=max_jobs,
        max_parallel=int(limits["MaxParallelTrainingJobs"]),
        max_runtime=limits.get("MaxRuntimeInSeconds"),
        early_stopping=early,
        target=criteria.get("TargetObjectiveMetricValue"),
        not_improving=not_improving,
        seed=config.get("RandomSeed"),
        grid=grid,
        min_resource=min_resource,
        max_resource=max_resource,
    )


def _checked_definition(definition: dict[str, Any] | None) -> dict[str, Any]:
    """The TrainingJobDefinition, checked as CreateTrainingJob's request is (plus its own rules)."""
    if definition is None:
        raise _invalid(
            "TrainingJobDefinition is required (TrainingJobDefinitions, several definitions per "
            "tuning job, is not supported by localcloud)"
        )
    check_fields(definition, DEFINITION_FIELDS, "TrainingJobDefinition.")
    for name in ("TuningObjective", "HyperParameterRanges"):
        if definition.get(name):
            raise not_supported(f"TrainingJobDefinition.{name} (set it in HyperParameterTuningJobConfig)")
    static = definition.get("StaticHyperParameters") or {}
    check_training_spec(
        check_tuning_resources(definition), hyperparameters=static, where="TrainingJobDefinition."
    )
    return definition


def _objective(config: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """The objective, whose metric the training jobs' MetricDefinitions must define."""
    objective: dict[str, Any] | None = config.get("HyperParameterTuningJobObjective")
    if not objective:
        raise _invalid("HyperParameterTuningJobObjective is required")
    metric = objective["MetricName"]
    defined = [
        d["Name"] for d in (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    ]
    if metric not in defined:
        raise _invalid(
            f"The objective metric {metric} is not defined in the AlgorithmSpecification's "
            f"MetricDefinitions ({', '.join(defined) or 'none defined'})"
        )
    return objective


def _max_jobs(
    strategy: str, max_jobs: int | None, params: list[Param]
) -> tuple[int, dict[str, list[str]] | None]:
    """MaxNumberOfTrainingJobs (Grid: the number of combinations) and Grid's search space."""
    if strategy == "Grid":
        grid = grid_space(params)
        combos = grid_size(grid)
        if max_jobs is not None and max_jobs != combos:
            raise _invalid(
                f"For Grid search, MaxNumberOfTrainingJobs ({max_jobs}) must equal the number of "
                f"distinct combinations of the categorical hyperparameters ({combos}), or be omitted"
            )
        return combos, grid
    if max_jobs is None:
        raise _invalid(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy")
    return int(max_jobs), None


def _hyperband(
    config: dict[str, Any], strategy: str, early: bool, static: dict[str, str]
) -> tuple[int, int | None]:
    """Hyperband's (MinResource, MaxResource); (1, None) for the other strategies."""
    strategy_config = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if strategy_config and strategy != "Hyperband":
        raise _invalid("StrategyConfig.HyperbandStrategyConfig can be set only with the Hyperband strategy")
    if strategy != "Hyperband":
        return 1, None
    if early:
        raise _invalid(
            "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy (Hyperband has "
            "its own early stopping)"
        )
    strategy_config = strategy_config or {}
    min_resource = int(strategy_config.get("MinResource") or 1)
    max_resource = strategy_config.get("MaxResource")
    if max_resource is None:
        max_resource = _infer_max_resource(static)
    if max_resource is None:
        raise _invalid(
            "HyperbandStrategyConfig.MaxResource is not set and could not be inferred from the "
            f"static hyperparameters ({', '.join(_EPOCH_KEYS)})"
        )
    if min_resource > max_resource:
        raise _invalid(
            f"HyperbandStrategyConfig.MinResource ({min_resource}) must be less than or equal to "
            f"MaxResource ({max_resource})"
        )
    return min_resource, int(max_resource)


def _infer_max_resource(static: dict[str, str]) -> int | None:
    for key in _EPOCH_KEYS:
        if key in static:
            try:
                return int(float(str(static[key]).strip('"')))
            except ValueError:
                return None
    return None
