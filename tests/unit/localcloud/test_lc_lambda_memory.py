"""The REPORT line's memory figure (``localcloud/lambda_/memory.py``): a worker's resident memory
in MiB while it runs, 0 once it has exited (never another process's that reused its pid)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from localcloud.lambda_.memory import ResidentMemory


def test_reads_the_resident_memory_of_a_running_process() -> None:
    memory = ResidentMemory(os.getpid())
    try:
        expected = psutil.Process().memory_info().rss / 2**20
        assert memory.mb() > 0 and abs(memory.mb() - expected) < 16
    finally:
        memory.close()


def test_a_process_that_exited_reads_zero() -> None:
    script = "import sys; print('up', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    memory = ResidentMemory(child.pid)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"  # started: RSS over 1 MiB
        assert memory.mb() > 0
        child.communicate(b"")
        assert memory.mb() == 0
    finally:
        memory.close()
    assert memory.mb() == 0  # closed: no read of a descriptor number reused since
