"""The training metrics SageMaker scrapes from train.py's log (docs/contracts.md#metric-lines).

train.py prints one line per epoch such as
``epoch=3 train_loss=0.81 train_accuracy=0.73 valid_loss=0.60 valid_accuracy=0.81 epoch_seconds=12.3
images_per_second=410.2`` and finally ``test_loss=0.61 test_accuracy=0.80`` and
``test_top5_accuracy=0.97 test_macro_f1=0.79``. Each metric here is a
regex on one of those names; the tuning objective must be one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import MetricDefinitionTypeDef

METRIC_REGEXES: dict[str, str] = {
    "valid:accuracy": r"valid_accuracy=([0-9.]+)",
    "valid:loss": r"valid_loss=([0-9.]+)",
    "train:loss": r"train_loss=([0-9.]+)",
    "train:accuracy": r"train_accuracy=([0-9.]+)",
    "test:accuracy": r"test_accuracy=([0-9.]+)",
    "test:loss": r"test_loss=([0-9.]+)",
    "test:top5_accuracy": r"test_top5_accuracy=([0-9.]+)",
    "test:macro_f1": r"test_macro_f1=([0-9.]+)",
    "epoch_seconds": r"epoch_seconds=([0-9.]+)",
    "images_per_second": r"images_per_second=([0-9.]+)",
    # train.py's own profiler prints how many of its rules fired (docs/profiling.md).
    "profiler:rules_triggered": r"rules_triggered=([0-9]+)",
}

DEFAULT_OBJECTIVE_METRIC = "valid:accuracy"
DEFAULT_OBJECTIVE_TYPE: Literal["Maximize", "Minimize"] = "Maximize"


def metric_definitions() -> list[MetricDefinitionTypeDef]:
    """``AlgorithmSpecification.MetricDefinitions`` for every metric train.py prints."""
    return [{"Name": name, "Regex": regex} for name, regex in METRIC_REGEXES.items()]
