"""POST /predict through localcloud's HTTP API vs InvokeEndpoint on the same image, warm, side by side.

``localcloud up`` deploys the application's template.yaml (HTTP API, the Predict Lambda); a tiny
resnet18 (64 px) trained on localcloud is deployed to the stack's endpoint (``dog-breeds``) with
DeployEndpoint's default batching variables. On one JPEG, in interleaved blocks after a warm-up
(the Lambda worker warm, connections kept alive), p50/p99 of:

- ``invoke_endpoint`` (boto3 sagemaker-runtime, as a client calls the endpoint directly);
- raw HTTP POST to the edge's ``/endpoints/dog-breeds/invocations`` (no SDK cost);
- ``POST /predict`` on the HTTP API (keep-alive http.client): API -> Lambda -> boto3 -> endpoint.

Goal: /predict p50 minus InvokeEndpoint p50 <= 3 ms.

    .venv/bin/python bench/api_path.py [--calls 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from localcloud_invoke import deploy, interleaved, load_note, percentiles, raw_post, train  # noqa: E402

from classifier.sample_data import generate  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402

ENDPOINT = "dog-breeds"  # template.yaml's EndpointName default: the Predict Lambda's ENDPOINT_NAME
BATCHING = {"SAGEMAKER_TS_BATCH_SIZE": "8", "SAGEMAKER_TS_MAX_BATCH_DELAY": "10"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-api-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=16, valid_per_class=4, test_per_class=4, size=96
        )
        image = next((data / "test").rglob("*.jpg")).read_bytes()
        lc = LocalCloudProcess(
            root / "state", template=REPO / "template.yaml", env={"LOCALCLOUD_STACK_NAME": "pipeline"}
        ).start()
        try:
            deploy(lc, train(lc, data), {ENDPOINT: BATCHING})
            runtime = lc.client("sagemaker-runtime")

            def invoke() -> object:
                return runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=image, ContentType="image/jpeg")[
                    "Body"
                ].read()

            calls: dict[str, Callable[[], object]] = {
                "invoke_endpoint (boto3)": invoke,
                "raw POST to the edge": raw_post(lc.port, f"/endpoints/{ENDPOINT}/invocations", image),
                "POST /predict (HTTP API)": raw_post(lc.api_port, "/predict", image),
            }
            before = load_note()
            latency = {
                label: percentiles(values) for label, values in interleaved(calls, args.calls, 30).items()
            }
            after = load_note()
        finally:
            lc.stop()
    base50 = latency["invoke_endpoint (boto3)"][0]
    print(f"POST /predict vs InvokeEndpoint (resnet18, 64 px, one JPEG, warm, {args.calls} calls per row)")
    print(f"  machine: before {before}; after {after}")
    for label, (p50, p99) in latency.items():
        print(
            f"  {label:26s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
            f"   p50 vs InvokeEndpoint {p50 - base50:+6.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
