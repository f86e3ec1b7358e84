"""A faster request handler for localcloud's standard-library HTTP servers (the model server, each
Lambda worker's Runtime API), where every request is on an invocation's path.

Two shortcuts over ``http.server.BaseHTTPRequestHandler``: a plain ``Name: value`` header block is
read into the header object directly rather than through the ``email`` package's parser (~0.03 ms
a request here; anything else, folded lines or a line without a colon, still goes through it,
within the standard library's limits on line length and header count), and the response is
buffered so that its head and body leave in one write (one segment, one wake-up of the client).
Hand-written: the standard library has no switch for either. Relies on http.server only (the
model server process imports it and must stay light).
"""

from __future__ import annotations

import email.parser
import http.client
import http.server
from typing import Any

MAX_HEADER_LINE = 65536  # the standard library's limits on a request's header lines
MAX_HEADERS = 100


class HeaderError(Exception):
    """A request's header block broke the standard library's limits (answered 431)."""


def read_headers(rfile: Any) -> http.client.HTTPMessage:
    """The header block after a request line, as ``http.client.parse_headers`` returns it.

    Lines of the plain ``Name: value`` form go straight into the message; a block with anything
    else (folded lines, a line without a colon) is handed whole to the ``email`` parser, as the
    standard library does with every block. Its limits (line length, header count) hold."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            raise HeaderError("Line too long", f"header line longer than {MAX_HEADER_LINE}")
        if line in (b"\r\n", b"\n", b""):
            break
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise HeaderError("Too many headers", f"got more than {MAX_HEADERS} headers")
    message = http.client.HTTPMessage()
    for line in lines:
        name, colon, value = line.decode("iso-8859-1").partition(":")
        if not colon or name != name.strip() or not name:
            text = b"".join(lines).decode("iso-8859-1")
            parsed: http.client.HTTPMessage = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
                text
            )
            return parsed
        message[name] = value.lstrip(" \t").rstrip("\r\n")  # as the email parser keeps it
    return message


class FastRequestHandler(http.server.BaseHTTPRequestHandler):
    """BaseHTTPRequestHandler with the header shortcut and one write per response (module doc)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: the head and a small body go out together at the flush after do_*
    raw_requestline: bytes  # set by handle_one_request (not in the standard library's stubs)

    def parse_request(self) -> bool:
        words = self.raw_requestline.split()
        if len(words) != 3 or words[2] not in (b"HTTP/1.1", b"HTTP/1.0") or words[1].startswith(b"//"):
            return super().parse_request()  # anything unusual: the standard library's checks
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = (str(word, "iso-8859-1") for word in words)
        self.close_connection = True
        try:
            self.headers = read_headers(self.rfile)
        except HeaderError as exc:
            self.send_error(431, *exc.args)
            return False
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def handle_expect_100(self) -> bool:
        self.send_response_only(100)
        self.end_headers()
        self.wfile.flush()  # buffered: the client waits for this before it sends the body
        return True
