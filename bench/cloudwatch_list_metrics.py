"""CloudWatch ListMetrics vs how many training jobs localcloud holds, and the cost of one recorded
point (SageMaker Runtime calls ``record`` four times per InvokeEndpoint), side by side for
several source trees (e.g. this one and an earlier commit checked out elsewhere).

Each training job carries 4 metric series of ``--points`` points (and the FinalMetricDataList
SageMaker derives from them). The state is written once per size with this tree's store; each
tree then answers in a child process run with that tree first on ``PYTHONPATH``, in interleaved
rounds: the median time of the first ListMetrics page (500 metrics, what the console and
``aws cloudwatch list-metrics`` ask first) through ``CloudWatchService.dispatch`` (no HTTP), and
the mean time of ``MetricSource.record``.

    .venv/bin/python bench/cloudwatch_list_metrics.py [--trees .,/tmp/old] [--sizes 200,2000]
        [--points 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METRICS = ("train:loss", "valid:loss", "train:accuracy", "valid:accuracy")
KIND = "sagemaker/training-job"
CALLS = 3  # ListMetrics calls per child run
RECORDS = 200_000


def _job(i: int, points: int) -> dict[str, Any]:
    from localcloud.sagemaker.metrics import final_metrics

    name, at = f"job-{i:06d}", 1.7e9 + i
    series = {m: [[at + j, random.random()] for j in range(points)] for m in METRICS}
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
        "TrainingJobStatus": "Completed",
        "CreationTime": at,
        "FinalMetricDataList": final_metrics(series),
        "_series": series,
    }


def _write_state(path: Path, size: int, points: int) -> None:
    from localcloud.store import Store

    store = Store(path)
    for i in range(size):
        store.put(KIND, f"job-{i:06d}", _job(i, points))
    store.close()


def _service(store: Any) -> Any:
    """This tree's CloudWatch, reading the jobs' metrics through SageMaker's view where it has one."""
    from localcloud.cloudwatch import CloudWatchService

    try:
        from localcloud.sagemaker.records import Records, TrainingJob, TrainingMetricsView
    except ImportError:  # an older tree: its CloudWatch read SageMaker's documents itself
        return CloudWatchService(store=store)
    return CloudWatchService(store=store, training=TrainingMetricsView(Records(store, KIND, TrainingJob)))


def _measure(db: str) -> dict[str, float]:
    """In the child: this tree's CloudWatch on a copy-free store (nothing is written)."""
    from localcloud.store import Store

    store = Store(Path(db))
    service = _service(store)
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        page = service.dispatch("ListMetrics", {})
        times.append(time.perf_counter() - start)
    assert page["Metrics"], "no metric listed"
    source, dims = service.source, {"EndpointName": "bench", "VariantName": "AllTraffic"}
    start = time.perf_counter()
    for i in range(RECORDS // 4):
        for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency"):
            source.record("AWS/SageMaker", name, dims, float(i))
    record_us = (time.perf_counter() - start) / RECORDS * 1e6
    store.close()
    return {"list_ms": statistics.median(times) * 1000, "record_us": record_us}


def _child(tree: Path, db: Path) -> dict[str, float]:
    paths = [str(tree / p) for p in ("training", "functions", ".")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(db)], env=env, capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trees", default=".", help="comma-separated source trees to compare")
    parser.add_argument("--sizes", default="200,2000")
    parser.add_argument("--points", type=int, default=1000, help="points per metric series")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure)))
        return
    random.seed(0)
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="cw-list-"))
    try:
        for size in sizes:
            _write_state(root / f"{size}.db", size, args.points)
        results: dict[tuple[Path, int], list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for size in sizes:
                for tree in trees:
                    results.setdefault((tree, size), []).append(_child(tree, root / f"{size}.db"))
        for size in sizes:
            row = []
            for tree in trees:
                runs = results[(tree, size)]
                ms = statistics.median(r["list_ms"] for r in runs)
                us = statistics.median(r["record_us"] for r in runs)
                row.append(f"{tree.name}: ListMetrics {ms:.1f} ms, record {us:.2f} us")
            print(f"{size} jobs x {len(METRICS)} metrics x {args.points} points | " + " | ".join(row))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
