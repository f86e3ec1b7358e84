"""Shared pieces of ``localcloud status``'s sections: the Section type and cell formats.

A section is a title and a renderable (None when it has nothing to show). Cells are short (times
as HH:MM:SS today, else MM-DD HH:MM; durations H:MM:SS; a job's final metrics as ``name=value``
pairs, 4 significant digits, at most three and ``+N`` for the rest) so tables fit 80 columns; long
texts (failure reasons, errors) are :func:`note` lines under the table, never cells, and
:func:`more` is the line saying how many items a section left out. Relies on rich.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text


class Section(NamedTuple):
    title: str
    body: RenderableType | None


def table(title: str) -> Table:
    """A section table: a rule under the headers, two spaces between columns, no outer padding.

    At least as wide as its title, so that a narrow table does not fold its title into a column.
    """
    return Table(
        title=title,
        min_width=len(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )


def when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone()
    today = dt.datetime.now().astimezone().date()
    return local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%m-%d %H:%M")


def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None:
        return ""
    seconds = max(0, int(((end or dt.datetime.now(dt.UTC)) - start).total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def note(name: str, message: str, style: str = "red") -> Text:
    """``  name: message`` on a line of its own (the terminal wraps it; nothing is cut)."""
    text = Text("  ")
    text.append(f"{name}: ", style="bold")
    text.append(" ".join(message.split()), style=style)
    return text


def metrics(values: Iterable[Mapping[str, Any]], first: str | None = None, most: int = 3) -> Text:
    """``a=0.9123 b=0.31 +2``: a FinalMetricDataList, ``first`` (a tuning objective) leading.

    A Text, not markup: metric names are the user's regex names and may hold ``[``.
    """
    ordered = sorted(values, key=lambda metric: metric["MetricName"] != first)
    cells = [f"{metric['MetricName']}={float(metric['Value']):.4g}" for metric in ordered[:most]]
    if len(ordered) > most:
        cells.append(f"+{len(ordered) - most}")
    return Text(" ".join(cells))


def more(count: int, noun: str) -> Text:
    """``  … and 240 more training jobs (--all to show them)``, dim, under a section's table."""
    plural = noun if count == 1 else f"{noun}s"
    return Text(f"  … and {count} more {plural} (--all to show them)", style="dim")
