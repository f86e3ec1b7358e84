"""Which workers of a multi-worker model server are running a forward pass right now, so that a
worker gives a lone request every core only while the others are idle.

A worker runs a batch with its share of the cores (``cores // workers`` intra-op threads) and a
batch of one request with every core: at one client the other workers are idle, and one image
gains from a second thread. But two clients on a 2-worker server land on different workers
(:mod:`.worker_connections` spreads connections), so each worker ran lone requests with every
core at once: two OpenMP teams of 2 threads on 2 cores, each slowed at its barriers by the other.
Now a worker takes every core for a lone request only when no other worker is running a forward
pass; otherwise it keeps to its share (figures in docs/localcloud.md#batched-serving).

The supervisor creates one byte per worker in an anonymous shared memory file (``memfd``, nothing
on disk) and passes its descriptor to every worker, which maps it. A worker sets its own byte
before it looks at the others' and clears it when its forward pass ends, so of two workers
starting together one nearly always sees the other. There is no lock or fence: the CPU may
still let both miss, and then both run that one batch with every core, as before. A worker that
dies mid-batch leaves its byte set, but the supervisor then stops the whole server
(model_server.supervise).

Hand-written: no maintained library tracks this across processes; relies on the standard
library's os.memfd_create and mmap (Linux, like the rest of localcloud's process handling).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager


def shared_activity(workers: int) -> int:
    """A shared memory file of one zero byte per worker; its descriptor, for the workers to map
    (close-on-exec: hand it to them in ``pass_fds``; the supervisor closes its copy once they started)."""
    fd = os.memfd_create("model-server-activity")
    os.ftruncate(fd, max(1, workers))
    return fd


class WorkerActivity:
    """One worker's view of the shared bytes: its own to set, the others' to read."""

    def __init__(self, fd: int, index: int) -> None:
        size = os.fstat(fd).st_size
        if not 0 <= index < size:
            raise ValueError(f"worker index {index} is outside the {size} workers")
        self._map = mmap.mmap(fd, size)
        os.close(fd)  # the mapping keeps the memory
        self.index = index

    @contextmanager
    def running(self) -> Iterator[None]:
        """Marks this worker busy for the ``with`` block (a forward pass)."""
        self._map[self.index] = 1
        try:
            yield
        finally:
            self._map[self.index] = 0

    def others_running(self) -> bool:
        """Whether another worker is running a forward pass now."""
        busy = self._map[:].count(1)
        return busy > self._map[self.index]
