"""SageMaker's tuning rules (localcloud.sagemaker.tuning_plan.make_plan, the one implementation the
pipeline's request checks also call) against AWS's documented examples and statements.

Each case quotes the page that decides it. Accepted: the developer guide's low-level tuning-job
example (its ranges, limits, seed and objective, on a script-mode training definition since localcloud
runs framework containers, not built-in algorithms), and the documented Grid and Hyperband forms.
Rejected: what the API reference and developer guide say SageMaker refuses.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from localcloud.errors import AwsError
from localcloud.sagemaker.tuning_plan import make_plan

TUNING_API = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html"
)
HYPERBAND_API = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperbandStrategyConfig.html"
RANGES_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html"
EXAMPLE_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-ex-tuning-job.html"

# The developer guide's example HyperParameterTuningJobConfig (EXAMPLE_GUIDE), verbatim.
DOC_TUNING_CONFIG: dict[str, Any] = {
    "ParameterRanges": {
        "CategoricalParameterRanges": [],
        "ContinuousParameterRanges": [
            {"MaxValue": "1", "MinValue": "0", "Name": "eta"},
            {"MaxValue": "2", "MinValue": "0", "Name": "alpha"},
            {"MaxValue": "10", "MinValue": "1", "Name": "min_child_weight"},
        ],
        "IntegerParameterRanges": [{"MaxValue": "10", "MinValue": "1", "Name": "max_depth"}],
    },
    "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 3},
    "Strategy": "Bayesian",
    "HyperParameterTuningJobObjective": {"MetricName": "validation:auc", "Type": "Maximize"},
    "RandomSeed": 123,
}


def request(config: dict[str, Any], static: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "MyTuningJob",
        "HyperParameterTuningJobConfig": copy.deepcopy(config),
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://bucket/code/sourcedir.tar.gz"',
                **(static or {}),
            },
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "validation:auc", "Regex": "validation_auc=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/output/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


def with_config(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(DOC_TUNING_CONFIG), **changes}


GRID = {
    "CategoricalParameterRanges": [
        {"Name": "optimizer", "Values": ["sgd", "adam"]},
        {"Name": "batch_size", "Values": ["32", "64", "128"]},
    ]
}


def test_the_developer_guides_example_is_accepted() -> None:
    plan = make_plan(request(DOC_TUNING_CONFIG))
    assert plan.strategy == "Bayesian" and plan.metric == "validation:auc" and plan.maximize
    assert (plan.max_jobs, plan.max_parallel, plan.seed) == (20, 3, 123)
    assert sorted(p.name for p in plan.params) == ["alpha", "eta", "max_depth", "min_child_weight"]


def test_grid_runs_every_combination() -> None:
    # TUNING_API, ResourceLimits / Strategy: Grid search uses categorical ranges and runs each
    # combination once; MaxNumberOfTrainingJobs may be omitted and is then the number of combinations.
    limits = {"MaxParallelTrainingJobs": 2}
    plan = make_plan(request(with_config(Strategy="Grid", ParameterRanges=GRID, ResourceLimits=limits)))
    assert plan.max_jobs == 6


def test_hyperband_takes_max_resource_from_a_static_epochs() -> None:
    # HYPERBAND_API: "If the value for MaxResource is not provided, and either epochs, numepochs,
    # n-epochs, n_epochs, or num_epochs is set as a static hyperparameter, Hyperband uses it";
    # "If the value for MinResource has not been set, the default value 1 is used".
    plan = make_plan(request(with_config(Strategy="Hyperband"), static={"epochs": "27"}))
    assert (plan.min_resource, plan.max_resource) == (1, 27)
    explicit = {"HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 81}}
    plan = make_plan(request(with_config(Strategy="Hyperband", StrategyConfig=explicit)))
    assert (plan.min_resource, plan.max_resource) == (3, 81)


def _continuous(low: str, high: str, scaling: str) -> dict[str, Any]:
    return {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
        ]
    }


REJECTED = [
    pytest.param(
        with_config(Strategy="Grid", ParameterRanges=DOC_TUNING_CONFIG["ParameterRanges"]),
        None,
        "only categorical",
        id="grid with numeric ranges",  # TUNING_API
    ),
    pytest.param(
        with_config(
            Strategy="Grid",
            ParameterRanges=GRID,
            ResourceLimits={"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 2},
        ),
        None,
        "must equal the number",
        id="grid whose MaxNumberOfTrainingJobs is not the combinations",  # TUNING_API
    ),
    pytest.param(
        with_config(Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto"),
        {"epochs": "9"},
        "must be Off",
        id="hyperband with early stopping Auto",  # TUNING_API
    ),
    pytest.param(
        with_config(Strategy="Hyperband"),
        None,
        "could not be inferred",
        id="hyperband without MaxResource or a static epochs",  # HYPERBAND_API
    ),
    pytest.param(
        with_config(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 9}}),
        None,
        "only with the Hyperband strategy",
        id="StrategyConfig with Bayesian",  # TUNING_API
    ),
    pytest.param(
        with_config(ParameterRanges=_continuous("0", "0.1", "Logarithmic")),
        None,
        "[Ll]ogarithmic",
        id="Logarithmic scaling reaching 0",  # RANGES_GUIDE: only values greater than 0
    ),
    pytest.param(
        with_config(ParameterRanges=_continuous("0.5", "1.5", "ReverseLogarithmic")),
        None,
        "Reverse logarithmic",
        id="ReverseLogarithmic outside [0, 1)",  # RANGES_GUIDE: entirely within 0<=x<1.0
    ),
    pytest.param(
        with_config(
            ParameterRanges={
                "ContinuousParameterRanges": [
                    {"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"} for i in range(31)
                ]
            }
        ),
        None,
        "at most 30",
        id="31 tuned hyperparameters",  # RANGES_GUIDE: up to 30
    ),
    pytest.param(
        DOC_TUNING_CONFIG,
        {"eta": "0.3"},
        "both a static hyperparameter and a tunable",
        id="a hyperparameter both static and tuned",  # RANGES_GUIDE
    ),
    pytest.param(
        with_config(HyperParameterTuningJobObjective={"MetricName": "validation:rmse", "Type": "Minimize"}),
        None,
        "not defined",
        id="an objective no MetricDefinition reports",  # TUNING_API
    ),
]


@pytest.mark.parametrize(("config", "static", "message"), REJECTED)
def test_documented_rejections(config: dict[str, Any], static: dict[str, str] | None, message: str) -> None:
    with pytest.raises(AwsError, match=message) as err:
        make_plan(request(config, static))
    assert err.value.code == "ValidationException"
