"""The metric lines are the contract SageMaker MetricDefinitions parse (docs/contracts.md#metric-lines)."""

import re

from classifier.metrics import EpochMetrics, format_epoch_line, format_rules_line, format_test_line


def test_epoch_line_is_exactly_the_documented_format():
    line = format_epoch_line(EpochMetrics(3, 0.81234, 0.73116, 0.60121, 0.81229, 12.3149, 410.24))
    assert line == (
        "epoch=3 train_loss=0.8123 train_accuracy=0.7312 valid_loss=0.6012 valid_accuracy=0.8123 "
        "epoch_seconds=12.31 images_per_second=410.2"
    )
    assert re.search(r"valid_accuracy=([0-9.]+)", line).group(1) == "0.8123"


def test_test_and_rules_lines():
    assert format_test_line(0.61011, 0.805) == "test_loss=0.6101 test_accuracy=0.8050"
    assert format_rules_line(2) == "rules_triggered=2"
