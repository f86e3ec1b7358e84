"""InvokeEndpoint on localcloud vs the same inference in-process, side by side in one run.

A real model (train.py: resnet18, 64 px, a few steps) is trained on localcloud and deployed to an
endpoint (one ml.m5.large instance = one model-server process). On the same JPEG:

- latency, p50/p99 over N calls: in-process (the artifact's own inference.py handlers,
  input_fn -> predict_fn -> output_fn, loaded from the extracted model.tar.gz), raw HTTP POST to
  the edge (localcloud's own cost), and boto3 ``invoke_endpoint`` (adds the SDK's client cost);
- throughput: 8 concurrent boto3 clients for a fixed time vs in-process batched forward (one
  JSON request of 8 base64 images through the same handlers).

    .venv/bin/python bench/localcloud_invoke.py [--calls 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from classifier.sample_data import generate  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402

CLIENTS = 8
BLOCK = 25


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed(call: Callable[[], object], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def train_and_deploy(lc: LocalCloudProcess, data: Path) -> str:
    s3, sm = lc.client("s3"), lc.client("sagemaker")
    s3.create_bucket(Bucket="bench")
    for path in sorted(data.rglob("*.jpg")):
        s3.upload_file(str(path), "bench", f"data/{path.relative_to(data).as_posix()}")
    archive = data.parent / "source.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train.py", "inference.py", "classifier"):
            tar.add(
                REPO / "training" / name,
                arcname=name,
                filter=lambda i: None if "__pycache__" in i.name else i,
            )
    s3.upload_file(str(archive), "bench", "code/source.tar.gz")
    hps = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://bench/code/source.tar.gz"',
        "arch": '"resnet18"',
        "pretrained": '"none"',
        "image-size": "64",
        "epochs": "1",
        "max-steps-per-epoch": "2",
        "batch-size": "16",
        "num-workers": "0",
        "amp": "false",
    }
    sm.create_training_job(
        TrainingJobName="bench-model",
        HyperParameters=hps,
        RoleArn="arn:aws:iam::000000000000:role/bench",
        AlgorithmSpecification={"TrainingImage": "pytorch", "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": c,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://bench/data/{c}/"}},
            }
            for c in ("train", "valid", "test")
        ],
        OutputDataConfig={"S3OutputPath": "s3://bench/output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    while (job := sm.describe_training_job(TrainingJobName="bench-model"))[
        "TrainingJobStatus"
    ] == "InProgress":
        time.sleep(0.5)
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"training failed: {job.get('FailureReason')}")
    sm.create_model(
        ModelName="bench",
        ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
        PrimaryContainer={
            "Image": "pytorch-inference",
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bench",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="bench", WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    return str(job["ModelArtifacts"]["S3ModelArtifacts"])


def in_process_handlers(lc: LocalCloudProcess, artifact_uri: str, work: Path) -> Any:
    key = artifact_uri.removeprefix("s3://bench/")
    model_dir = work / "model"
    model_dir.mkdir()
    lc.client("s3").download_file("bench", key, str(work / "model.tar.gz"))
    with tarfile.open(work / "model.tar.gz") as tar:
        tar.extractall(model_dir, filter="data")
    sys.path.insert(0, str(model_dir / "code"))
    import inference  # the artifact's own handlers, as the model server loads them

    model = inference.model_fn(str(model_dir))

    def handle(body: bytes, content_type: str) -> bytes:
        return bytes(
            inference.output_fn(
                inference.predict_fn(inference.input_fn(body, content_type), model), "application/json"
            )
        )

    return handle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-invoke-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=16, valid_per_class=4, test_per_class=4, size=96
        )
        image = next((data / "test").rglob("*.jpg")).read_bytes()
        lc = LocalCloudProcess(root / "state").start()
        try:
            artifact = train_and_deploy(lc, data)
            handle = in_process_handlers(lc, artifact, root)
            runtime = lc.client("sagemaker-runtime")
            edge = http.client.HTTPConnection("127.0.0.1", lc.port)

            def raw_edge() -> None:
                edge.request("POST", "/endpoints/bench/invocations", image, {"Content-Type": "image/jpeg"})
                response = edge.getresponse()
                response.read()
                assert response.status == 200

            def boto3_invoke() -> None:
                runtime.invoke_endpoint(EndpointName="bench", Body=image, ContentType="image/jpeg")[
                    "Body"
                ].read()

            calls: dict[str, Callable[[], object]] = {
                "in-process handlers": lambda: handle(image, "image/jpeg"),
                "raw HTTP to the edge": raw_edge,
                "boto3 invoke_endpoint": boto3_invoke,
            }
            samples: dict[str, list[float]] = {label: [] for label in calls}
            for _ in range(20):  # warm-up
                for call in calls.values():
                    call()
            # Blocks of BLOCK calls per method, round-robin: load changes on a shared machine hit all
            # three alike, while each method runs back to back (two processes alternating call by call
            # would slow each other down through PyTorch's spinning OpenMP workers).
            for _ in range(max(1, args.calls // BLOCK)):
                for label, call in calls.items():
                    for _ in range(BLOCK):
                        start = time.perf_counter()
                        call()
                        samples[label].append(time.perf_counter() - start)
            results = {label: percentiles(values) for label, values in samples.items()}

            batch = json.dumps({"instances": [base64.b64encode(image).decode()] * CLIENTS}).encode()
            batched = timed(lambda: handle(batch, "application/json"), max(10, args.calls // 10), warmup=3)
            in_process_rate = CLIENTS / statistics.median(batched)

            done = [0] * CLIENTS
            stop = threading.Event()

            def client(index: int) -> None:
                own = lc.client("sagemaker-runtime")
                while not stop.is_set():
                    own.invoke_endpoint(EndpointName="bench", Body=image, ContentType="image/jpeg")[
                        "Body"
                    ].read()
                    done[index] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # warm-up
            before, start = sum(done), time.perf_counter()
            time.sleep(args.seconds)
            endpoint_rate = (sum(done) - before) / (time.perf_counter() - start)
            stop.set()
            for thread in threads:
                thread.join()
        finally:
            lc.stop()
    base50, base99 = results["in-process handlers"]
    print(
        f"InvokeEndpoint vs in-process (resnet18, 64 px, one JPEG, {args.calls} calls; {os.cpu_count()} CPUs)"
    )
    for label, (p50, p99) in results.items():
        extra = (
            ""
            if label.startswith("in-process")
            else f"   overhead p50 {p50 - base50:+.2f} ms (x{p50 / base50:.2f}), p99 {p99 - base99:+.2f} ms"
        )
        print(f"  {label:22s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms{extra}")
    print(
        f"  throughput: endpoint, {CLIENTS} concurrent boto3 clients {endpoint_rate:7.1f} img/s | in-process "
        f"batched forward (batch {CLIENTS}) {in_process_rate:7.1f} img/s | "
        f"ratio x{endpoint_rate / in_process_rate:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
