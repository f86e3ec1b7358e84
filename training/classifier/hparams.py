"""Hyperparameters of train.py: parsed from ``--name value`` arguments and ``SM_HPS``, validated by pydantic.

As in the SageMaker training toolkit, every value arrives as a string and one that parses as
JSON is decoded first (the SageMaker SDK JSON-encodes strings: ``"\\"resnet50\\""``). Names are
hyphenated (``batch-size``); underscores are accepted too. SageMaker's own entries
(``sagemaker_*``, ``_tuning_objective_metric``) are ignored; any other unknown name is an error.
Relies on pydantic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classifier.failures import UserError

__all__ = ["HyperParameters", "parse_hyperparameters"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class HyperParameters(BaseModel):
    """Every hyperparameter train.py accepts, with its default (README: "Training script reference")."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    arch: str = "resnet50"
    pretrained: str = "imagenet"
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(5, ge=1)
    weight_decay: float = Field(1e-4, ge=0)
    optimizer: Literal["adamw", "sgd", "adam"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    image_size: int = Field(224, ge=16, le=1024)
    freeze_epochs: int = Field(0, ge=0)
    warmup_epochs: float = Field(0.3, ge=0)
    min_crop_scale: float = Field(0.35, gt=0, le=1)
    amp: bool = True
    channels_last: bool = True
    num_workers: int = Field(-1, ge=-1)
    cache_mb: int = Field(256, ge=0)
    seed: int = 0
    early_stop_patience: int = Field(0, ge=0)
    max_steps_per_epoch: int = Field(0, ge=0)
    profile: bool = False
    max_unreadable_fraction: float = Field(0.01, ge=0, le=1)
    data_dir: str | None = None

    @field_validator("amp", "channels_last", "profile", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        """Accept true/false/1/0/yes/no/on/off in any case, and JSON booleans/0/1."""
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {value!r}")

    @field_validator("num_workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        """``auto`` (or -1) picks the worker count from the CPU count."""
        return -1 if str(value).strip().lower() == "auto" else value

    @field_validator("arch", "pretrained", "optimizer", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        # A path keeps its case; names are case-insensitive.
        return text if ("/" in text or "\\" in text or "." in text) else text.lower()

    def as_dict(self) -> dict[str, Any]:
        """Hyphenated names and values, as recorded in model.json and checkpoints."""
        return {name.replace("_", "-"): value for name, value in self.model_dump().items()}


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
            problems.append(f"invalid hyperparameter {name!r}: {item['msg']} (got {item.get('input')!r})")
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
