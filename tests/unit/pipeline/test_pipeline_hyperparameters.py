"""train.py's hyperparameters: one definition, read by train.py and by the pipeline's validation.

The pipeline imports nothing from ``classifier``; these tests do, to prove the two readers of
``classifier/hyperparameters.json`` agree: same file, same names, and for every entry the same
verdict on a grid of values built from that entry (bounds and their neighbours, choices, wrong
types). A new entry, bound or choice is covered without touching this file.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pipeline import hyperparameters
from pipeline.code_package import CODE_DIR
from pipeline.config import Defaults
from pipeline.errors import ConfigurationError, InvalidInput
from pipeline.execution_input import resolve_config

hparams = pytest.importorskip("classifier.hparams")
failures = pytest.importorskip("classifier.failures")

ENV = {
    "BUCKET_NAME": "bucket",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
    "TRAINING_IMAGE_URI": "train-image",
    "INFERENCE_IMAGE_URI": "serve-image",
}
BASE_INPUT: dict[str, Any] = {
    "tuning": {
        "strategy": "Random",
        "maxJobs": 2,
        "maxParallelJobs": 1,
        "ranges": {"lr": {"min": 0.0005, "max": 0.003, "scaling": "Logarithmic"}},
        "static": {"arch": "resnet18", "pretrained": "none", "image-size": 64, "epochs": 4},
    }
}


def _resolve(change: dict[str, Any]) -> str:
    execution_input = copy.deepcopy(BASE_INPUT)
    for section, values in change.items():
        execution_input["tuning"][section].update(values)
    with pytest.raises(InvalidInput) as caught:
        resolve_config(execution_input, Defaults.from_env(ENV))
    return str(caught.value)


# -- the four values of the issue: rejected by StartTuning, naming field and allowed values ----------


def test_negative_epochs_are_rejected_up_front() -> None:
    message = _resolve({"static": {"epochs": -3}})
    assert "tuning.static.epochs: -3 is not allowed for epochs: a whole number >= 1" in message


def test_zero_batch_size_is_rejected_up_front() -> None:
    message = _resolve({"ranges": {"batch-size": {"values": [16, 0]}}})
    expected = "tuning.ranges.batch-size.values[1]: 0 is not allowed for batch-size: a whole number >= 1"
    assert expected in message


def test_negative_learning_rate_bound_is_rejected_up_front() -> None:
    message = _resolve({"ranges": {"lr": {"min": -1, "max": 0.1}}})
    assert "tuning.ranges.lr.min: -1 is outside what train.py takes for lr: a number > 0" in message


def test_unknown_arch_is_rejected_up_front_with_the_choices() -> None:
    message = _resolve({"static": {"arch": "resnet19"}})
    assert "tuning.static.arch: 'resnet19' is not allowed for arch: one of: " in message
    assert "resnet18, resnet34, resnet50" in message


def test_an_integer_hyperparameter_needs_an_integer_range() -> None:
    message = _resolve({"ranges": {"epochs": {"min": 2, "max": 6}}})
    assert "tuning.ranges.epochs: epochs takes whole numbers: set integer: true" in message


def test_a_string_hyperparameter_cannot_take_a_numeric_range() -> None:
    message = _resolve({"ranges": {"optimizer": {"min": 0, "max": 1}}})
    assert "tuning.ranges.optimizer: optimizer is not numeric (one of: adamw, sgd, adam)" in message


def test_values_train_py_accepts_pass() -> None:
    execution_input = copy.deepcopy(BASE_INPUT)
    execution_input["tuning"]["static"].update(
        {"arch": "ResNet18", "optimizer": "SGD", "amp": "off", "num-workers": "auto", "epochs": "3"}
    )
    execution_input["tuning"]["ranges"]["batch-size"] = {"values": [16, 32]}
    execution_input["tuning"]["ranges"]["freeze-epochs"] = {"min": 0, "max": 2, "integer": True}
    config = resolve_config(execution_input, Defaults.from_env(ENV))
    assert config.tuning.static["arch"] == "ResNet18"  # passed on as given; train.py lower-cases it


def test_a_missing_spec_is_a_configuration_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"functions/\.training-code"):
        hyperparameters.load_spec(tmp_path)


# -- one definition: both readers agree ---------------------------------------------------------------


def test_train_py_and_the_pipeline_read_the_same_file() -> None:
    assert (CODE_DIR / hyperparameters.SPEC_FILE).resolve() == hparams.SPEC_PATH
    spec = hyperparameters.load_spec()
    fields = {name.replace("_", "-") for name in hparams.HyperParameters.model_fields}
    assert set(spec.entries) == fields
    assert spec.reserved == {"profile"}


def _probe_values(entry: dict[str, Any]) -> list[Any]:
    """Values around everything the entry says: its default, bounds, choices, and wrong types."""
    values: list[Any] = [entry["default"], "", "banana", None, True, False, "TRUE", "off", 2.5, "7"]
    for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        if key in entry:
            bound = entry[key]
            values += [bound, bound - 1, bound + 1, bound - 0.001, bound + 0.001, str(bound)]
    for choice in entry.get("enum", []):
        values += [choice, choice.upper(), choice + "x"]
    values += list(entry.get("aliases", {}))
    return values


def _train_py_accepts(name: str, value: Any) -> bool:
    sm_hps = {name: json.dumps(value)}  # what SageMaker puts in SM_HPS for a static value
    try:
        hparams.parse_hyperparameters([], sm_hps)
    except failures.UserError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(json.loads(hparams.SPEC_PATH.read_text())["hyperparameters"]))
def test_pipeline_and_train_py_agree_on_every_value(name: str) -> None:
    spec = hyperparameters.load_spec()
    entry = spec.entries[name]
    disagreements = []
    for value in _probe_values(entry):
        pipeline_ok = hyperparameters.check_value(name, value, spec) is None
        if pipeline_ok != _train_py_accepts(name, value):
            disagreements.append((value, "pipeline accepts" if pipeline_ok else "train.py accepts"))
    assert not disagreements, disagreements
    # the probes are not all accepted nor all refused: the comparison says something
    verdicts = {hyperparameters.check_value(name, v, spec) is None for v in _probe_values(entry)}
    assert verdicts == {True, False}
