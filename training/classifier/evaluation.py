"""The test-split evaluation of the exported model: the numbers of ``evaluation.json``.

From the true labels and the predicted class probabilities of every test image: top-1 and top-5
accuracy, per-class precision / recall / F1 / support, their macro and weighted averages, the
confusion matrix (rows: true class, columns: predicted), the most frequent confusions, the
expected calibration error with its reliability bins, and the misclassified images the model
was most sure of. The schema is documented in docs/evaluation.md. A fingerprint of the test set
(its image names and labels) lets a later model be compared with this one on the same images.

Conventions (those of scikit-learn's ``classification_report``): a class never predicted has
precision 0, a class without test images recall 0, and F1 is 0 when precision + recall is 0;
the macro average weighs every class equally, the weighted one by support. ECE uses
``CALIBRATION_BINS`` equal-width bins of the top-1 confidence, bin ``b`` holding confidences in
``(b/B, (b+1)/B]`` (the first also holds 0), and is sum over bins of
``count / N * |accuracy - mean confidence|``.
Written by hand over numpy (scikit-learn is not a dependency of the training image).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_BINS",
    "SCHEMA_VERSION",
    "TOP_CONFUSIONS",
    "WORST_MISTAKES",
    "EvaluatedImage",
    "evaluate_predictions",
    "fingerprint_test_set",
]

SCHEMA_VERSION = 1
CALIBRATION_BINS = 15
TOP_CONFUSIONS = 20
WORST_MISTAKES = 24
TOP_K = 5


@dataclass(frozen=True)
class EvaluatedImage:
    """One test image: its name relative to the split (``class_dir/file.jpg``) and true class index."""

    name: str
    label: int


def fingerprint_test_set(images: Sequence[EvaluatedImage]) -> str:
    """``sha256:<hex>`` of the sorted ``name<TAB>label`` lines: equal exactly for the same test set."""
    digest = hashlib.sha256()
    for line in sorted(f"{image.name}\t{image.label}" for image in images):
        digest.update(line.encode("utf-8") + b"\n")
    return f"sha256:{digest.hexdigest()}"


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _round(value: float) -> float:
    return round(float(value), 6)


def _calibration(confidence: np.ndarray, correct: np.ndarray, bins: int) -> dict[str, Any]:
    # bin b holds (b/B, (b+1)/B]; ceil(c*B)-1 maps exactly there, and c = 0 goes to bin 0
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = confidence.size
    ece = 0.0
    table = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        entry: dict[str, Any] = {
            "lower": _round(b / bins),
            "upper": _round((b + 1) / bins),
            "count": count,
            "confidence": None,
            "accuracy": None,
        }
        if count:
            mean_confidence = float(confidence[members].mean())
            accuracy = float(correct[members].mean())
            ece += count / total * abs(accuracy - mean_confidence)
            entry.update(confidence=_round(mean_confidence), accuracy=_round(accuracy))
        table.append(entry)
    return {"ece": _round(ece), "bins": bins, "reliability": table}


def _averages(precision: np.ndarray, recall: np.ndarray, f1: np.ndarray, support: np.ndarray) -> Any:
    weights = support / support.sum() if support.sum() else np.zeros_like(support, dtype=np.float64)
    macro = {"precision": precision.mean(), "recall": recall.mean(), "f1": f1.mean()}
    weighted = {
        "precision": (precision * weights).sum(),
        "recall": (recall * weights).sum(),
        "f1": (f1 * weights).sum(),
    }
    return (
        {k: _round(v) for k, v in macro.items()},
        {k: _round(v) for k, v in weighted.items()},
    )


def evaluate_predictions(
    probabilities: np.ndarray,
    images: Sequence[EvaluatedImage],
    classes: Sequence[str],
    labels: Sequence[str],
    *,
    split: str = "test",
) -> dict[str, Any]:
    """The ``evaluation.json`` document for ``probabilities`` (N x C, rows sum to 1) of ``images``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n, c = probabilities.shape
    if n != len(images) or c != len(classes) or not n:
        raise ValueError(f"{n} x {c} probabilities for {len(images)} images of {len(classes)} classes")
    truth = np.array([image.label for image in images], dtype=np.int64)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    predicted = order[:, 0]
    confidence = probabilities[np.arange(n), predicted]
    correct = predicted == truth
    k = min(TOP_K, c)
    top_k = (order[:, :k] == truth[:, None]).any(axis=1)

    matrix = np.zeros((c, c), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    true_positive = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    predicted_count = matrix.sum(axis=0).astype(np.float64)
    precision = _ratio(true_positive, predicted_count)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    macro, weighted = _averages(precision, recall, f1, support)

    off_diagonal = [
        (int(matrix[t, p]), t, p) for t in range(c) for p in range(c) if t != p and matrix[t, p] > 0
    ]
    off_diagonal.sort(key=lambda item: (-item[0], item[1], item[2]))
    confusions = [
        {"true": labels[t], "predicted": labels[p], "trueIndex": t, "predictedIndex": p, "count": count}
        for count, t, p in off_diagonal[:TOP_CONFUSIONS]
    ]

    wrong = np.flatnonzero(~correct)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:WORST_MISTAKES]
    mistakes = [
        {
            "image": images[int(i)].name,
            "true": labels[truth[i]],
            "predicted": labels[predicted[i]],
            "trueIndex": int(truth[i]),
            "predictedIndex": int(predicted[i]),
            "confidence": _round(confidence[i]),
            "trueClassProbability": _round(probabilities[i, truth[i]]),
        }
        for i in wrong
    ]
    nll = -np.log(np.clip(probabilities[np.arange(n), truth], 1e-12, 1.0))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "split": split,
        "images": n,
        "testSet": {"images": n, "fingerprint": fingerprint_test_set(images)},
        "classes": list(classes),
        "labels": list(labels),
        "top1Accuracy": _round(correct.mean()),
        "top5Accuracy": _round(top_k.mean()),
        "topK": k,
        "loss": _round(nll.mean()),
        "perClass": [
            {
                "class": classes[i],
                "label": labels[i],
                "precision": _round(precision[i]),
                "recall": _round(recall[i]),
                "f1": _round(f1[i]),
                "support": int(support[i]),
            }
            for i in range(c)
        ],
        "macroAvg": macro,
        "weightedAvg": weighted,
        "confusionMatrix": matrix.tolist(),
        "topConfusions": confusions,
        "calibration": _calibration(confidence, correct.astype(np.float64), CALIBRATION_BINS),
        "worstMistakes": mistakes,
    }
