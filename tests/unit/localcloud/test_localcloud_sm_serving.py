"""The model server contract (handlers, error statuses) and the invoke path's pool and router."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import io
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from localcloud.http_handler import read_headers
from localcloud.sagemaker.fleet import ConnectionPool, Instance, NoInstance, Router, Table, Variant
from localcloud.sagemaker.model_server import (
    Handlers,
    IntraOpThreads,
    error_status,
    load_program,
    make_request_handler,
)
from localcloud.sagemaker.worker_activity import WorkerActivity, shared_activity

INFERENCE = """
import json
class Unsupported(Exception):
    status_code = 415
def model_fn(model_dir):
    return {"offset": 10}
def input_fn(body, content_type):
    if not content_type.startswith("application/json"):
        raise Unsupported(f"cannot read {content_type}")
    return json.loads(body)
def predict_fn(data, model):
    return data["x"] + model["offset"]
def output_fn(prediction, accept):
    return json.dumps({"y": prediction, "accept": accept}), "application/json"
"""


@pytest.fixture
def handlers(tmp_path: Path) -> Handlers:
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(INFERENCE)
    return Handlers(load_program(code, "inference.py"), tmp_path)


def test_handlers_run_input_predict_output(handlers: Handlers) -> None:
    body, content_type = handlers.invoke(b'{"x": 5}', "application/json; charset=utf-8", "*/*")
    assert content_type == "application/json"
    assert body == b'{"y": 15, "accept": "application/json"}'


def test_exception_status_attributes_become_http_statuses(handlers: Handlers) -> None:
    with pytest.raises(Exception) as raised:
        handlers.invoke(b"\x89PNG", "image/png", "application/json")
    assert error_status(raised.value) == (415, "cannot read image/png")
    assert error_status(KeyError("x"))[0] == 500
    assert error_status(ValueError("bad"))[1] == "ValueError: bad"


def _serve(handlers: Handlers) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_request_handler(handlers))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_lone_request_gets_every_core_and_a_batch_its_workers_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker of two on 2 cores: 1 intra-op thread for batches, 2 for a batch of one.
    calls: list[int] = []
    state = {"threads": 1}
    fake_torch = type(
        "Torch",
        (),
        {
            "get_num_threads": staticmethod(lambda: state["threads"]),
            "set_num_threads": staticmethod(lambda n: (calls.append(n), state.update(threads=n))),
        },
    )
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    seen: list[tuple[int, int]] = []
    run = IntraOpThreads(batch=1, lone=2).run(
        lambda items: seen.append((len(items), state["threads"])) or items
    )
    run([1])
    run([1])
    run([1, 2, 3])
    run([4])
    assert seen == [(1, 2), (1, 2), (3, 1), (1, 2)]
    assert calls == [2, 1, 2]  # set only when it changes


def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    state = {"threads": 1}
    fake_torch = type(
        "Torch",
        (),
        {
            "get_num_threads": staticmethod(lambda: state["threads"]),
            "set_num_threads": staticmethod(lambda n: state.update(threads=n)),
        },
    )
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    return state


def test_a_lone_request_keeps_to_its_share_while_another_worker_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two workers on 2 cores, as the supervisor starts them: one shared activity page, a view each.
    state = _fake_torch(monkeypatch)
    fd = shared_activity(2)
    first, second = WorkerActivity(os.dup(fd), 0), WorkerActivity(os.dup(fd), 1)
    os.close(fd)
    seen: list[int] = []
    lone = IntraOpThreads(batch=1, lone=2, activity=first).run(
        lambda items: seen.append(state["threads"]) or items
    )
    lone([1])  # the other worker idle: every core
    with second.running():  # the other worker in a forward pass: this one's share
        assert first.others_running() and not second.others_running()
        lone([1])
    lone([1])  # idle again
    assert seen == [2, 1, 2]
    assert not first.others_running() and not second.others_running()

    def fails(items: list[int]) -> list[int]:
        raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError):
        IntraOpThreads(batch=1, lone=2, activity=second).run(fails)([1])
    assert not first.others_running()  # a failed batch is no longer running


def test_a_worker_index_outside_the_shared_page_is_refused() -> None:
    fd = shared_activity(2)
    with pytest.raises(ValueError, match="worker index 2 is outside the 2 workers"):
        WorkerActivity(fd, 2)
    os.close(fd)


def test_pool_reuses_connections_and_reports_statuses(handlers: Handlers) -> None:
    server = _serve(handlers)
    try:
        pool = ConnectionPool(server.server_address[1])

        async def calls() -> list[tuple[int, dict[str, str], bytes]]:
            results = [
                await pool.post("/invocations", b'{"x": %d}' % i, {"content-type": "application/json"}, 5)
                for i in range(3)
            ]
            results.append(await pool.post("/invocations", b"...", {"content-type": "text/plain"}, 5))
            pool.close()
            return results

        results = asyncio.run(calls())
        assert [r[0] for r in results] == [200, 200, 200, 415]
        assert results[2][2] == b'{"y": 12, "accept": "application/json"}'
        assert results[3][2] == b"cannot read text/plain"
    finally:
        server.shutdown()
        server.server_close()


def _instance(variant: str) -> Instance:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    return Instance(
        variant=variant,
        instance_id=f"i-{process.pid}",
        process=process,
        port=1,
        log=Path("/dev/null"),
        gpus=[],
        model="m",
    )


def test_router_switches_atomically_and_counts_requests_in_flight() -> None:
    blue, green = _instance("AllTraffic"), _instance("AllTraffic")
    try:
        router = Router()
        with pytest.raises(NoInstance):
            router.pick(None)
        router.switch(Table("blue", (Variant("AllTraffic", 1.0, (blue,)),)))
        held = router.pick(None)
        assert held is blue and blue.inflight == 1
        old = router.switch(Table("green", (Variant("AllTraffic", 1.0, (green,)),)))
        assert old is not None and router.pick(None) is green
        drained: list[Any] = []
        waiter = threading.Thread(target=lambda: drained.append(router.drain(old.instances, 5)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive()  # still waiting for the request held on blue
        router.release(held)
        waiter.join(2)
        assert not waiter.is_alive() and blue.inflight == 0
        with pytest.raises(KeyError):
            router.pick("no-such-variant")
    finally:
        for instance in (blue, green):
            instance.process.kill()
            instance.process.wait()


@pytest.mark.parametrize(
    "block",
    [
        b"Host: 127.0.0.1:9\r\nContent-Length: 3\r\ncontent-type:  image/jpeg \r\nAccept: */*\r\n\r\n",
        b"X-A: 1\r\nx-a: 2\r\nEmpty:\r\n\r\n",  # repeated and empty headers
        b"X-Folded: one\r\n  two\r\nAccept: a\r\n\r\n",  # obsolete line folding
        b"Accept: a\r\nno colon here\r\n\r\n",
        b"\r\n",
    ],
)
def test_headers_are_read_as_the_standard_library_reads_them(block: bytes) -> None:
    ours, stdlib = read_headers(io.BytesIO(block)), http.client.parse_headers(io.BytesIO(block))
    assert ours.items() == stdlib.items()
    assert ours.get("accept") == stdlib.get("accept")


def _raw_exchange(port: int, request: bytes, then: bytes = b"") -> tuple[bytes, bytes]:
    """(what came back after ``request``, what came back after ``then``) on one connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        if not then:
            return first, b""
        sock.sendall(then)
        return first, sock.recv(65536)


