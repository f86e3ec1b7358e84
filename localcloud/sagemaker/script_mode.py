"""The SageMaker script-mode contract (sagemaker-training-toolkit), as pure functions.

Given a training job's request and a host's folder, this builds exactly what the toolkit gives
a user script inside the container: the ``/opt/ml`` layout (``input/config/*.json``,
``input/data/<channel>``, ``model``, ``output/data``, ``output/failure``), the ``SM_*``
environment, and the command line (hyperparameters JSON-decoded, ``sagemaker_*`` ones removed,
sorted, rendered ``--name value`` as the toolkit's ``to_cmd_args`` does). localcloud additions:
``SM_CHECKPOINT_DIR`` (SageMaker uses the fixed /opt/ml/checkpoints) and the torchrun-style
variables for InstanceCount > 1.

Relies on the standard library only; written by hand because the toolkit itself only runs
inside SageMaker's containers.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURRENT_GROUP = "homogeneousCluster"
# The toolkit's own hyperparameters (sagemaker_training.params.SAGEMAKER_HYPERPARAMETERS): they are
# not passed on as "additional framework parameters".
TOOLKIT_PARAMETERS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_enable_cloudwatch_metrics",
        "sagemaker_region",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "default_user_module_name",
        "_tuning_objective_metric",
        "sagemaker_s3_output",
    }
)


@dataclass(frozen=True)
class HostLayout:
    """One instance's ``/opt/ml`` (``root``) plus the job-wide code and checkpoint folders."""

    root: Path
    code_dir: Path
    checkpoint_dir: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def tmp_dir(self) -> Path:
        """The instance's temporary folder (``TMPDIR``): a SageMaker instance's /tmp is its own and
        goes with it; here it is in the job's folder and goes when the job's local copies do."""
        return self.root / "tmp"

    def create(self) -> None:
        for folder in (
            self.config_dir,
            self.data_dir,
            self.model_dir,
            self.output_data_dir,
            self.intermediate_dir,
            self.checkpoint_dir,
            self.code_dir,
            self.tmp_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded when it parses (``'"resnet50"'`` -> ``resnet50``, ``'3'`` -> 3)."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except (ValueError, TypeError):
            decoded[name] = value
    return decoded


def user_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in decode_hyperparameters(raw).items() if not k.startswith("sagemaker_")}


def framework_parameters(raw: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in decode_hyperparameters(raw).items() if k.startswith("sagemaker_")}


