"""Where localcloud writes the logs a user would read in CloudWatch Logs, and how ``logs`` finds them.

One file per log stream, under ``<state_dir>/logs/<log group>/<stream>.log``, with AWS's log
group and stream names: ``/aws/sagemaker/TrainingJobs`` (stream ``<job>/algo-1-<epoch>``),
``/aws/sagemaker/Endpoints/<name>`` (stream ``<variant>/<instance id>``), ``/aws/lambda/<function>``
(stream = worker), and the state machine's log group (its LoggingConfiguration's, else
``/aws/states/<machine>``; stream = execution: one JSON history event per line). Stream names may
hold ``/``, so each group's folder carries a ``.group`` marker naming the group; the CloudWatch
Logs emulation (``localcloud/cwlogs``) reads it.

``localcloud logs NAME`` takes a job, endpoint, function, execution or log group name, or a
template's logical ID (``PredictFunction``), looked up in the deployed stack records
(``<state_dir>/stacks/*.json``). Execution histories print one line per event
(:func:`history_line`). Works on the state dir alone, with localcloud running or not.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

TRAINING_JOBS = "/aws/sagemaker/TrainingJobs"
STATES = "aws/states"
GROUP_MARKER = ".group"


def log_path(state_dir: Path, group: str, stream: str) -> Path:
    group_dir = state_dir / "logs" / group.strip("/")
    path = group_dir / f"{stream}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = group_dir / GROUP_MARKER
    if not marker.exists():
        marker.write_text(group)
    return path


def logical_ids(state_dir: Path) -> dict[str, str]:
    """Logical ID -> the name its log group uses (function name, state machine name)."""
    names: dict[str, str] = {}
    for record in sorted((state_dir / "stacks").glob("*.json")):
        try:
            resources = json.loads(record.read_text()).get("Resources") or {}
        except (OSError, ValueError):
            continue
        for logical, resource in resources.items():
            physical = str((resource or {}).get("PhysicalResourceId") or "")
            if physical:
                # state machines and functions are named by ARN in some records: the last segment
                names[logical] = physical.rsplit(":", 1)[-1]
    return names


def find_streams(state_dir: Path, name: str) -> list[Path]:
    """Log files whose stream or group is ``name`` (or the resource a logical ID names)."""
    root = state_dir / "logs"
    if not root.is_dir():
        return []
    name = name.rsplit(":", 1)[-1] if name.startswith("arn:") else name  # an execution/function ARN
    name = logical_ids(state_dir).get(name, name)
    return sorted(
        p
        for p in root.rglob("*.log")
        if name in (p.stem, p.parent.name, _group_dir(p, root).name)
        or str(p.relative_to(root)).startswith(name.strip("/"))
    )


def _group_dir(stream: Path, root: Path) -> Path:
    """The folder of the log group ``stream`` is in (the nearest one with a ``.group`` marker):
    stream names may hold ``/`` (``<job>/algo-1-<epoch>``, ``AllTraffic/i-<id>``)."""
    for folder in stream.parents:
        if folder == root:
            break
        if (folder / GROUP_MARKER).exists():
            return folder
    return stream.parent


def is_execution_log(state_dir: Path, stream: Path) -> bool:
    """Whether ``stream`` is an execution history: in ``/aws/states/...`` or in the log group a state
    machine's LoggingConfiguration names (e.g. ``/aws/vendedlogs/states/...``), whose lines are
    history events (JSON objects with ``id`` and ``type``)."""
    if (state_dir / "logs" / STATES) in stream.parents:
        return True
    try:
        with stream.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        event = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(event, dict) and "id" in event and "type" in event


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(event: dict[str, Any]) -> tuple[str, str]:
    """(state name, short detail) of one history event."""
    details: dict[str, Any] = next(
        (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {}
    )
    state = str(details.get("name", ""))
    if "error" in details or "cause" in details:
        text = f"{details.get('error', '')}: {details.get('cause', '')}".strip(": ")
        return state, _short(text, 160)
    if event.get("type") == "TaskScheduled":
        try:
            function = json.loads(details.get("parameters") or "{}").get("FunctionName", "")
        except ValueError:
            function = ""
        return state, str(function).rsplit(":", 1)[-1] or str(details.get("resource", ""))
    if event.get("type") == "ExecutionSucceeded":
        return state, f"output {len(str(details.get('output', '')))} bytes"
    return state, ""


def history_line(event: dict[str, Any]) -> str:
    """``HH:MM:SS  #id  Type  State  detail`` for one execution history event."""
    stamp = event.get("timestamp")
    when = (
        dt.datetime.fromtimestamp(float(stamp)).strftime("%H:%M:%S")
        if isinstance(stamp, (int, float))
        else str(stamp or "")
    )
    state, detail = _detail(event)
    parts = [when, f"#{event.get('id', '?'):<4}", f"{event.get('type', '?'):<26}", f"{state:<18}", detail]
    return "  ".join(parts).rstrip()


def readable_history(text: str) -> str:
    """The raw history stream (one JSON event per line) as one readable line per event."""
    lines = []
    for raw in text.splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        lines.append(history_line(event) if isinstance(event, dict) else raw)
    return "\n".join(lines) + ("\n" if lines else "")
