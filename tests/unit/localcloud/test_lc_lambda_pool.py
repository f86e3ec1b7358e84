"""A function's warm pool (``localcloud/lambda_/workers.py``) handing results back early.

``FunctionPool.invoke(on_result=...)`` gives the caller the outcome from the thread that learnt
it (a worker's answer to its Runtime API, a timeout) once END/REPORT are written and the worker is
released, without waiting for the invoking thread to wake up: the same result ``invoke`` returns,
and a call made the moment it is out runs on the same warm worker. ``FunctionPool.start`` is the
non-blocking first half for a caller on an event loop: None without an idle warm worker, else a
callable that finishes the invocation. Runs real awslambdaric workers on a short handler.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.config import Settings
from localcloud.lambda_.models import InvokeResult
from localcloud.lambda_.workers import FunctionPool, FunctionSpec

HANDLER = """
import time
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return {"echo": event}
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "fn.py").write_text(HANDLER)
    spec = FunctionSpec(
        name="fn",
        arn="arn:aws:lambda:us-east-1:000000000000:function:fn",
        handler="fn.handler",
        code_dir=code,
        runtime="python3.12",
        timeout=1,
        memory=128,
        environment={},
    )
    pool = FunctionPool(spec, Settings(state_dir=tmp_path / "state"), max_workers=4)
    yield pool
    pool.close()


def _invoke_early(pool: FunctionPool, event: dict[str, object]) -> tuple[InvokeResult, InvokeResult]:
    """(what on_result got, what invoke returned); a second call starts as soon as on_result fires."""
    early: list[InvokeResult] = []
    handed = threading.Event()

    def on_result(result: InvokeResult) -> None:
        early.append(result)
        handed.set()

    returned: list[InvokeResult] = []
    thread = threading.Thread(
        target=lambda: returned.append(pool.invoke(json.dumps(event).encode(), on_result=on_result))
    )
    thread.start()
    assert handed.wait(60)
    thread.join(60)
    return early[0], returned[0]


def test_on_result_gets_the_returned_result_and_the_next_call_reuses_the_worker(pool: FunctionPool) -> None:
    pool.invoke(b"{}")  # warm
    early, returned = _invoke_early(pool, {"n": 1})
    assert early == returned and json.loads(early.payload) == {"echo": {"n": 1}}
    for _ in range(5):
        handed = threading.Event()
        thread = threading.Thread(
            target=pool.invoke, args=(b"{}",), kwargs={"on_result": lambda _r, done=handed: done.set()}
        )
        thread.start()
        assert handed.wait(60)
        pool.invoke(b'{"next": true}')  # at once: the first worker is still being released
        thread.join(60)
    assert len(pool.workers()) == 1


def test_function_errors_and_timeouts_come_early_too(pool: FunctionPool) -> None:
    early, returned = _invoke_early(pool, {"fail": True})
    assert early == returned and early.function_error == "Unhandled"
    assert json.loads(early.payload)["errorType"] == "ValueError"
    early, returned = _invoke_early(pool, {"sleep": 5})
    assert early == returned and json.loads(early.payload)["errorType"] == "Sandbox.Timedout"
    assert json.loads(pool.invoke(b'{"after": 1}').payload) == {"echo": {"after": 1}}


def test_start_needs_an_idle_warm_worker_and_finishes_like_invoke(pool: FunctionPool, tmp_path: Path) -> None:
    got: list[InvokeResult] = []
    assert pool.start(b"{}", on_result=got.append) is None  # no worker yet: invoke starts one
    pool.invoke(b"{}")
    finish = pool.start(b'{"n": 2}', on_result=got.append)
    assert finish is not None
    result = finish()
    assert got == [result] and json.loads(result.payload) == {"echo": {"n": 2}}
    finish = pool.start(b'{"sleep": 5}', on_result=got.append)
    assert finish is not None
    result = finish()
    assert json.loads(result.payload)["errorType"] == "Sandbox.Timedout" and got[-1] == result
    assert pool.start(b"{}", on_result=got.append) is None  # the timed-out worker was killed
    assert json.loads(pool.invoke(b'{"n": 3}').payload) == {"echo": {"n": 3}}
    log = "".join(path.read_text() for path in (tmp_path / "state").rglob("*.log"))
    assert log.count("START RequestId") == log.count("END RequestId") == log.count("REPORT RequestId") == 4
    assert "Status: timeout" in log and "Task timed out after 1.00 seconds" in log
