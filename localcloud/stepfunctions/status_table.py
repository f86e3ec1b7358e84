"""The Step Functions section of ``localcloud status``: recent executions, read through the AWS API.

``executions_section(clients, per_machine) -> Section`` backs ``localcloud.status.SECTIONS``
(``clients`` maps service names to boto3 clients aimed at the edge): one table per state machine
(its name in the title) with its latest ``per_machine`` executions (all with None), their status,
the state they are in (the last ``*StateEntered`` event of a running execution), start time and
duration, and a line counting the executions left out. Tables fit 80 columns; errors go on lines
of their own under the table. Relies on boto3 (through ``clients``) and rich.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from ..status_format import Section, duration, more, note, when
from ..status_format import table as new_table
from ..status_listing import pages, take

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


def executions_section(clients: dict[str, Any], per_machine: int | None = 10) -> Section:
    sfn = clients["stepfunctions"]
    parts: list[RenderableType] = []
    machines = pages(
        sfn.list_state_machines, "stateMachines", token_in="nextToken", token_out="nextToken", maxResults=1000
    )
    for machine in (machine for page in machines for machine in page):
        listed = take(
            pages(
                sfn.list_executions,
                "executions",
                token_in="nextToken",
                token_out="nextToken",
                stateMachineArn=machine["stateMachineArn"],
                maxResults=1000,
            ),
            per_machine,
        )
        if not listed.shown:
            continue
        table = new_table(f"Step Functions executions of {machine['name']}")
        table.add_column("Name", overflow="fold")
        for column in ("Status", "Current state", "Started", "Duration"):
            table.add_column(column, no_wrap=True)
        errors: list[Text] = []
        for item in listed.shown:
            status = item["status"]
            current = _current_state(sfn, item["executionArn"]) if status == "RUNNING" else ""
            if status in ("FAILED", "TIMED_OUT", "ABORTED"):
                described = sfn.describe_execution(executionArn=item["executionArn"])
                error = f"{described.get('error', '')}: {described.get('cause', '')}".strip(": ")
                if error:
                    errors.append(note(item["name"], error))
            style = _STYLE.get(status)
            table.add_row(
                item["name"],
                f"[{style}]{status}[/{style}]" if style else status,
                current,
                when(item["startDate"]),
                duration(item["startDate"], item.get("stopDate")),
            )
        parts.append(table)
        if listed.more:
            parts.append(more(listed.more, "execution"))
        parts.extend(errors)
    return Section("Step Functions executions", Group(*parts) if parts else None)
