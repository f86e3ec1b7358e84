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
