"""TrainingJobEarlyStoppingType=Auto: AWS's documented median stopping rule.

After each epoch of a training job (each value of the objective metric it emits), take the
running average of the objective over the same epochs for every *previous* training job of the
tuning job that reached that epoch, and the median of those averages. If the current job's
value is worse than that median (lower when maximizing, higher when minimizing), stop it.
Hand-written: it is AWS's rule, not one of Optuna's pruners (MedianPruner compares raw values).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def should_stop(
    current: Sequence[float], previous: Sequence[Sequence[float]], *, maximize: bool, min_jobs: int = 1
) -> bool:
    """Whether a job whose objective series is ``current`` should stop now."""
    if not current:
        return False
    epoch = len(current)
    averages = [sum(series[:epoch]) / epoch for series in previous if len(series) >= epoch]
    if len(averages) < min_jobs:
        return False
    median = statistics.median(averages)
    value = current[-1]
    return value < median if maximize else value > median
