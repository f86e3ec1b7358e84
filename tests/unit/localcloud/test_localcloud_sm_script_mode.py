"""The script-mode contract: hyperparameter decoding, command-line rendering and the SM_* environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.sagemaker import script_mode
from localcloud.sagemaker.training_run import job_environment

JOB = {
    "TrainingJobName": "job-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-1",
    "HyperParameters": {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://b/src.tar.gz"',
        "arch": '"resnet50"',
        "batch-size": "64",
        "lr": "0.001",
        "amp": "true",
        "n": "3",
        "plain": "not json",
    },
    "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
    "InputDataConfig": [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/t/"}}},
        {
            "ChannelName": "valid",
            "DataSource": {
                "S3DataSource": {"S3Uri": "s3://b/v/", "S3DataDistributionType": "ShardedByS3Key"}
            },
        },
    ],
    "AlgorithmSpecification": {"MetricDefinitions": []},
}


def test_hyperparameters_are_json_decoded_and_sagemaker_ones_dropped() -> None:
    user = script_mode.user_hyperparameters(JOB["HyperParameters"])
    assert user == {
        "arch": "resnet50",
        "batch-size": 64,
        "lr": 0.001,
        "amp": True,
        "n": 3,
        "plain": "not json",
    }
    assert script_mode.framework_parameters(JOB["HyperParameters"])["sagemaker_program"] == "train.py"


def test_command_line_is_sorted_like_the_toolkit() -> None:
    args = script_mode.to_cmd_args(script_mode.user_hyperparameters(JOB["HyperParameters"]))
    assert args == [
        "--amp",
        "True",
        "--arch",
        "resnet50",
        "--batch-size",
        "64",
        "--lr",
        "0.001",
        "-n",
        "3",
        "--plain",
        "not json",
    ]
    assert script_mode.to_cmd_args({"d": {"b": 2, "a": 1}}) == ["-d", "a=1,b=2"]


def test_environment_for_the_second_host_of_a_distributed_job(tmp_path: Path) -> None:
    layout = script_mode.HostLayout(tmp_path / "algo-2", tmp_path / "code", tmp_path / "checkpoints")
    rank = script_mode.Rank(
        host_index=1,
        hosts=["algo-1", "algo-2"],
        rank=1,
        local_rank=0,
        world_size=2,
        local_world_size=1,
        master_port=29500,
        gpus=[0],
    )
    env = script_mode.environment(layout, JOB, rank, num_cpus=4)
    assert env["SM_CURRENT_HOST"] == "algo-2" and json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert env["SM_MODEL_DIR"] == str(tmp_path / "algo-2" / "model")
    assert env["SM_CHANNEL_TRAIN"] == str(tmp_path / "algo-2" / "input" / "data" / "train")
    assert json.loads(env["SM_CHANNELS"]) == ["train", "valid"]
    assert env["SM_NUM_GPUS"] == "1" and env["CUDA_VISIBLE_DEVICES"] == "0" and env["SM_NUM_CPUS"] == "4"
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_PORT"], env["LOCAL_RANK"]) == ("1", "2", "29500", "0")
    assert json.loads(env["SM_HPS"])["batch-size"] == 64
    assert env["SM_HP_BATCH_SIZE"] == "64" and env["SM_HP_ARCH"] == "resnet50"
    assert env["SM_CHECKPOINT_DIR"] == str(tmp_path / "checkpoints")
    training = json.loads(env["SM_TRAINING_ENV"])
    assert training["is_master"] is False and training["module_name"] == "train"
    assert training["input_data_config"]["valid"]["S3DistributionType"] == "ShardedByS3Key"


def test_config_files_match_sagemaker(tmp_path: Path) -> None:
    layout = script_mode.HostLayout(tmp_path / "algo-1", tmp_path / "code", tmp_path / "checkpoints")
    layout.create()
    script_mode.write_config(
        layout, {**JOB, "CheckpointConfig": {"S3Uri": "s3://b/ck/"}}, "algo-1", ["algo-1", "algo-2"]
    )
    config = layout.config_dir
    assert json.loads((config / "hyperparameters.json").read_text()) == JOB["HyperParameters"]
    resource = json.loads((config / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1", "algo-2"]
    assert json.loads((config / "inputdataconfig.json").read_text())["train"]["TrainingInputMode"] == "File"
    assert json.loads((config / "checkpointconfig.json").read_text())["S3Uri"] == "s3://b/ck/"
    assert layout.failure_file == tmp_path / "algo-1" / "output" / "failure"


def test_command_runs_python_scripts_and_shell_scripts(tmp_path: Path) -> None:
    layout = script_mode.HostLayout(tmp_path, tmp_path / "code", tmp_path / "ck")
    command = script_mode.command(layout, JOB, "/usr/bin/python3")
    assert command[:2] == ["/usr/bin/python3", str(tmp_path / "code" / "train.py")] and "--arch" in command
    shell = {**JOB, "HyperParameters": {**JOB["HyperParameters"], "sagemaker_program": "run.sh"}}
    assert script_mode.command(layout, shell, "/usr/bin/python3")[:2] == [
        "/bin/sh",
        str(tmp_path / "code" / "run.sh"),
    ]


@pytest.mark.parametrize(
    ("shell", "job", "seen"),
    [
        ({}, {}, {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}),
        ({}, {"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None}),
        ({}, {"GOMP_SPINCOUNT": "50000"}, {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "50000"}),
        ({"OMP_WAIT_POLICY": "PASSIVE"}, {}, {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None}),
    ],
)
def test_job_processes_spin_briefly_unless_the_job_or_the_shell_chose_a_policy(
    monkeypatch: pytest.MonkeyPatch, shell: dict[str, str], job: dict[str, str], seen: dict[str, object]
) -> None:
    """A tuning job's parallel trainings share the cores: libgomp's default spin would take them."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    doc = {**JOB, "Environment": {**job, "AWS_REGION": "eu-west-1", "MY_SETTING": "on"}}
    env = job_environment(doc, {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    assert {name: env.get(name) for name in seen} == seen
    assert env["MY_SETTING"] == "on" and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_REGION"] == "eu-west-1"  # the job's Environment has the last word
