"""Writes ``profiler-report/rules.json`` and a self-contained ``profiler-report/report.html``.

rules.json is a list with one entry per rule, shaped like DescribeTrainingJob's
``ProfilerRuleEvaluationStatuses`` (RuleConfigurationName, RuleEvaluationStatus, StatusDetails,
LastModifiedTime) plus ``Details`` (parameters, observed values, how the rule differs from
SageMaker's) and ``Recommendation``. It is written first, so it exists even if plotting fails.

report.html needs nothing but a browser: every plot is a PNG rendered with matplotlib's Agg
backend (object-oriented ``Figure`` API, no pyplot global state) and embedded as a base64
``data:`` URI; styles are inline; there are no scripts and no external links. Sections: summary,
rules table, step-time distribution and timeline (outliers marked), time breakdown per phase,
CPU / memory / IO-wait (and GPU) utilisation timelines, loss and accuracy per epoch.
Relies on: matplotlib, numpy, the standard library (html, json, base64).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)  # no display needed; harmless when a backend was chosen already
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from classifier.profiling.rules import RuleResult
from classifier.profiling.series import ProfileData

RULES_FILE = "rules.json"
REPORT_FILE = "report.html"
_STATUS_COLOURS = {"IssuesFound": "#c62828", "NoIssuesFound": "#2e7d32", "Error": "#ef6c00"}
_PHASE_COLOURS = {
    "data wait": "#ef5350",
    "forward": "#42a5f5",
    "backward": "#7e57c2",
    "optimizer": "#26a69a",
    "other": "#bdbdbd",
}


def write_report(report_dir: Path, data: ProfileData, results: Sequence[RuleResult]) -> tuple[Path, Path]:
    """Write rules.json then report.html into ``report_dir``; returns both paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    rules_path = report_dir / RULES_FILE
    _atomic_write(rules_path, json.dumps([r.to_json() for r in results], indent=2, default=_json_default))
    html_path = report_dir / REPORT_FILE
    _atomic_write(html_path, render_html(data, results))
    return rules_path, html_path


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).chmod(0o644)  # mkstemp creates 0600; the report is meant to be read by others
    Path(tmp).replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float = 10.0, height: float = 3.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height))
    ax = fig.subplots()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_step_histogram(data: ProfileData, outlier_limit: float | None) -> str:
    fig, ax = _figure()
    total = data.steps.total
    if total.size == 0:
        _no_data(ax, "no training steps recorded")
    else:
        ax.hist(total, bins=min(50, max(5, total.size // 2)), color="#42a5f5", edgecolor="white")
        ax.axvline(
            float(np.median(total)), color="#1b5e20", linestyle="--", label=f"median {np.median(total):.3f} s"
        )
        if outlier_limit is not None:
            ax.axvline(
                outlier_limit, color="#c62828", linestyle=":", label=f"outlier limit {outlier_limit:.3f} s"
            )
        ax.set_xlabel("step time (s)")
        ax.set_ylabel("steps")
        ax.legend(loc="upper right")
    ax.set_title("Step-time distribution")
    return _png(fig)


def plot_step_timeline(data: ProfileData, outlier_limit: float | None) -> str:
    fig, ax = _figure()
    steps = data.steps
    if len(steps) == 0:
        _no_data(ax, "no training steps recorded")
    else:
        index = np.arange(len(steps))
        ax.plot(index, steps.total, color="#1565c0", linewidth=1, label="step time")
        ax.plot(index, steps.data, color="#ef5350", linewidth=1, alpha=0.8, label="data wait")
        if outlier_limit is not None:
            outliers = steps.total > outlier_limit
            ax.scatter(
                index[outliers],
                steps.total[outliers],
                color="#c62828",
                marker="x",
                s=50,
                zorder=3,
                label=f"outliers ({int(outliers.sum())})",
            )
            ax.axhline(outlier_limit, color="#c62828", linestyle=":", linewidth=1)
        for boundary in np.flatnonzero(np.diff(steps.epoch) != 0) + 0.5:
            ax.axvline(boundary, color="#9e9e9e", linewidth=0.8)
        ax.set_xlabel("training step (grey lines: epoch boundaries)")
        ax.set_ylabel("seconds")
        ax.legend(loc="upper right")
    ax.set_title("Step timeline")
    return _png(fig)


def plot_breakdown(data: ProfileData) -> str:
    fig, ax = _figure(10.0, min(12.0, 1.4 + 0.35 * (len(np.unique(data.steps.epoch)) + 1)))
    steps = data.steps
    if len(steps) == 0:
        _no_data(ax, "no training steps recorded")
        ax.set_title("Time breakdown")
        return _png(fig)
    epochs = np.unique(steps.epoch)
    phases = {
        "data wait": steps.data,
        "forward": steps.forward,
        "backward": steps.backward,
        "optimizer": steps.optimizer,
    }
    phases["other"] = np.clip(steps.total - sum(phases.values()), 0.0, None)
    labels = [f"epoch {int(e) + 1}" for e in epochs] + ["all"]
    left = np.zeros(len(labels))
    for name, values in phases.items():
        shares = []
        for e in epochs:
            sel = steps.epoch == e
            shares.append(100.0 * values[sel].sum() / max(steps.total[sel].sum(), 1e-12))
        shares.append(100.0 * values.sum() / max(steps.total.sum(), 1e-12))
        ax.barh(labels, shares, left=left, color=_PHASE_COLOURS[name], label=name)
        left += np.array(shares)
    ax.set_xlim(0, max(100.0, float(left.max())))
    ax.set_xlabel("% of training step time")
    ax.invert_yaxis()
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title("Time breakdown per phase")
    return _png(fig)


def _relative(data: ProfileData, t: np.ndarray) -> np.ndarray:
    return np.asarray(t - data.job.process_start)


def _shade_training(ax: Axes, data: ProfileData) -> None:
    if len(data.steps):
        ax.axvspan(
            float(_relative(data, data.steps.start[:1])[0]),
            float(_relative(data, data.steps.end[-1:])[0]),
            color="#fff59d",
            alpha=0.25,
            label="training steps",
        )


def plot_cpu(data: ProfileData) -> str:
    fig, ax = _figure()
    system = data.system
    if len(system) == 0:
        _no_data(ax, "no system samples (profiling ran too briefly, or on a rank other than 0)")
    else:
        t = _relative(data, system.time)
        cores = system.cpu_per_core.shape[1]
        for c in range(cores):
            ax.plot(
                t,
                system.cpu_per_core[:, c],
                linewidth=0.6,
                alpha=0.35 if cores > 4 else 0.6,
                label=f"core {c}" if cores <= 8 else None,
            )
        ax.plot(t, system.cpu_total, color="black", linewidth=1.8, label="all cores")
        _shade_training(ax, data)
        ax.set_ylim(0, 105)
        ax.set_xlabel("seconds since train.py started")
        ax.set_ylabel("CPU utilisation (%)")
        ax.legend(loc="upper right", ncol=min(5, cores + 2), fontsize=8)
    ax.set_title("CPU utilisation (per core and total)")
    return _png(fig)


def plot_memory_io(data: ProfileData) -> str:
    fig, ax = _figure()
    system = data.system
    if len(system) == 0:
        _no_data(ax, "no system samples")
    else:
        t = _relative(data, system.time)
        ax.plot(t, system.memory_percent, color="#6a1b9a", label="memory used (%)")
        ax.plot(t, system.iowait, color="#ef6c00", label="IO wait (% of CPU time)")
        _shade_training(ax, data)
        ax.set_ylim(0, 105)
        ax.set_xlabel("seconds since train.py started")
        ax.set_ylabel("%")
        ax.legend(loc="upper right")
    ax.set_title("Memory and IO wait")
    return _png(fig)


def plot_gpu(data: ProfileData) -> str | None:
    system = data.system
    if system.gpu_count == 0 or len(system) == 0:
        return None
    fig = Figure(figsize=(10.0, 5.0))
    top, bottom = fig.subplots(2, 1, sharex=True)
    t = _relative(data, system.time)
    for g in range(system.gpu_count):
        name = system.gpu_names[g] if g < len(system.gpu_names) else f"gpu{g}"
        top.plot(t, system.gpu_util[:, g], linewidth=1, label=name)
        bottom.plot(t, system.gpu_memory_percent[:, g], linewidth=1, label=name)
    for ax, label in ((top, "GPU utilisation (%)"), (bottom, "GPU memory used (%)")):
        ax.set_ylim(0, 105)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        _shade_training(ax, data)
        ax.legend(loc="upper right", fontsize=8)
    bottom.set_xlabel("seconds since train.py started")
    top.set_title("GPU utilisation and memory (NVML)")
    return _png(fig)


def plot_metrics(data: ProfileData) -> str:
    fig = Figure(figsize=(10.0, 3.6))
    left, right = fig.subplots(1, 2)
    epochs = data.epochs
    if not epochs:
        _no_data(left, "no epoch metrics")
        _no_data(right, "no epoch metrics")
    else:
        x = [e.epoch for e in epochs]
        for ax, names, title in (
            (left, ("train_loss", "valid_loss"), "Loss"),
            (right, ("train_accuracy", "valid_accuracy"), "Accuracy"),
        ):
            for name, colour in zip(names, ("#1565c0", "#ef6c00"), strict=True):
                values = [e.get(name) for e in epochs]
                if any(math.isfinite(v) for v in values):
                    ax.plot(x, values, marker="o", color=colour, label=name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _summary_rows(data: ProfileData) -> list[tuple[str, str]]:
    steps, job = data.steps, data.job
    rows = [
        (
            "Device",
            f"{job.device_type}"
            + (f" ({', '.join(data.system.gpu_names)})" if data.system.gpu_names else ""),
        ),
        ("CPU cores / DataLoader workers", f"{job.cpu_count} / {job.num_workers}"),
        ("Batch size", str(job.batch_size)),
        ("Ranks", f"rank {job.rank} of {job.world_size} (this report: rank {job.rank}'s steps)"),
        ("Training steps / epochs", f"{len(steps)} / {len(data.epochs)}"),
        (
            "Forward/backward timing",
            "CUDA events (GPU time)" if job.gpu_timing == "cuda-events" else "CPU wall clock",
        ),
    ]
    if len(steps):
        rows.append(("Time to first step", f"{steps.start[0] - job.process_start:.1f} s"))
        rows.append(("Median step time", f"{np.median(steps.total) * 1000:.1f} ms"))
        train_time = float(steps.total.sum())
        if train_time > 0:
            rows.append(
                ("Training throughput", f"{steps.batch_size.sum() / train_time:.1f} samples/s (inside steps)")
            )
    if job.finish_time:
        rows.append(("Job duration until report", f"{job.finish_time - job.process_start:.1f} s"))
    rows.append(("System samples", f"{len(data.system)} every {data.system.interval:g} s"))
    return rows


def _rules_table(results: Sequence[RuleResult]) -> str:
    rows = []
    for r in results:
        colour = _STATUS_COLOURS.get(r.status, "#333")
        status = r.status if r.applicable else f"{r.status} (not applicable)"
        params = ", ".join(f"{k}={v:g}" for k, v in r.parameters.items())
        rows.append(
            "<tr>"
            f"<td><b>{_e(r.name)}</b><div class='muted'>{_e(r.description)}</div></td>"
            f"<td style='color:{colour};font-weight:bold'>{_e(status)}</td>"
            f"<td>{_e(r.details)}</td>"
            f"<td>{_e(r.recommendation)}</td>"
            f"<td class='muted'>{_e(params)}<br><br>{_e(r.difference)}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>Rule</th><th>Status</th><th>Findings</th><th>Recommendation</th>"
        "<th>Parameters / difference from SageMaker</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _img(b64: str, alt: str) -> str:
    return f"<figure><img alt='{_e(alt)}' src='data:image/png;base64,{b64}'></figure>"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#212121;max-width:1150px}
h1{margin-bottom:4px} h2{border-bottom:2px solid #e0e0e0;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{border:1px solid #e0e0e0;padding:6px;
vertical-align:top;text-align:left} th{background:#f5f5f5} .muted{color:#757575;font-size:12px}
.summary td:first-child{font-weight:bold;width:260px} figure{margin:8px 0} img{max-width:100%}
.badge{display:inline-block;padding:4px 10px;border-radius:12px;color:white;font-weight:bold}
"""


# The helpers other reports of this package share (classifier.evaluation_report): one look, one
# way of embedding plots.
REPORT_CSS = _CSS
atomic_write = _atomic_write
json_default = _json_default
figure_png = _png
new_figure = _figure
no_data = _no_data
escape = _e
img_tag = _img


def render_html(data: ProfileData, results: Sequence[RuleResult]) -> str:
    """The whole report as one HTML string (no external resources)."""
    outlier = next((r for r in results if r.name == "StepOutlier"), None)
    limit = outlier.observed.get("outlier_limit_seconds") if outlier is not None else None
    plots: list[tuple[str, str, Callable[[], str | None]]] = [
        ("steps", "Step-time distribution", lambda: plot_step_histogram(data, limit)),
        ("steps", "Step timeline with outliers", lambda: plot_step_timeline(data, limit)),
        ("breakdown", "Time breakdown", lambda: plot_breakdown(data)),
        ("system", "CPU utilisation", lambda: plot_cpu(data)),
        ("system", "Memory and IO wait", lambda: plot_memory_io(data)),
        ("system", "GPU utilisation and memory", lambda: plot_gpu(data)),
        ("metrics", "Loss and accuracy", lambda: plot_metrics(data)),
    ]
    rendered: dict[str, list[str]] = {}
    for key, title, make in plots:
        try:
            image = make()
        except Exception as exc:  # one broken plot must not lose the report
            rendered.setdefault(key, []).append(f"<p class='muted'>{_e(title)}: plot failed ({_e(exc)})</p>")
            continue
        if image is not None:
            rendered.setdefault(key, []).append(_img(image, title))
    triggered = sum(1 for r in results if r.status == "IssuesFound")
    errors = sum(1 for r in results if r.status == "Error")
    badge_colour = _STATUS_COLOURS["IssuesFound" if triggered else "NoIssuesFound"]
    badges = (
        f"<span class='badge' style='background:{badge_colour}'>"
        f"{triggered} of {len(results)} rules found issues</span>"
    )
    if errors:
        badges += (
            f" <span class='badge' style='background:{_STATUS_COLOURS['Error']}'>{errors} rule errors</span>"
        )
    summary = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in _summary_rows(data))

    def section(key: str) -> str:
        return "".join(rendered.get(key, [])) or "<p class='muted'>No data.</p>"

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Profiler report</title><style>{_CSS}</style></head>
<body>
<h1>Training profiler report</h1>
<p>{badges}</p>
<p class="muted">Recorded inside the training job (per-step timings and a 500 ms system sampler); rules follow
SageMaker Debugger's built-in rules and default thresholds, with the differences stated per rule.</p>
<h2>Summary</h2><table class="summary">{summary}</table>
<h2>Rules</h2>{_rules_table(results)}
<h2>Step times</h2>{section("steps")}
<h2>Where step time goes</h2>
<p class="muted">Data wait: waiting for the DataLoader and moving the batch to the device. Other: time inside
the step not covered by the four phases (for CUDA-event timing, CPU time not overlapped with GPU work).</p>
{section("breakdown")}
<h2>System utilisation</h2>
<p class="muted">Yellow band: from the first to the last training step.</p>{section("system")}
<h2>Loss and accuracy</h2>{section("metrics")}
</body></html>
"""
