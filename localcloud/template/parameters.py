"""Template parameters: defaults, overrides, and CloudFormation's checks on their values.

Overrides come from ``LOCALCLOUD_PARAMETER_OVERRIDES``, in either the ``K=V K2=V2`` form or SAM
CLI's ``ParameterKey=K,ParameterValue=V`` form (shell quoting allowed). ``CommaDelimitedList`` and
``List<...>`` parameters become lists; every other type keeps CloudFormation's string value.
Relies on the standard library (shlex, re).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from .errors import TemplateError

_SAM_FORM = re.compile(r"^ParameterKey=([^,]+),ParameterValue=(.*)$")


def parse_overrides(text: str | None) -> dict[str, str]:
    """``"K=V K2='a b'"`` or ``"ParameterKey=K,ParameterValue=V ..."`` -> {K: V, ...}."""
    if not text or not text.strip():
        return {}
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise TemplateError(f"LOCALCLOUD_PARAMETER_OVERRIDES: cannot parse {text!r}: {exc}") from None
    out: dict[str, str] = {}
    for token in tokens:
        match = _SAM_FORM.match(token)
        if match:
            out[match.group(1)] = match.group(2)
            continue
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise TemplateError(f"LOCALCLOUD_PARAMETER_OVERRIDES: '{token}' is not KEY=VALUE")
        out[key] = value
    return out


def resolve_parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value (override, else Default), checked like CloudFormation checks them."""
    specs = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise TemplateError(
            f"Parameters: {', '.join(unknown)} given in LOCALCLOUD_PARAMETER_OVERRIDES "
            f"but not declared in the template"
        )
    values: dict[str, Any] = {}
    missing = []
    for name, declared in specs.items():
        spec = declared or {}
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            missing.append(name)
            continue
        values[name] = _check(name, spec, raw)
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    return values


def _check(name: str, spec: dict[str, Any], raw: Any) -> Any:
    kind = str(spec.get("Type", "String"))
    where = f"Parameter {name}"
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        items = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")] if str(raw) else []
        for item in items:
            _check_scalar(where, spec, str(item), "Number" if kind == "List<Number>" else "String")
        return [str(i) for i in items]
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    _check_scalar(where, spec, text, "Number" if kind == "Number" else "String")
    return text


def _check_scalar(where: str, spec: dict[str, Any], value: str, kind: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [
        str(a).lower() if isinstance(a, bool) else str(a) for a in allowed
    ]:
        raise TemplateError(f"{where}: value '{value}' is not one of the AllowedValues {allowed}")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"{where}: value '{value}' is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"{where}: value {value} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"{where}: value {value} is above MaxValue {spec['MaxValue']}")
        return
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        message = spec.get("ConstraintDescription") or f"must match AllowedPattern {pattern}"
        raise TemplateError(f"{where}: value '{value}' {message}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise TemplateError(f"{where}: value '{value}' is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise TemplateError(f"{where}: value '{value}' is longer than MaxLength {spec['MaxLength']}")
