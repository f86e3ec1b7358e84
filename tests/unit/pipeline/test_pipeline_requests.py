"""The SageMaker requests the builders produce: exact shapes, accepted by SageMaker's rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pipeline_testkit import request_problems, sample_state

from pipeline.config import Defaults
from pipeline.execution_input import resolve_config
from pipeline.metrics import METRIC_REGEXES, metric_definitions
from pipeline.names import job_names
from pipeline.requests import (
    create_endpoint_request,
    decode_hyperparameter,
    encode_hyperparameter,
    endpoint_config_request,
    model_request,
    retrain_request,
    training_output_uri,
    tuning_job_request,
    update_endpoint_request,
)
from pipeline.state import BestJob, ObjectiveValue

CODE_URI = "s3://pipeline-bucket-abc/code/0123456789ab/sourcedir.tar.gz"
NAMES = job_names("dogs", "3f2b8c1e-6d0a-4d5e-9a7b-0c1d2e3f4a5b")

# The metric lines of docs/contracts.md#metric-lines, exactly as train.py prints them.
EPOCH_LINE = (
    "epoch=3 train_loss=0.8123 train_accuracy=0.7312 valid_loss=0.6012 valid_accuracy=0.8123 "
    "epoch_seconds=12.31 images_per_second=410.2"
)
TEST_LINE = "test_loss=0.6101 test_accuracy=0.8050"

TUNING_INPUTS: dict[str, dict[str, Any]] = {
    "bayesian-all-scalings": {
        "strategy": "Bayesian",
        "earlyStopping": "Auto",
        "randomSeed": 7,
        "maxRuntimeSeconds": 7200,
        "ranges": {
            "lr": {"min": 1e-4, "max": 1e-1, "scaling": "Logarithmic"},
            "momentum": {"min": 0.8, "max": 0.999, "scaling": "ReverseLogarithmic"},
            "weight-decay": {"min": 0.0, "max": 0.1, "scaling": "Linear"},
            "label-smoothing": {"min": 0.0, "max": 0.2},
            "epochs": {"min": 2, "max": 6, "integer": True, "scaling": "Auto"},
            "image-size": {"min": 64, "max": 256, "integer": True, "scaling": "Logarithmic"},
            "batch-size": {"values": [32, 64, 128]},
            "arch": {"values": ["resnet18", "resnet50", "efficientnet_b0"]},
            "amp": {"values": [True, False]},
        },
        "static": {"pretrained": "imagenet", "freeze-epochs": 1},
    },
    "random": {"strategy": "Random", "maxJobs": 3, "maxParallelJobs": 3, "earlyStopping": "Off"},
    "grid": {
        "strategy": "Grid",
        "ranges": {"lr": {"values": [0.001, 0.01]}, "optimizer": {"values": ["adamw", "sgd", "adam"]}},
    },
    "hyperband": {
        "strategy": "Hyperband",
        "hyperband": {"minResource": 1, "maxResource": 9},
        "static": {"epochs": 9},
    },
    "minimize-loss": {"objective": {"metric": "valid:loss", "type": "Minimize"}},
}


def _config(defaults: Defaults, tuning: dict[str, Any], training: dict[str, Any] | None = None) -> Any:
    return resolve_config({"tuning": tuning, "training": training or {}}, defaults)


@pytest.mark.parametrize("case", sorted(TUNING_INPUTS))
@pytest.mark.parametrize("spot", [False, True])
def test_tuning_request_is_valid_for_every_strategy(case: str, spot: bool, defaults: Defaults) -> None:
    config = _config(defaults, TUNING_INPUTS[case], {"spot": spot})
    request = tuning_job_request(config, NAMES, defaults, CODE_URI)
    assert request_problems("CreateHyperParameterTuningJob", request) == []


def test_tuning_request_shape(defaults: Defaults) -> None:
    config = _config(defaults, TUNING_INPUTS["bayesian-all-scalings"])
    request = tuning_job_request(config, NAMES, defaults, CODE_URI)
    job = request["HyperParameterTuningJobConfig"]
    assert request["HyperParameterTuningJobName"] == NAMES.tuningJob
    assert job["Strategy"] == "Bayesian" and job["RandomSeed"] == 7
    assert job["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "valid:accuracy"}
    assert job["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 8,
        "MaxParallelTrainingJobs": 2,
        "MaxRuntimeInSeconds": 7200,
    }
    assert job["TrainingJobEarlyStoppingType"] == "Auto"
    assert "StrategyConfig" not in job
    ranges = job["ParameterRanges"]
    assert {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"} in ranges[
        "ContinuousParameterRanges"
    ]
    assert {
        "Name": "momentum",
        "MinValue": "0.8",
        "MaxValue": "0.999",
        "ScalingType": "ReverseLogarithmic",
    } in ranges["ContinuousParameterRanges"]
    assert {"Name": "epochs", "MinValue": "2", "MaxValue": "6", "ScalingType": "Auto"} in ranges[
        "IntegerParameterRanges"
    ]
    assert {"Name": "batch-size", "Values": ["32", "64", "128"]} in ranges["CategoricalParameterRanges"]
    assert {"Name": "arch", "Values": ['"resnet18"', '"resnet50"', '"efficientnet_b0"']} in ranges[
        "CategoricalParameterRanges"
    ]
    assert {"Name": "amp", "Values": ["true", "false"]} in ranges["CategoricalParameterRanges"]

    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {
        "pretrained": '"imagenet"',
        "freeze-epochs": "1",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(CODE_URI),
        "sagemaker_region": '"us-east-1"',
        "sagemaker_container_log_level": "20",
    }
    assert definition["AlgorithmSpecification"]["TrainingImage"] == defaults.trainingImage
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions()
    assert definition["RoleArn"] == defaults.roleArn
    assert [c["ChannelName"] for c in definition["InputDataConfig"]] == ["train", "valid", "test"]
    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://pipeline-bucket-abc/dogImages/train/"
    )
    assert definition["OutputDataConfig"] == {
        "S3OutputPath": f"s3://pipeline-bucket-abc/tuning/{NAMES.tuningJob}/"
    }
    assert definition["ResourceConfig"] == {
        "InstanceType": "ml.g4dn.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 50,
    }
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert definition["EnableManagedSpotTraining"] is False


def test_hyperband_and_grid_specifics(defaults: Defaults) -> None:
    hyperband = tuning_job_request(_config(defaults, TUNING_INPUTS["hyperband"]), NAMES, defaults, CODE_URI)
    job = hyperband["HyperParameterTuningJobConfig"]
    assert job["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    assert job["TrainingJobEarlyStoppingType"] == "Off"
    assert hyperband["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] == "9"

    grid = tuning_job_request(_config(defaults, TUNING_INPUTS["grid"]), NAMES, defaults, CODE_URI)
    job = grid["HyperParameterTuningJobConfig"]
    assert job["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    assert job["ParameterRanges"]["ContinuousParameterRanges"] == []
    assert job["ParameterRanges"]["IntegerParameterRanges"] == []


def test_spot_adds_the_wait_limit(defaults: Defaults) -> None:
    config = _config(defaults, {}, {"spot": True, "maxRuntimeSeconds": 3600})
    definition = tuning_job_request(config, NAMES, defaults, CODE_URI)["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}


def _best(state: Any) -> BestJob:
    tuned = {"lr": "0.0123", "batch-size": "64", "epochs": "5"}
    return BestJob(
        trainingJob=f"{NAMES.tuningJob}-003-abcdef12",
        tunedHyperParameters=tuned,
        hyperParameters={"arch": '"resnet50"', "pretrained": '"imagenet"', **tuned},
        objective=ObjectiveValue(metric="valid:accuracy", type="Maximize", value=0.91),
    )


@pytest.mark.parametrize("debugger", [False, True])
@pytest.mark.parametrize("spot", [False, True])
def test_retrain_request(debugger: bool, spot: bool, defaults: Defaults) -> None:
    defaults = defaults.model_copy(update={"debugger": debugger})
    state = sample_state(defaults, execution_input={"training": {"spot": spot}})
    request = retrain_request(state.config, state.names, defaults, CODE_URI, _best(state))
    assert request_problems("CreateTrainingJob", request) == []
    assert request["TrainingJobName"] == state.names.retrainJob
    hp = request["HyperParameters"]
    assert hp["profile"] == "true" and hp["lr"] == "0.0123" and hp["arch"] == '"resnet50"'
    assert hp["sagemaker_submit_directory"] == json.dumps(CODE_URI)
    assert request["CheckpointConfig"] == {
        "S3Uri": f"s3://pipeline-bucket-abc/checkpoints/{state.names.retrainJob}/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://pipeline-bucket-abc/models/"}
    assert request["EnableManagedSpotTraining"] is spot
    if debugger:
        assert request["ProfilerConfig"]["ProfilingIntervalInMilliseconds"] == 500
        assert [r["RuleConfigurationName"] for r in request["ProfilerRuleConfigurations"]] == [
            "ProfilerReport"
        ]
        assert {r["RuleConfigurationName"] for r in request["DebugRuleConfigurations"]} == {
            "LossNotDecreasing",
            "Overfit",
            "VanishingGradient",
        }
        assert all(
            r["RuleEvaluatorImage"] == defaults.debuggerRuleImage for r in request["DebugRuleConfigurations"]
        )
    else:
        assert request["ProfilerConfig"] == {"DisableProfiler": True}
        assert "ProfilerRuleConfigurations" not in request and "DebugRuleConfigurations" not in request


def test_model_and_endpoint_requests(defaults: Defaults) -> None:
    artifact = f"s3://pipeline-bucket-abc/models/{NAMES.retrainJob}/output/model.tar.gz"
    model = model_request(NAMES, defaults, artifact)
    assert request_problems("CreateModel", model) == []
    assert model["PrimaryContainer"] == {
        "Image": defaults.inferenceImage,
        "ModelDataUrl": artifact,
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": "us-east-1",
        },
    }
    config = resolve_config({"endpoint": {"instanceType": "ml.c5.xlarge", "instanceCount": 2}}, defaults)
    endpoint_config = endpoint_config_request(NAMES, config.endpoint)
    assert request_problems("CreateEndpointConfig", endpoint_config) == []
    assert endpoint_config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": NAMES.model,
            "InitialInstanceCount": 2,
            "InstanceType": "ml.c5.xlarge",
            "InitialVariantWeight": 1.0,
        }
    ]
    create = create_endpoint_request("dog-breeds", NAMES.endpointConfig)
    assert request_problems("CreateEndpoint", create) == []
    update = update_endpoint_request("dog-breeds", NAMES.endpointConfig)
    assert request_problems("UpdateEndpoint", update) == []
    assert (
        update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        == "ALL_AT_ONCE"
    )


def test_the_checker_itself_catches_what_sagemaker_rejects(defaults: Defaults) -> None:
    """Guards the guard: requests SageMaker refuses must not pass request_problems."""
    request = tuning_job_request(_config(defaults, TUNING_INPUTS["hyperband"]), NAMES, defaults, CODE_URI)
    request["HyperParameterTuningJobName"] = "x" * 33
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    request["HyperParameterTuningJobConfig"]["Strategy"] = "Annealing"
    request["TrainingJobDefinition"]["Bogus"] = 1
    problems = " | ".join(request_problems("CreateHyperParameterTuningJob", request))
    assert "HyperParameterTuningJobName" in problems
    assert "enum value set" in problems
    assert "Unknown parameter 'Bogus'" in problems

    hyperband = tuning_job_request(_config(defaults, TUNING_INPUTS["hyperband"]), NAMES, defaults, CODE_URI)
    hyperband["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    assert any(
        "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy" in p
        for p in request_problems("CreateHyperParameterTuningJob", hyperband)
    )
    grid = tuning_job_request(_config(defaults, TUNING_INPUTS["grid"]), NAMES, defaults, CODE_URI)
    grid["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 5
    assert any("Grid" in p for p in request_problems("CreateHyperParameterTuningJob", grid))


def test_metric_regexes_read_the_design_metric_lines() -> None:
    found = {}
    for name, regex in METRIC_REGEXES.items():
        for line in (EPOCH_LINE, TEST_LINE, "rules_triggered=2"):
            match = re.search(regex, line)
            if match:
                found[name] = float(match.group(1))
    assert found == {
        "valid:accuracy": 0.8123,
        "valid:loss": 0.6012,
        "train:loss": 0.8123,
        "train:accuracy": 0.7312,
        "test:accuracy": 0.8050,
        "test:loss": 0.6101,
        "epoch_seconds": 12.31,
        "images_per_second": 410.2,
        "profiler:rules_triggered": 2.0,
    }


@pytest.mark.parametrize("value", ["resnet50", 64, 0.001, True, False, "s3://b/k"])
def test_hyperparameters_round_trip_the_way_the_training_toolkit_decodes_them(value: Any) -> None:
    encoded = encode_hyperparameter(value)
    assert isinstance(encoded, str)
    assert decode_hyperparameter(encoded) == value
    assert decode_hyperparameter("plain-text") == "plain-text"


def test_training_output_uri() -> None:
    assert training_output_uri("s3://b/models/", "job-1") == "s3://b/models/job-1/output/output.tar.gz"
