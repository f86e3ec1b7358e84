"""A worker process's resident memory, read for the REPORT line after every invocation.

On Linux a file descriptor on ``/proc/<pid>/statm`` is opened once per worker and read with one
``pread`` per REPORT (~5 us); psutil's ``memory_info`` opens, reads and closes that file behind a
few layers each time (~50 us here, on every invocation's path). The descriptor belongs to that
process: once it has exited, reads fail (ESRCH) rather than see a process that reused its pid.
Elsewhere (no /proc) it falls back to psutil. Hand-written for that per-call cost; relies on os
and psutil.
"""

from __future__ import annotations

import contextlib
import os
import threading

import psutil

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ResidentMemory:
    """Resident set size of one process, in MiB (0 once it is gone)."""

    def __init__(self, pid: int) -> None:
        self._fd: int | None = None
        self._lock = threading.Lock()  # a read never meets a closed (or reused) descriptor
        self._ps: psutil.Process | None = None
        try:
            self._fd = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        except OSError:
            with contextlib.suppress(psutil.Error):  # gone already: the watcher reports its exit
                self._ps = psutil.Process(pid)

    def mb(self) -> int:
        with self._lock:
            if self._fd is not None:
                try:
                    fields = os.pread(self._fd, 128, 0).split()
                    return int(int(fields[1]) * _PAGE / 2**20)
                except (OSError, IndexError, ValueError):
                    return 0
        try:
            return int(self._ps.memory_info().rss / 2**20) if self._ps is not None else 0
        except psutil.Error:
            return 0

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)
