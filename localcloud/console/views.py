"""What each console page shows, computed from AWS response dicts (no I/O): history rows, trial
rows, chart points, endpoint figures. Kept apart from ``data.py`` (which fetches) and the routes
(which render) so the unit tests can check them on plain dicts.

Relies on charts.py's Point and the standard library.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from .charts import Point
from .data import epoch

FAILURE_DETAIL = "FailedEventDetails"


def when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` UTC ('' when absent)."""
    seconds = epoch(value)
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def pretty(text: Any) -> str:
    """JSON text indented for reading (other text as it is)."""
    if not isinstance(text, str):
        return "" if text is None else json.dumps(text, indent=2, default=str)
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


# ---------------------------------------------------------------------- executions
def _failure(event: dict[str, Any]) -> dict[str, Any] | None:
    for key, value in event.items():
        if key.endswith(FAILURE_DETAIL) and isinstance(value, dict):
            return value
    return None


def state_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per state visit: name, state type, entered/exited times, input, output, error."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] | None = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            last = {
                "name": details.get("name", ""),
                "type": kind[: -len("StateEntered")],
                "entered": when(event.get("timestamp")),
                "exited": "",
                "input": pretty(details.get("input")),
                "output": "",
                "error": "",
            }
            rows.append(last)
            open_rows[last["name"]] = last
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails") or {}
            row = open_rows.pop(details.get("name", ""), None)
            if row is not None:
                row["exited"] = when(event.get("timestamp"))
                row["output"] = pretty(details.get("output"))
        else:
            failure = _failure(event)
            if failure is not None and last is not None and not last["exited"]:
                last["error"] = f"{failure.get('error', '')}: {failure.get('cause', '')}".strip(": ")
    return rows


# ---------------------------------------------------------------------- tuning
def _objective(summary: dict[str, Any]) -> float | None:
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def trial_rows(trials: list[dict[str, Any]], best: str | None) -> list[dict[str, Any]]:
    """Trials oldest first with their number, tuned values, objective, early stop and best flags."""
    ordered = sorted(trials, key=lambda t: (epoch(t.get("CreationTime")) or 0.0, t["TrainingJobName"]))
    rows = []
    for number, trial in enumerate(ordered, start=1):
        rows.append(
            {
                "number": number,
                "name": trial["TrainingJobName"],
                "status": trial.get("TrainingJobStatus", ""),
                "hyperparameters": {
                    k: str(v).strip('"') for k, v in (trial.get("TunedHyperParameters") or {}).items()
                },
                "objective": _objective(trial),
                "stopped_early": trial.get("TrainingJobStatus") == "Stopped",
                "best": trial["TrainingJobName"] == best,
                "failure": trial.get("FailureReason", ""),
            }
        )
    return rows


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def ranges(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The tuned hyperparameters: name, kind (Continuous/Integer/Categorical), log scale, values."""
    config = (job.get("HyperParameterTuningJobConfig") or {}).get("ParameterRanges") or {}
    out = []
    for kind in ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges"):
        for item in config.get(kind) or []:
            out.append(
                {
                    "name": item["Name"],
                    "kind": kind.removesuffix("ParameterRanges"),
                    "log": item.get("ScalingType") in ("Logarithmic", "ReverseLogarithmic"),
                    "values": [str(v) for v in item.get("Values") or []],
                }
            )
    return out


def objective_points(rows: list[dict[str, Any]]) -> list[Point]:
    """Objective by trial number: one point per trial that has a final objective."""
    return [
        Point(
            row["number"],
            row["objective"],
            f"#{row['number']} {row['name']}: {row['objective']:.4g}",
            row["best"],
        )
        for row in rows
        if row["objective"] is not None
    ]


def hyperparameter_points(rows: list[dict[str, Any]], tuned: dict[str, Any]) -> list[Point]:
    """One tuned hyperparameter against the objective; a categorical one by its value's position."""
    points = []
    for row in rows:
        raw = row["hyperparameters"].get(tuned["name"])
        if raw is None or row["objective"] is None:
            continue
        x = float(tuned["values"].index(raw)) if tuned["values"] and raw in tuned["values"] else _number(raw)
        if x is None:
            continue
        label = f"#{row['number']} {tuned['name']}={raw}: {row['objective']:.4g}"
        points.append(Point(x, row["objective"], label, row["best"]))
    return points


# ---------------------------------------------------------------------- training
def epoch_series(metrics: dict[str, list[tuple[float, float]]], word: str) -> dict[str, list[Point]]:
    """The per-epoch series whose name has ``word`` (``loss``/``accuracy``), by epoch number (the
    n-th point of a series is epoch n); ``test:*`` metrics (one value after training) are left out."""
    out: dict[str, list[Point]] = {}
    for name, points in sorted(metrics.items()):
        if word in name and not name.startswith("test"):
            out[name] = [
                Point(float(i), value, f"{name} epoch {i}: {value:.4g}")
                for i, (_, value) in enumerate(points, 1)
            ]
    return out


def final_metrics(metrics: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    return {name: points[-1][1] for name, points in sorted(metrics.items()) if points}


def microseconds(value: float | None) -> str:
    """A ModelLatency figure (microseconds) in milliseconds ('-' when there is none)."""
    return "-" if value is None else f"{value / 1000:.1f} ms"
