"""Differential test: localcloud's training environment against the SageMaker training toolkit.

localcloud lays out each training host's ``/opt/ml`` (``input/config/*.json``, the channel folders,
``model``, ``output``) and gives the user script the ``SM_*`` variables (localcloud/sagemaker/
script_mode.py). sagemaker-training is the library that does this inside SageMaker's framework
containers. It runs in its own venv (``.venv-ref``, built by ``make test``) through
tests/support/training_env_reference.py, pointed at the directory localcloud wrote
(``SAGEMAKER_BASE_DIR``), with the variables SageMaker's platform and the PyTorch container set
(``TRAINING_JOB_NAME``, ``SAGEMAKER_TRAINING_MODULE``).

Cases: every variable the toolkit derives from the directory (values compared as JSON where they are
JSON), for each job below, plus the command-line arguments. localcloud may add variables the
toolkit does not set (``LOCALCLOUD_EXTRAS``, each with its reason). Known disagreements would be
listed in ``KNOWN_DISAGREEMENTS`` with the page that decides them; the list is asserted exactly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localcloud.sagemaker import script_mode

REPO = Path(__file__).resolve().parents[3]
REFERENCE_PYTHON = REPO / ".venv-ref/bin/python"
PYTORCH_MODULE = "sagemaker_pytorch_container.training:main"

_CHANNEL = {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/d/"}}}
JOBS: dict[str, dict[str, Any]] = {
    "single host, JSON hyperparameters": {
        "TrainingJobName": "job-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-1",
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://b/src.tar.gz"',
            "sagemaker_container_log_level": "10",
            "arch": '"resnet50"',
            "batch-size": "64",
            "lr": "0.001",
            "amp": "true",
            "n": "3",
            "plain": "not json",
            "nested": '{"b": 2, "a": [1, 2]}',
        },
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "InputDataConfig": [
            {"ChannelName": "train", **_CHANNEL},
            {"ChannelName": "valid", **_CHANNEL},
            {"ChannelName": "test", **_CHANNEL},
        ],
    },
    "second host of two, sharded channel": {
        "TrainingJobName": "job-2",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-2",
        "HyperParameters": {
            "sagemaker_program": '"entry.sh"',
            "sagemaker_submit_directory": '"s3://b/src.tar.gz"',
            "epochs": "2",
        },
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "InputDataConfig": [
            {
                "ChannelName": "training-data",
                "DataSource": {
                    "S3DataSource": {"S3Uri": "s3://b/t/", "S3DataDistributionType": "ShardedByS3Key"}
                },
            }
        ],
    },
}
HOSTS = {
    "single host, JSON hyperparameters": (0, ["algo-1"]),
    "second host of two, sharded channel": (1, ["algo-1", "algo-2"]),
}

TORCHRUN = (
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "NODE_RANK",
)
# Variables localcloud sets that the toolkit's Environment does not, and why.
LOCALCLOUD_EXTRAS = {
    "TRAINING_JOB_NAME": "set by SageMaker's platform in the container (the toolkit reads it)",
    "TRAINING_JOB_ARN": "set by SageMaker's platform in the container",
    "SM_CHECKPOINT_DIR": "localcloud's per-job checkpoint folder (SageMaker uses /opt/ml/checkpoints)",
    "CUDA_VISIBLE_DEVICES": "the GPUs localcloud gives this process",
    "PYTHONUNBUFFERED": "set by the framework containers",
    **dict.fromkeys(TORCHRUN, "torchrun's variables for torch.distributed"),
}

# case id -> (what differs, the page that decides it)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {}


def _parsed(value: str | None) -> Any:
    try:
        return json.loads(value) if value is not None else None
    except ValueError:
        return value


def _write(tmp: Path, job: dict[str, Any], host_index: int, hosts: list[str]) -> tuple[Path, dict[str, str]]:
    root = tmp / hosts[host_index]
    layout = script_mode.HostLayout(root, root / "code", tmp / "checkpoints")
    layout.create()
    for channel in job["InputDataConfig"]:
        (layout.data_dir / channel["ChannelName"]).mkdir(parents=True, exist_ok=True)
    script_mode.write_config(layout, job, hosts[host_index], hosts)
    rank = script_mode.Rank(host_index, hosts, host_index, 0, len(hosts), 1, 29500, [])
    return root, script_mode.environment(layout, job, rank, num_cpus=os.cpu_count() or 1)


def _reference(root: Path, job: dict[str, Any]) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))},
        "TRAINING_JOB_NAME": job["TrainingJobName"],
        "SAGEMAKER_TRAINING_MODULE": PYTORCH_MODULE,
        "CUDA_VISIBLE_DEVICES": "",  # no GPUs: the toolkit counts them with nvidia-smi
    }
    done = subprocess.run(
        [str(REFERENCE_PYTHON), str(REPO / "tests/support/training_env_reference.py"), str(root)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_training_environment_agrees_with_sagemaker_training(tmp_path: Path) -> None:
    if not REFERENCE_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-ref is missing: `make test` builds it (make reference-venv)")
        pytest.skip(".venv-ref is missing: run `make reference-venv`")
    compared = 0
    disagreements: dict[str, str] = {}
    for name, job in JOBS.items():
        host_index, hosts = HOSTS[name]
        root, mine = _write(
            tmp_path / str(len(disagreements)) / name.replace(" ", "_"), job, host_index, hosts
        )
        reference = _reference(root, job)
        for key, value in reference["env"].items():
            compared += 1
            if _parsed(mine.get(key)) != _parsed(value):
                disagreements[f"{name}:{key}"] = f"localcloud {mine.get(key)!r}; toolkit {value!r}"
        compared += 1
        if (
            script_mode.to_cmd_args(script_mode.user_hyperparameters(job["HyperParameters"]))
            != reference["args"]
        ):
            disagreements[f"{name}:args"] = f"toolkit {reference['args']}"
        for key in set(mine) - set(reference["env"]):
            # localcloud's shell-safe alias of a toolkit name (SM_HP_BATCH_SIZE for SM_HP_BATCH-SIZE)
            alias = any(re.sub(r"[^A-Za-z0-9_]", "_", k) == key for k in reference["env"])
            if key not in LOCALCLOUD_EXTRAS and not alias:
                disagreements[f"{name}:{key}"] = f"localcloud sets {key}, the toolkit does not"
    print(
        f"\ntraining env vs sagemaker-training: {compared} cases compared, "
        f"{compared - len(disagreements)} agree, {len(disagreements)} disagree "
        f"({len(KNOWN_DISAGREEMENTS)} documented)"
    )
    for case_id, difference in sorted(disagreements.items()):
        print(f"  {case_id}: {difference}")
    assert compared >= 60
    new = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    assert not new, f"new disagreements with sagemaker-training: {json.dumps(new, indent=1)}"
    gone = set(KNOWN_DISAGREEMENTS) - set(disagreements)
    assert not gone, f"documented disagreements that no longer happen (remove them): {sorted(gone)}"
