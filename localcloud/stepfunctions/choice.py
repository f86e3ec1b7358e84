"""Choice rules: every comparison operator of the JSONPath query language, their ``*Path`` forms,
the type tests (``IsNull``, ``IsPresent``, ``IsNumeric``, ``IsString``, ``IsBoolean``,
``IsTimestamp``), ``StringMatches`` and the ``And``/``Or``/``Not`` combinators.

Semantics (ASL spec, Step Functions developer guide "Choice"): a comparison between values of
different types is false; a ``Variable`` (or ``*Path`` operand) that is not in the input is a
runtime error except for ``IsPresent``; timestamps are RFC 3339 with an uppercase ``T`` and a
``Z`` or numeric offset. Hand-written: no library evaluates ASL Choice rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any

from . import paths

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

STRING_OPS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
NUMERIC_OPS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
TIMESTAMP_OPS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
BOOLEAN_OPS = ("BooleanEquals",)
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
VALUE_OPS = (*STRING_OPS, *NUMERIC_OPS, *TIMESTAMP_OPS, *BOOLEAN_OPS, "StringMatches")
PATH_OPS = tuple(f"{op}Path" for op in (*STRING_OPS, *NUMERIC_OPS, *TIMESTAMP_OPS, *BOOLEAN_OPS))
COMPARISONS = (*VALUE_OPS, *PATH_OPS, *TYPE_TESTS)
COMBINATORS = ("And", "Or", "Not")


class ChoicePathError(LookupError):
    """A Variable or *Path operand that is not present in the input."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An aware datetime for an ASL timestamp string, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = (
            dt.UTC
            if zone == "Z"
            else dt.timezone(
                (1 if zone[0] == "+" else -1) * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            )
        )
        micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@functools.lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _compare(kind: str, left: Any, right: Any, relation: str) -> bool:
    if kind == "String":
        if not (isinstance(left, str) and isinstance(right, str)):
            return False
        a: Any = left
        b: Any = right
    elif kind == "Numeric":
        if not (_is_number(left) and _is_number(right)):
            return False
        a, b = left, right
    elif kind == "Timestamp":
        a, b = parse_timestamp(left), parse_timestamp(right)
        if a is None or b is None:
            return False
    else:  # Boolean
        if not (isinstance(left, bool) and isinstance(right, bool)):
            return False
        return bool(left == right)
    relations: dict[str, Callable[[Any, Any], bool]] = {
        "Equals": lambda x, y: x == y,
        "LessThan": lambda x, y: x < y,
        "GreaterThan": lambda x, y: x > y,
        "LessThanEquals": lambda x, y: x <= y,
        "GreaterThanEquals": lambda x, y: x >= y,
    }
    return relations[relation](a, b)


def _split_operator(op: str) -> tuple[str, str]:
    for kind in ("String", "Numeric", "Timestamp", "Boolean"):
        if op.startswith(kind):
            return kind, op[len(kind) :]
    raise ValueError(op)


def _lookup(path: str, data: Any, context: Any) -> Any:
    try:
        return paths.select_input_or_context(path, data, context)
    except paths.PathNotFound:
        raise ChoicePathError(path) from None


def comparison_operator(rule: dict[str, Any]) -> str | None:
    ops = [k for k in rule if k in COMPARISONS]
    return ops[0] if len(ops) == 1 else None


def evaluate(rule: dict[str, Any], data: Any, context: Any) -> bool:
    """Whether a (validated) Choice rule matches ``data``; ChoicePathError for a missing operand."""
    if "And" in rule:
        return all(evaluate(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data, context)
    op = comparison_operator(rule)
    if op is None:
        raise ValueError(f"not a valid Choice rule: {rule}")
    variable = rule["Variable"]
    expected = rule[op]
    if op == "IsPresent":
        try:
            paths.select_input_or_context(variable, data, context)
            present = True
        except paths.PathNotFound:
            present = False
        return bool(present == expected)
    value = _lookup(variable, data, context)
    if op in TYPE_TESTS:
        tests: dict[str, Callable[[Any], bool]] = {
            "IsNull": lambda v: v is None,
            "IsNumeric": _is_number,
            "IsString": lambda v: isinstance(v, str),
            "IsBoolean": lambda v: isinstance(v, bool),
            "IsTimestamp": lambda v: parse_timestamp(v) is not None,
        }
        return bool(tests[op](value) == expected)
    if op == "StringMatches":
        return isinstance(value, str) and _wildcard(expected).fullmatch(value) is not None
    if op.endswith("Path"):
        expected = _lookup(expected, data, context)
        op = op[: -len("Path")]
    kind, relation = _split_operator(op)
    return _compare(kind, value, expected, relation)
