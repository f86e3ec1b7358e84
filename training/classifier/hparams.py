"""Hyperparameters of train.py: parsed from ``--name value`` arguments and ``SM_HPS``, validated by pydantic.

As in the SageMaker training toolkit, every value arrives as a string and one that parses as
JSON is decoded first (the SageMaker SDK JSON-encodes strings: ``"\\"resnet50\\""``). Names are
hyphenated (``batch-size``); underscores are accepted too. SageMaker's own entries
(``sagemaker_*``, ``_tuning_objective_metric``) are ignored; any other unknown name is an error.

Names, types, defaults, bounds and choices come from ``hyperparameters.json`` next to this file,
the one definition the pipeline's input validation reads too (so StartTuning rejects what
train.py would reject). The class below spells the fields out so that code using them is
type-checked; importing this module fails if the class and the file disagree.
Relies on pydantic and the standard library's json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classifier.failures import UserError

__all__ = ["SPEC", "SPEC_PATH", "HyperParameters", "parse_hyperparameters"]

SPEC_PATH = Path(__file__).resolve().with_name("hyperparameters.json")
_DOCUMENT: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SPEC: dict[str, dict[str, Any]] = _DOCUMENT["hyperparameters"]
_TRUE = frozenset(_DOCUMENT["booleans"]["true"])
_FALSE = frozenset(_DOCUMENT["booleans"]["false"])
_BOUNDS = {"minimum": "ge", "exclusiveMinimum": "gt", "maximum": "le", "exclusiveMaximum": "lt"}
_TYPES: dict[str, tuple[str, ...]] = {
    "integer": ("int",),
    "number": ("float",),
    "boolean": ("bool",),
    "string": ("str",),
}


def _spec(name: str) -> Any:
    """A pydantic ``Field`` with the default and bounds the spec gives ``name``."""
    entry = SPEC[name.replace("_", "-")]
    bounds = {_BOUNDS[key]: value for key, value in entry.items() if key in _BOUNDS}
    return Field(entry["default"], **bounds)


def _with_spec(cls: type[HyperParameters]) -> type[HyperParameters]:
    """Fail at import when the class's fields and the spec's entries differ in name or type."""
    fields = {name.replace("_", "-"): info for name, info in cls.model_fields.items()}
    if set(fields) != set(SPEC):
        raise RuntimeError(
            f"{SPEC_PATH.name} and HyperParameters disagree: only in the file: "
            f"{sorted(set(SPEC) - set(fields))}, only in the class: {sorted(set(fields) - set(SPEC))}"
        )
    for name, info in fields.items():
        entry = SPEC[name]
        expected = " | ".join(_TYPES[entry["type"]] + (("None",) if entry.get("nullable") else ()))
        if str(info.annotation).replace("<class '", "").replace("'>", "") != expected:
            raise RuntimeError(f"{name}: {SPEC_PATH.name} says {expected}, HyperParameters {info.annotation}")
        if info.default != entry["default"]:
            raise RuntimeError(f"{name}: default {info.default!r} is not the file's {entry['default']!r}")
    return cls


class HyperParameters(BaseModel):
    """Every hyperparameter train.py accepts (hyperparameters.json; README: "Training script reference")."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    arch: str = _spec("arch")
    pretrained: str = _spec("pretrained")
    lr: float = _spec("lr")
    batch_size: int = _spec("batch_size")
    epochs: int = _spec("epochs")
    weight_decay: float = _spec("weight_decay")
    optimizer: str = _spec("optimizer")
    momentum: float = _spec("momentum")
    label_smoothing: float = _spec("label_smoothing")
    image_size: int = _spec("image_size")
    freeze_epochs: int = _spec("freeze_epochs")
    warmup_epochs: float = _spec("warmup_epochs")
    min_crop_scale: float = _spec("min_crop_scale")
    amp: bool = _spec("amp")
    channels_last: bool = _spec("channels_last")
    num_workers: int = _spec("num_workers")
    cache_mb: int = _spec("cache_mb")
    seed: int = _spec("seed")
    early_stop_patience: int = _spec("early_stop_patience")
    max_steps_per_epoch: int = _spec("max_steps_per_epoch")
    profile: bool = _spec("profile")
    max_unreadable_fraction: float = _spec("max_unreadable_fraction")
    data_dir: str | None = _spec("data_dir")

    @field_validator("*", mode="before")
    @classmethod
    def _from_spec(cls, value: Any, info: Any) -> Any:
        """The spec's words: booleans (true/false/1/0/yes/no/on/off), aliases, case-insensitive names."""
        entry = SPEC[str(info.field_name).replace("_", "-")]
        if entry["type"] == "boolean" and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if isinstance(value, str):
            text = value.strip()
            aliases = entry.get("aliases", {})
            if text.lower() in aliases:
                return aliases[text.lower()]
            # A path keeps its case; names are case-insensitive.
            if entry.get("caseInsensitive") and not any(c in text for c in "/\\."):
                return text.lower()
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _choices(cls, value: Any, info: Any) -> Any:
        choices = SPEC[str(info.field_name).replace("_", "-")].get("enum")
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of: {_closest(str(value), [str(c) for c in choices])}")
        return value

    def as_dict(self) -> dict[str, Any]:
        """Hyphenated names and values, as recorded in model.json and checkpoints."""
        return {name.replace("_", "-"): value for name, value in self.model_dump().items()}


