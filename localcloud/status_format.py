"""Shared pieces of ``localcloud status``'s sections: the Section type and cell formats.

A section is a title and a renderable (None when it has nothing to show). Cells are short (times
as HH:MM:SS today, else MM-DD HH:MM; durations H:MM:SS) so tables fit 80 columns; long texts
(failure reasons, errors) are :func:`note` lines under the table, never cells. Relies on rich.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text


class Section(NamedTuple):
    title: str
    body: RenderableType | None


def table(title: str) -> Table:
    """A section table: a rule under the headers, two spaces between columns, no outer padding."""
    return Table(
        title=title,
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
