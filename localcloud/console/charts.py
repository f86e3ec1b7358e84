"""Server-side SVG charts for the console: line charts (metric curves) and scatter plots (tuning).

Each point is an SVG ``<circle class="pt">`` carrying its series and values in ``data-*``
attributes (the browser tests count them; a ``<title>`` gives the tooltip). Axes get "nice" tick
values (1, 2, 2.5, 5 x 10^n steps; on a log axis decades, else 1-2-5 or 1..9 x 10^n). A log axis
is used where the caller says (a Logarithmic hyperparameter range). Non-finite values are left out.

Text is placed by an estimate of its width (:func:`text_width`, generous for the console's
11 px sans-serif): a line chart's legend has its own band above the plot, so it never covers a
point; the plot's left edge leaves room for the widest y tick label; an x tick label near either
end of the axis is moved inwards so that it stays inside the viewBox.

Hand-written: a few dozen lines of scaling instead of a charting bundle that would have to be
served (no asset may come from another host); relies on markupsafe for escaping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 260
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 40
FONT_PX = 11  # ticks and legend (console.css)
Y_LABEL_BAND = 22  # the rotated y axis label, centred on x=12 (12 px font)
LEGEND_ROW = 16  # a legend row's height; the plot starts below the legend's rows
SWATCH = 14  # a legend entry's line sample, then a gap and the series name


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = ""
    highlight: bool = False


@dataclass(frozen=True)
class Plot:
    """The plotted rectangle inside the ``WIDTH`` x ``HEIGHT`` viewBox."""

    left: float
    top: float
    right: float = WIDTH - PAD_R
    bottom: float = HEIGHT - PAD_B


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    log: bool = False

    def position(self, value: float, start: float, end: float) -> float:
        low, high, v = self.low, self.high, value
        if self.log:
            low, high, v = math.log10(low), math.log10(high), math.log10(value)
        span = (high - low) or 1.0
        return start + (v - low) / span * (end - start)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Round ticks for a log axis over [low, high] (low > 0): the decades inside if there are two,
    else 1-2-5 x 10^n, else 1..9 x 10^n; a range too narrow for those gets linear nice ticks."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [round(m * 10.0**e, 12) for e in decades for m in mantissas]
        inside = [t for t in ticks if low <= t <= high]
        if len(inside) >= 2:
            return inside
    return nice_ticks(low, high, 2)


def fmt(value: float) -> str:
    """A compact label: 0.001234 -> 0.00123, 12345 -> 1.23e+04."""
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def text_width(text: str) -> float:
    """An upper estimate of ``text``'s width in px at the tick font (no font metrics server-side)."""
    return len(text) * FONT_PX * 0.65  # DejaVu Sans digits are 0.636 em


def _axis(values: Sequence[float], log: bool) -> Axis:
    if log:
        values = [v for v in values if v > 0]
    if not values:  # nothing to draw yet (no trial has finished): an empty frame
        return Axis(0.1, 1.0, True) if log else Axis(0.0, 1.0)
    low, high = min(values), max(values)
    if high == low:
        if log:
            return Axis(low / 2, high * 2, True)
        pad = abs(low) * 0.1 or 1.0
        return Axis(low - pad, high + pad)
    if log:
        return Axis(low / 1.2, high * 1.2, True)
    pad = (high - low) * 0.05
    return Axis(low - pad, high + pad)


def _finite(points: Sequence[Point], x_log: bool) -> list[Point]:
    return [p for p in points if math.isfinite(p.x) and math.isfinite(p.y) and (not x_log or p.x > 0)]


def _x_ticks(x: Axis, names: Sequence[str] | None) -> list[tuple[float, str]]:
    """(value, label) of each x tick: decades on a log axis; whole numbers only for an integer axis
    (epochs, trial numbers); a categorical axis labels each position with its value's name."""
    if x.log:
        return [(t, fmt(t)) for t in log_ticks(x.low, x.high)]
    ticks = nice_ticks(x.low, x.high)
    if names is not None:
        return [(t, names[int(t)]) for t in ticks if t == int(t) and 0 <= t < len(names)]
    return [(t, fmt(t)) for t in ticks]


def _y_ticks(y: Axis) -> list[tuple[float, str]]:
    return [(t, fmt(t)) for t in nice_ticks(y.low, y.high)]


def _left(y_ticks: Sequence[tuple[float, str]]) -> float:
    """The plot's left edge: room for the rotated y axis label and the widest y tick label."""
    widest = max((text_width(text) for _, text in y_ticks), default=0.0)
    return max(PAD_L, Y_LABEL_BAND + widest + 6)


