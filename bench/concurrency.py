"""Concurrent clients on the HTTP API (POST /predict) and on InvokeEndpoint, on one localcloud.

The real template runs on ``localcloud up``; a real model (train.py: resnet18, 64 px, a few steps,
trained by bench/localcloud_invoke.py's helper) is deployed as the endpoint the API serves. Then,
for 8 and 32 client threads (each with its own keep-alive connection) sending a bounded number of
requests with the same JPEG:

- latency p50/p99 of the answered requests, requests per second;
- errors by HTTP status (the API's throttling and the predict function's reserved concurrency
  answer 429/503 by design: they show up here, not as crashes) and connection errors;
- RSS of the localcloud server and of every process under it (model servers, Lambda workers)
  before and after each run.

    .venv/bin/python bench/concurrency.py [--requests-per-client 25]

Figures from a shared machine are noisy: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO), str(REPO / "bench")]

from localcloud_invoke import train_and_deploy  # noqa: E402

from classifier.sample_data import generate  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402

ENDPOINT = "dog-breeds"  # the template's EndpointName default: the endpoint POST /predict serves
CONCURRENCY = (8, 32)


def tree_rss(pid: int) -> tuple[float, float]:
    """RSS in MiB of the server alone and of the server plus every process under it."""
    server = psutil.Process(pid)
    own = server.memory_info().rss
    total = own
    for child in server.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return own / 2**20, total / 2**20


def run_clients(port: int, path: str, body: bytes, clients: int, per_client: int) -> dict[str, object]:
    latencies: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "image/jpeg"})
                response = connection.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - start
            with lock:
                statuses[status] += 1
                if status == "200":
                    latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered) * 1000 if ordered else float("nan"),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else float("nan"),
        "rate": len(ordered) / wall,
        "statuses": dict(sorted(statuses.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-client", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-concurrency-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=16, valid_per_class=4, test_per_class=4, size=96
        )
        image = next((data / "test").rglob("*.jpg")).read_bytes()
        lc = LocalCloudProcess(root / "state", template=REPO / "template.yaml").start()
        rows = []
        try:
            train_and_deploy(lc, data)  # endpoint "bench" on config "bench"
            sm = lc.client("sagemaker")
            sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="bench")
            sm.get_waiter("endpoint_in_service").wait(
                EndpointName=ENDPOINT, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
            targets = {
                "HTTP API POST /predict": (lc.api_port, "/predict"),
                "InvokeEndpoint (edge)": (lc.port, f"/endpoints/{ENDPOINT}/invocations"),
            }
            for port, path in targets.values():  # warm-up: Lambda workers, model server
                run_clients(port, path, image, 2, 5)
            for label, (port, path) in targets.items():
                for clients in CONCURRENCY:
                    before = tree_rss(lc.pid)
                    result = run_clients(port, path, image, clients, args.requests_per_client)
                    after = tree_rss(lc.pid)
                    rows.append((label, clients, result, before, after))
        finally:
            lc.stop()
    print(
        f"Concurrent clients, {args.requests_per_client} requests each, one JPEG (resnet18, 64 px); "
        f"{os.cpu_count()} CPUs, shared machine: noisy"
    )
    for label, clients, result, before, after in rows:
        print(
            f"  {label:24s} {clients:2d} clients  p50 {result['p50']:8.1f} ms  p99 {result['p99']:8.1f} ms  "
            f"{result['rate']:6.1f} ok/s  statuses {result['statuses']}  "
            f"RSS server {before[0]:.0f}->{after[0]:.0f} MiB, tree {before[1]:.0f}->{after[1]:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
