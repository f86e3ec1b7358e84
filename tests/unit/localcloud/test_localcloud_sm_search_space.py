"""Tuning ranges: SageMaker's validation rules, scalings and Grid/Hyperband plans."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest

from localcloud.errors import AwsError
from localcloud.sagemaker.search_space import (
    distributions,
    grid_combinations,
    grid_space,
    parse_ranges,
    render,
)
from localcloud.sagemaker.tuning_plan import make_plan


def _continuous(low: str, high: str, scaling: str = "Linear") -> dict[str, Any]:
    return {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
        ]
    }


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (_continuous("0.1", "0.01"), "must be greater than or equal to its MinValue"),
        (_continuous("0", "1", "Logarithmic"), "values greater than 0"),
        (_continuous("0.5", "1.0", "ReverseLogarithmic"), "0<=x<1.0"),
        (_continuous("abc", "1"), "is not a number"),
        (
            {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]},
            "is not an integer",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "n", "MinValue": "1", "MaxValue": "3", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "not supported for integer",
        ),
        (
            {**_continuous("0.1", "0.2"), "CategoricalParameterRanges": [{"Name": "lr", "Values": ["1"]}]},
            "more than one parameter range",
        ),
    ],
)
def test_invalid_ranges_are_rejected(ranges: dict[str, Any], message: str) -> None:
    with pytest.raises(AwsError) as raised:
        parse_ranges(ranges)
    assert raised.value.code == "ValidationException" and message in raised.value.message


def test_scalings_map_to_optuna_distributions() -> None:
    params = parse_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1e-1", "ScalingType": "Auto"},
                {
                    "Name": "momentum",
                    "MinValue": "0.5",
                    "MaxValue": "0.999",
                    "ScalingType": "ReverseLogarithmic",
                },
            ],
            "IntegerParameterRanges": [
                {"Name": "epochs", "MinValue": "2", "MaxValue": "6", "ScalingType": "Auto"}
            ],
            "CategoricalParameterRanges": [{"Name": "arch", "Values": ['"resnet18"', '"resnet50"']}],
        }
    )
    dists = distributions(params)
    assert dists["lr"].log is True  # type: ignore[attr-defined]  # Auto over 4 decades: logarithmic
    assert dists["epochs"].log is False  # type: ignore[attr-defined]
    assert dists["momentum"].low == pytest.approx(0.001) and dists["momentum"].high == pytest.approx(0.5)  # type: ignore[attr-defined]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        values = render(params, study.ask(dists).params)
        assert 1e-5 <= float(values["lr"]) <= 1e-1
        assert 0.5 <= float(values["momentum"]) <= 0.999
        assert values["epochs"] in {"2", "3", "4", "5", "6"}
        assert values["arch"] in {'"resnet18"', '"resnet50"'}


def test_reverse_logarithmic_crowds_values_towards_one() -> None:
    params = parse_ranges(_continuous("0.0", "0.999", "ReverseLogarithmic"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = [float(render(params, study.ask(distributions(params)).params)["lr"]) for _ in range(400)]
    above = sum(v > 0.9 for v in values) / len(values)
    assert above > 0.5  # linear would put 10% there
    assert all(0.0 <= v <= 0.999 for v in values) and not any(math.isnan(v) for v in values)


def test_grid_takes_categorical_ranges_only() -> None:
    space = grid_space(
        parse_ranges(
            {
                "CategoricalParameterRanges": [
                    {"Name": "a", "Values": ["1", "2"]},
                    {"Name": "b", "Values": ["x", "y", "z"]},
                ]
            }
        )
    )
    assert len(grid_combinations(space)) == 6
    with pytest.raises(AwsError, match="only categorical"):
        grid_space(parse_ranges(_continuous("0.1", "0.2")))


def _request(config: dict[str, Any], static: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "t",
        "HyperParameterTuningJobConfig": {
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "valid:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": _continuous("0.1", "0.2"),
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": "s3://b/s.tgz",
                **(static or {}),
            },
            "AlgorithmSpecification": {
                "TrainingImage": "x",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "valid:loss", "Regex": "loss=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


def test_plans_follow_sagemaker_rules() -> None:
    plan = make_plan(_request({"Strategy": "Bayesian"}))
    assert (plan.maximize, plan.max_jobs, plan.max_parallel) == (False, 4, 2)
    hyperband = make_plan(_request({"Strategy": "Hyperband"}, static={"epochs": "9"}))
    assert (hyperband.min_resource, hyperband.max_resource) == (1, 9)
    with pytest.raises(AwsError, match="could not be inferred"):
        make_plan(_request({"Strategy": "Hyperband"}))
    with pytest.raises(AwsError, match="must be Off"):
        make_plan(
            _request({"Strategy": "Hyperband", "TrainingJobEarlyStoppingType": "Auto"}, {"epochs": "3"})
        )
    with pytest.raises(AwsError, match="not defined"):
        make_plan(
            _request(
                {
                    "Strategy": "Random",
                    "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
                }
            )
        )
    with pytest.raises(AwsError, match="both a static hyperparameter and a tunable"):
        make_plan(_request({"Strategy": "Random"}, static={"lr": "0.1"}))
    with pytest.raises(AwsError, match="not supported by localcloud"):
        make_plan({**_request({"Strategy": "Random"}), "WarmStartConfig": {}})