def _frame(
    plot: Plot,
    x: Axis,
    y: Axis,
    labels: tuple[str, str],
    *,
    names: Sequence[str] | None = None,
    whole: bool = False,
) -> list[str]:
    left, right, top, bottom = plot.left, plot.right, plot.top, plot.bottom
    out = [
        f'<rect class="plot" x="{left:.0f}" y="{top}" width="{right - left:.0f}" height="{bottom - top}"/>'
    ]
    for tick, text in _x_ticks(x, names):
        if whole and tick != int(tick):
            continue
        px = x.position(tick, left, right)
        half = text_width(text) / 2
        tx = min(max(px, half + 2), WIDTH - half - 2)  # an end label moves inwards, not out of view
        out.append(f'<line class="grid" x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}"/>')
        out.append(
            f'<text class="tick" x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle">{escape(text)}</text>'
        )
    for tick, text in _y_ticks(y):
        py = y.position(tick, bottom, top)
        out.append(f'<line class="grid" x1="{left:.0f}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 4:.0f}" y="{py + 4:.1f}" text-anchor="end">{text}</text>')
    x_label, y_label = labels
    out.append(
        f'<text class="axis-label" x="{(left + right) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    out.append(
        f'<text class="axis-label" x="12" y="{(top + bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(top + bottom) / 2:.0f})">{escape(y_label)}</text>'
    )
    return out


def _legend_layout(names: Sequence[str], left: float) -> list[tuple[float, int]]:
    """(x, row) of each legend entry: left to right from the plot's left edge, a new row when the
    next entry would pass the right edge of the viewBox."""
    placed: list[tuple[float, int]] = []
    x, row = left, 0
    for name in names:
        width = SWATCH + 4 + text_width(name)
        if x > left and x + width > WIDTH - PAD_R:
            x, row = left, row + 1
        placed.append((x, row))
        x += width + 14
    return placed


def _legend(names: Sequence[str], placed: Sequence[tuple[float, int]]) -> list[str]:
    """One ``<g class="legend-item">`` per series: its line sample and name, in its series' colour."""
    out = []
    for index, (name, (x, row)) in enumerate(zip(names, placed, strict=True)):
        baseline = PAD_T - 2 + LEGEND_ROW * row
        out.append(
            f'<g class="legend-item" data-series="{escape(name)}">'
            f'<line class="line s{index}" x1="{x:.1f}" y1="{baseline - 4}" x2="{x + SWATCH:.1f}" '
            f'y2="{baseline - 4}"/>'
            f'<text class="legend s{index}" x="{x + SWATCH + 4:.1f}" y="{baseline}">{escape(name)}</text></g>'
        )
    return out


def _circle(px: float, py: float, series: str, point: Point, index: int) -> str:
    cls = "pt best" if point.highlight else "pt"
    title = point.label or f"{fmt(point.x)}, {fmt(point.y)}"
    return (
        f'<circle class="{cls} s{index}" cx="{px:.1f}" cy="{py:.1f}" r="{6 if point.highlight else 4}" '
        f'data-series="{escape(series)}" data-x="{point.x!r}" data-y="{point.y!r}">'
        f"<title>{escape(title)}</title></circle>"
    )


def _svg(kind: str, body: list[str], empty: bool) -> Markup:
    note = (
        f'<text class="empty" x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">no data yet</text>'
        if empty
        else ""
    )
    return Markup(
        f'<svg class="chart {kind}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img">{"".join(body)}{note}</svg>'
    )


def line_chart(
    series: Mapping[str, Sequence[Point]], x_label: str, y_label: str, *, whole: bool = True
) -> Markup:
    """One polyline plus one circle per point for each named series, on shared axes, with a legend
    in a band above the plot (x ticks on whole numbers unless ``whole`` is False: the x axis is
    epochs)."""
    clean = {name: _finite(points, False) for name, points in series.items()}
    every = [p for points in clean.values() for p in points]
    x, y = _axis([p.x for p in every], False), _axis([p.y for p in every], False)
    left = _left(_y_ticks(y))
    placed = _legend_layout(list(clean), left)
    plot = Plot(left, top=PAD_T + LEGEND_ROW * max((row + 1 for _, row in placed), default=0))
    body = _frame(plot, x, y, (x_label, y_label), whole=whole)
    for index, (name, points) in enumerate(clean.items()):
        coords = [
            (x.position(p.x, plot.left, plot.right), y.position(p.y, plot.bottom, plot.top), p)
            for p in points
        ]
        if len(coords) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in coords)
            body.append(f'<polyline class="line s{index}" points="{path}"/>')
        body.extend(_circle(px, py, name, p, index) for px, py, p in coords)
    body.extend(_legend(list(clean), placed))
    return _svg("line", body, not every)


def scatter(
    points: Sequence[Point],
    x_label: str,
    y_label: str,
    *,
    x_log: bool = False,
    names: Sequence[str] | None = None,
    whole: bool = False,
) -> Markup:
    """One circle per point; highlighted points (the best trial) drawn larger and last (on top).
    ``names`` labels a categorical x axis (x is the position of a value); ``whole`` keeps whole
    numbers only on the x axis (trial numbers)."""
    clean = _finite(points, x_log)
    x, y = _axis([p.x for p in clean], x_log), _axis([p.y for p in clean], False)
    plot = Plot(_left(_y_ticks(y)), top=PAD_T)
    body = _frame(plot, x, y, (x_label, y_label), names=names, whole=whole)
    for p in sorted(clean, key=lambda p: p.highlight):
        px, py = x.position(p.x, plot.left, plot.right), y.position(p.y, plot.bottom, plot.top)
        body.append(_circle(px, py, y_label, p, 0))
    return _svg("scatter", body, not clean)
