"""Training start overhead: CreateTrainingJob -> first training step on localcloud, vs train.py run directly.

Side by side in one run, the real train.py (resnet18, tiny dataset) is started N times each way:

- direct: ``python training/train.py`` with the SM_* variables pointing at local folders;
- localcloud: CreateTrainingJob against a fresh ``localcloud up`` (S3 channels, sourcedir.tar.gz).

"First training step" is train.py's ``device: ...`` line, printed right before its first step;
``epoch=1`` (first epoch done) is reported too. Times are from the start call (Popen /
CreateTrainingJob) to the line appearing (stdout for direct runs, the job's log file for
localcloud, polled every 10 ms). A trivial script-mode program gives the pure localcloud
overhead without torch's import time. Prints medians and the overhead (difference and ratio).

    .venv/bin/python bench/localcloud_training_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from classifier.sample_data import generate  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402
from support.sagemaker_jobs import tarball, upload_dataset  # noqa: E402

HPS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "64",
    "epochs": "1",
    "max-steps-per-epoch": "2",
    "batch-size": "16",
    "num-workers": "0",
    "amp": "false",
}
MARKERS = ("device:", "epoch=1 ")
TRIVIAL = b"import os\nprint('device: none', flush=True)\nprint('epoch=1 valid_accuracy=1.0', flush=True)\n"


def direct_run(script: Path, data: Path, work: Path) -> dict[str, float]:
    env = dict(os.environ)
    env.update({f"SM_CHANNEL_{c.upper()}": str(data / c) for c in ("train", "valid", "test")})
    env.update(
        {
            "SM_MODEL_DIR": str(work / "model"),
            "SM_OUTPUT_DATA_DIR": str(work / "output"),
            "SM_CHECKPOINT_DIR": str(work / "checkpoints"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(script.parent),
        }
    )
    args = [a for name, value in sorted(HPS.items()) for a in (f"--{name}", value)]
    seen: dict[str, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        for marker in MARKERS:
            if marker not in seen and line.startswith(marker):
                seen[marker] = time.perf_counter() - start
        if len(seen) == len(MARKERS):
            break
    proc.kill()
    proc.wait()
    return seen


def localcloud_run(lc: LocalCloudProcess, name: str, code: str, hps: dict[str, str]) -> dict[str, float]:
    sm = lc.client("sagemaker")
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"{code}"',
            **hps,
        },
        "AlgorithmSpecification": {"TrainingImage": "pytorch", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::000000000000:role/bench",
        "InputDataConfig": [
            {
                "ChannelName": c,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://bench/data/{c}/"}},
            }
            for c in ("train", "valid", "test")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bench/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    log_dir = lc.state_dir / "logs" / "aws" / "sagemaker" / "TrainingJobs" / name
    seen: dict[str, float] = {}
    start = time.perf_counter()
    sm.create_training_job(**request)
    while len(seen) < len(MARKERS):
        text = (
            "".join(p.read_text(errors="replace") for p in log_dir.glob("*.log")) if log_dir.is_dir() else ""
        )
        now = time.perf_counter() - start
        for marker in MARKERS:
            if marker not in seen and f"\n{marker}" in f"\n{text}":
                seen[marker] = now
        if now > 300:
            raise TimeoutError(f"{name}: markers not seen: {text[-2000:]}")
        time.sleep(0.01)
    if sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
        sm.stop_training_job(TrainingJobName=name)
    while sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("InProgress", "Stopping"):
        time.sleep(0.1)  # let it end (and upload) before the next measurement starts
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-start-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=3, train_per_class=32, valid_per_class=8, test_per_class=8, size=64
        )
        lc = LocalCloudProcess(root / "state", env={"LOCALCLOUD_STOP_GRACE_SECONDS": "5"}).start()
        try:
            s3 = lc.client("s3")
            s3.create_bucket(Bucket="bench")
            upload_dataset(s3, "bench", data)
            s3.put_object(
                Bucket="bench",
                Key="code/real.tar.gz",
                Body=tarball(
                    {
                        "train.py": REPO / "training" / "train.py",
                        "classifier": REPO / "training" / "classifier",
                    }
                ),
            )
            s3.put_object(Bucket="bench", Key="code/trivial.tar.gz", Body=tarball({"train.py": TRIVIAL}))
            results: dict[str, list[dict[str, float]]] = {"direct": [], "localcloud": [], "trivial": []}
            for run in range(args.runs):  # interleaved, so load changes hit both sides alike
                results["direct"].append(
                    direct_run(REPO / "training" / "train.py", data, root / f"direct{run}")
                )
                hps = {k: f'"{v}"' if not v.isdigit() else v for k, v in HPS.items()}
                results["localcloud"].append(
                    localcloud_run(lc, f"bench-{run}", "s3://bench/code/real.tar.gz", hps)
                )
                results["trivial"].append(
                    localcloud_run(lc, f"trivial-{run}", "s3://bench/code/trivial.tar.gz", {})
                )
        finally:
            lc.stop()
    print(f"training start overhead over {args.runs} interleaved runs, median (min); {os.cpu_count()} CPUs")
    for marker, label in zip(MARKERS, ("first training step", "first epoch done"), strict=True):
        direct = [r[marker] for r in results["direct"]]
        local = [r[marker] for r in results["localcloud"]]
        d_med, l_med, d_min, l_min = (
            statistics.median(direct),
            statistics.median(local),
            min(direct),
            min(local),
        )
        print(
            f"  to {label:20s}: direct train.py {d_med:5.2f} s ({d_min:5.2f}) | localcloud job "
            f"{l_med:5.2f} s ({l_min:5.2f}) | overhead {l_med - d_med:+.2f} s ({l_min - d_min:+.2f}), "
            f"x{l_med / d_med:.2f}"
        )
    trivial = [r[MARKERS[0]] for r in results["trivial"]]
    print(
        "  trivial script-mode job, CreateTrainingJob -> its first output line: "
        f"{statistics.median(trivial):.3f} s ({min(trivial):.3f}) = localcloud's own start cost"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
