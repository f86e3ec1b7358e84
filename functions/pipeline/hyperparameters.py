"""train.py's hyperparameters as the pipeline checks them before any training job starts.

The definition is ``classifier/hyperparameters.json`` in the training code the function package
carries (``functions/.training-code`` -> ``training``, see code_package): the same file
train.py's parsing reads, so names, types, bounds and choices cannot drift apart. The pipeline
imports nothing from ``classifier``; it reads the file and applies the same rules: a value is
what SageMaker hands train.py (JSON text, decoded), converted as pydantic's lax mode converts it
(train.py validates with pydantic), then held to the spec's JSON-Schema-style bounds and enum,
with its boolean words, aliases and case-insensitive names. A tuned range is checked at its
ends (every value SageMaker draws lies between them), a categorical range value by value.
Relies on pydantic and the standard library's json.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from . import code_package
from .errors import ConfigurationError

SPEC_FILE = Path("classifier") / "hyperparameters.json"
_BOUNDS = {"minimum": "ge", "exclusiveMinimum": "gt", "maximum": "le", "exclusiveMaximum": "lt"}
_WORDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
_PYTHON_TYPES: dict[str, type] = {"integer": int, "number": float, "boolean": bool, "string": str}


@dataclass(frozen=True)
class Spec:
    """The spec file's hyperparameters and boolean words."""

    entries: dict[str, dict[str, Any]]
    true_words: frozenset[str]
    false_words: frozenset[str]

    @property
    def user_settable(self) -> frozenset[str]:
        return frozenset(name for name, entry in self.entries.items() if not entry.get("setByPipeline"))

    @property
    def reserved(self) -> frozenset[str]:
        return frozenset(name for name, entry in self.entries.items() if entry.get("setByPipeline"))


def load_spec(code_dir: Path | None = None) -> Spec:
    """The spec of the training code the pipeline publishes (``code_package.CODE_DIR``, looked up
    now, not when this module was imported); a missing or broken file is a ConfigurationError."""
    return _read_spec(code_dir or code_package.CODE_DIR)


@functools.cache
def _read_spec(code_dir: Path) -> Spec:
    path = code_dir / SPEC_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Spec(
            entries=dict(document["hyperparameters"]),
            true_words=frozenset(document["booleans"]["true"]),
            false_words=frozenset(document["booleans"]["false"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"train.py's hyperparameter spec {path} is unreadable ({exc}); the function package must "
            "carry the training code (functions/.training-code -> training)"
        ) from None


@functools.cache
def _adapter(kind: str, nullable: bool, bounds: tuple[tuple[str, float], ...]) -> TypeAdapter[Any]:
    base: Any = _PYTHON_TYPES[kind]
    constraints: dict[str, Any] = dict(bounds)
    annotated: Any = Annotated[base, Field(**constraints)] if bounds else base
    if nullable:
        annotated = annotated | None
    return TypeAdapter(annotated, config=ConfigDict(coerce_numbers_to_str=True))


def _bounds_text(entry: dict[str, Any]) -> str:
    return " and ".join(f"{_WORDS[key]} {entry[key]:g}" for key in _WORDS if key in entry)


def allowed(entry: dict[str, Any]) -> str:
    """The allowed values of one entry, in words (for error messages)."""
    if "enum" in entry:
        return "one of: " + ", ".join(map(str, entry["enum"]))
    text = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}.get(
        entry["type"], "a string"
    )
    bounds = _bounds_text(entry)
    return f"{text} {bounds}" if bounds else text


def _preprocess(value: Any, entry: dict[str, Any], spec: Spec) -> Any:
    """The spec's words, as train.py applies them before converting the value."""
    if entry["type"] == "boolean" and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text in spec.true_words:
            return True
        if text in spec.false_words:
            return False
        raise ValueError("not a boolean word")
    if isinstance(value, str):
        text = value.strip()
        aliases = entry.get("aliases", {})
        if text.lower() in aliases:
            return aliases[text.lower()]
        if entry.get("caseInsensitive") and not any(c in text for c in "/\\."):
            return text.lower()
    return value


def as_train_py_sees_it(value: Any) -> Any:
    """SageMaker passes JSON text (requests.encode_hyperparameter); train.py decodes it."""
    text = json.dumps(value)
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_value(name: str, value: Any, spec: Spec | None = None) -> str | None:
    """``None`` when train.py accepts ``value`` for ``name``, else why not (allowed values named)."""
    spec = spec or load_spec()
    entry = spec.entries[name]
    decoded = as_train_py_sees_it(value)
    if name == "pretrained" and decoded is None:  # train.py reads JSON null as "none"
        decoded = "none"
    bounds = tuple((_BOUNDS[key], entry[key]) for key in _BOUNDS if key in entry)
    try:
        converted = _adapter(entry["type"], bool(entry.get("nullable")), bounds).validate_python(
            _preprocess(decoded, entry, spec)
        )
    except (ValidationError, ValueError):
        return f"{value!r} is not allowed for {name}: {allowed(entry)}"
    if "enum" in entry and converted not in entry["enum"]:
        return f"{value!r} is not allowed for {name}: {allowed(entry)}"
    return None


def check_numeric_range(
    name: str, low: float, high: float, integer: bool, spec: Spec | None = None
) -> list[tuple[str, str]]:
    """``(field, problem)`` for a tuned numeric range of ``name``: field is min, max or ""."""
    spec = spec or load_spec()
    entry = spec.entries[name]
    if entry["type"] not in ("integer", "number") or "enum" in entry:
        return [("", f"{name} is not numeric ({allowed(entry)}): give it as a values list")]
    if entry["type"] == "integer" and not integer:
        return [("", f"{name} takes whole numbers: set integer: true")]
    problems = []
    for bound, value in (("min", low), ("max", high)):
        if not math.isfinite(value):
            continue  # reported by the range checks
        number: int | float = int(value) if integer and value == int(value) else value
        if check_value(name, number, spec) is not None:
            problems.append((bound, f"{value:g} is outside what train.py takes for {name}: {allowed(entry)}"))
    return problems
