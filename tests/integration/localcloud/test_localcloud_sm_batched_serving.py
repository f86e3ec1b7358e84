"""The model server batches concurrent requests into one forward pass and answers each on its own.

A real model server process (``python -m localcloud.sagemaker.model_server``) serves a tiny
exported resnet18 (64 px) with the artifact's own inference.py, configured by the SageMaker
toolkit's variables; ``GET /metrics`` reports the batches it ran. Contract: docs/localcloud.md
(batched serving) and docs/contracts.md#inference.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image

from support.tiny_model import LABELS, REPO, export_tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny_model(tmp_path_factory.mktemp("model"))


class Server:
    def __init__(self, model_dir: Path, env: dict[str, str], log: Path, unset: tuple[str, ...] = ()) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.port = int(sock.getsockname()[1])
        self.log = log
        child_env = {**os.environ, "OMP_NUM_THREADS": "1", **env, "PYTHONPATH": str(REPO)}
        for name in unset:
            child_env.pop(name, None)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "localcloud.sagemaker.model_server",
                    "--model-dir",
                    str(model_dir),
                    "--fd",
                    str(sock.fileno()),
                ],
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
            )
        sock.close()

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if self.get("/ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"model server not ready: {self.log.read_text()}")

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post(self, body: bytes, content_type: str, accept: str = "application/json") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/invocations", body, {"Content-Type": content_type, "Accept": accept})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def metrics(self) -> dict[str, object]:
        status, body = self.get("/metrics")
        assert status == 200
        result: dict[str, object] = json.loads(body)
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


GATED_PROGRAM = """
# The artifact's inference.py, its batch forward held while the test's gate file exists.
import os, time
import inference
from inference import input_fn, model_fn, output_fn, predict_fn

def predict_batch_fn(inputs, model):
    while os.path.exists(os.environ["TEST_BATCH_GATE"]):
        time.sleep(0.005)
    return inference.predict_batch_fn(inputs, model)