_with_spec(HyperParameters)


def _closest(value: str, choices: list[str], limit: int = 12) -> str:
    """The choices, or when there are many, those sharing ``value``'s leading letters.

    Keeps a failure reason short (SageMaker's FailureReason holds 1,024 characters).
    """
    if len(choices) <= limit:
        return ", ".join(choices)
    prefix = re.sub(r"[^a-z].*$", "", value.lower())
    close = [c for c in choices if prefix and c.startswith(prefix)][:limit] or choices[:limit]
    return f"{', '.join(close)}, ... ({len(choices)} in all, listed in {SPEC_PATH.name})"


def _decode(value: Any) -> Any:
    """Decode a string that is valid JSON (as the SageMaker training toolkit does)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value


def _ignored(name: str) -> bool:
    return name.startswith(("sagemaker_", "_"))


def _arguments_to_dict(argv: Sequence[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs; a flag without a value means ``true``."""
    values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("--") or len(token) == 2:
            raise UserError(f"unexpected argument {token!r}: hyperparameters are passed as --name value")
        name, sep, inline = token[2:].partition("=")
        if sep:
            values[name] = inline
            index += 1
        elif index + 1 < len(argv) and not argv[index + 1].startswith("--"):
            values[name] = argv[index + 1]
            index += 2
        else:
            values[name] = "true"
            index += 1
    return values


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).replace("_", "-")
        if item["type"] == "extra_forbidden":
            known = ", ".join(sorted(n.replace("_", "-") for n in HyperParameters.model_fields))
            problems.append(f"unknown hyperparameter {name!r} (known: {known})")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"invalid hyperparameter {name!r}: {message} (got {item.get('input')!r})")
    return "; ".join(problems)


def parse_hyperparameters(argv: Sequence[str], sm_hps: Mapping[str, Any] | None = None) -> HyperParameters:
    """Merge ``SM_HPS`` with the command-line arguments (arguments win) and validate.

    Raises :class:`UserError` with one line naming every bad or unknown hyperparameter.
    """
    raw: dict[str, Any] = {}
    for source in (dict(sm_hps or {}), _arguments_to_dict(argv)):
        for name, value in source.items():
            if _ignored(name):
                continue
            raw[name.replace("-", "_")] = _decode(value)
    if "pretrained" in raw and raw["pretrained"] is None:  # JSON null
        raw["pretrained"] = "none"
    try:
        return HyperParameters.model_validate(raw)
    except ValidationError as error:
        raise UserError(_describe(error)) from None
