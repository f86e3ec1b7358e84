"""evaluation.json's figures against a hand computation on a tiny fixed dataset; the HTML report.

The seven test images of three classes below were chosen so that every figure is worked out by
hand in the comments: the confusion matrix, precision / recall / F1 per class and averaged, the
top confusions and mistakes, and the ECE (one bin holds two right and one wrong prediction).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.evaluation import EvaluatedImage, evaluate_predictions, fingerprint_test_set
from classifier.evaluation_report import render_html, write_evaluation
from support.chromium import CHROMIUM, headless

CLASSES = ["001.A", "002.B", "003.C"]
LABELS = ["A", "B", "C"]
PROBABILITIES = np.array(
    [
        [0.72, 0.18, 0.10],  # A -> A, right, confidence 0.72 (bin 10: (10/15, 11/15])
        [0.20, 0.50, 0.30],  # A -> B, wrong, 0.50 (bin 7)
        [0.05, 0.85, 0.10],  # B -> B, right, 0.85 (bin 12)
        [0.70, 0.20, 0.10],  # B -> A, wrong, 0.70 (bin 10)
        [0.10, 0.20, 0.70],  # C -> C, right, 0.70 (bin 10)
        [0.10, 0.55, 0.35],  # C -> B, wrong, 0.55 (bin 8)
        [0.00, 0.00, 1.00],  # C -> C, right, 1.00 (bin 14)
    ]
)
TRUTH = [0, 0, 1, 1, 2, 2, 2]
IMAGES = [EvaluatedImage(f"{CLASSES[t]}/{i:04d}.jpg", t) for i, t in enumerate(TRUTH)]


@pytest.fixture
def document() -> dict:
    return evaluate_predictions(PROBABILITIES, IMAGES, CLASSES, LABELS)


def test_confusion_matrix_and_accuracy(document: dict) -> None:
    # rows: true A, B, C; columns: predicted A, B, C
    assert document["confusionMatrix"] == [[1, 1, 0], [1, 1, 0], [0, 1, 2]]
    assert document["top1Accuracy"] == pytest.approx(4 / 7, abs=1e-6)
    assert document["topK"] == 3  # only three classes: every true class is in the top 3
    assert document["top5Accuracy"] == 1.0
    assert document["images"] == 7


def test_precision_recall_f1_per_class_and_averages(document: dict) -> None:
    # A: P 1/2 R 1/2 F1 1/2; B: P 1/3 R 1/2 F1 2*(1/6)/(5/6) = 0.4; C: P 2/2 R 2/3 F1 0.8
    expected = {
        "A": (1 / 2, 1 / 2, 1 / 2, 2),
        "B": (1 / 3, 1 / 2, 0.4, 2),
        "C": (1.0, 2 / 3, 0.8, 3),
    }
    for row in document["perClass"]:
        precision, recall, f1, support = expected[row["label"]]
        assert row["precision"] == pytest.approx(precision, abs=1e-6)
        assert row["recall"] == pytest.approx(recall, abs=1e-6)
        assert row["f1"] == pytest.approx(f1, abs=1e-6)
        assert row["support"] == support
    macro = document["macroAvg"]
    assert macro["precision"] == pytest.approx((1 / 2 + 1 / 3 + 1) / 3, abs=1e-6)
    assert macro["recall"] == pytest.approx((1 / 2 + 1 / 2 + 2 / 3) / 3, abs=1e-6)
    assert macro["f1"] == pytest.approx((0.5 + 0.4 + 0.8) / 3, abs=1e-6)
    weighted = document["weightedAvg"]  # supports 2, 2, 3
    assert weighted["precision"] == pytest.approx((2 * 0.5 + 2 / 3 + 3 * 1.0) / 7, abs=1e-6)
    assert weighted["recall"] == pytest.approx(4 / 7, abs=1e-6)
    assert weighted["f1"] == pytest.approx((2 * 0.5 + 2 * 0.4 + 3 * 0.8) / 7, abs=1e-6)


def test_expected_calibration_error_and_reliability_bins(document: dict) -> None:
    # bin 10 holds 0.72 (right), 0.70 (wrong), 0.70 (right): accuracy 2/3, confidence 0.70667
    # ECE = 3/7 * |2/3 - 0.70667| + 1/7 * (0.5 + 0.15 + 0.55 + 0)
    ece = 3 / 7 * abs(2 / 3 - (0.72 + 0.70 + 0.70) / 3) + (0.5 + 0.15 + 0.55) / 7
    calibration = document["calibration"]
    assert calibration["ece"] == pytest.approx(ece, abs=1e-6)
    assert calibration["bins"] == 15
    counts = [b["count"] for b in calibration["reliability"]]
    assert counts == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 3, 0, 1, 0, 1]
    bin10 = calibration["reliability"][10]
    assert bin10["accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert bin10["confidence"] == pytest.approx(0.706667, abs=1e-6)
    assert calibration["reliability"][0]["accuracy"] is None


def test_confusions_mistakes_and_loss(document: dict) -> None:
    assert [(c["true"], c["predicted"], c["count"]) for c in document["topConfusions"]] == [
        ("A", "B", 1),
        ("B", "A", 1),
        ("C", "B", 1),
    ]
    mistakes = document["worstMistakes"]
    assert [(m["image"], m["confidence"], m["trueClassProbability"]) for m in mistakes] == [
        ("002.B/0003.jpg", 0.7, 0.2),
        ("003.C/0005.jpg", 0.55, 0.35),
        ("001.A/0001.jpg", 0.5, 0.2),
    ]
    nll = -sum(math.log(p) for p in (0.72, 0.2, 0.85, 0.2, 0.7, 0.35, 1.0)) / 7
    assert document["loss"] == pytest.approx(nll, abs=1e-6)


def test_top5_counts_the_true_class_among_the_five_most_probable() -> None:
    probabilities = np.array(
        [
            [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.05],  # true class 4: 5th most probable -> in top 5
            [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.05],  # true class 5: 6th -> not
        ]
    )
    classes = [f"c{i}" for i in range(7)]
    images = [EvaluatedImage("x/1.jpg", 4), EvaluatedImage("x/2.jpg", 5)]
    document = evaluate_predictions(probabilities, images, classes, classes)
    assert document["topK"] == 5
    assert document["top5Accuracy"] == 0.5
    assert document["top1Accuracy"] == 0.0


def test_a_class_never_predicted_has_precision_zero_not_nan() -> None:
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2]])
    images = [EvaluatedImage("a/1.jpg", 0), EvaluatedImage("b/1.jpg", 1)]
    document = evaluate_predictions(probabilities, images, ["a", "b"], ["a", "b"])
    b = document["perClass"][1]
    assert (b["precision"], b["recall"], b["f1"]) == (0.0, 0.0, 0.0)
    json.dumps(document, allow_nan=False)  # strict JSON: no NaN anywhere


def test_fingerprint_is_the_same_only_for_the_same_test_set() -> None:
    same = fingerprint_test_set(list(reversed(IMAGES)))
    assert same == fingerprint_test_set(IMAGES)
    relabelled = [*IMAGES[:-1], EvaluatedImage(IMAGES[-1].name, 0)]
    assert fingerprint_test_set(relabelled) != same
    assert fingerprint_test_set(IMAGES[:-1]) != same


# -- the HTML report ----------------------------------------------------------------------------


def _many_class_document(tmp_path: Path, classes: int = 133) -> tuple[dict, Path]:
    """A 133-class evaluation (the dog breeds' size) with real images for the gallery."""
    rng = np.random.default_rng(0)
    names = [f"{i + 1:03d}.Breed_{i + 1}" for i in range(classes)]
    labels = [f"Breed {i + 1}" for i in range(classes)]
    images, rows = [], []
    root = tmp_path / "test"
    for index in range(classes * 4):
        label = index % classes
        logits = rng.normal(0, 1, classes)
        logits[label] += 3.0
        logits[(label + 1) % classes] += 2.5  # a systematic confusion with the next class
        probabilities = np.exp(logits) / np.exp(logits).sum()
        rows.append(probabilities)
        name = f"{names[label]}/{index:04d}.jpg"
        images.append(EvaluatedImage(name, label))
        (root / names[label]).mkdir(parents=True, exist_ok=True)
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        Image.new("RGB", (48, 48), colour).save(root / name)
    return evaluate_predictions(np.array(rows), images, names, labels), root


def test_report_files_are_written_and_self_contained(tmp_path: Path) -> None:
    document, root = _many_class_document(tmp_path)
    json_path, html_path = write_evaluation(tmp_path / "out", document, root)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(document))
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == 3  # confusion matrix, reliability, F1
    assert page.count("data:image/jpeg;base64,") == len(document["worstMistakes"]) == 24  # gallery
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)
    assert "<script" not in page
    assert f"{document['top1Accuracy']:.4f}" in page
    assert "Breed 1" in page


def test_report_survives_missing_images(tmp_path: Path) -> None:
    document = evaluate_predictions(PROBABILITIES, IMAGES, CLASSES, LABELS)
    page = render_html(document, tmp_path / "nowhere")
    assert page.count("no image") == 3


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    document, root = _many_class_document(tmp_path)
    _, html_path = write_evaluation(tmp_path / "out", document, root)
    screenshot = tmp_path / "evaluation.png"
    command = headless(
        tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1200,7000", html_path.as_uri()
    )
    process = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 7000)
        pixels = np.asarray(rgb)
    colours = rgb.getcolors(maxcolors=1 << 22) or []
    # a rendered report (anti-aliased text, heatmap, plots, thumbnails) has hundreds of colours; a blank
    # or error page a handful
    assert len(colours) > 300
    non_white = (pixels != 255).any(axis=2).mean()
    assert non_white > 0.1
    # the heatmap's blues (matplotlib's Blues colormap: blue channel well above red) are on the page
    blue = (pixels[..., 2].astype(int) - pixels[..., 0].astype(int) > 60).mean()
    assert blue > 0.01
