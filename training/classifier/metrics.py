"""The metric lines of docs/contracts.md#metric-lines, the only lines SageMaker MetricDefinitions parse.

    epoch=3 train_loss=0.8123 train_accuracy=0.7312 valid_loss=0.6012 valid_accuracy=0.8123 \
        epoch_seconds=12.31 images_per_second=410.2          (one line)
    test_loss=0.6101 test_accuracy=0.8050
    test_top5_accuracy=0.9710 test_macro_f1=0.7984
    rules_triggered=N

Relies on the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EpochMetrics",
    "format_epoch_line",
    "format_evaluation_line",
    "format_rules_line",
    "format_test_line",
]


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch measured (losses are mean per sample, accuracies in [0, 1])."""

    epoch: int
    train_loss: float
    train_accuracy: float
    valid_loss: float
    valid_accuracy: float
    epoch_seconds: float
    images_per_second: float

    def as_dict(self) -> dict[str, float]:
        """The metric names and values (without ``epoch``), as the profiler and model.json take them."""
        return {
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "valid_loss": self.valid_loss,
            "valid_accuracy": self.valid_accuracy,
            "epoch_seconds": self.epoch_seconds,
            "images_per_second": self.images_per_second,
        }


def format_epoch_line(m: EpochMetrics) -> str:
    """``epoch=N train_loss=... images_per_second=...`` (4, 2 and 1 decimals; docs/contracts.md)."""
    return (
        f"epoch={m.epoch} train_loss={m.train_loss:.4f} train_accuracy={m.train_accuracy:.4f} "
        f"valid_loss={m.valid_loss:.4f} valid_accuracy={m.valid_accuracy:.4f} "
        f"epoch_seconds={m.epoch_seconds:.2f} images_per_second={m.images_per_second:.1f}"
    )


def format_test_line(loss: float, accuracy: float) -> str:
    """``test_loss=0.6101 test_accuracy=0.8050``."""
    return f"test_loss={loss:.4f} test_accuracy={accuracy:.4f}"


def format_evaluation_line(top5_accuracy: float, macro_f1: float) -> str:
    """``test_top5_accuracy=0.9710 test_macro_f1=0.7984`` (from the test-split evaluation)."""
    return f"test_top5_accuracy={top5_accuracy:.4f} test_macro_f1={macro_f1:.4f}"


def format_rules_line(rules_triggered: int) -> str:
    """``rules_triggered=N`` (printed when profiling is on)."""
    return f"rules_triggered={rules_triggered}"
