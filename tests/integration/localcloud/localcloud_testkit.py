"""Helpers shared by the integration tests that deploy tests/fixtures/app (no tests here)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from support.localcloud_proc import LocalCloudProcess

FIXTURE_APP = Path(__file__).resolve().parents[2] / "fixtures" / "app"
TEMPLATE = FIXTURE_APP / "template.yaml"
ROLE = "arn:aws:iam::000000000000:role/localcloud-test"


def stack(lc: LocalCloudProcess, name: str = "app") -> dict[str, Any]:
    """The deployed stack record localcloud writes to <state_dir>/stacks/<name>.json."""
    return dict(json.loads((lc.state_dir / "stacks" / f"{name}.json").read_text()))


def outputs(lc: LocalCloudProcess) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(lc)["Outputs"]}


def physical(lc: LocalCloudProcess, logical_id: str) -> str:
    return str(stack(lc)["Resources"][logical_id]["PhysicalResourceId"])


def wait_execution(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} still RUNNING after {timeout}s")
