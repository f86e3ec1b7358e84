"""The Lambda Runtime API server (``localcloud/lambda_/runtime_api.py``) without a worker process.

A worker killed mid-connection (a timeout, ``localcloud stop``) resets its connection to the
Runtime API: that is expected and must not print a traceback on localcloud's stderr (what
socketserver does by default), and the server keeps answering. A reply is a well-formed HTTP/1.1
response: status, the Lambda-Runtime headers, Content-Length and the body.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time

import pytest

from localcloud.lambda_.runtime_api import Invocation, RuntimeApi


def _api() -> RuntimeApi:
    return RuntimeApi(lambda invocation: 123, lambda body: None)


def test_a_reset_connection_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    api = _api()
    try:
        sock = socket.create_connection(("127.0.0.1", api.port))
        sock.sendall(b"GET /2018-06-01/runtime/invo")  # half a request line, then a reset
        time.sleep(0.2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        time.sleep(0.5)
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        conn.request("GET", "/nowhere")
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        api.close()
    assert "Traceback" not in capfd.readouterr().err


def test_next_answers_the_event_with_the_runtime_headers() -> None:
    api = _api()
    try:
        api.next_invocation(Invocation("req-1", b'{"a": 1}', "arn:aws:lambda:us-east-1:0:function:f"))
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b'{"a": 1}'
        assert response.getheader("Lambda-Runtime-Aws-Request-Id") == "req-1"
        assert response.getheader("Lambda-Runtime-Deadline-Ms") == "123"
        assert response.getheader("Content-Length") == "8"
        conn.request("POST", "/2018-06-01/runtime/invocation/req-1/response", b'"done"')
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (202, b'{"status":"OK"}')
        conn.close()
    finally:
        api.close()


def _poll_next(api: RuntimeApi) -> tuple[http.client.HTTPConnection, threading.Thread, list[object]]:
    """A worker's /next long-poll, waiting in a thread; the list gets (status, request id, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    got: list[object] = []

    def poll() -> None:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        response = conn.getresponse()
        got.append((response.status, response.getheader("Lambda-Runtime-Aws-Request-Id"), response.read()))

    thread = threading.Thread(target=poll)
    thread.start()
    deadline = time.monotonic() + 5
    while not api._waiting and time.monotonic() < deadline:  # the /next has reached the server
        time.sleep(0.01)
    return conn, thread, got


def test_a_waiting_next_has_the_invocation_when_next_invocation_returns() -> None:
    """A warm worker's /next is answered on the invoking thread: no other thread has to wake up
    before the event leaves, so it is picked up by the time next_invocation returns."""
    api = _api()
    try:
        conn, thread, got = _poll_next(api)
        invocation = Invocation("req-2", b'{"b": 2}', "arn:aws:lambda:us-east-1:0:function:f")
        api.next_invocation(invocation)
        assert invocation.picked_up.is_set() and invocation.deadline_ms == 123
        thread.join(5)
        assert got == [(200, "req-2", b'{"b": 2}')]
        conn.request("POST", "/2018-06-01/runtime/invocation/req-2/response", b'"ok"')
        assert conn.getresponse().status == 202
        assert invocation.done.is_set() and invocation.result == b'"ok"'
        conn.close()
    finally:
        api.close()


def test_an_invocation_abandoned_before_pick_up_is_skipped() -> None:
    api = _api()
    try:
        abandoned = Invocation("req-gone", b"{}", "arn")
        api.next_invocation(abandoned)
        abandoned.finish(b"timed out", error=True)
        api.next_invocation(Invocation("req-3", b"{}", "arn"))
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        response = conn.getresponse()
        assert response.getheader("Lambda-Runtime-Aws-Request-Id") == "req-3"
        response.read()
        assert not abandoned.picked_up.is_set()
        conn.close()
    finally:
        api.close()


def test_close_answers_a_waiting_next_410() -> None:
    api = _api()
    conn, thread, got = _poll_next(api)
    api.close()
    thread.join(5)
    assert got and got[0][0] == 410
    conn.close()
