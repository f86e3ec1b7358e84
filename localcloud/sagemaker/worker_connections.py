"""How a multi-worker model server spreads its connections: the supervisor accepts each one and
hands it to the worker with the fewest open connections.

The workers used to share the listening socket and race to accept. Whoever won a connection
kept it, and the edge keeps its connections open, so the split stayed uneven for good: eight
clients could leave one worker with 5 connections and the other with 3 (measured with
bench/localcloud_invoke.py). The busier worker ran the bigger, slower batches while the other
waited. TorchServe, the server SageMaker's PyTorch containers run, does not have this problem:
its frontend hands every request to a free worker. Here the unit is a connection, which is enough
for an edge that keeps a connection per client in flight, and costs nothing per request.

- :class:`ConnectionDispatcher` runs in the supervisor. It accepts on the listening socket and
  passes each connection to a worker over a Unix socket pair (``SCM_RIGHTS``, :func:`socket.send_fds`).
  It picks the worker with the fewest open connections; a tie goes to the worker after the last
  one picked, so a series of short connections alternates between workers.
- :func:`serve_handed_connections` runs in a worker. It receives those connections and serves
  each with the worker's HTTP server. When a connection closes, the worker writes one byte back
  (:func:`closed_notifier`), and the dispatcher takes one off that worker's count.

Hand-written: the standard library's socketserver only accepts on its own socket, and no
maintained library hands connections between processes this way. Relies on the standard
library's socket and selectors (Unix only, like the rest of localcloud's process handling).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
from collections.abc import Callable

_HANDED = b"c"  # the one byte that carries a passed file descriptor
_CLOSED = b"x"  # a worker's note that one of its connections closed
_MAX_FDS = 64  # connections one receive takes at most


class ConnectionDispatcher:
    """The supervisor's side: accept on ``listener``, pass each connection to a worker channel."""

    def __init__(self, listener: socket.socket, channels: list[socket.socket]) -> None:
        self.listener = listener
        self.channels = channels
        self.open = [0] * len(channels)  # connections each worker holds
        self._next = 0
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        for index, channel in enumerate(channels):
            self._selector.register(channel, selectors.EVENT_READ, index)

    def pick(self) -> int:
        """The worker with the fewest open connections; a tie goes to the first after the last pick."""
        order = [(self._next + step) % len(self.channels) for step in range(len(self.channels))]
        chosen = min(order, key=lambda index: self.open[index])
        self._next = (chosen + 1) % len(self.channels)
        return chosen

    def run_once(self, timeout: float) -> None:
        """Handle what is ready within ``timeout`` seconds: new connections, workers' close notes."""
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                self._hand_over()
            else:
                self._closed(key.data)

    def _hand_over(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        with conn:
            index = self.pick()
            try:
                socket.send_fds(self.channels[index], [_HANDED], [conn.fileno()])
            except OSError:
                return  # that worker is gone: the supervisor's loop sees it exit and stops the server
            self.open[index] += 1

    def _closed(self, index: int) -> None:
        try:
            notes = self.channels[index].recv(4096)
        except OSError:
            notes = b""
        if not notes:  # the worker went away
            self._selector.unregister(self.channels[index])
            return
        self.open[index] = max(0, self.open[index] - len(notes))

    def close(self) -> None:
        self._selector.close()
        for channel in self.channels:
            channel.close()


def closed_notifier(channel: socket.socket) -> Callable[[], None]:
    """What a worker calls when one of its connections closes: one byte to the dispatcher (a
    one-byte send is whole, so connection threads closing at once need no lock)."""

    def notify() -> None:
        with contextlib.suppress(OSError):
            channel.sendall(_CLOSED)

    return notify


def serve_handed_connections(server: socketserver.BaseServer, channel: socket.socket) -> None:
    """A worker's loop: serve each connection the dispatcher passes, until the channel closes.

    ``server.shutdown_request`` must tell the dispatcher (:func:`closed_notifier`): it closes every
    connection, served or not."""
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1024, _MAX_FDS)
        except OSError:
            return
        if not message:
            return
        for fd in fds:
            conn = socket.socket(fileno=fd)
            try:
                peer = conn.getpeername()
            except OSError:  # the client left before the worker took it
                server.shutdown_request(conn)
                continue
            server.process_request(conn, peer)  # a thread per connection, as serve_forever's
