"""The garbage collector around a Lambda cold start (pipeline/coldstart.py).

Inside Lambda (``LAMBDA_TASK_ROOT`` set) importing the functions pauses automatic collection, and
the end of the first invocation through ``observability.instrumented`` resumes it, with what
start-up made frozen; a first invocation that fails resumes it too; a collector the process had
already turned off stays off; off Lambda nothing changes. Each case runs in a fresh interpreter
(the collector is per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
IN_LAMBDA = {"LAMBDA_TASK_ROOT": str(FUNCTIONS), "AWS_LAMBDA_FUNCTION_NAME": "f"}

FIRST_INVOCATIONS = """
import gc, json, sys
{before}
import pipeline.observability as observability
from pipeline.observability import instrumented, make_logger, make_metrics

class Context:
    function_name = "f"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    aws_request_id = "0c5b4b1e-0000-4000-8000-000000000001"

seen = {{"after_import": gc.isenabled()}}

@instrumented(make_logger(), make_metrics(), None)
def handler(event, context):
    seen["during_" + event["name"]] = gc.isenabled()
    if event.get("fail"):
        raise ValueError("the first invocation failed")
    return {{}}

for event in ({first}, {{"name": "second"}}):
    try:
        handler(event, Context())
    except ValueError:
        pass
    seen["after_" + event["name"]] = gc.isenabled()
seen["frozen"] = gc.get_freeze_count() > 0
print(json.dumps(seen))
"""


def _run(environ: dict[str, str], before: str = "", fail: bool = False) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LAMBDA_", "POWERTOOLS_TRACE"))}
    env.update(PYTHONPATH=str(FUNCTIONS), AWS_DEFAULT_REGION="us-east-1", **environ)
    first = {"name": "first", "fail": fail}
    code = FIRST_INVOCATIONS.format(before=before, first=repr(first))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=FUNCTIONS, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("fail", [False, True])
def test_inside_lambda_collection_waits_for_the_end_of_the_first_invocation(fail: bool) -> None:
    assert _run(IN_LAMBDA, fail=fail) == {
        "after_import": False,
        "during_first": False,
        "after_first": True,
        "during_second": True,
        "after_second": True,
        "frozen": True,
    }


def test_a_collector_the_process_turned_off_stays_off() -> None:
    seen = _run(IN_LAMBDA, before="gc.disable()")
    assert seen["after_first"] is False and seen["after_second"] is False
    assert seen["frozen"] is False


def test_off_lambda_the_collector_is_left_alone() -> None:
    assert _run({}) == {
        "after_import": True,
        "during_first": True,
        "after_first": True,
        "during_second": True,
        "after_second": True,
        "frozen": False,
    }
