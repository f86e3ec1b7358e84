"""Writes ``evaluation.json`` and a self-contained ``evaluation.html`` for a test-split evaluation.

evaluation.json is the document :func:`classifier.evaluation.evaluate_predictions` returns
(schema: docs/evaluation.md); it is written first, so it exists even if plotting fails.
evaluation.html looks and embeds plots as the profiler report does (its helpers are reused from
:mod:`classifier.profiling.report`: matplotlib Agg figures as base64 PNG, inline styles, no
scripts, no external links). Sections: summary, confusion-matrix heatmap (row-normalised, sized
so that 133 classes stay readable), reliability diagram, per-class F1 bars, the most frequent
confusions, and a thumbnail gallery of the misclassified images the model was most sure of.
Relies on matplotlib, numpy, Pillow, and the profiler report's helpers.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from classifier.profiling.report import (
    REPORT_CSS,
    atomic_write,
    escape,
    figure_png,
    img_tag,
    json_default,
    new_figure,
    no_data,
)

__all__ = ["EVALUATION_HTML", "EVALUATION_JSON", "render_html", "write_evaluation"]

EVALUATION_JSON = "evaluation.json"
EVALUATION_HTML = "evaluation.html"
THUMBNAIL_PX = 128


def write_evaluation(
    out_dir: Path, document: Mapping[str, Any], image_root: Path | None
) -> tuple[Path, Path]:
    """Write evaluation.json then evaluation.html into ``out_dir``; returns both paths.

    ``image_root`` is the test split's folder (the thumbnails are read from there); ``None``
    leaves the gallery without pictures.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / EVALUATION_JSON
    atomic_write(json_path, json.dumps(document, indent=2, default=json_default))
    html_path = out_dir / EVALUATION_HTML
    atomic_write(html_path, render_html(document, image_root))
    return json_path, html_path


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def plot_confusion_matrix(document: Mapping[str, Any]) -> str:
    """Heatmap of the row-normalised confusion matrix; cell and font sizes follow the class count."""
    matrix = np.asarray(document["confusionMatrix"], dtype=np.float64)
    labels = list(document["labels"])
    c = len(labels)
    side = max(6.0, min(0.13 * c + 3.0, 22.0))
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.subplots()
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the true class's images")
    font = max(4.0, min(9.0, 720.0 / c))
    ax.set_xticks(range(c), labels=labels, rotation=90, fontsize=font)
    ax.set_yticks(range(c), labels=labels, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if c <= 20:  # counts fit inside the cells
        for (t, p), count in np.ndenumerate(matrix):
            if count:
                colour = "white" if share[t, p] > 0.5 else "#212121"
                ax.text(p, t, str(int(count)), ha="center", va="center", fontsize=8, color=colour)
    ax.set_title(f"Confusion matrix ({c} classes, rows normalised)")
    return figure_png(fig)


def plot_reliability(document: Mapping[str, Any]) -> str:
    """Accuracy against mean confidence per bin, the diagonal, and how many images each bin holds."""
    calibration = document["calibration"]
    bins = calibration["reliability"]
    fig = Figure(figsize=(6.5, 6.0))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lower = np.array([b["lower"] for b in bins])
    width = np.array([b["upper"] - b["lower"] for b in bins])
    accuracy = np.array([b["accuracy"] if b["accuracy"] is not None else 0.0 for b in bins])
    counts = np.array([b["count"] for b in bins])
    top.bar(
        lower, accuracy, width=width, align="edge", color="#42a5f5", edgecolor="#1565c0", label="accuracy"
    )
    confidence = np.array([b["confidence"] if b["confidence"] is not None else 0.0 for b in bins])
    top.bar(  # the gap between accuracy and mean confidence, hatched, over or inside the bar
        lower,
        np.abs(confidence - accuracy),
        bottom=np.minimum(confidence, accuracy),
        width=width,
        align="edge",
        fill=False,
        hatch="///",
        edgecolor="#c62828",
        linewidth=0.0,
        label="gap to mean confidence",
    )
    top.plot([0, 1], [0, 1], "--", color="#616161", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    top.set_title(f"Reliability diagram (ECE {calibration['ece']:.4f}, {calibration['bins']} bins)")
    bottom.bar(lower, counts, width=width, align="edge", color="#9e9e9e")
    bottom.set_xlabel("top-1 confidence")
    bottom.set_ylabel("images")
    bottom.grid(True, alpha=0.3)
    return figure_png(fig)


def plot_f1(document: Mapping[str, Any]) -> str:
    """Horizontal F1 bars per class, worst first, one row per class."""
    per_class = sorted(document["perClass"], key=lambda row: (row["f1"], row["label"]))
    c = len(per_class)
    fig, ax = new_figure(10.0, max(3.0, 0.16 * c + 1.2))
    if not c:
        no_data(ax, "no classes")
        return figure_png(fig)
    f1 = [row["f1"] for row in per_class]
    colours = ["#c62828" if v < 0.5 else "#ef6c00" if v < 0.8 else "#2e7d32" for v in f1]
    ax.barh(range(c), f1, color=colours)
    ax.set_yticks(
        range(c), labels=[row["label"] for row in per_class], fontsize=max(4.0, min(9.0, 500.0 / c))
    )
    ax.set_ylim(-0.6, c - 0.4)
    ax.set_xlim(0, 1)
    ax.axvline(document["macroAvg"]["f1"], color="#212121", linestyle="--", label="macro F1")
    ax.set_xlabel("F1")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("F1 per class (worst first)")
    return figure_png(fig)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _thumbnail(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            rgb = image.convert("RGB")
            rgb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            buffer = io.BytesIO()
            rgb.save(buffer, format="JPEG", quality=85)
    except OSError:
        return None
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _gallery(document: Mapping[str, Any], image_root: Path | None) -> str:
    mistakes = document["worstMistakes"]
    if not mistakes:
        return "<p class='muted'>No misclassified test images.</p>"
    cards = []
    for item in mistakes:
        thumb = _thumbnail(image_root / item["image"]) if image_root is not None else None
        picture = (
            f"<img alt='{escape(item['image'])}' src='data:image/jpeg;base64,{thumb}'>"
            if thumb
            else "<div class='nothumb'>no image</div>"
        )
        cards.append(
            f"<div class='card'>{picture}<div><b>{escape(item['predicted'])}</b> "
            f"({100 * item['confidence']:.1f}%)</div><div class='muted'>true: {escape(item['true'])} "
            f"({100 * item['trueClassProbability']:.1f}%)</div>"
            f"<div class='muted'>{escape(item['image'])}</div></div>"
        )
    return f"<div class='gallery'>{''.join(cards)}</div>"


def _summary(document: Mapping[str, Any]) -> str:
    rows = [
        ("Images / classes", f"{document['images']} / {len(document['classes'])}"),
        ("Top-1 accuracy", f"{document['top1Accuracy']:.4f}"),
        (f"Top-{document['topK']} accuracy", f"{document['top5Accuracy']:.4f}"),
        ("Mean cross-entropy", f"{document['loss']:.4f}"),
        (
            "Macro precision / recall / F1",
            " / ".join(f"{document['macroAvg'][k]:.4f}" for k in ("precision", "recall", "f1")),
        ),
        (
            "Weighted precision / recall / F1",
            " / ".join(f"{document['weightedAvg'][k]:.4f}" for k in ("precision", "recall", "f1")),
        ),
        ("Expected calibration error", f"{document['calibration']['ece']:.4f}"),
        ("Test set fingerprint", document["testSet"]["fingerprint"]),
    ]
    return "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)


def _confusions(document: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(item['true'])}</td><td>{escape(item['predicted'])}</td><td>{item['count']}</td></tr>"
        for item in document["topConfusions"]
    )
    if not rows:
        return "<p class='muted'>No confusions: every test image was classified correctly.</p>"
    head = "<tr><th>True</th><th>Predicted</th><th>Images</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _per_class_table(document: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(r['label'])}</td><td>{r['precision']:.3f}</td><td>{r['recall']:.3f}</td>"
        f"<td>{r['f1']:.3f}</td><td>{r['support']}</td></tr>"
        for r in document["perClass"]
    )
    return (
        "<table><thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


_EXTRA_CSS = """
.gallery{display:flex;flex-wrap:wrap;gap:10px} .card{width:150px;font-size:12px;border:1px solid #e0e0e0;
padding:6px} .card img{width:128px;height:auto;display:block;margin-bottom:4px}
.scroll{overflow-x:auto;border:1px solid #eee} .scroll img{max-width:none}
.nothumb{width:128px;height:128px;background:#eee;color:#999;text-align:center;line-height:128px}
"""


def render_html(document: Mapping[str, Any], image_root: Path | None) -> str:
    """The whole evaluation report as one HTML string (no external resources)."""
    plots: list[tuple[str, str, Callable[[], str]]] = [
        ("confusion", "Confusion matrix", lambda: plot_confusion_matrix(document)),
        ("calibration", "Reliability diagram", lambda: plot_reliability(document)),
        ("f1", "F1 per class", lambda: plot_f1(document)),
    ]
    rendered: dict[str, str] = {}
    for key, title, make in plots:
        try:
            rendered[key] = img_tag(make(), title)
        except Exception as exc:  # one broken plot must not lose the report
            rendered[key] = f"<p class='muted'>{escape(title)}: plot failed ({escape(exc)})</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model evaluation</title>
<style>{REPORT_CSS}{_EXTRA_CSS}</style></head>
<body>
<h1>Model evaluation on the {escape(document["split"])} split</h1>
<p class="muted">The exported (best-epoch) model, evaluated once on every {escape(document["split"])} image.
Machine-readable figures: evaluation.json (docs/evaluation.md).</p>
<h2>Summary</h2><table class="summary">{_summary(document)}</table>
<h2>Confusion matrix</h2>
<p class="muted">Shown at full size (scroll sideways): one row per true class, one column per predicted class,
coloured by the share of the true class's images.</p>
<div class="scroll">{rendered["confusion"]}</div>
<h2>Most frequent confusions</h2>{_confusions(document)}
<h2>Calibration</h2>{rendered["calibration"]}
<h2>Per-class F1</h2>{rendered["f1"]}
<h2>Most confident mistakes</h2>
<p class="muted">Predicted class (confidence), true class (its probability), image.</p>
{_gallery(document, image_root)}
<h2>Per-class figures</h2>{_per_class_table(document)}
</body></html>
"""
