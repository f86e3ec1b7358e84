"""Cold start of each pipeline Lambda: a fresh interpreter that imports the handler and answers one event.

For each of the 8 handlers (the seven Step Functions steps and the HTTP API's predict), a new
Python process imports ``pipeline.<module>``, calls ``handler(event, context)`` once and leaves
with ``os._exit`` (a Lambda container lives on after its first invocation: tearing the interpreter
down is no part of a cold start; ``--teardown`` times a normal exit instead); its wall time and its
CPU time (user + system, steadier on a busy machine) are paired with a run of
``python -c "import boto3"`` ending the same way (the floor any boto3 Lambda pays) and the ratio
handler/boto3 is taken pair by pair; the median over the runs is reported.

The AWS calls go to a fake endpoint served by this script (``AWS_ENDPOINT_URL``): canned SageMaker
JSON answers by X-Amz-Target, S3 HeadObject = "already there", SageMaker Runtime answers a
prediction. So the figures cover import, client creation, validation, one request per call and
the powertools decorators, as on a Lambda cold start, without the network.
The events are made by running the pipeline in order once (each step's output feeds the next,
with the retrain marked completed), so every step takes its ordinary path.
The environment is a Lambda's (LAMBDA_TASK_ROOT, a trace header): ``--tracing on`` (the default,
as on AWS with active tracing) lets powertools' Tracer trace, to an X-Ray daemon address nothing
listens on; ``--tracing off`` sets POWERTOOLS_TRACE_DISABLED as localcloud does.
Inside that environment the handlers pause Python's garbage collector until their first invocation
ends (functions/pipeline/coldstart.py); the ``import boto3`` floor is a plain interpreter, as an
ordinary boto3 Lambda is (its own collections are ~15% of it).

    .venv/bin/python bench/lambda_cold_start.py [--runs 7] [--only predict] [--tracing off]
    .venv/bin/python bench/lambda_cold_start.py --importtime predict   # what the import spends
    .venv/bin/python bench/lambda_cold_start.py --profile check_status # where the whole start goes
    .venv/bin/python bench/lambda_cold_start.py --profile predict --callers 're/__init__.*compile'
    .venv/bin/python bench/lambda_cold_start.py --before /tmp/old/functions   # vs an older copy
    python3.12 bench/lambda_cold_start.py --layer .aws-sam/build/DependenciesLayer   # as deployed

``--source-only`` times copies of the function code without byte code, as the default Python
builder of ``sam build`` shipped it: on Lambda (/var/task read-only) each cold start compiles the
modules it imports from it. ``--built DIR`` adds a package as ``sam build`` makes it now
(functions/Makefile: the code with unchecked-hash .pyc for 3.12), timed as it is, in the same runs.
``--layer`` times the deployed configuration: Lambda's Python (3.12) with the built layer after the
function code on the path (``/var/task``, then ``/opt/python``), the floor's boto3 from the layer
too. ``sam build`` makes the layer, or ``make -C layers/dependencies build-DependenciesLayer
ARTIFACTS_DIR=DIR``; run the bench with that Python (here ``PYENV_VERSION=3.11.7:3.12.1 python3.12``).
The report gives the function package's size (the code sam build ships) and the layer's, unzipped.

Relies on the standard library only (http.server, subprocess); the handlers use boto3/powertools.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.xray import xray_touch_file_removed  # noqa: E402

# BENCH_FUNCTIONS=DIR measures another copy of functions/ (e.g. an older commit's, from git archive);
# --before DIR times such a copy side by side with this one, in the same runs.
FUNCTIONS = Path(os.environ.get("BENCH_FUNCTIONS") or REPO / "functions").resolve()
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
NOW = 1767225600.0
ORDER = (
    "start_tuning",
    "check_status",
    "pick_best",
    "start_training",
    "deploy_gate",
    "deploy_endpoint",
    "cleanup",
    "predict",
)
LAMBDA_ENV = {
    "BUCKET_NAME": "bench-bucket",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/bench-SageMakerExecutionRole",
    "TRAINING_IMAGE_URI": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-gpu-py312",
    "INFERENCE_IMAGE_URI": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
    "ENDPOINT_NAME": "dog-breeds",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "image-classifier-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "ImageClassifierPipeline",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "_X_AMZN_TRACE_ID": "Root=1-67a0b1c2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",  # discard: nothing listens, UDP segments are dropped
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}

# How a timed child ends once its work is done. A Lambda container lives on after its first
# invocation, so a cold start never pays for tearing the interpreter down (freeing every module
# and object: ~50 ms for boto3 alone, ~100 ms for a step); by default both the handler and the
# ``import boto3`` floor leave with os._exit, and --teardown times the interpreter's exit too.
END = """
if os.environ.get("BENCH_EXIT") == "fast":
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
"""
FLOOR = "import os, sys\nimport boto3\n" + END

# One fresh interpreter: import the handler, answer the event, keep the result. Standard library only
# besides the handler itself, so the figure is the handler's.
CHILD = (
    """
