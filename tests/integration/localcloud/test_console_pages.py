"""The console's routes on an in-process LocalCloud (no server, no browser): each page answers
through the services' AWS operations, with its CSP, a live fragment, and a 404 page naming what
is missing. Starlette's TestClient drives the edge app (guard included).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from localcloud.cloud import LocalCloud
from localcloud.config import Settings
from localcloud.edge import Edge
from localcloud.guard import Guard

ROLE = "arn:aws:iam::000000000000:role/console-tests"
MACHINE = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Next": "Boom"},
        "Boom": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "does-not-exist"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
            "Next": "Never",
        },
        "Recover": {"Type": "Pass", "Next": "Hold"},
        "Hold": {"Type": "Wait", "Seconds": 30, "Next": "Never"},
        "Never": {"Type": "Succeed"},
    },
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    local = LocalCloud(Settings(state_dir=tmp_path_factory.mktemp("console-pages"), template=None))
    yield local
    local.stop()


@pytest.fixture(scope="module")
def client(cloud: LocalCloud) -> Iterator[TestClient]:
    with TestClient(Guard(Edge(cloud)), base_url="http://127.0.0.1:4566") as test_client:
        yield test_client


def wait_for_state(cloud: LocalCloud, arn: str, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = cloud.stepfunctions.dispatch("GetExecutionHistory", {"executionArn": arn})["events"]
        if any((e.get("stateEnteredEventDetails") or {}).get("name") == name for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never entered")


def test_the_execution_page_colours_the_caught_state_and_marks_the_current_one(
    cloud: LocalCloud, client: TestClient
) -> None:
    machine = cloud.stepfunctions.dispatch(
        "CreateStateMachine", {"name": "console", "definition": json.dumps(MACHINE), "roleArn": ROLE}
    )
    arn = cloud.stepfunctions.dispatch(
        "StartExecution", {"stateMachineArn": machine["stateMachineArn"], "name": "caught"}
    )["executionArn"]
    wait_for_state(cloud, arn, "Hold")
    listing = client.get("/_localcloud/executions")
    assert listing.status_code == 200 and "caught" in listing.text
    assert "default-src 'none'" in listing.headers["content-security-policy"]
    page = client.get(f"/_localcloud/execution?arn={urllib.parse.quote(arn, safe='')}")
    assert page.status_code == 200
    for state, outcome in (("First", "succeeded"), ("Boom", "caught"), ("Recover", "succeeded")):
        assert f'data-state="{state}" data-outcome="{outcome}"' in page.text, state
    assert 'data-state="Hold" data-outcome="running" data-current="true"' in page.text
    assert 'data-state="Never" data-outcome="unvisited"' in page.text
    fragment = client.get(f"/_localcloud/execution?arn={urllib.parse.quote(arn, safe='')}&fragment=1")
    assert fragment.status_code == 200 and fragment.headers["x-console-final"] == "0"
    assert "<html" not in fragment.text and 'data-current="true"' in fragment.text
    cloud.stepfunctions.dispatch("StopExecution", {"executionArn": arn})
    stopped = client.get(f"/_localcloud/execution?arn={urllib.parse.quote(arn, safe='')}&fragment=1")
    assert stopped.headers["x-console-final"] == "1" and 'data-current="true"' not in stopped.text


def test_missing_things_are_404_pages_naming_them(client: TestClient) -> None:
    for path, words in (
        ("/_localcloud/training/no-such-job", "no-such-job"),
        ("/_localcloud/tuning/no-such-tuning", "no-such-tuning"),
        ("/_localcloud/endpoints/no-such-endpoint", "no-such-endpoint"),
        ("/_localcloud/execution?arn=arn:aws:states:us-east-1:000000000000:execution:x:y", "Does Not Exist"),
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert words.lower() in answer.text.lower(), (path, answer.text[-600:])
        assert "Traceback" not in answer.text


def test_list_pages_answer_when_empty_and_static_files_are_served(client: TestClient) -> None:
    for section in ("executions", "tuning", "training", "endpoints"):
        answer = client.get(f"/_localcloud/{section}")
        assert answer.status_code == 200, section
    assert (
        client.get("/_localcloud/", follow_redirects=False).headers["location"] == "/_localcloud/executions"
    )
    assert client.get("/_localcloud/static/console.js").status_code == 200
    assert client.get("/_localcloud/static/console.css").status_code == 200
    assert client.get("/_localcloud/health").json()["status"] == "running"  # still the edge's own


def test_another_origin_is_refused_before_the_console(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/_localcloud/executions", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/_localcloud/executions", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/_localcloud/executions", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
