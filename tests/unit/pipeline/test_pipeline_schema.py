"""Execution input validation: defaults from the environment, errors naming the field.

Contract: docs/contracts.md#execution-input.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import CategoricalRange, Defaults, NumericRange
from pipeline.errors import ConfigurationError, InvalidInput
from pipeline.execution_input import resolve_config

ROOT = Path(__file__).resolve().parents[3]
FULL_EXAMPLE: dict[str, Any] = {
    "data": {
        "train": "s3://b/dogImages/train/",
        "valid": "s3://b/dogImages/valid/",
        "test": "s3://b/dogImages/test/",
    },
    "tuning": {
        "strategy": "Bayesian",
        "maxJobs": 8,
        "maxParallelJobs": 2,
        "earlyStopping": "Auto",
        "objective": {"metric": "valid:accuracy", "type": "Maximize"},
        "ranges": {
            "lr": {"min": 1e-4, "max": 1e-1, "scaling": "Logarithmic"},
            "batch-size": {"values": [32, 64, 128]},
            "epochs": {"min": 2, "max": 6, "integer": True},
        },
        "static": {"arch": "resnet50", "pretrained": "imagenet"},
    },
    "training": {
        "instanceType": "ml.g4dn.xlarge",
        "instanceCount": 1,
        "spot": False,
        "maxRuntimeSeconds": 86400,
    },
    "endpoint": {"name": "dog-breeds", "instanceType": "ml.m5.large", "instanceCount": 1},
    "pollSeconds": 60,
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """The full example with one field set (or removed, for value=...)."""
    doc = copy.deepcopy(FULL_EXAMPLE)
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        node.pop(leaf)
    else:
        node[leaf] = value
    return doc


def _error(execution_input: Any, defaults: Defaults) -> str:
    with pytest.raises(InvalidInput) as caught:
        resolve_config(execution_input, defaults)
    return str(caught.value)


def test_design_example_is_accepted_as_given(defaults: Defaults) -> None:
    config = resolve_config(FULL_EXAMPLE, defaults)
    assert config.data.train == "s3://b/dogImages/train/"
    assert config.tuning.strategy == "Bayesian" and config.tuning.maxJobs == 8
    assert config.tuning.ranges["lr"] == NumericRange(min=1e-4, max=1e-1, scaling="Logarithmic")
    assert config.tuning.ranges["batch-size"] == CategoricalRange(values=[32, 64, 128])
    assert config.tuning.ranges["epochs"] == NumericRange(min=2, max=6, integer=True)
    assert config.tuning.static == {"arch": "resnet50", "pretrained": "imagenet"}
    assert config.endpoint.name == "dog-breeds" and config.pollSeconds == 60


def test_empty_input_takes_every_default_from_the_environment(defaults: Defaults) -> None:
    env = {**defaults.model_dump(by_alias=True), "TUNING_MAX_JOBS": "5", "POLL_SECONDS": "7"}
    env.update({"TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge", "DATASET_PREFIX": "data/dogs"})
    config = resolve_config({}, Defaults.from_env({k: str(v) for k, v in env.items()}))
    assert config.tuning.maxJobs == 5 and config.pollSeconds == 7
    assert config.training.instanceType == "ml.p3.2xlarge"
    assert config.data.train == "s3://pipeline-bucket-abc/data/dogs/train/"
    assert config.data.test == "s3://pipeline-bucket-abc/data/dogs/test/"
    assert config.tuning.objective.metric == "valid:accuracy" and config.tuning.objective.type == "Maximize"
    assert set(config.tuning.ranges) == {"lr", "batch-size", "epochs"}


@pytest.mark.parametrize("example", ["local-input.json", "aws-input.json"])
def test_shipped_examples_are_valid(example: str, defaults: Defaults) -> None:
    config = resolve_config(json.loads((ROOT / "examples" / example).read_text()), defaults)
    assert config.tuning.maxJobs >= 1


@pytest.mark.parametrize(
    ("execution_input", "field", "says"),
    [
        (_with("tuning.tmeout", 3), "tuning.tmeout", "unknown field"),
        ({**FULL_EXAMPLE, "extra": 1}, "extra", "unknown field"),
        (_with("training.instanceCount", "1"), "training.instanceCount", "valid integer"),
        (_with("training.spot", "false"), "training.spot", "valid boolean"),
        (_with("tuning.maxJobs", 2.5), "tuning.maxJobs", "valid integer"),
        (_with("pollSeconds", 0), "pollSeconds", "greater than or equal to 1"),
        (
            _with("tuning.strategy", "Annealing"),
            "tuning.strategy",
            "'Bayesian', 'Random', 'Grid' or 'Hyperband'",
        ),
        (_with("tuning.earlyStopping", "Sometimes"), "tuning.earlyStopping", "'Off' or 'Auto'"),
        (
            _with("tuning.ranges.lr", {"min": 0.1, "max": 0.001}),
            "tuning.ranges.lr",
            "min (0.1) must be less than max",
        ),
        (_with("tuning.ranges.lr", {"min": 0.1, "max": 0.1}), "tuning.ranges.lr", "must be less than"),
        (_with("tuning.ranges.lr", {"min": "0.1", "max": 1}), "tuning.ranges.lr.min", "valid number"),
        (_with("tuning.ranges.lr", {"min": 0.1}), "tuning.ranges.lr.max", "Field required"),
        (
            _with("tuning.ranges.lr", {"min": 0.1, "max": 1, "step": 2}),
            "tuning.ranges.lr.step",
            "unknown field",
        ),
        (
            _with("tuning.ranges.lr", {"min": 0, "max": 1, "scaling": "Logarithmic"}),
            "tuning.ranges.lr.scaling",
            "min > 0",
        ),
        (
            _with("tuning.ranges.lr", {"min": 0.1, "max": 2, "scaling": "ReverseLogarithmic"}),
            "tuning.ranges.lr.scaling",
            "max < 1",
        ),
        (
            _with("tuning.ranges.lr", {"min": 0.1, "max": 1, "scaling": "Cubic"}),
            "tuning.ranges.lr.scaling",
            "'Auto', 'Linear', 'Logarithmic' or 'ReverseLogarithmic'",
        ),
        (
            _with("tuning.ranges.epochs", {"min": 2, "max": 6.5, "integer": True}),
            "tuning.ranges.epochs.max",
            "whole number",
        ),
        (
            _with(
                "tuning.ranges.epochs", {"min": 2, "max": 6, "integer": True, "scaling": "ReverseLogarithmic"}
            ),
            "tuning.ranges.epochs.scaling",
            "continuous ranges only",
        ),
        (
            _with("tuning.ranges.batch-size", {"values": []}),
            "tuning.ranges.batch-size.values",
            "at least 1 item",
        ),
        (
            _with("tuning.ranges.batch-size", {"values": [32, 32]}),
            "tuning.ranges.batch-size.values",
            "distinct",
        ),
        (
            _with("tuning.ranges.batch-size", {"values": [[32]]}),
            "tuning.ranges.batch-size.values[0]",
            "a string, a number",
        ),
        (
            _with("tuning.ranges.learning-rate", {"min": 0.1, "max": 1}),
            "tuning.ranges.learning-rate",
            "unknown hyperparameter",
        ),
        (_with("tuning.ranges", {}), "tuning.ranges", "at least one"),
        (_with("tuning.ranges.lr", 0.01), "tuning.ranges.lr", "must be a JSON object"),
        (_with("tuning", []), "tuning", "must be a JSON object"),
        (_with("tuning.static.profile", True), "tuning.static.profile", "set by the pipeline"),
        (_with("tuning.static.lr", 0.01), "tuning.static.lr", "also in tuning.ranges"),
        (_with("tuning.static.arch", ["resnet18"]), "tuning.static.arch", "a string, a number or true/false"),
        (_with("tuning.objective", {"metric": "valid:acc"}), "tuning.objective.metric", "unknown metric"),
        (
            _with("tuning.objective", {"type": "Maximise"}),
            "tuning.objective.type",
            "'Maximize' or 'Minimize'",
        ),
        (_with("tuning.maxParallelJobs", 9), "tuning.maxParallelJobs", "must be <= maxJobs (8)"),
        (
            _with("tuning.hyperband", {"maxResource": 5}),
            "tuning.hyperband",
            "only applies to strategy Hyperband",
        ),
        (
            _with("training.instanceType", "ml.g4dn.huge"),
            "training.instanceType",
            "not a SageMaker training instance type",
        ),
        (
            _with("endpoint.instanceType", "ml.g4dn.huge"),
            "endpoint.instanceType",
            "not a SageMaker endpoint instance type",
        ),
        (_with("endpoint.name", "cats"), "endpoint.name", "must start with 'dog-breeds'"),
        (_with("endpoint.name", "dog-breeds_v2"), "endpoint.name", "letters, digits and hyphens"),
        (_with("training.maxWaitSeconds", 90000), "training.maxWaitSeconds", "only applies with spot"),
        (_with("data.train", "file:///data/train"), "data.train", "only under localcloud"),
        (_with("data.valid", "http://example.com/valid"), "data.valid", "s3://bucket/prefix/"),
        (_with("data.test", "s3://"), "data.test", "s3://bucket/prefix/"),
    ],
)
def test_wrong_field_is_named(execution_input: Any, field: str, says: str, defaults: Defaults) -> None:
    message = _error(execution_input, defaults)
    assert message.startswith("Invalid execution input: ")
    assert f"{field}: " in message or f"{field}[" in message, message
    assert says in message, message


def test_all_problems_are_reported_at_once(defaults: Defaults) -> None:
    doc = _with("tuning.strategy", "Annealing")
    doc["training"]["instanceCount"] = "two"
    doc["nope"] = True
    message = _error(doc, defaults)
    for field in ("tuning.strategy", "training.instanceCount", "nope"):
        assert f"{field}:" in message


@pytest.mark.parametrize("not_an_object", [[1, 2], "text", 3])
def test_input_must_be_an_object(not_an_object: Any, defaults: Defaults) -> None:
    assert "must be a JSON object" in _error(not_an_object, defaults)


@pytest.mark.parametrize("strategy", ["Bayesian", "Random", "Grid", "Hyperband"])
def test_every_strategy_resolves_with_default_ranges(strategy: str, defaults: Defaults) -> None:
    config = resolve_config({"tuning": {"strategy": strategy}}, defaults)
    assert config.tuning.strategy == strategy
    assert config.tuning.ranges


@pytest.mark.parametrize("scaling", ["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"])
def test_every_scaling_is_accepted_where_it_fits(scaling: str, defaults: Defaults) -> None:
    doc = _with("tuning.ranges.momentum", {"min": 0.5, "max": 0.99, "scaling": scaling})
    assert resolve_config(doc, defaults).tuning.ranges["momentum"].scaling == scaling  # type: ignore[union-attr]


def test_grid_takes_categorical_ranges_only_and_runs_every_combination(defaults: Defaults) -> None:
    message = _error(_with("tuning.strategy", "Grid"), defaults)
    assert "tuning.ranges: Grid search takes categorical ranges only" in message
    assert "epochs, lr" in message

    grid = {
        "strategy": "Grid",
        "ranges": {"lr": {"values": [0.001, 0.01, 0.1]}, "optimizer": {"values": ["adamw", "sgd"]}},
        "maxParallelJobs": 2,
    }
    config = resolve_config({"tuning": grid}, defaults)
    assert config.tuning.maxJobs == 6  # 3 x 2 combinations, whatever TUNING_MAX_JOBS says
    assert "tuning.maxJobs: Grid search runs every combination: maxJobs must be 6" in _error(
        {"tuning": {**grid, "maxJobs": 8}}, defaults
    )
    assert resolve_config({"tuning": {**grid, "maxJobs": 6}}, defaults).tuning.maxJobs == 6


def test_grid_parallelism_from_the_defaults_is_capped_at_the_combinations(defaults: Defaults) -> None:
    grid = {"strategy": "Grid", "ranges": {"optimizer": {"values": ["adamw"]}}}
    assert resolve_config({"tuning": grid}, defaults).tuning.maxParallelJobs == 1


def test_hyperband_rules(defaults: Defaults) -> None:
    assert "tuning.earlyStopping: Hyperband stops jobs itself" in _error(
        {"tuning": {"strategy": "Hyperband", "earlyStopping": "Auto"}}, defaults
    )
    # early stopping Auto coming from the template default is turned off quietly
    config = resolve_config({"tuning": {"strategy": "Hyperband"}}, defaults)
    assert config.tuning.earlyStopping == "Off"
    assert config.tuning.hyperband is not None and config.tuning.hyperband.maxResource == 6
    assert "epochs" not in config.tuning.ranges and config.tuning.static["epochs"] == 6

    with_epochs_tuned = {"strategy": "Hyperband", "ranges": {"epochs": {"min": 2, "max": 9, "integer": True}}}
    assert "tuning.ranges.epochs: Hyperband decides how many epochs" in _error(
        {"tuning": with_epochs_tuned}, defaults
    )

    explicit = {
        "strategy": "Hyperband",
        "hyperband": {"minResource": 2, "maxResource": 12},
        "static": {"epochs": 12},
    }
    hb = resolve_config({"tuning": explicit}, defaults).tuning.hyperband
    assert hb is not None and (hb.minResource, hb.maxResource) == (2, 12)

    backwards = {"strategy": "Hyperband", "hyperband": {"minResource": 9, "maxResource": 3}}
    assert "tuning.hyperband.minResource: must be <= maxResource (3)" in _error(
        {"tuning": backwards}, defaults
    )

    no_budget = {"strategy": "Hyperband", "static": {"epochs": "many"}}
    assert "tuning.static.epochs: Hyperband needs the epochs budget" in _error(
        {"tuning": no_budget}, defaults
    )


def test_spot_training_gets_a_wait_limit(defaults: Defaults) -> None:
    config = resolve_config({"training": {"spot": True, "maxRuntimeSeconds": 3600}}, defaults)
    assert config.training.maxWaitSeconds == 7200
    message = _error({"training": {"spot": True, "maxRuntimeSeconds": 3600, "maxWaitSeconds": 600}}, defaults)
    assert "training.maxWaitSeconds: must be >= maxRuntimeSeconds (3600)" in message


def test_file_uris_are_accepted_only_off_aws(defaults: Defaults) -> None:
    local = defaults.model_copy(update={"endpointUrl": "http://127.0.0.1:4566"})
    config = resolve_config({"data": {"train": "file:///data/train", "valid": "file:///data/valid"}}, local)
    assert config.data.train == "file:///data/train"
    assert "data.train: file:// URIs must be absolute" in _error(
        {"data": {"train": "file://data/train"}}, local
    )


def test_static_values_keep_their_types(defaults: Defaults) -> None:
    doc = _with("tuning.static", {"arch": "resnet18", "amp": True, "image-size": 64, "label-smoothing": 0.1})
    static = resolve_config(doc, defaults).tuning.static
    assert static["amp"] is True and static["image-size"] == 64 and static["label-smoothing"] == 0.1


def test_environment_problems_name_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="BUCKET_NAME") as caught:
        Defaults.from_env({"SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r"})
    assert "TRAINING_IMAGE_URI" in str(caught.value)
    with pytest.raises(ConfigurationError, match="TUNING_MAX_JOBS"):
        Defaults.from_env(
            {
                "BUCKET_NAME": "bucket",
                "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
                "TRAINING_IMAGE_URI": "i",
                "INFERENCE_IMAGE_URI": "i",
                "TUNING_MAX_JOBS": "eight",
            }
        )


def test_region_falls_back_to_aws_default_region() -> None:
    env = {
        "BUCKET_NAME": "bucket",
        "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
        "TRAINING_IMAGE_URI": "i",
        "INFERENCE_IMAGE_URI": "i",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    assert Defaults.from_env(env).region == "eu-west-1"


def test_defaults_read_the_process_environment(
    lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNING_MAX_JOBS", "12")
    monkeypatch.setenv("TRAINING_USE_SPOT", "true")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    defaults = Defaults.from_env()
    assert (defaults.maxJobs, defaults.spot, defaults.region) == (12, True, "ap-south-1")
    assert defaults.bucket == lambda_env["BUCKET_NAME"]


def test_a_given_environment_is_read_alone(lambda_env: dict[str, str]) -> None:
    """from_env(env) sees env only: the process's variables (here the whole Lambda set) stay out."""
    with pytest.raises(ConfigurationError, match="BUCKET_NAME"):
        Defaults.from_env({k: v for k, v in lambda_env.items() if k != "BUCKET_NAME"})
    assert Defaults.from_env(lambda_env).bucket == lambda_env["BUCKET_NAME"]  # and the next read is whole


def test_null_fields_of_objective_and_deploy_take_their_defaults(defaults: Defaults) -> None:
    doc = {
        "tuning": {"objective": {"metric": None, "type": None}},
        "deploy": {"minAccuracy": None, "tolerance": None, "force": None},
    }
    config = resolve_config(doc, defaults)
    assert config.tuning.objective.model_dump() == {"metric": "valid:accuracy", "type": "Maximize"}
    assert config.deploy.model_dump() == {"minAccuracy": 0.0, "tolerance": 0.01, "force": False}
    with pytest.raises(InvalidInput, match=r"deploy\.tolerance: Input should be less than or equal to 1"):
        resolve_config({"deploy": {"tolerance": 2}}, defaults)