def test_too_many_or_too_long_headers_are_refused_with_431(handlers: Handlers) -> None:
    server = _serve(handlers)
    port = server.server_address[1]
    try:
        many = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
        reply, _ = _raw_exchange(port, b"POST /invocations HTTP/1.1\r\n" + many + b"\r\n")
        assert reply.startswith(b"HTTP/1.1 431 Too many headers") and b"more than 100 headers" in reply
        long = b"X-Long: " + b"a" * 70000 + b"\r\n"
        reply, _ = _raw_exchange(port, b"POST /invocations HTTP/1.1\r\n" + long + b"\r\n")
        assert reply.startswith(b"HTTP/1.1 431 Line too long")
    finally:
        server.shutdown()
        server.server_close()


def test_expect_100_continue_is_answered_before_the_body_is_sent(handlers: Handlers) -> None:
    # The response writer is buffered (head and body in one write): the interim 100 must still go
    # out at once, or a client waiting for it before it sends its body would hang.
    server = _serve(handlers)
    try:
        head = (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 8\r\nExpect: 100-continue\r\n\r\n"
        )
        interim, final = _raw_exchange(server.server_address[1], head, b'{"x": 1}')
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert final.startswith(b"HTTP/1.1 200 OK\r\n") and final.endswith(
            b'{"y": 11, "accept": "application/json"}'
        )
    finally:
        server.shutdown()
        server.server_close()