import importlib, json, os, sys
module = importlib.import_module("pipeline." + sys.argv[1])
class Context:
    function_name = "bench-" + sys.argv[1]
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "0c5b4b1e-0000-4000-8000-000000000001"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self):
        return 60000
with open(os.environ["BENCH_EVENT"]) as f:
    event = json.load(f)
result = module.handler(event, Context())
if os.environ.get("BENCH_RESULT"):
    with open(os.environ["BENCH_RESULT"], "w") as f:
        json.dump(result, f)
"""
    + END
)


# A 1x1 PNG: predict checks only the first bytes; the fake endpoint answers for the model.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def _training_job(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bench-bucket/models/{name}/output/model.tar.gz"},
        "OutputDataConfig": {"S3OutputPath": "s3://bench-bucket/models/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": NOW,
    }


def _tuning_job(name: str) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/{name}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": NOW,
        "TrainingJobStatusCounters": {"Completed": 8},
        "ObjectiveStatusCounters": {"Succeeded": 8},
        "BestTrainingJob": {
            "TrainingJobName": f"{name}-003-abcdef12",
            "TrainingJobArn": f"{ARN}:training-job/{name}-003-abcdef12",
            "CreationTime": NOW,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"lr": "0.003", "batch-size": '"64"', "epochs": "4"},
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "Type": "Maximize",
                "MetricName": "valid:accuracy",
                "Value": 0.91,
            },
        },
    }


def sagemaker_answer(operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A canned SageMaker answer: the ordinary, successful path of each step."""
    if operation == "DescribeHyperParameterTuningJob":
        return 200, _tuning_job(params["HyperParameterTuningJobName"])
    if operation == "DescribeTrainingJob":
        return 200, _training_job(params["TrainingJobName"])
    if operation == "DescribeEndpoint":  # no endpoint yet: the gate compares with nothing, deploy creates
        return 400, {"__type": "ValidationException", "message": "Could not find endpoint"}
    if operation.startswith("Create"):
        kind = operation.removeprefix("Create")
        return 200, {f"{kind}Arn": f"{ARN}:{kind.lower()}/bench"}
    return 200, {}


