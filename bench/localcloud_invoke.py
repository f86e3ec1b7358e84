"""InvokeEndpoint on localcloud vs the same inference in-process, side by side in one run, with
the hops apart: which part of the overhead is localcloud's and which is the client's.

A real model (train.py: resnet18, 64 px, a few steps) is trained on localcloud once and deployed
to three endpoints (one ml.m5.large instance each) that differ only in the model's batching
variables (docs/localcloud.md#batched-serving):

- ``unbatched``: batch size 1 and 1 worker (every request its own forward pass, the old behaviour);
- ``batch8-w1``: ``SAGEMAKER_TS_BATCH_SIZE=8``, ``_MAX_BATCH_DELAY=10``, 1 worker;
- ``batch8-w2``: DeployEndpoint's defaults on ml.m5.large: the same with 2 worker processes (one per
  vCPU; 1 intra-op thread each for a batch, every core for a batch of one).

On the same JPEG it measures

- latency at 1 client, p50/p99 over N calls, in interleaved blocks so load changes hit all alike:
  in-process (the artifact's own inference.py handlers, input_fn -> predict_fn -> output_fn,
  loaded from the extracted model.tar.gz) and, on each endpoint, a raw HTTP POST to its model
  server (``/invocations``, no edge), a raw HTTP POST to the edge
  (``/endpoints/NAME/invocations``, no SDK) and boto3 ``invoke_endpoint``;
  goal: p50 overhead of boto3 over in-process <= 2 ms;
- the SDK's own per-call cost, in the same blocks: boto3 ``invoke_endpoint`` vs a raw HTTP POST
  of the same body to a trivial HTTP server in this process that answers at once; the
  difference is what botocore costs per call whatever the server (serialising, signing, parsing);
- the breakdown for each endpoint: model server (its HTTP + batching path) = model server raw -
  in-process; edge = edge raw - model server raw; client = boto3 - edge raw;
- the same breakdown on a fourth endpoint, ``noop``, whose model does no work (``NOOP_PROGRAM``:
  the body's length back as JSON; DeployEndpoint's defaults): what serving itself costs per call,
  measured without a 13 ms forward pass whose variance on a shared machine (about 1 ms between
  rows) hides differences of that size;
- throughput: 8 concurrent boto3 clients for a fixed time on each endpoint vs in-process batched
  forward (one JSON request of 8 base64 images through the same handlers); goal: >= 0.8x. The
  clients run twice: as 8 threads of this process (one client program; their boto3 calls take
  turns on its GIL) and as 8 processes (separate client programs); either way their CPU is spent
  on the cores the server uses, so their client cost counts. Beside each rate, the CPU time per
  image each party spent over the same window (psutil): the clients, the edge (the localcloud
  process) and the endpoint's model server with its workers; the in-process forward's own CPU per
  image; and the cores busy on average: on a small machine the clients and the edge take cores
  the forward needs, and what is left idle is time the batches wait for their clients;
- the same rate at fewer client threads (``--few-clients``, default 2 and 4) on each endpoint: how
  the worker count serves low concurrency (two clients on two workers each send lone requests).

    .venv/bin/python bench/localcloud_invoke.py [--calls 300] [--seconds 10] [--few-clients 2,4]

The in-process side runs with the OpenMP wait policy the model servers get
(``GOMP_SPINCOUNT=1000`` unless the environment sets a policy: ``localcloud.sagemaker.openmp``), so
the comparison is of the invoke path, not of two OpenMP settings: with libgomp's default spinning a
2-thread forward crawls once other jobs load the machine (docs/localcloud.md#batched-serving).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import http.server
import json
import multiprocessing
import os
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "training"), str(REPO)]

from classifier.sample_data import generate  # noqa: E402
from localcloud.sagemaker.openmp import brief_openmp_spin  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402
from support.sagemaker_jobs import tarball  # noqa: E402

CLIENTS = 8
CLIENT_KINDS = ("threads", "processes")  # of one client program / one program each
BLOCK = 25
ROLE = "arn:aws:iam::000000000000:role/bench"
ENDPOINTS: dict[str, dict[str, str]] = {
    "unbatched": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
    "batch8-w1": {"SAGEMAKER_TS_BATCH_SIZE": "8", "SAGEMAKER_TS_MAX_BATCH_DELAY": "10"},
    "batch8-w2": {
        "SAGEMAKER_TS_BATCH_SIZE": "8",
        "SAGEMAKER_TS_MAX_BATCH_DELAY": "10",
        "SAGEMAKER_TS_MIN_WORKERS": "2",
        "SAGEMAKER_TS_MAX_WORKERS": "2",
    },
}
NOOP = "noop"  # an endpoint whose model does no work: what serving costs without a forward pass
NOOP_PROGRAM = """
import json
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return len(body)
def predict_fn(data, model):
    return data
