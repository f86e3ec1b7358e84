"""Training jobs sharing the machine: one train.py alone vs two at once, libgomp's default spin vs
localcloud's brief spin (``GOMP_SPINCOUNT=1000``, localcloud/sagemaker/openmp.py).

A tuning job with MaxParallelTrainingJobs > 1 runs its trainings side by side on this machine,
each with PyTorch's intra-op threads on every core. By default each idle OpenMP thread spins for
~300,000 pauses after every parallel region, on the cores the other job is computing on; localcloud
starts its jobs with a brief spin unless their Environment (or the shell) chose a policy.

Each round runs, in this order, 1 job with the default, 1 with the brief spin, 2 at once with the
default, 2 at once with the brief spin: the real train.py (resnet18 from scratch, 64 px, 2 epochs
of a 4-class sample dataset, batch 32) started as the SageMaker training toolkit starts it
(tests/support/train_job.py). Reported: the wall time from start to the last job's exit (PyTorch's
import included), median over the rounds, and the ratio default / brief for each count.

``--distributed`` times instead one job on 2 instances as localcloud runs InstanceCount 2 on this
machine: 2 train.py processes in one torch.distributed (gloo) group, each started with torchrun's
variables (RANK, WORLD_SIZE, MASTER_ADDR/PORT), brief spin, with PyTorch's default threads (every
core, what localcloud gave each process before) against ``OMP_NUM_THREADS = cores // 2`` (what it
gives now, as each SageMaker instance has cores of its own).

    .venv/bin/python bench/parallel_training.py [--rounds 3] [--epochs 2] [--distributed]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from classifier.sample_data import generate  # noqa: E402
from localcloud.sagemaker.openmp import brief_openmp_spin  # noqa: E402
from support.train_job import Job  # noqa: E402

POLICIES = ("default", "brief")


def start(root: Path, data: Path, hyperparameters: dict[str, str], policy: str) -> subprocess.Popen[bytes]:
    job = Job(root=Path(tempfile.mkdtemp(dir=root)), data=data)
    env = job.env(hyperparameters)
    env.pop("GOMP_SPINCOUNT", None)
    env.pop("OMP_WAIT_POLICY", None)
    if policy == "brief":
        brief_openmp_spin(env)
    return subprocess.Popen(
        job.command(hyperparameters), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def run(root: Path, data: Path, hyperparameters: dict[str, str], jobs: int, policy: str) -> float:
    began = time.perf_counter()
    procs = [start(root, data, hyperparameters, policy) for _ in range(jobs)]
    codes = [proc.wait() for proc in procs]
    if any(codes):
        raise SystemExit(f"train.py failed: exit codes {codes}")
    return time.perf_counter() - began


def run_distributed(root: Path, data: Path, hyperparameters: dict[str, str], threads: int | None) -> float:
    """One job of 2 ranks on this machine; ``threads`` per rank (None: PyTorch's default)."""
    job = Job(root=Path(tempfile.mkdtemp(dir=root)), data=data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.perf_counter()
    procs = []
    for rank in range(2):
        env = job.env(hyperparameters)
        brief_openmp_spin(env)
        env.pop("OMP_NUM_THREADS", None)
        if threads is not None:
            env["OMP_NUM_THREADS"] = str(threads)
        env.update(
            RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE="2", LOCAL_WORLD_SIZE="1", GROUP_RANK=str(rank),
            MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), SM_CURRENT_HOST=f"algo-{rank + 1}",
            SM_HOSTS='["algo-1", "algo-2"]',
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                job.command(hyperparameters), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    codes = [proc.wait() for proc in procs]
    if any(codes):
        raise SystemExit(f"train.py failed: exit codes {codes}")
    return time.perf_counter() - began


def distributed(root: Path, data: Path, hyperparameters: dict[str, str], rounds: int) -> None:
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    settings = {"every core": None, f"{share} (cores // 2)": share}
    times: dict[str, list[float]] = {}
    for round_ in range(1, rounds + 1):
        for label, threads in settings.items():
            seconds = run_distributed(root, data, hyperparameters, threads)
            times.setdefault(label, []).append(seconds)
            print(f"round {round_}: 2 ranks, threads per rank {label}: {seconds:.1f} s", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    print("\nthreads per rank | wall (median of rounds)")
    for label, median in medians.items():
        print(f"{label:>16} | {median:.1f} s")
    every, shared = medians.values()
    print(f"every core / cores // 2: {every / shared:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--distributed", action="store_true", help="one job on 2 instances instead")
    args = parser.parse_args()
    hyperparameters = {
        "arch": "resnet18",
        "pretrained": "none",
        "image-size": "64",
        "epochs": str(args.epochs),
        "lr": "0.001",
        "batch-size": "32",
    }
    times: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="parallel-training-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=48, valid_per_class=8, test_per_class=8, size=64
        )
        print(f"cores: {len(os.sched_getaffinity(0))}, load average at start: {os.getloadavg()[0]:.1f}")
        if args.distributed:
            distributed(root, data, hyperparameters, args.rounds)
            return
        for round_ in range(1, args.rounds + 1):
            for jobs in (1, 2):
                for policy in POLICIES:
                    seconds = run(root, data, hyperparameters, jobs, policy)
                    times.setdefault((jobs, policy), []).append(seconds)
                    print(f"round {round_}: {jobs} job(s), {policy} spin: {seconds:.1f} s", flush=True)
    print("\njobs at once | default spin | brief spin | default / brief (median of rounds)")
    for jobs in (1, 2):
        default = statistics.median(times[(jobs, "default")])
        brief = statistics.median(times[(jobs, "brief")])
        print(f"{jobs:>12} | {default:>10.1f} s | {brief:>8.1f} s | {default / brief:.2f}x")


if __name__ == "__main__":
    main()
