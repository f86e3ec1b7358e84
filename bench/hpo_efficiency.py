"""Tuning efficiency on localcloud: Random vs Bayesian vs Hyperband, and Auto early stopping's saved epochs.

For each seed, one ``localcloud up`` runs these tuning jobs side by side (same seed, same budget,
same search space), each training the real train.py (resnet18, ``--pretrained none``, 32 px) on a
tiny generated dataset (classifier.sample_data.generate):

- Random, Bayesian, Hyperband with ``TrainingJobEarlyStoppingType`` Off;
- Random again with ``TrainingJobEarlyStoppingType: Auto`` (localcloud's median stopping rule).
  Random's seeded sampler draws the same hyperparameters whatever the results, so Random Auto vs
  Random Off differ only by the early stopping.

Search space: ``epochs`` Integer 1-4, ``lr`` Continuous 1e-4..1e-1 Logarithmic, ``batch-size``
Categorical 8/16/32; objective ``valid:accuracy`` (Maximize, the app's MetricDefinitions from
functions/pipeline/metrics.py). Hyperband's MaxResource is 4 (epochs).

Printed per strategy and seed: the best objective, and the 1-based index (creation order) of the
first trial whose objective reaches Random's best for that seed. For early stopping: the epochs
trained by all trials (counted from each job's ``epoch=N`` log lines) and the best objective, Off
vs Auto, and the epochs saved when the two bests are within +-1%.

    .venv/bin/python bench/hpo_efficiency.py [--seeds 0 1 2] [--trials 8] [--parallel 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from classifier.sample_data import generate  # noqa: E402
from functions.pipeline.metrics import metric_definitions  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402
from support.sagemaker_jobs import real_source, upload_dataset  # noqa: E402

METRIC = "valid:accuracy"
MAX_EPOCHS = 4
STATIC = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "32",
    "num-workers": "0",
    "amp": "false",
    "seed": "0",
}
RANGES = {
    "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": str(MAX_EPOCHS)}],
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
    ],
    "CategoricalParameterRanges": [{"Name": "batch-size", "Values": ["8", "16", "32"]}],
}
# (label, strategy, early stopping); Random Off is the reference the others are compared with.
VARIANTS = [
    ("Random", "Random", "Off"),
    ("Bayesian", "Bayesian", "Off"),
    ("Hyperband", "Hyperband", "Off"),
    ("Random+Auto", "Random", "Auto"),
]


def tuning_request(
    name: str, strategy: str, early: str, seed: int, trials: int, parallel: int
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Strategy": strategy,
        "RandomSeed": seed,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": parallel},
        "ParameterRanges": RANGES,
        "TrainingJobEarlyStoppingType": early,
    }
    if strategy == "Hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": MAX_EPOCHS}}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://bench/code/train.tar.gz"',
                **{k: f'"{v}"' for k, v in STATIC.items()},
            },
            "AlgorithmSpecification": {
                "TrainingImage": "pytorch",
                "TrainingInputMode": "File",
                "MetricDefinitions": metric_definitions(),
            },
            "RoleArn": "arn:aws:iam::000000000000:role/bench",
            "InputDataConfig": [
                {
                    "ChannelName": c,
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://bench/data/{c}/"}
                    },
                }
                for c in ("train", "valid", "test")
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://bench/output/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def epochs_trained(lc: LocalCloudProcess, job: str) -> int:
    """Epochs the job finished: train.py prints one ``epoch=N ...`` line per epoch."""
    log_dir = lc.state_dir / "logs" / "aws" / "sagemaker" / "TrainingJobs" / job
    text = "".join(p.read_text(errors="replace") for p in log_dir.glob("*.log")) if log_dir.is_dir() else ""
    return sum(1 for line in text.splitlines() if line.startswith("epoch="))


def trial_results(lc: LocalCloudProcess, name: str) -> list[dict[str, Any]]:
    sm = lc.client("sagemaker")
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    while True:
        page = sm.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
        summaries += page["TrainingJobSummaries"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    out = []
    for s in sorted(summaries, key=lambda s: s["TrainingJobName"]):  # <tuning>-<3-digit index>-<hex>
        objective = s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        out.append(
            {
                "name": s["TrainingJobName"],
                "status": s["TrainingJobStatus"],
                "objective": objective,
                "epochs": epochs_trained(lc, s["TrainingJobName"]),
                "tuned": s["TunedHyperParameters"],
            }
        )
    return out


def run_seed(
    data: Path, root: Path, seed: int, trials: int, parallel: int
) -> dict[str, list[dict[str, Any]]]:
    env = {"LOCALCLOUD_STOP_GRACE_SECONDS": "5", "OMP_NUM_THREADS": "1"}
    lc = LocalCloudProcess(root / f"state-{seed}", env=env).start()
    try:
        s3 = lc.client("s3")
        s3.create_bucket(Bucket="bench")
        upload_dataset(s3, "bench", data)
        s3.put_object(Bucket="bench", Key="code/train.tar.gz", Body=real_source())
        sm = lc.client("sagemaker")
        names = {}
        for label, strategy, early in VARIANTS:  # all at once: load hits every strategy alike
            name = f"s{seed}-{label.lower().replace('+', '-')}"
            sm.create_hyper_parameter_tuning_job(
                **tuning_request(name, strategy, early, seed, trials, parallel)
            )
            names[label] = name
        pending = dict(names)
        while pending:
            time.sleep(2)
            for label, name in list(pending.items()):
                job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                status = job["HyperParameterTuningJobStatus"]
                if status not in ("InProgress", "Stopping"):
                    print(f"  seed {seed} {label}: {status} {job.get('FailureReason', '')}", flush=True)
                    del pending[label]
        return {label: trial_results(lc, name) for label, name in names.items()}
    finally:
        lc.stop()


def best(results: list[dict[str, Any]]) -> float | None:
    values = [r["objective"] for r in results if r["objective"] is not None]
    return max(values) if values else None


def first_reaching(results: list[dict[str, Any]], target: float | None) -> str:
    if target is None:
        return "n/a"
    for index, r in enumerate(results, start=1):
        if r["objective"] is not None and r["objective"] >= target - 1e-9:
            return str(index)
    return "not reached"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="RandomSeed values")
    parser.add_argument("--trials", type=int, default=8, help="MaxNumberOfTrainingJobs per tuning job")
    parser.add_argument("--parallel", type=int, default=2, help="MaxParallelTrainingJobs")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lc-bench-hpo-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=20, valid_per_class=10, test_per_class=5, size=32
        )
        runs = {seed: run_seed(data, root, seed, args.trials, args.parallel) for seed in args.seeds}

    console = Console(width=120)
    table = Table(
        title=(
            f"Tuning efficiency: {args.trials} trials, {args.parallel} parallel, objective {METRIC} "
            f"(max), seeds {' '.join(map(str, args.seeds))}"
        )
    )
    for column in (
        "seed",
        "strategy",
        "best",
        "trial reaching Random's best",
        "epochs trained",
        "saved epochs",
    ):
        table.add_column(column)
    for seed, results in runs.items():
        reference = best(results["Random"])
        off_epochs = sum(r["epochs"] for r in results["Random"])
        for label, _, _ in VARIANTS:
            value = best(results[label])
            epochs = sum(r["epochs"] for r in results[label])
            saved = ""
            if label == "Random+Auto":
                if value is not None and reference is not None and abs(value - reference) <= 0.01 * reference:
                    saved = f"{off_epochs - epochs} of {off_epochs}"
                else:
                    saved = "bests differ >1%"
            table.add_row(
                str(seed),
                label,
                "-" if value is None else f"{value:.3f}",
                first_reaching(results[label], reference),
                str(epochs),
                saved,
            )
        table.add_section()
    console.print(table)
    for seed, results in runs.items():
        for label, _, _ in VARIANTS:
            objectives = " ".join(
                "-" if r["objective"] is None else f"{r['objective']:.2f}/{r['epochs']}e"
                for r in results[label]
            )
            print(f"  seed {seed} {label:12s} objective/epochs per trial: {objectives}")
    print(f"wall time {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
