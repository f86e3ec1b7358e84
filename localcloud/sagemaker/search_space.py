"""A tuning job's ParameterRanges as an Optuna search space, with SageMaker's rules and scalings.

Scalings (AWS's definitions): Linear; Logarithmic (only for ranges of values > 0);
ReverseLogarithmic (continuous ranges within 0 <= x < 1 only: values are drawn log-uniformly in
1 - x, so they crowd towards 1); Auto (SageMaker picks: localcloud uses Logarithmic when the
range is positive and spans at least two orders of magnitude, else Linear). Grid search takes
categorical ranges only and runs every combination.

Relies on Optuna's distributions; the range checks are hand-written (SageMaker's server rules).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ..errors import AwsError

MAX_TUNED = 30


def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # continuous | integer | categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"
    values: tuple[str, ...] = ()

    @property
    def distribution(self) -> BaseDistribution:
        if self.kind == "categorical":
            return CategoricalDistribution(list(self.values))
        if self.kind == "integer":
            return IntDistribution(int(self.low), int(self.high), log=self.scaling == "Logarithmic")
        if self.scaling == "ReverseLogarithmic":
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=self.scaling == "Logarithmic")

    def render(self, sampled: Any) -> str:
        """The hyperparameter string a training job receives for an Optuna value."""
        if self.kind == "categorical":
            return str(sampled)
        if self.kind == "integer":
            return str(int(sampled))
        value = 1.0 - float(sampled) if self.scaling == "ReverseLogarithmic" else float(sampled)
        return repr(min(max(value, self.low), self.high))


def _number(text: str, name: str, what: str, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise _invalid(f"The {what} '{text}' for hyperparameter {name} is not {kind}") from None
    if not math.isfinite(value):
        raise _invalid(f"The {what} '{text}' for hyperparameter {name} must be finite")
    return float(value)


def _scaling(name: str, low: float, high: float, scaling: str, integer: bool) -> str:
    if scaling == "Auto":
        return "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
    if scaling == "Logarithmic" and low <= 0:
        raise _invalid(
            f"Logarithmic scaling works only for ranges that have only values greater than 0; "
            f"hyperparameter {name} has MinValue {low:g}"
        )
    if scaling == "ReverseLogarithmic":
        if integer:
            raise _invalid(f"ReverseLogarithmic scaling is not supported for integer hyperparameter {name}")
        if low < 0 or high >= 1:
            raise _invalid(
                f"Reverse logarithmic scaling works only for ranges that are entirely within the "
                f"range 0<=x<1.0; hyperparameter {name} has [{low:g}, {high:g}]"
            )
    return scaling


def parse_ranges(ranges: dict[str, Any] | None) -> list[Param]:
    """Validated parameters, in the order SageMaker lists them (continuous, integer, categorical)."""
    ranges = ranges or {}
    if ranges.get("AutoParameters"):
        raise AwsError("ValidationException", "AutoParameters (Autotune) is not supported by localcloud")
    params: list[Param] = []
    for entry in ranges.get("ContinuousParameterRanges") or []:
        params.append(_numeric(entry, integer=False))
    for entry in ranges.get("IntegerParameterRanges") or []:
        params.append(_numeric(entry, integer=True))
    for entry in ranges.get("CategoricalParameterRanges") or []:
        values = tuple(entry["Values"])
        if len(set(values)) != len(values):
            raise _invalid(f"The values of categorical hyperparameter {entry['Name']} must be unique")
        params.append(Param(entry["Name"], "categorical", values=values))
    names = [p.name for p in params]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _invalid(f"Hyperparameter {duplicates[0]} appears in more than one parameter range")
    if len(params) > MAX_TUNED:
        raise _invalid(f"A tuning job can search at most {MAX_TUNED} hyperparameters; got {len(params)}")
    return params


def _numeric(entry: dict[str, Any], *, integer: bool) -> Param:
    name = entry["Name"]
    low = _number(entry["MinValue"], name, "MinValue", integer)
    high = _number(entry["MaxValue"], name, "MaxValue", integer)
    if high < low:
        raise _invalid(
            f"The MaxValue ({entry['MaxValue']}) of hyperparameter {name} must be greater than or "
            f"equal to its MinValue ({entry['MinValue']})"
        )
    scaling = _scaling(name, low, high, entry.get("ScalingType") or "Auto", integer)
    return Param(name, "integer" if integer else "continuous", low, high, scaling)


def grid_space(params: list[Param]) -> dict[str, list[str]]:
    """GridSampler's search space; Grid search accepts categorical ranges only (AWS's rule)."""
    numeric = [p.name for p in params if p.kind != "categorical"]
    if numeric:
        raise _invalid(
            "Grid search supports only categorical hyperparameters; "
            f"{', '.join(numeric)} {'is' if len(numeric) == 1 else 'are'} not categorical"
        )
    if not params:
        raise _invalid("Grid search needs at least one categorical hyperparameter range")
    return {p.name: list(p.values) for p in params}


def grid_size(space: dict[str, list[str]]) -> int:
    return math.prod(len(v) for v in space.values())


def grid_combinations(space: dict[str, list[str]]) -> list[dict[str, str]]:
    names = sorted(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]


def distributions(params: list[Param]) -> dict[str, BaseDistribution]:
    return {p.name: p.distribution for p in params}


def render(params: list[Param], sampled: dict[str, Any]) -> dict[str, str]:
    return {p.name: p.render(sampled[p.name]) for p in params}
