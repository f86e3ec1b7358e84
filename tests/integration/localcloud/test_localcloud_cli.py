"""``localcloud`` commands against a real instance: taken ports, start-execution's output, status size.

- ``up`` on an edge port held by another program names the port, says it is not localcloud and
  what to do; on an API port held by another program the same (no uvicorn ``Errno 98``); on the
  port of a running localcloud it names that instance's pid and state dir.
- ``start-execution`` prints the execution ARN and how to follow it, not the raw response.
- ``status`` ends with the state dir and its size.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import cli
from support.localcloud_proc import LocalCloudProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(tmp_path_factory.mktemp("lc-cli") / "state") as proc:
        yield proc


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # another program: not on our stderr
        pass


def test_up_on_an_edge_port_held_by_another_program(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        argv = ["up", "--no-template", "--port", str(port), "--api-port", str(free_port())]
        code, _, err = _run([*argv, "--state-dir", str(tmp_path / "state")], capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"port {port} (--port) is taken by another program, not localcloud" in err
    assert "http 404" in err and "--port N" in err


def test_up_on_an_api_port_held_by_another_program(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = ["up", "--no-template", "--port", str(free_port()), "--api-port", str(port)]
        code, _, err = _run([*argv, "--state-dir", str(tmp_path / "state")], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Errno 98" not in err, err
    assert f"port {port} (--api-port) is taken by another program, not localcloud" in err
    assert "--api-port N" in err


def test_up_on_the_port_of_a_running_localcloud(
    lc: LocalCloudProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["up", "--no-template", "--port", str(lc.port), "--api-port", str(free_port())]
    code, _, err = _run([*argv, "--state-dir", str(tmp_path / "other")], capsys)
    assert code == 1
    assert f"port {lc.port} (--port) is taken by a localcloud already running (pid {lc.pid}" in err
    assert f"state dir {lc.state_dir.resolve()}" in err and "localcloud stop --state-dir" in err


def test_start_execution_prints_the_arn_and_how_to_follow_it(
    lc: LocalCloudProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    arn = lc.client("stepfunctions").create_state_machine(
        name="cli-pass",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::000000000000:role/x",
    )["stateMachineArn"]
    (tmp_path / "in.json").write_text('{"a": 1}')
    argv = [
        "start-execution",
        "--state-machine-arn",
        arn,
        "--name",
        "cli-1",
        "--input",
        str(tmp_path / "in.json"),
    ]
    code, out, err = _run([*argv, "--port", str(lc.port)], capsys)
    assert code == 0, err
    assert out.strip() == arn.replace(":stateMachine:", ":execution:") + ":cli-1"
    assert "ResponseMetadata" not in out + err
    assert "localcloud logs cli-1" in err


def test_status_shows_the_state_dir_and_its_size(
    lc: LocalCloudProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["status", "--port", str(lc.port)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    size_line = next(line for line in lines if line.startswith("state dir "))
    assert size_line.split()[-1] in ("KB", "MB", "GB")
    assert str(lc.state_dir.resolve()) in out


def test_status_limit_shows_the_newest_executions_and_counts_the_rest(
    lc: LocalCloudProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a real instance every List* call status makes is one it accepts (MaxResults and
    page tokens included); --limit 2 shows the 2 newest of 5 executions, --all every one."""
    sfn = lc.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="status-limit",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::000000000000:role/x",
    )["stateMachineArn"]
    for i in range(1, 6):
        sfn.start_execution(stateMachineArn=arn, name=f"limit-{i}")
        time.sleep(0.05)  # distinct start times: newest first is well defined
    code, out, err = _run(["status", "--port", str(lc.port), "--limit", "2"], capsys)
    assert code == 0, err
    table = out[out.index("Step Functions executions of status-limit") :]
    shown = [word for word in table.split() if word.startswith("limit-")]
    assert shown == ["limit-5", "limit-4"], out
    assert "… and 3 more executions (--all to show them)" in table, out
    code, out, err = _run(["status", "--port", str(lc.port), "--all"], capsys)
    assert code == 0, err
    assert all(f"limit-{i}" in out for i in range(1, 6)) and "more executions" not in out, out
