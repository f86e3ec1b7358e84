"""SageMaker jobs the way a user sets them up, for the localcloud tests and the benches.

Builds what a user would: a small generated ImageFolder dataset in S3 (``upload_dataset``), the
real training code as ``sourcedir.tar.gz`` (train.py + inference.py + classifier/), and
CreateTrainingJob requests with tiny settings so real training takes seconds on a CPU.
"""

from __future__ import annotations

import io
import tarfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TERMINAL = ("Completed", "Failed", "Stopped")
ROLE = "arn:aws:iam::000000000000:role/localcloud-test"
METRICS = [
    {"Name": "valid:accuracy", "Regex": r"valid_accuracy=([0-9.]+)"},
    {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
    {"Name": "test:accuracy", "Regex": r"test_accuracy=([0-9.]+)"},
]
TINY = {
    "arch": '"resnet18"',
    "pretrained": '"none"',
    "image-size": "32",
    "epochs": "1",
    "max-steps-per-epoch": "2",
    "batch-size": "8",
    "num-workers": "0",
    "amp": "false",
}

# A legitimate script-mode program (no torch): prints one metric line per epoch, checkpoints
# every epoch and resumes from its checkpoint, writes its model and an output file.
MINI_TRAIN = textwrap.dedent("""
    import argparse, json, os, sys, tempfile, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--fail", default="")
    parser.add_argument("--rules", default="")
    args, _ = parser.parse_known_args()
    if args.rules:  # rule results the way train.py's profiler writes them (docs/profiling.md)
        report = os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "profiler-report")
        os.makedirs(report, exist_ok=True)
        pairs = (item.split(":") for item in args.rules.split(","))
        rules = [{"RuleConfigurationName": name, "RuleEvaluationStatus": status, "StatusDetails": "checked"}
                 for name, status in pairs]
        json.dump(rules, open(os.path.join(report, "rules.json"), "w"))
    checkpoint = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "state.json")
    start = 1
    if os.path.exists(checkpoint):
        start = json.load(open(checkpoint))["epoch"] + 1
        print(f"resumed from checkpoint epoch={start - 1}", flush=True)
    for epoch in range(start, args.epochs + 1):
        time.sleep(args.sleep)
        accuracy = 1 - (1 - min(args.lr, 0.9)) / (epoch + 1)
        print(f"epoch={epoch} train_loss={1 / epoch:.4f} valid_accuracy={accuracy:.4f}", flush=True)
        json.dump({"epoch": epoch}, open(checkpoint + ".tmp", "w"))
        os.replace(checkpoint + ".tmp", checkpoint)
        if args.fail == "epoch2" and epoch == 2:
            raise ValueError("the loss became NaN at epoch 2")
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
        json.dump({"lr": args.lr, "hosts": json.loads(os.environ["SM_HOSTS"])}, f)
    seen = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
    seen["tmp_dir"] = tempfile.gettempdir()
    config_dir = os.environ["SM_INPUT_CONFIG_DIR"]  # as the job saw it (removed once the job ends)
    seen["config_files"] = {
        name: json.load(open(os.path.join(config_dir, name))) for name in sorted(os.listdir(config_dir))
    }
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "env.json"), "w") as f:
        json.dump(seen, f)
    print("test_accuracy=0.9000", flush=True)
""")


def tarball(files: dict[str, bytes | Path]) -> bytes:
    """A .tar.gz of in-memory files and/or folders from the repo (``__pycache__`` left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            if isinstance(content, Path):
                tar.add(
                    content, arcname=name, filter=lambda info: None if "__pycache__" in info.name else info
                )
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def upload_dataset(s3: Any, bucket: str, root: Path, prefix: str = "data/") -> None:
    """Every image under ``root`` to ``s3://bucket/<prefix><split>/<class>/<file>``, in name order."""
    for path in sorted(root.rglob("*.jpg")):
        s3.upload_file(str(path), bucket, f"{prefix}{path.relative_to(root).as_posix()}")


def real_source() -> bytes:
    """sourcedir.tar.gz of the real training code, as the pipeline ships it."""
    return tarball(
        {
            "train.py": REPO / "training" / "train.py",
            "inference.py": REPO / "training" / "inference.py",
            "classifier": REPO / "training" / "classifier",
        }
    )


def channels(
    bucket: str, prefix: str, names: tuple[str, ...] = ("train", "valid", "test")
) -> list[dict[str, Any]]:
    return [
        {
            "ChannelName": name,
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{bucket}/{prefix}{name}/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for name in names
    ]


def training_request(
    name: str,
    *,
    code_uri: str,
    data: list[dict[str, Any]],
    output: str,
    hyperparameters: dict[str, str],
    program: str = "train.py",
    instance_type: str = "ml.m5.large",
    max_runtime: int = 600,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "HyperParameters": {
            "sagemaker_program": f'"{program}"',
            "sagemaker_submit_directory": f'"{code_uri}"',
            **hyperparameters,
        },
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5",
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "RoleArn": ROLE,
        "InputDataConfig": data,
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        **extra,
    }


def wait_for(
    describe: Callable[[], dict[str, Any]],
    field: str,
    done: tuple[str, ...],
    timeout: float = 240.0,
    interval: float = 0.3,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = describe()
        if result[field] in done:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{field} still {result[field]} after {timeout:.0f}s: {result}")
        time.sleep(interval)


def finished_training_job(sm: Any, name: str, timeout: float = 240.0) -> dict[str, Any]:
    """DescribeTrainingJob once the job is Completed, Failed or Stopped."""
    return wait_for(
        lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", TERMINAL, timeout
    )


def finished_tuning_job(sm: Any, name: str, timeout: float = 240.0) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob once the tuning job is Completed, Failed or Stopped."""
    return wait_for(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        "HyperParameterTuningJobStatus",
        TERMINAL,
        timeout,
    )


def training_log(state_dir: Path, job: str) -> str:
    return "".join(
        p.read_text(errors="replace")
        for p in sorted((state_dir / "logs" / "aws" / "sagemaker" / "TrainingJobs" / job).glob("*.log"))
    )
