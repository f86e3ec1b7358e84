"""The edge's HTTP protocol (guard.HeaderTimeoutProtocol) sends a response's head with its body.

uvicorn writes a response head alone and then the body: two sends, and for a client reading a
small answer, two wake-ups. The protocol holds the head for the body's write; a ``100 Continue``
still goes out at once, and a response with no body still gets its head.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from localcloud.guard import HeaderTimeoutProtocol


class _Transport(asyncio.Transport):
    """Records every write, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5), "sockname": ("127.0.0.1", 4566)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b"" if scope["method"] == "HEAD" else b'{"got": %d}' % len(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


async def _exchange(*requests: bytes) -> list[bytes]:
    config = uvicorn.Config(_app, lifespan="off", log_level="warning")
    protocol = HeaderTimeoutProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    for request in requests:
        protocol.data_received(request)
        for _ in range(20):
            await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport.writes


def test_a_response_leaves_in_one_write() -> None:
    writes = asyncio.run(_exchange(b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"))
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b'\r\n\r\n{"got": 3}')


def test_keep_alive_requests_each_get_one_write_and_a_head_request_its_head() -> None:
    writes = asyncio.run(
        _exchange(
            b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\na",
            b"HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nab",
        )
    )
    assert [w.split(b"\r\n", 1)[0] for w in writes] == [b"HTTP/1.1 200 OK"] * 3
    assert writes[0].endswith(b'{"got": 1}') and writes[2].endswith(b'{"got": 2}')
    assert writes[1].endswith(b"\r\n\r\n")  # the HEAD answer: its head alone, at the response's end


@pytest.mark.parametrize("body_first", [False, True])
def test_100_continue_goes_out_before_the_body_arrives(body_first: bool) -> None:
    head = b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    writes = asyncio.run(_exchange(head + b"ab") if body_first else _exchange(head, b"ab"))
    if not body_first:
        assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert writes[-1].startswith(b"HTTP/1.1 200 OK\r\n") and writes[-1].endswith(b'{"got": 2}')
