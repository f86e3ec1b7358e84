"""The Step Functions section of ``localcloud status``: recent executions, read through the AWS API.

``executions_table(clients) -> Table`` fits ``localcloud.status.SECTIONS`` (``clients`` maps service
names to boto3 clients aimed at the edge): for every state machine, its latest executions with
their status, the state they are in (the last ``*StateEntered`` event of a running execution),
start time, duration and error. Relies on boto3 (through ``clients``) and rich.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.table import Table

_STYLE = {
    "SUCCEEDED": "green",
    "RUNNING": "yellow",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "magenta",
}


def _current_state(sfn: Any, execution_arn: str) -> str:
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=50)["events"]
    for event in events:
        if event["type"].endswith("StateEntered"):
            return str(event["stateEnteredEventDetails"]["name"])
    return ""


def _duration(start: dt.datetime, stop: dt.datetime | None) -> str:
    seconds = int(((stop or dt.datetime.now(dt.UTC)) - start).total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def executions_table(clients: dict[str, Any], per_machine: int = 10) -> Table:
    sfn = clients["stepfunctions"]
    table = Table(title="Step Functions executions", title_justify="left")
    for column in ("Name", "State machine", "Status", "Current state", "Started", "Duration", "Error"):
        table.add_column(column)
    for machine in sfn.list_state_machines(maxResults=100)["stateMachines"]:
        listed = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], maxResults=per_machine)
        for item in listed["executions"]:
            status = item["status"]
            current = _current_state(sfn, item["executionArn"]) if status == "RUNNING" else ""
            error = ""
            if status in ("FAILED", "TIMED_OUT", "ABORTED"):
                described = sfn.describe_execution(executionArn=item["executionArn"])
                error = f"{described.get('error', '')}: {described.get('cause', '')}".strip(": ")[:100]
            style = _STYLE.get(status)
            table.add_row(
                item["name"],
                machine["name"],
                f"[{style}]{status}[/{style}]" if style else status,
                current,
                item["startDate"].astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                _duration(item["startDate"], item.get("stopDate")),
                error,
            )
    return table