"""


@pytest.fixture
def batching_server(model_dir: Path, tmp_path: Path) -> Iterator[Server]:
    (model_dir / "code" / "gated.py").write_text(GATED_PROGRAM)
    env = {
        "SAGEMAKER_TS_BATCH_SIZE": "4",
        "SAGEMAKER_TS_MAX_BATCH_DELAY": "3000",
        "SAGEMAKER_PROGRAM": "gated.py",
        "TEST_BATCH_GATE": str(tmp_path / "gate"),
    }
    server = Server(model_dir, env, tmp_path / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _send_as_one_batch(
    server: Server, gate: Path, requests: list[tuple[bytes, str, str]]
) -> list[tuple[int, bytes]]:
    """Send ``requests`` at once while a lone request holds the forward (a fresh server runs it at
    once), so that the decodable ones queue behind it and run as one batch; their replies."""
    gate.touch()
    primer = threading.Thread(target=server.post, args=(_jpeg((1, 1, 1)), "image/jpeg"))
    primer.start()
    _until(lambda: server.metrics()["batches"] == 1)
    replies: list[tuple[int, bytes]] = [(0, b"")] * len(requests)

    def call(index: int) -> None:
        replies[index] = server.post(*requests[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    _until(lambda: server.metrics()["queued"] == 4)
    gate.unlink()
    for thread in [primer, *threads]:
        thread.join(timeout=120)
    return replies


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_one_bad_request_in_a_batch_fails_alone_and_the_batch_still_runs(
    batching_server: Server, tmp_path: Path
) -> None:
    requests = [
        (_jpeg((200, 30, 30)), "image/jpeg", "application/json"),
        (_jpeg((30, 200, 30)), "image/jpeg", "application/json"),
        (_jpeg((30, 30, 200)), "image/jpeg", "application/json"),
        (_jpeg((90, 90, 90)), "image/jpeg", "text/csv"),  # decoded and batched; its answer is refused
        (b"\xff\xd8\xff\xe0 this is not a JPEG", "image/jpeg", "application/json"),  # rejected up front
    ]
    replies = _send_as_one_batch(batching_server, tmp_path / "gate", requests)

    statuses = [status for status, _ in replies]
    assert statuses == [200, 200, 200, 406, 400], replies
    for _, body in replies[:3]:
        predictions = json.loads(body)["predictions"]
        assert {p["label"] for p in predictions} == set(LABELS)
    assert b"application/json" in replies[3][1]
    assert b"cannot identify image" in replies[4][1] or b"decode" in replies[4][1].lower(), replies[4]
    # The four decodable requests ran as one forward pass; the corrupt one never took a place in it.
    metrics = batching_server.metrics()
    assert metrics["batchSizes"] == {"1": 1, "4": 1}  # the lone request that held the forward, then them
    assert metrics["requests"] == 5

    # A lone request afterwards is its own batch (it does not wait for company that is not coming).
    status, _ = batching_server.post(_jpeg((10, 10, 10)), "image/jpeg")
    assert status == 200
    assert batching_server.metrics()["batchSizes"] == {"1": 2, "4": 1}


def test_a_lone_request_on_a_fresh_server_does_not_wait_the_batch_delay(batching_server: Server) -> None:
    # SAGEMAKER_TS_MAX_BATCH_DELAY is 3000 ms: nothing else is queued or expected, so it runs at once.
    start = time.monotonic()
    status, body = batching_server.post(_jpeg((10, 200, 10)), "image/jpeg")
    assert status == 200, body
    assert time.monotonic() - start < 2.0
    assert batching_server.metrics()["batchSizes"] == {"1": 1}


def test_a_batch_answers_each_request_with_its_own_prediction(
    batching_server: Server, tmp_path: Path
) -> None:
    colors = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 250)]
    requests = [(_jpeg(color), "image/jpeg", "application/json") for color in colors]
    batched = _send_as_one_batch(batching_server, tmp_path / "gate", requests)
    alone = [batching_server.post(_jpeg(c), "image/jpeg") for c in colors]  # one by one, after
    assert batching_server.metrics()["batchSizes"] == {"1": 5, "4": 1}

    def ranked(reply: tuple[int, bytes]) -> list[tuple[str, float]]:
        assert reply[0] == 200
        return [(p["label"], p["probability"]) for p in json.loads(reply[1])["predictions"]]

    for single, in_batch in zip(alone, batched, strict=True):
        assert [label for label, _ in ranked(single)] == [label for label, _ in ranked(in_batch)]
        for (_, p1), (_, p2) in zip(ranked(single), ranked(in_batch), strict=True):
            assert p1 == pytest.approx(p2, abs=1e-3)


def test_a_bad_batching_variable_fails_the_server_with_its_name(model_dir: Path, tmp_path: Path) -> None:
    server = Server(model_dir, {"SAGEMAKER_TS_BATCH_SIZE": "eight"}, tmp_path / "server.log")
    try:
        assert server.process.wait(timeout=60) == 2
    finally:
        server.stop()
    assert "SAGEMAKER_TS_BATCH_SIZE must be a whole number from 1 to 256, got 'eight'" in (
        server.log.read_text()
    )


def test_several_workers_serve_one_socket_and_stop_together(model_dir: Path, tmp_path: Path) -> None:
    env = {"SAGEMAKER_TS_MIN_WORKERS": "2", "SAGEMAKER_TS_MAX_WORKERS": "2", "SAGEMAKER_TS_BATCH_SIZE": "2"}
    server = Server(model_dir, env, tmp_path / "server.log")
    try:
        server.wait_ready()
        workers = psutil.Process(server.process.pid).children()
        assert len(workers) == 2
        conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(2)]
        try:  # two connections open at once go to the two workers, and each serves
            pids = {_worker_of(conn) for conn in conns}
            for conn in conns:
                conn.request("POST", "/invocations", _jpeg((5, 5, 5)), {"Content-Type": "image/jpeg"})
                response = conn.getresponse()
                assert (response.status, bool(response.read())) == (200, True)
        finally:
            for conn in conns:
                conn.close()
        assert pids == {w.pid for w in workers}
        assert "2 workers x 1 threads" in server.log.read_text()
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log.read_text()[-2000:]  # SIGTERM: a clean stop
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []


def _worker_of(conn: http.client.HTTPConnection) -> int:
    """The pid of the worker serving ``conn`` (its /metrics names it), the connection kept open."""
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    assert response.status == 200
    return int(json.loads(response.read())["pid"])


def test_kept_open_connections_are_spread_evenly_over_the_workers(model_dir: Path, tmp_path: Path) -> None:
    # An edge keeps one connection per client in flight: the workers must share them, or the
    # one holding more runs bigger, slower batches while the other idles.
    env = {"SAGEMAKER_TS_MIN_WORKERS": "2", "SAGEMAKER_TS_MAX_WORKERS": "2"}
    server = Server(model_dir, env, tmp_path / "server.log")
    conns: list[http.client.HTTPConnection] = []
    try:
        server.wait_ready()
        workers = {w.pid for w in psutil.Process(server.process.pid).children()}
        conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(16)]
        owners = [_worker_of(conn) for conn in conns]
        assert set(owners) == workers
        assert sorted(owners.count(pid) for pid in workers) == [8, 8]
        # Close four of one worker's connections: the next four connections all go to it.
        freed = owners[0]
        for index in [i for i, pid in enumerate(owners) if pid == freed][:4]:
            conns[index].close()
        time.sleep(0.5)  # the worker's close notes reach the supervisor
        fresh = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(4)]
        conns += fresh
        assert [_worker_of(conn) for conn in fresh] == [freed] * 4
    finally:
        for conn in conns:
            conn.close()
        server.stop()


WAIT_POLICY_PROGRAM = """
import json, os
# As libgomp reads them when PyTorch is imported: at the import of the user's code.
SEEN = {name: os.environ.get(name) for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
def model_fn(model_dir):
    return SEEN
def input_fn(body, content_type):
    return None
def predict_fn(data, model):
    return model
def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


@pytest.mark.parametrize(
    ("env", "seen"),
    [
        ({}, {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}),
        ({"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None}),
        ({"GOMP_SPINCOUNT": "10000"}, {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "10000"}),
    ],
)
def test_openmp_threads_spin_briefly_unless_the_model_sets_a_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], seen: dict[str, object]
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(WAIT_POLICY_PROGRAM)
    server = Server(model, env, tmp_path / "server.log")
    try:
        server.wait_ready()
        status, body = server.post(b"{}", "application/json")
    finally:
        server.stop()
    assert status == 200, body
    assert json.loads(body) == seen


THREADS_PROGRAM = """
import json, time, torch
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    time.sleep(data.get("hold", 0))  # a forward pass that takes a while
    return {"threads": torch.get_num_threads()}
def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _two_worker_threads_server(tmp_path: Path) -> Server:
    """THREADS_PROGRAM on 2 workers whose threads the server chooses (no OMP_NUM_THREADS set)."""
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(THREADS_PROGRAM)
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    return Server(model, env, tmp_path / "server.log", unset=("OMP_NUM_THREADS", "MKL_NUM_THREADS"))


def test_a_lone_request_gets_every_core_when_the_server_chose_the_workers_threads(tmp_path: Path) -> None:
    # Two workers share the cores for their batches (OMP_NUM_THREADS = cores // 2, set by the
    # supervisor), but a batch of one runs with every core: at one client the other worker is idle.
    cores = len(os.sched_getaffinity(0))
    server = _two_worker_threads_server(tmp_path)
    try:
        server.wait_ready()
        answers = [server.post(b"{}", "application/json") for _ in range(4)]  # new connections: both workers
    finally:
        server.stop()
    assert f"2 workers x {max(1, cores // 2)} threads" in server.log.read_text()
    assert answers == [(200, json.dumps({"threads": cores}).encode())] * 4


def test_a_lone_request_keeps_to_its_share_while_the_other_worker_runs_a_forward(tmp_path: Path) -> None:
    # Two clients on two workers each send lone requests: both taking every core would run two
    # teams of `cores` threads at once. The one that starts second keeps to its share.
    cores = len(os.sched_getaffinity(0))
    server = _two_worker_threads_server(tmp_path)
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(2)]

    def answer(conn: http.client.HTTPConnection) -> object:
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())["threads"]

    try:
        server.wait_ready()
        assert len({_worker_of(conn) for conn in conns}) == 2  # one connection on each worker
        slow, quick = conns
        slow.request("POST", "/invocations", b'{"hold": 3}', {"Content-Type": "application/json"})
        time.sleep(1.0)  # its forward pass has begun
        quick.request("POST", "/invocations", b"{}", {"Content-Type": "application/json"})
        during = answer(quick)
        first = answer(slow)
        quick.request("POST", "/invocations", b"{}", {"Content-Type": "application/json"})
        after = answer(quick)
    finally:
        for conn in conns:
            conn.close()
        server.stop()
    assert (first, during, after) == (cores, max(1, cores // 2), cores)


def test_a_worker_that_cannot_load_the_model_fails_the_server(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    (broken / "code").mkdir(parents=True)
    (broken / "code" / "inference.py").write_text(
        "def model_fn(model_dir):\n    raise RuntimeError('no weights')\n"
    )
    server = Server(broken, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, tmp_path / "server.log")
    try:
        assert server.process.wait(timeout=120) == 2
    finally:
        server.stop()
    assert "RuntimeError: no weights" in server.log.read_text()