class FakeAws(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A buffered response, flushed once its body is in: written apart (http.server's default), the
    # body waited for the client's delayed ACK of the headers (Nagle's algorithm), ~40 ms of a
    # step's cold start that an AWS endpoint, answering in one piece, does not add.
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/x-amz-json-1.1") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_HEAD(self) -> None:  # S3 HeadObject: the training code is already published
        self._send(200, b"", "application/gzip")

    def do_PUT(self) -> None:
        self._body()
        self._send(200, b"", "application/xml")

    def do_POST(self) -> None:
        body = self._body()
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith("SageMaker."):
            status, answer = sagemaker_answer(target.removeprefix("SageMaker."), json.loads(body or b"{}"))
            self._send(status, json.dumps(answer).encode())
        elif re.fullmatch(r"/endpoints/[^/]+/invocations", self.path):
            answer = {"predictions": [{"label": "Golden retriever", "class_index": 52, "probability": 0.93}]}
            self._send(200, json.dumps(answer).encode(), "application/json")
        else:
            self._send(404, b'{"message": "not faked"}', "application/json")


def child_env(
    endpoint: str, tracing: bool, teardown: bool = False, layer: Path | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(LAMBDA_ENV)
    env["AWS_ENDPOINT_URL"] = endpoint
    if layer is not None:
        env["BENCH_LAYER"] = str(layer / "python")
    env["LAMBDA_TASK_ROOT"] = str(FUNCTIONS)
    env["PYTHONPATH"] = lambda_path(FUNCTIONS, env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    if not teardown:
        env["BENCH_EXIT"] = "fast"
    return env


def lambda_path(functions: Path, env: dict[str, str]) -> str:
    """Lambda's import path: the function's code, then the layer's ``python/`` (``/opt/python``) when
    --layer gave one (else the packages of the interpreter running the bench)."""
    return os.pathsep.join([str(functions), *([env["BENCH_LAYER"]] if env.get("BENCH_LAYER") else [])])


class Timing(NamedTuple):
    wall: float  # seconds, start to exit
    cpu: float  # the child's user + system seconds (the kernel's accounting): steadier on a busy machine


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> Timing:
    start = time.perf_counter()
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        stderr = child.stderr.read() if child.stderr else b""
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{argv[-1]} failed:\n{stderr.decode(errors='replace')[-3000:]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def run_child(
    name: str, event_file: Path, env: dict[str, str], result: Path | None = None, functions: Path = FUNCTIONS
) -> Timing:
    run_env = dict(env, BENCH_EVENT=str(event_file), AWS_LAMBDA_FUNCTION_NAME=f"bench-{name}")
    run_env["LAMBDA_TASK_ROOT"] = str(functions)
    run_env["PYTHONPATH"] = lambda_path(functions, env)
    if result is not None:
        run_env["BENCH_RESULT"] = str(result)
    return timed([sys.executable, "-c", CHILD, name], run_env, functions)


def run_boto3(env: dict[str, str]) -> Timing:
    return timed([sys.executable, "-c", FLOOR], env, FUNCTIONS)


def source_only(tree: Path, into: Path) -> Path:
    """A copy of a functions/ tree as /var/task holds it after ``sam build``: the sources without
    byte code (the training code's link followed). The children run it with PYTHONDONTWRITEBYTECODE,
    as Lambda, whose /var/task is read-only, compiles every module of it that a cold start imports."""
    shutil.copytree(tree, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def make_events(work: Path, env: dict[str, str]) -> dict[str, Path]:
    """Run the pipeline once in order; each step's output is the next one's event."""
    events: dict[str, Path] = {}

    def step(name: str, event: Any) -> Any:
        path = work / f"{name}.json"
        path.write_text(json.dumps(event))
        events.setdefault(name, path)
        result = work / f"{name}.out.json"
        run_child(name, path, env, result)
        return json.loads(result.read_text())

    state = step("start_tuning", {"input": {}, "executionName": "bench-run-1"})
    state = step("check_status", {"kind": "tuning", "state": state})
    state = step("pick_best", state)
    state = step("start_training", state)
    retrain = state["retrain"]
    retrain.update(
        status="Completed",
        modelArtifact=f"s3://bench-bucket/models/{retrain['name']}/output/model.tar.gz",
        evaluation={"top1Accuracy": 0.9, "testSet": "sha256:0123"},
    )
    state = step("deploy_gate", copy.deepcopy(state))
    step("deploy_endpoint", state)
    step("cleanup", {"executionName": "bench-run-1", "error": {"Error": "States.Timeout", "Cause": "x"}})
    step("predict", http_api_event())
    return events


def http_api_event() -> dict[str, Any]:
    """An HTTP API (payload 2.0) ``POST /predict`` with a PNG body."""
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "rawQueryString": "top_k=3",
        "queryStringParameters": {"top_k": "3"},
        "headers": {"content-type": "image/png", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": "POST",
                "path": "/predict",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench-request-1",
            "routeKey": "POST /predict",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }


def importtime(name: str, event: Path, env: dict[str, str], top: int) -> None:
    """The modules the handler's import spends most on (cumulative microseconds, -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CHILD, name],
        env=dict(env, BENCH_EVENT=str(event), AWS_LAMBDA_FUNCTION_NAME=f"bench-{name}"),
        cwd=FUNCTIONS,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()[1:]))
    total = sum(cumulative for cumulative, module in rows if not module.startswith(" "))
    print(f"{name}: imports {total / 1e3:.0f} ms in all (top-level modules' cumulative time)")
    for cumulative, module in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative / 1e3:8.1f} ms  {module}")


def profile(name: str, event: Path, env: dict[str, str], top: int, work: Path, callers: str | None) -> None:
    """Where the whole cold start goes (cProfile of import + one event, by cumulative time);
    with ``callers``, who calls the functions matching that regex (e.g. ``re.py.*compile``)."""
    script, stats_file = work / "child.py", work / "child.prof"
    script.write_text(CHILD)
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats_file), str(script), name],
        env=dict(env, BENCH_EVENT=str(event), AWS_LAMBDA_FUNCTION_NAME=f"bench-{name}", BENCH_EXIT="exit"),
        cwd=FUNCTIONS,
        capture_output=True,
        check=True,
    )
    stats = pstats.Stats(str(stats_file)).sort_stats("cumulative")
    if callers:
        stats.print_callers(callers)
    else:
        stats.print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", action="append", choices=ORDER, help="one handler (repeatable)")
    parser.add_argument("--tracing", choices=("on", "off"), default="on")
    parser.add_argument("--importtime", choices=ORDER, help="print the handler's costliest imports")
    parser.add_argument("--profile", choices=ORDER, help="print the handler's cProfile by cumulative time")
    parser.add_argument("--callers", metavar="REGEX", help="with --profile: who calls these functions")
    parser.add_argument("--teardown", action="store_true", help="time the interpreter's exit too")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--before", type=Path, help="another functions/ folder, timed in the same runs")
    parser.add_argument(
        "--layer",
        type=Path,
        help="a built DependenciesLayer (python/ on the path, as /opt/python): run with its Python (3.12)",
    )
    parser.add_argument(
        "--built",
        type=Path,
        help="a function package as sam build made it (.aws-sam/build/StartTuningFunction), timed as is",
    )
    parser.add_argument(
        "--source-only",
        action="store_true",
        help="time copies of the function code without byte code, compiled at each start (as on Lambda)",
    )
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAws)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = child_env(
        f"http://127.0.0.1:{server.server_address[1]}", args.tracing == "on", args.teardown, args.layer
    )
    try:
        with tempfile.TemporaryDirectory() as tmp, xray_touch_file_removed():
            events = make_events(Path(tmp), env)
            if args.importtime:
                importtime(args.importtime, events[args.importtime], env, args.top)
                return
            if args.profile:
                profile(args.profile, events[args.profile], env, args.top, Path(tmp), args.callers)
                return
            names = args.only or list(ORDER)
            trees = {"after": FUNCTIONS, **({"before": args.before.resolve()} if args.before else {})}
            if args.source_only:
                trees = {label: source_only(tree, Path(tmp) / label) for label, tree in trees.items()}
            if args.built:  # a sam-built package: timed as it was built (its byte code included)
                trees["built"] = args.built.resolve()
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            samples: dict[tuple[str, str], list[Timing]] = {}
            for _ in range(args.runs):
                for name in names:
                    for label, tree in trees.items():
                        samples.setdefault((label, name), []).append(
                            run_child(name, events[name], env, None, tree)
                        )
                    samples.setdefault(("boto3", name), []).append(run_boto3(env))
    finally:
        server.shutdown()
    report(samples, names, list(trees), args)


def tree_bytes(root: Path, skip: tuple[str, ...] = ()) -> int:
    """Bytes of the files under ``root`` (symlinks followed), leaving out folders named in ``skip``."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in skip]
        total += sum((Path(dirpath) / name).stat().st_size for name in filenames)
    return total


def package_bytes(functions: Path) -> int:
    """A function package as sam build makes it: the ``pipeline`` package and the training code
    (``.training-code``), without byte-code caches (tests/aws/test_aws_sam.py checks the real build)."""
    skip = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
    return sum(tree_bytes(functions / entry, skip) for entry in ("pipeline", ".training-code"))


def report(
    samples: dict[tuple[str, str], list[Timing]], names: list[str], labels: list[str], args: Any
) -> None:
    """Median ms and the median of the paired ratios to ``import boto3``, wall and CPU."""
    exit_note = (
        "interpreter exit included" if args.teardown else "to the end of the work (no interpreter exit)"
    )
    print(
        f"tracing {args.tracing}; {args.runs} runs; {exit_note}; median ms; "
        "(ratio) = median of paired ratios to boto3"
    )
    packages = f"layer {args.layer}" if args.layer else "the packages of the interpreter running the bench"
    code = "sources only, compiled at each start (--source-only)" if args.source_only else "with byte code"
    print(f"  Python {sys.version.split()[0]}, {packages}; function code {code}")
    for label in labels:
        tree = {"after": FUNCTIONS, "before": args.before, "built": args.built}[label]
        size = tree_bytes(tree) if label == "built" else package_bytes(tree)
        print(f"  {label}: {tree} (function package {size / 1024:.0f} KB unzipped)")
    if args.layer:
        print(f"  layer: {tree_bytes(args.layer) / 2**20:.1f} MB unzipped")
    boto3_all = [t for name in names for t in samples[("boto3", name)]]
    print(
        f"{'import boto3':16s} wall {statistics.median(t.wall for t in boto3_all) * 1e3:6.0f}"
        f"  cpu {statistics.median(t.cpu for t in boto3_all) * 1e3:6.0f}"
    )
    for name in names:
        base = samples[("boto3", name)]
        for label in labels:
            runs = samples[(label, name)]
            wall_ratio = statistics.median(t.wall / b.wall for t, b in zip(runs, base, strict=True))
            cpu_ratio = statistics.median(t.cpu / b.cpu for t, b in zip(runs, base, strict=True))
            print(
                f"{name:16s} {label:6s} wall {statistics.median(t.wall for t in runs) * 1e3:6.0f} "
                f"({wall_ratio:.2f}x)  cpu {statistics.median(t.cpu for t in runs) * 1e3:6.0f} "
                f"({cpu_ratio:.2f}x)"
            )


if __name__ == "__main__":
    main()
