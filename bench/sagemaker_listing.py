"""ListTrainingJobs and ListHyperParameterTuningJobs cost vs how many jobs localcloud holds, one run.

Each training job carries its metric series (``--points`` per metric, 4 metrics: a job printing one
line per epoch for that many epochs); each tuning job its trials (``--trials``). A List* page
(MaxResults 50, newest first, the console's query) reads every job's description to filter and
sort; it should not pay for the series or the trials, which it never returns. Prints the median
page time at each size, interleaved rounds, and the ratio of the largest size to the smallest.
In-process (``LocalCloud.sagemaker.dispatch``, no HTTP), documents written to the store directly.

    .venv/bin/python bench/sagemaker_listing.py [--sizes 200,2000] [--points 100] [--rounds 7]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud
from localcloud.config import Settings
from localcloud.sagemaker import common
from localcloud.sagemaker.records import Trial

METRICS = ("train:loss", "valid:loss", "train:accuracy", "valid:accuracy")
ARN = "arn:aws:sagemaker:us-east-1:000000000000"
QUERY = {"MaxResults": 50, "SortBy": "CreationTime", "SortOrder": "Descending"}


def _training_doc(i: int, points: int) -> dict[str, Any]:
    name, at = f"job-{i:06d}", 1.7e9 + i
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "TrainingJobStatus": "Completed",
        "CreationTime": at,
        "LastModifiedTime": at + 100,
        "TrainingEndTime": at + 100,
        "_series": {m: [[at + j, random.random()] for j in range(points)] for m in METRICS},
    }


def _tuning_doc(i: int, trials: int) -> dict[str, Any]:
    name, at = f"tune-{i:06d}", 1.7e9 + i
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/{name}",
        "HyperParameterTuningJobStatus": "Completed",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 2},
        },
        "CreationTime": at,
        "LastModifiedTime": at,
        "TrainingJobStatusCounters": {"Completed": trials},
        "ObjectiveStatusCounters": {"Succeeded": trials},
        "_trials": [
            Trial(t, f"{name}-{t:03d}", t, reported=100, done=True, objective=random.random()).to_doc()
            for t in range(trials)
        ],
    }


def _cloud(root: Path, size: int, points: int, trials: int) -> LocalCloud:
    cloud = LocalCloud(Settings(state_dir=root / str(size)))
    for i in range(size):
        cloud.store.put(common.TRAINING_JOB, f"job-{i:06d}", _training_doc(i, points))
    for i in range(size // 10):
        cloud.store.put(common.TUNING_JOB, f"tune-{i:06d}", _tuning_doc(i, trials))
    return cloud


def _page_ms(cloud: LocalCloud, operation: str) -> float:
    start = time.perf_counter()
    cloud.sagemaker.dispatch(operation, QUERY)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200,2000", help="training jobs held (tuning jobs: a tenth)")
    parser.add_argument("--points", type=int, default=100, help="points per metric series")
    parser.add_argument("--trials", type=int, default=50, help="trials per tuning job")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    random.seed(0)
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="sm-listing-"))
    try:
        clouds = {size: _cloud(root, size, args.points, args.trials) for size in sizes}
        times: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for operation in ("ListTrainingJobs", "ListHyperParameterTuningJobs"):
                for size, cloud in clouds.items():
                    times.setdefault((operation, size), []).append(_page_ms(cloud, operation))
        for operation in ("ListTrainingJobs", "ListHyperParameterTuningJobs"):
            medians = {size: statistics.median(times[(operation, size)]) for size in sizes}
            row = "  ".join(f"{size} jobs {ms:.1f} ms" for size, ms in medians.items())
            ratio = medians[sizes[-1]] / medians[sizes[0]]
            print(f"{operation} page (50): {row}  ratio {ratio:.2f}x")
        for cloud in clouds.values():
            cloud.store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