def output_fn(prediction, accept):
    return json.dumps({"bytes": prediction}), "application/json"
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def interleaved(calls: dict[str, Callable[[], object]], n: int, warmup: int = 20) -> dict[str, list[float]]:
    """Latency samples per call, in blocks of BLOCK calls round-robin (each method runs back to back:
    two processes alternating call by call would slow each other through PyTorch's spinning OpenMP
    workers, while load changes on a shared machine still hit all of them alike)."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(max(1, n // BLOCK)):
        for label, call in calls.items():
            for _ in range(BLOCK):
                start = time.perf_counter()
                call()
                samples[label].append(time.perf_counter() - start)
    return samples


def train(lc: LocalCloudProcess, data: Path) -> str:
    """A tiny resnet18 trained on localcloud; its model.tar.gz URI."""
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
        RoleArn=ROLE,
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
    return str(job["ModelArtifacts"]["S3ModelArtifacts"])


def deploy(lc: LocalCloudProcess, artifact: str, endpoints: dict[str, dict[str, str]]) -> None:
    """One endpoint per entry (name -> extra model Environment), all InService on return."""
    sm = lc.client("sagemaker")
    for name, env in endpoints.items():
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "pytorch-inference",
                "ModelDataUrl": artifact,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    **env,
                },
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in endpoints:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )


def deploy_noop(lc: LocalCloudProcess) -> Callable[[bytes, str], bytes]:
    """The no-op endpoint (NOOP_PROGRAM, DeployEndpoint's defaults otherwise), InService on return,
    and the same program's handlers in this process: ``handle(body, content_type) -> bytes``."""
    archive = tarball({"code/inference.py": NOOP_PROGRAM.encode()})
    lc.client("s3").put_object(Bucket="bench", Key="noop/model.tar.gz", Body=archive)
    deploy(lc, "s3://bench/noop/model.tar.gz", {NOOP: {}})
    program: dict[str, Any] = {}
    exec(compile(NOOP_PROGRAM, "noop-inference.py", "exec"), program)

    def handle(body: bytes, content_type: str) -> bytes:
        prediction = program["predict_fn"](program["input_fn"](body, content_type), None)
        return str(program["output_fn"](prediction, "application/json")[0]).encode()

    return handle


def in_process_handlers(lc: LocalCloudProcess, artifact_uri: str, work: Path) -> Any:
    """The artifact's own handlers in this process: ``handle(body, content_type) -> bytes``."""
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


@dataclass
class Throughput:
    """One endpoint's 8-client run: images per second and the CPU each party spent per image (ms)."""

    rate: float
    clients_cpu: float  # this process: the boto3 clients (signing, sending, parsing)
    edge_cpu: float  # the localcloud process: the edge and the SageMaker Runtime route
    server_cpu: float  # the endpoint's model server and its workers (HTTP, batching, forward)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _client_loop(index: int, call: Callable[[], object], done: Any, stop: Any) -> None:
    while not stop.is_set():
        call()
        done[index] += 1


def _client_process(edge_url: str, endpoint: str, image: bytes, index: int, done: Any, stop: Any) -> None:
    """One client in a process of its own (spawned): a boto3 client made as LocalCloudProcess makes it."""
    with mock.patch.object(LocalCloudProcess, "edge_url", edge_url):
        runtime = LocalCloudProcess(Path()).client("sagemaker-runtime")
    _client_loop(index, boto_invoke(runtime, endpoint, image), done, stop)


def throughput(
    lc: LocalCloudProcess,
    endpoint: str,
    image: bytes,
    seconds: float,
    *,
    processes: bool = False,
    clients: int = CLIENTS,
) -> Throughput:
    """Images per second answered to ``clients`` concurrent boto3 clients (after 1 s of warm-up), and
    the CPU time per image of the clients, the edge and the endpoint's model server over the same
    window: where the machine's cores go when clients and server share them.

    The clients are threads of this process (one Python client program: its boto3 calls take turns
    on the GIL), or with ``processes`` one process each, as separate client programs are."""
    parties = {"edge": [psutil.Process(lc.pid)], "server": model_server_family(lc, endpoint)}
    workers: list[Any]
    if processes:
        context = multiprocessing.get_context("spawn")
        done: Any = context.Array("q", clients, lock=False)
        stop: Any = context.Event()
        workers = [
            context.Process(target=_client_process, args=(lc.edge_url, endpoint, image, i, done, stop))
            for i in range(clients)
        ]
    else:
        done, stop = [0] * clients, threading.Event()
        workers = [
            threading.Thread(
                target=_client_loop,
                args=(i, boto_invoke(lc.client("sagemaker-runtime"), endpoint, image), done, stop),
            )
            for i in range(clients)
        ]
    for worker in workers:
        worker.start()
    warm = time.monotonic() + 60
    while sum(done) < 2 * clients and time.monotonic() < warm:  # every client past its first calls
        time.sleep(0.1)
    time.sleep(1.0)
    parties["clients"] = [psutil.Process(w.pid) for w in workers] if processes else [psutil.Process()]
    cpu_before = {party: cpu_seconds(procs) for party, procs in parties.items()}
    before, start = sum(done), time.perf_counter()
    time.sleep(seconds)
    images = sum(done) - before
    elapsed = time.perf_counter() - start
    cpu = {party: cpu_seconds(procs) - cpu_before[party] for party, procs in parties.items()}
    stop.set()
    for worker in workers:
        worker.join()
    per_image = {party: 1000 * used / max(images, 1) for party, used in cpu.items()}
    return Throughput(images / elapsed, per_image["clients"], per_image["edge"], per_image["server"])


def model_server_family(lc: LocalCloudProcess, endpoint: str) -> list[psutil.Process]:
    """``endpoint``'s model server process and its workers (found by its log file, which names it)."""
    marker = f"/aws/sagemaker/Endpoints/{endpoint}/"
    for process in psutil.Process(lc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(marker in f.path for f in process.open_files()):
                return [process, *process.children(recursive=True)]
    raise RuntimeError(f"no model server found for endpoint {endpoint}")


def model_server_port(lc: LocalCloudProcess, endpoint: str) -> int:
    """The port ``endpoint``'s model server listens on (its workers hold the socket)."""
    for member in model_server_family(lc, endpoint):
        with contextlib.suppress(psutil.Error):
            for conn in member.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    return int(conn.laddr.port)
    raise RuntimeError(f"no model server found for endpoint {endpoint}")


def raw_post(port: int, path: str, body: bytes) -> Callable[[], object]:
    """A POST of ``body`` as image/jpeg on one kept-alive connection, as plain as a client gets
    (once more on a fresh connection when the server had closed the kept-alive one, as the SDK
    does: the edge closes a connection idle for 30 s, which a slow warm-up round can reach)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def exchange() -> http.client.HTTPResponse:
        conn.request("POST", path, body, {"Content-Type": "image/jpeg"})
        return conn.getresponse()

    def call() -> object:
        try:
            response = exchange()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()
            response = exchange()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
        return data

    return call


def boto_invoke(runtime: Any, endpoint: str, image: bytes) -> Callable[[], object]:
    """One boto3 ``invoke_endpoint`` of ``image``, its body read."""

    def call() -> object:
        return runtime.invoke_endpoint(EndpointName=endpoint, Body=image, ContentType="image/jpeg")[
            "Body"
        ].read()

    return call


class _Instant(http.server.BaseHTTPRequestHandler):
    """Answers every POST at once with a small JSON body and the edge's response headers (the
    SDK-cost reference server)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"predictions": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def sdk_reference(
    lc: LocalCloudProcess, image: bytes
) -> tuple[http.server.ThreadingHTTPServer, dict[str, Callable[[], object]]]:
    """A trivial server in this process and the two ways to call it: raw HTTP and boto3 (a client
    made as the endpoints' is, only its endpoint URL differs)."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Instant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with mock.patch.object(LocalCloudProcess, "edge_url", f"http://127.0.0.1:{port}"):
        client = lc.client("sagemaker-runtime")  # the endpoints' client, but for its URL
    calls: dict[str, Callable[[], object]] = {
        "trivial raw": raw_post(port, "/endpoints/x/invocations", image),
        "trivial boto3": boto_invoke(client, "x", image),
    }
    return server, calls


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


HOPS = ("model server", "edge raw", "boto3")


def latency_calls(
    lc: LocalCloudProcess,
    handle: Any,
    noop: Callable[[bytes, str], bytes],
    image: bytes,
    sdk: dict[str, Callable[[], object]],
) -> dict[str, Callable[[], object]]:
    """Every row of the latency table: in-process, each endpoint's three hops (the no-op endpoint's
    with its own in-process row), the SDK reference."""
    runtime = lc.client("sagemaker-runtime")
    calls: dict[str, Callable[[], object]] = {
        "in-process": lambda: handle(image, "image/jpeg"),
        f"{NOOP} in-process": lambda: noop(image, "image/jpeg"),
    }
    for name in [*ENDPOINTS, NOOP]:
        calls[f"{name} model server"] = raw_post(model_server_port(lc, name), "/invocations", image)
        calls[f"{name} edge raw"] = raw_post(lc.port, f"/endpoints/{name}/invocations", image)
        calls[f"{name} boto3"] = boto_invoke(runtime, name, image)
    return calls | sdk


def report(
    calls: int,
    latency: dict[str, tuple[float, float]],
    in_process_rate: float,
    in_process_cpu: float,
    rates: dict[tuple[str, str], Throughput],
    loads: tuple[str, str],
    few: dict[tuple[str, int], Throughput],
) -> None:
    base50, base99 = latency["in-process"]
    print(f"InvokeEndpoint vs in-process (resnet18, 64 px, one JPEG, {calls} calls per row, 1 client)")
    print(f"  machine: before {loads[0]}; after {loads[1]}")
    policy = os.environ.get("OMP_WAIT_POLICY") or f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}"
    threads = os.environ.get("OMP_NUM_THREADS", "(unset)")
    print(f"  OpenMP: OMP_NUM_THREADS={threads}, in-process wait policy {policy}")
    print(f"  in-process  p50 {base50:.2f} ms  p99 {base99:.2f} ms   {CLIENTS}-client batched forward")
    print(f"  {'':12s}" + "".join(f"{hop + ' p50/p99 (over)':>28s}" for hop in HOPS))
    for name in ENDPOINTS:
        cells = []
        for hop in HOPS:
            p50, p99 = latency[f"{name} {hop}"]
            cells.append(f"{p50:7.2f} /{p99:7.2f} ({p50 - base50:+5.2f})")
        print(f"  {name:12s}" + "".join(f"{cell:>28s}" for cell in cells))
    sdk_raw, sdk_boto = latency["trivial raw"][0], latency["trivial boto3"][0]
    print(
        f"  trivial local server: raw {sdk_raw:.2f} ms, boto3 {sdk_boto:.2f} ms"
        f" (the SDK's own cost per call: +{sdk_boto - sdk_raw:.2f})"
    )
    print("  p50 overhead over in-process, by hop (ms):")
    print(f"  {'':12s} {'model server':>12s} {'edge':>6s} {'localcloud':>10s} {'client':>7s} {'total':>6s}")
    for name in ENDPOINTS:
        server, edge, boto = (latency[f"{name} {hop}"][0] for hop in HOPS)
        print(
            f"  {name:12s} {server - base50:12.2f} {edge - server:6.2f} {edge - base50:10.2f}"
            f" {boto - edge:7.2f} {boto - base50:6.2f}"
        )
    base = latency[f"{NOOP} in-process"][0]
    server, edge, boto = (latency[f"{NOOP} {hop}"][0] for hop in HOPS)
    print(
        f"  the no-op model (serving without a forward pass; in-process {base:.3f} ms):"
        f" model server {server - base:.2f}, edge {edge - server:.2f}, client {boto - edge:.2f},"
        f" total {boto - base:.2f} ms"
    )
    print(
        f"  {CLIENTS} concurrent boto3 clients vs the in-process batched forward"
        f" ({in_process_rate:.1f} img/s, {in_process_cpu:.2f} CPU ms per image):"
        " img/s, ratio, CPU ms per image by party, cores busy"
    )
    for kind in CLIENT_KINDS:
        print(f"  clients as {kind}:")
        print(
            f"  {'':12s} {'img/s':>8s} {'ratio':>6s} {'clients':>8s} {'edge':>6s} {'server':>7s}"
            f" {'total':>6s} {'busy':>5s}"
        )
        for name in ENDPOINTS:
            run = rates[(name, kind)]
            total = run.clients_cpu + run.edge_cpu + run.server_cpu
            print(
                f"  {name:12s} {run.rate:8.1f} {run.rate / in_process_rate:6.2f} {run.clients_cpu:8.2f}"
                f" {run.edge_cpu:6.2f} {run.server_cpu:7.2f} {total:6.2f} {total * run.rate / 1000:5.2f}"
            )
    print(
        f"  (server CPU per image over the in-process forward's is what serving adds; the clients and the"
        f" edge share the same {os.cpu_count()} CPUs; busy = cores in use on average)"
    )
    if few:
        counts = sorted({n for _, n in few})
        print("  fewer concurrent boto3 clients (threads): img/s by endpoint")
        print(f"  {'':12s}" + "".join(f"{f'{n} clients':>11s}" for n in counts))
        for name in ENDPOINTS:
            print(f"  {name:12s}" + "".join(f"{few[(name, n)].rate:11.1f}" for n in counts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--few-clients",
        default="2,4",
        help="also the rate at these numbers of client threads (comma-separated; '' for none)",
    )
    args = parser.parse_args()
    few_clients = [int(n) for n in args.few_clients.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="lc-bench-invoke-") as tmp:
        root = Path(tmp)
        data = generate(
            root / "data", classes=4, train_per_class=16, valid_per_class=4, test_per_class=4, size=96
        )
        image = next((data / "test").rglob("*.jpg")).read_bytes()
        lc = LocalCloudProcess(root / "state").start()
        brief_openmp_spin(os.environ)  # for this process's PyTorch (not yet imported), as the servers do
        sdk_server, sdk_calls = sdk_reference(lc, image)
        try:
            artifact = train(lc, data)
            deploy(lc, artifact, ENDPOINTS)
            noop = deploy_noop(lc)
            handle = in_process_handlers(lc, artifact, root)
            calls = latency_calls(lc, handle, noop, image, sdk_calls)
            before_load = load_note()
            latency = {label: percentiles(values) for label, values in interleaved(calls, args.calls).items()}

            batch = json.dumps({"instances": [base64.b64encode(image).decode()] * CLIENTS}).encode()
            cpu_start = time.process_time()
            batched = interleaved(
                {"batch": lambda: handle(batch, "application/json")}, max(25, args.calls // 4), 3
            )
            rounds = len(batched["batch"]) + 3  # with the warm-up calls, which process_time counts too
            in_process_cpu = 1000 * (time.process_time() - cpu_start) / (rounds * CLIENTS)
            in_process_rate = CLIENTS / statistics.median(batched["batch"])
            rates = {
                (name, kind): throughput(lc, name, image, args.seconds, processes=kind == "processes")
                for kind in CLIENT_KINDS
                for name in ENDPOINTS
            }
            few = {
                (name, n): throughput(lc, name, image, args.seconds, clients=n)
                for n in few_clients
                for name in ENDPOINTS
            }
            after_load = load_note()
        finally:
            sdk_server.shutdown()
            lc.stop()
    report(args.calls, latency, in_process_rate, in_process_cpu, rates, (before_load, after_load), few)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