def _arg_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """The toolkit's ``to_cmd_args``: sorted ``--name value`` pairs (``-x`` for one-letter names)."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        args.append(f"--{name}" if len(name) > 1 else f"-{name}")
        args.append(_arg_text(hyperparameters[name]))
    return args


def env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def resource_config(current_host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": CURRENT_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": CURRENT_GROUP, "instance_type": instance_type, "hosts": hosts}
        ],
        "network_interface_name": "eth0",
    }


def input_data_config(channels: list[dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for channel in channels:
        s3 = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        config[channel["ChannelName"]] = {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": s3.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
        }
    return config


def write_config(layout: HostLayout, job: dict[str, Any], current_host: str, hosts: list[str]) -> None:
    """The JSON files SageMaker writes to ``/opt/ml/input/config``."""
    instance_type = job["ResourceConfig"]["InstanceType"]
    files: dict[str, Any] = {
        "hyperparameters.json": job.get("HyperParameters") or {},
        "resourceconfig.json": resource_config(current_host, hosts, instance_type),
        "inputdataconfig.json": input_data_config(job.get("InputDataConfig") or []),
        "trainingjobconfig.json": {k: v for k, v in job.items() if not k.startswith("_")},
        "metric-definition-regex.json": (job.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
        or [],
    }
    if job.get("CheckpointConfig"):
        files["checkpointconfig.json"] = {
            "LocalPath": str(layout.checkpoint_dir),
            "S3Uri": job["CheckpointConfig"]["S3Uri"],
        }
    if job.get("ProfilerConfig"):
        files["profilerconfig.json"] = job["ProfilerConfig"]
    if job.get("DebugHookConfig"):
        files["debughookconfig.json"] = job["DebugHookConfig"]
    for name, content in files.items():
        (layout.config_dir / name).write_text(json.dumps(content, indent=2, default=str))


@dataclass(frozen=True)
class Rank:
    """Where one process sits in a (possibly distributed) job."""

    host_index: int
    hosts: list[str]
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    master_port: int
    gpus: list[int]


def environment(layout: HostLayout, job: dict[str, Any], rank: Rank, *, num_cpus: int) -> dict[str, str]:
    """The ``SM_*`` variables (plus torchrun's) that one training process sees."""
    raw = job.get("HyperParameters") or {}
    hps = user_hyperparameters(raw)
    framework = framework_parameters(raw)
    program = str(framework.get("sagemaker_program", ""))
    channels = sorted(c["ChannelName"] for c in job.get("InputDataConfig") or [])
    current_host = rank.hosts[rank.host_index]
    instance_type = job["ResourceConfig"]["InstanceType"]
    channel_dirs = {c: str(layout.data_dir / c) for c in channels}
    user_args = to_cmd_args(hps)
    module_name = program[:-3] if program.endswith(".py") else program
    instance_group = {
        "hosts": rank.hosts,
        "instance_group_name": CURRENT_GROUP,
        "instance_type": instance_type,
    }
    training_env = {
        "additional_framework_parameters": {
            k: v for k, v in framework.items() if k not in TOOLKIT_PARAMETERS
        },
        "channel_input_dirs": channel_dirs,
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_instance_group": CURRENT_GROUP,
        "current_instance_group_hosts": rank.hosts,
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": "sagemaker_pytorch_container.training:main",
        "hosts": rank.hosts,
        "hyperparameters": hps,
        "input_config_dir": str(layout.config_dir),
        "input_data_config": input_data_config(job.get("InputDataConfig") or []),
        "input_dir": str(layout.input_dir),
        "instance_groups": [CURRENT_GROUP],
        "instance_groups_dict": {CURRENT_GROUP: instance_group},
        "is_hetero": False,
        "is_master": rank.rank == 0,
        "is_modelparallel_enabled": None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job["TrainingJobName"],
        "log_level": int(framework.get("sagemaker_container_log_level", 20) or 20),
        "master_hostname": rank.hosts[0],
        "model_dir": str(layout.model_dir),
        "module_dir": framework.get("sagemaker_submit_directory", ""),
        "module_name": module_name,
        "network_interface_name": "eth0",
        "num_cpus": num_cpus,
        "num_gpus": len(rank.gpus),
        "num_neurons": 0,
        "output_data_dir": str(layout.output_data_dir),
        "output_dir": str(layout.output_dir),
        "output_intermediate_dir": str(layout.intermediate_dir),
        "resource_config": resource_config(current_host, rank.hosts, instance_type),
        "topology": [],
        "user_entry_point": program,
    }
    env = {
        "SM_HOSTS": json.dumps(rank.hosts),
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_HPS": json.dumps(hps),
        "SM_USER_ENTRY_POINT": program,
        "SM_FRAMEWORK_PARAMS": json.dumps(training_env["additional_framework_parameters"]),
        "SM_RESOURCE_CONFIG": json.dumps(training_env["resource_config"]),
        "SM_INPUT_DATA_CONFIG": json.dumps(training_env["input_data_config"]),
        "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
        "SM_CHANNELS": json.dumps(channels),
        "SM_CURRENT_HOST": current_host,
        "SM_CURRENT_INSTANCE_TYPE": instance_type,
        "SM_CURRENT_INSTANCE_GROUP": CURRENT_GROUP,
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": json.dumps(rank.hosts),
        "SM_INSTANCE_GROUPS": json.dumps([CURRENT_GROUP]),
        "SM_INSTANCE_GROUPS_DICT": json.dumps(training_env["instance_groups_dict"]),
        "SM_DISTRIBUTION_INSTANCE_GROUPS": "[]",
        "SM_IS_HETERO": "false",
        "SM_MODULE_NAME": module_name,
        "SM_LOG_LEVEL": str(training_env["log_level"]),
        "SM_FRAMEWORK_MODULE": training_env["framework_module"],
        "SM_INPUT_DIR": str(layout.input_dir),
        "SM_INPUT_CONFIG_DIR": str(layout.config_dir),
        "SM_OUTPUT_DIR": str(layout.output_dir),
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": str(len(rank.gpus)),
        "SM_NUM_NEURONS": "0",
        "SM_MODEL_DIR": str(layout.model_dir),
        "SM_MODULE_DIR": str(training_env["module_dir"]),
        "SM_TRAINING_ENV": json.dumps(training_env),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(layout.intermediate_dir),
        "SM_CHECKPOINT_DIR": str(layout.checkpoint_dir),
        "TRAINING_JOB_NAME": job["TrainingJobName"],
        "TRAINING_JOB_ARN": job["TrainingJobArn"],
        "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in rank.gpus),
        # torch.distributed (torchrun's variables); harmless for a single process.
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(rank.master_port),
        "WORLD_SIZE": str(rank.world_size),
        "RANK": str(rank.rank),
        "LOCAL_RANK": str(rank.local_rank),
        "LOCAL_WORLD_SIZE": str(rank.local_world_size),
        "GROUP_RANK": str(rank.host_index),
        "NODE_RANK": str(rank.host_index),
        "PYTHONUNBUFFERED": "TRUE",
    }
    # The toolkit's names (SM_HP_BATCH-SIZE: the name upper-cased, nothing replaced) plus a shell-safe
    # alias where they differ (SM_HP_BATCH_SIZE).
    for name, folder in channel_dirs.items():
        env[f"SM_CHANNEL_{env_name(name)}"] = env[f"SM_CHANNEL_{name.upper()}"] = folder
    for name, value in hps.items():
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"SM_HP_{env_name(name)}"] = env[f"SM_HP_{name.upper()}"] = text
    return env


def command(layout: HostLayout, job: dict[str, Any], python: str) -> list[str]:
    """How the toolkit runs the entry point: python for ``.py``, /bin/sh for ``.sh``."""
    raw = job.get("HyperParameters") or {}
    program = str(framework_parameters(raw).get("sagemaker_program", ""))
    args = to_cmd_args(user_hyperparameters(raw))
    script = layout.code_dir / program
    if program.endswith(".sh"):
        return ["/bin/sh", str(script), *args]
    return [python, str(script), *args]


def python_path(code_dir: Path) -> str:
    existing = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (str(code_dir), existing) if p)
