"""The console's page load times on a populated localcloud, and whether loading pages slows the AWS APIs.

A ``localcloud up`` (no template, free ports) is seeded through the AWS APIs (boto3):

- ``--executions`` (100) executions of a small state machine (Pass, Choice, Wait 0 s, Succeed);
- ``--training-jobs`` (1,000) training jobs whose source archive is missing: each is a real
  CreateTrainingJob record that fails in its download stage (no process started, so seeding is
  fast), plus one real job (the tests' torch-free script-mode program: metric lines per epoch)
  whose page has curves and a log;
- a bucket of 200 objects under a few prefixes.

Then, for each console page, ``--loads`` sequential GETs (median, p90; goal <= 300 ms), and one
AWS API call (SageMaker DescribeTrainingJob over HTTP, boto3) timed ``--calls`` times while idle and
while ``--loaders`` threads load console pages back to back (p50, p99 and the ratio). The
console's work runs in Starlette's threadpool: the API call should not queue behind it.

    .venv/bin/python bench/console_pages.py [--executions 100 --training-jobs 1000]

Figures from a shared machine are noisy: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from support.localcloud_proc import LocalCloudProcess  # noqa: E402
from support.sagemaker_jobs import MINI_TRAIN, ROLE, channels, tarball, training_request  # noqa: E402

BUCKET = "console-bench"
MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"x": 1}, "Next": "Decide"},
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "Pause"}],
            "Default": "Done",
        },
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def seed(lc: LocalCloudProcess, executions: int, jobs: int) -> dict[str, str]:
    s3, sm, sfn = lc.client("s3"), lc.client("sagemaker"), lc.client("stepfunctions")
    s3.create_bucket(Bucket=BUCKET)
    for split in ("train", "valid", "test"):
        s3.put_object(Bucket=BUCKET, Key=f"data/{split}/a.txt", Body=b"x")
    for i in range(200):
        s3.put_object(Bucket=BUCKET, Key=f"files/p{i % 4}/{i:04d}.txt", Body=b"y" * 100)
    s3.put_object(Bucket=BUCKET, Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()}))
    data = channels(BUCKET, "data/")
    real = training_request(
        "console-bench-real",
        code_uri=f"s3://{BUCKET}/code/mini.tar.gz",
        data=data,
        output=f"s3://{BUCKET}/output/",
        hyperparameters={"epochs": "5", "sleep": "0.2"},
    )
    sm.create_training_job(**real)
    started = time.perf_counter()

    def create(i: int) -> None:
        request = training_request(
            f"console-bench-{i:04d}",
            code_uri=f"s3://{BUCKET}/code/missing.tar.gz",
            data=data,
            output=f"s3://{BUCKET}/output/",
            hyperparameters={},
        )
        sm.create_training_job(**request)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(jobs)))
    print(f"seeded {jobs} training jobs in {time.perf_counter() - started:.1f} s")
    machine = sfn.create_state_machine(name="bench", definition=json.dumps(MACHINE), roleArn=ROLE)
    started = time.perf_counter()
    arns = [
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"run-{i:03d}")["executionArn"]
        for i in range(executions)
    ]
    print(f"started {executions} executions in {time.perf_counter() - started:.1f} s")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs_left = sm.list_training_jobs(StatusEquals="InProgress", MaxResults=100)["TrainingJobSummaries"]
        runs_left = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
        if not jobs_left and not runs_left["executions"]:
            break
        time.sleep(1)
    return {"execution": arns[-1], "job": "console-bench-real"}


def pages(targets: dict[str, str], token: str) -> dict[str, str]:
    arn = urllib.parse.quote(targets["execution"], safe="")
    return {
        "executions": "/_localcloud/executions",
        "execution detail": f"/_localcloud/execution?arn={arn}",
        "execution fragment": f"/_localcloud/execution?arn={arn}&fragment=1",
        "training jobs (page 1)": "/_localcloud/training",
        "training jobs (page 2)": f"/_localcloud/training?token={urllib.parse.quote(token, safe='')}",
        "training detail": f"/_localcloud/training/{targets['job']}",
        "tuning jobs": "/_localcloud/tuning",
        "endpoints": "/_localcloud/endpoints",
        "s3 buckets": "/_localcloud/s3",
        "s3 prefix page": f"/_localcloud/s3/{BUCKET}?prefix=files/p1/",
    }


def time_pages(base: str, paths: dict[str, str], loads: int) -> None:
    print(f"\n{'page':<26}{'median ms':>10}{'p90 ms':>9}{'bytes':>9}")
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, path in paths.items():
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code, response.text[:500])
            verdict = "" if statistics.median(times) <= 300 else "  > 300 ms goal"
            print(
                f"{label:<26}{statistics.median(times):>10.1f}{percentile(times, 90):>9.1f}"
                f"{len(response.content):>9}{verdict}"
            )


def list_call(lc: LocalCloudProcess, loads: int) -> None:
    """The API call behind the training list page, alone (what the page cannot be faster than)."""
    sm = lc.client("sagemaker")
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        sm.list_training_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=50)
        times.append((time.perf_counter() - started) * 1000)
    label = "(ListTrainingJobs API)"
    print(f"{label:<26}{statistics.median(times):>10.1f}{percentile(times, 90):>9.1f}")


def api_latency(lc: LocalCloudProcess, calls: int) -> list[float]:
    sm = lc.client("sagemaker")
    sm.describe_training_job(TrainingJobName="console-bench-0001")
    out = []
    for _ in range(calls):  # spread over calls / 10 seconds, so a 2-second poller overlaps them
        started = time.perf_counter()
        sm.describe_training_job(TrainingJobName="console-bench-0001")
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.1)
    return out


def under_load(
    lc: LocalCloudProcess, paths: list[str], loaders: int, calls: int, pause: float = 0.0
) -> tuple[list[float], int]:
    """API latency while ``loaders`` threads load ``paths`` in turn, ``pause`` seconds apart."""
    stop = threading.Event()
    loaded = [0]

    def load() -> None:
        with httpx.Client(base_url=lc.edge_url, timeout=60) as client:
            while not stop.is_set():
                for path in paths:
                    client.get(path)
                    loaded[0] += 1
                    stop.wait(pause)

    threads = [threading.Thread(target=load, daemon=True) for _ in range(loaders)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    try:
        return api_latency(lc, calls), loaded[0]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=100)
    parser.add_argument("--training-jobs", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--loaders", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, LocalCloudProcess(Path(tmp) / "state") as lc:
        targets = seed(lc, args.executions, args.training_jobs)
        token = lc.client("sagemaker").list_training_jobs(
            SortBy="CreationTime", SortOrder="Descending", MaxResults=50
        )["NextToken"]
        paths = pages(targets, token)
        time_pages(lc.edge_url, paths, args.loads)
        list_call(lc, args.loads)
        idle = api_latency(lc, args.calls)
        busy, loaded = under_load(lc, list(paths.values()), args.loaders, args.calls)
        polled, _ = under_load(lc, ["/_localcloud/training?fragment=1"], 1, args.calls, pause=2.0)
        print(f"\nSageMaker DescribeTrainingJob over HTTP ({args.calls} calls each)")
        print(f"{'':<40}{'p50 ms':>8}{'p99 ms':>8}")
        print(f"{'idle':<40}{percentile(idle, 50):>8.1f}{percentile(idle, 99):>8.1f}")
        label = "1 tab polling the training list (2 s)"
        print(f"{label:<40}{percentile(polled, 50):>8.1f}{percentile(polled, 99):>8.1f}")
        label = f"{args.loaders} threads loading console pages"
        print(f"{label:<40}{percentile(busy, 50):>8.1f}{percentile(busy, 99):>8.1f}")
        print(
            f"ratio busy/idle: p50 x{percentile(busy, 50) / percentile(idle, 50):.2f}, "
            f"p99 x{percentile(busy, 99) / percentile(idle, 99):.2f} "
            f"({loaded} console pages loaded meanwhile)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
