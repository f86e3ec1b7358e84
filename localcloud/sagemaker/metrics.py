"""Training metrics from log lines, the way SageMaker reads them: each MetricDefinition's regex is
applied to every log line and its first capture group is the value.

Keeps, per metric, the whole series of (timestamp, value) in order (tuning's early stopping and
Hyperband need the per-epoch values) and the last value (FinalMetricDataList).
Relies on the standard library's re.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import AwsError

MAX_POINTS = 20000  # per metric; a metric printed every step stays bounded


@dataclass
class MetricParser:
    definitions: list[dict[str, str]]
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    _partial: str = ""

    def __post_init__(self) -> None:
        self._compiled = [(d["Name"], compile_metric_regex(d["Name"], d["Regex"])) for d in self.definitions]

    def feed(self, text: str) -> list[tuple[str, float]]:
        """Values found in ``text`` (log output, possibly ending mid-line: the rest waits)."""
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        found: list[tuple[str, float]] = []
        for line in lines:
            found.extend(self.parse_line(line))
        return found

    def flush(self) -> list[tuple[str, float]]:
        rest, self._partial = self._partial, ""
        return self.parse_line(rest) if rest else []

    def parse_line(self, line: str) -> list[tuple[str, float]]:
        values: list[tuple[str, float]] = []
        for name, regex in self._compiled:
            match = regex.search(line)
            if not match:
                continue
            text = match.group(1) if regex.groups else match.group(0)
            try:
                values.append((name, float(text)))
            except (TypeError, ValueError):
                continue
        return values


def compile_metric_regex(name: str, regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise AwsError(
            "ValidationException", f"The regular expression for metric {name} is not valid: {exc}"
        ) from None


def add_points(series: dict[str, list[list[float]]], points: list[tuple[str, float]], ts: float) -> None:
    for name, value in points:
        values = series.setdefault(name, [])
        values.append([ts, value])
        if len(values) > MAX_POINTS:
            del values[0]


def final_metrics(series: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"MetricName": name, "Value": points[-1][1], "Timestamp": points[-1][0]}
        for name, points in sorted(series.items())
        if points
    ]
