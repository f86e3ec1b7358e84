"""Hyperparameters arrive as SageMaker sends them: strings, JSON-encoded by the SDK, in args and SM_HPS."""

import re

import pytest

from classifier.failures import UserError
from classifier.hparams import HyperParameters, parse_hyperparameters


def test_defaults_match_the_documented_contract():
    hp = parse_hyperparameters([])
    assert hp.arch == "resnet50"
    assert hp.pretrained == "imagenet"
    assert hp.optimizer == "adamw"
    assert hp.profile is False
    assert hp.max_steps_per_epoch == 0


def test_json_encoded_values_are_decoded_like_the_sagemaker_toolkit():
    hp = parse_hyperparameters(
        ["--arch", '"resnet18"', "--lr", "0.01", "--batch-size", "64", "--pretrained", '"none"']
    )
    assert hp.arch == "resnet18"
    assert hp.lr == pytest.approx(0.01)
    assert hp.batch_size == 64
    assert hp.pretrained == "none"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        ('"true"', True),
        ("false", False),
        ("False", False),
        ("0", False),
        ('"0"', False),
        ("no", False),
    ],
)
def test_booleans_accept_true_false_1_0_in_any_case(text, expected):
    assert parse_hyperparameters(["--profile", text]).profile is expected


def test_invalid_boolean_is_a_user_error_naming_the_hyperparameter():
    with pytest.raises(UserError, match="'profile'"):
        parse_hyperparameters(["--profile", "maybe"])


def test_sm_hps_are_merged_and_arguments_win():
    hp = parse_hyperparameters(["--epochs", "3"], {"epochs": 7, "image-size": "128", "seed": "5"})
    assert hp.epochs == 3
    assert hp.image_size == 128
    assert hp.seed == 5


def test_sagemaker_internal_entries_are_ignored():
    hp = parse_hyperparameters(
        ["--sagemaker_program", "train.py", "--_tuning_objective_metric", "valid:accuracy"],
        {"sagemaker_region": '"us-east-1"', "sagemaker_submit_directory": '"s3://b/src.tar.gz"'},
    )
    assert hp == HyperParameters()


def test_unknown_hyperparameter_is_rejected_with_its_name():
    with pytest.raises(UserError, match="unknown hyperparameter 'learning-rate'"):
        parse_hyperparameters(["--learning-rate", "0.1"])


def test_out_of_range_value_names_field_and_value():
    with pytest.raises(UserError) as caught:
        parse_hyperparameters(["--lr", "-1"])
    assert "'lr'" in str(caught.value) and "-1" in str(caught.value)


def test_underscores_equals_signs_and_bare_flags_are_accepted():
    hp = parse_hyperparameters(["--batch_size=16", "--profile", "--num-workers", "auto"])
    assert hp.batch_size == 16
    assert hp.profile is True
    assert hp.num_workers == -1


def test_optimizer_choice_is_validated():
    assert parse_hyperparameters(["--optimizer", "SGD"]).optimizer == "sgd"
    with pytest.raises(UserError, match="optimizer"):
        parse_hyperparameters(["--optimizer", "lion"])


def test_positional_argument_is_a_clear_error():
    with pytest.raises(UserError, match="--name value"):
        parse_hyperparameters(["resnet18"])


def test_as_dict_uses_hyphenated_names():
    recorded = parse_hyperparameters(["--image-size", "64"]).as_dict()
    assert recorded["image-size"] == 64
    assert "image_size" not in recorded


def test_arch_choices_are_the_architectures_the_models_module_builds() -> None:
    """hyperparameters.json lists the archs so the pipeline can check them without torchvision."""
    from classifier.hparams import SPEC
    from classifier.models import available_archs

    assert SPEC["arch"]["enum"] == available_archs()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--epochs", "-3"], "'epochs': Input should be greater than or equal to 1"),
        (["--batch-size", "0"], "'batch-size': Input should be greater than or equal to 1"),
        (["--lr", "-1"], "'lr': Input should be greater than 0"),
        (["--arch", "resnet19"], "'arch': must be one of: resnet101, resnet152, resnet18"),
    ],
)
def test_values_outside_the_spec_are_named(argv: list[str], fragment: str) -> None:
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_hyperparameters(argv)
