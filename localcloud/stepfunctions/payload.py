"""Payload templates: ``Parameters``, ``ResultSelector``, ``ItemSelector`` (JSONPath query language).

A field whose name ends in ``.$`` takes its value from a path into the state input (``$...``), the
context object (``$$...``) or an intrinsic function (``States.Format(...)``); every other field
is copied as written. Templates nest through objects and arrays. ``check_template`` validates a
template when the state machine is created; ``render`` evaluates it while the state runs.
Hand-written on top of ``paths`` (jsonpath-ng) and ``intrinsics``.
"""

from __future__ import annotations

from typing import Any

from . import errors, intrinsics, paths


class TemplateError(ValueError):
    """A payload template field that is not a valid path or intrinsic function."""


def check_template(template: Any, where: str) -> None:
    """Raise TemplateError naming the first ``.$`` field whose value is neither a path nor an intrinsic."""
    if isinstance(template, dict):
        for key, value in template.items():
            if isinstance(key, str) and key.endswith(".$"):
                _check_expression(value, f"{where}/{key}")
            else:
                check_template(value, f"{where}/{key}")
    elif isinstance(template, list):
        for i, item in enumerate(template):
            check_template(item, f"{where}[{i}]")


def _check_expression(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise TemplateError(
            f"The value for the field '{where.rsplit('/', 1)[-1]}' must be a STRING at {where}"
        )
    try:
        if intrinsics.looks_like_call(value):
            intrinsics.parse(value)
        else:
            paths.check_path(value)
    except (paths.PathError, intrinsics.IntrinsicSyntaxError) as exc:
        raise TemplateError(
            f"The value for the field '{where.rsplit('/', 1)[-1]}' must be a valid JSONPath or a valid "
            "intrinsic "
            f"function call ({exc}) at {where}"
        ) from None


def render(template: Any, data: Any, context: Any, *, state: str, entered_event: int) -> Any:
    """Evaluate a payload template against the state's (effective) input and the context object."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _evaluate(key, value, data, context, state=state, entered_event=entered_event)
            else:
                out[key] = render(value, data, context, state=state, entered_event=entered_event)
        return out
    if isinstance(template, list):
        return [render(item, data, context, state=state, entered_event=entered_event) for item in template]
    return template


def _evaluate(key: str, expression: str, data: Any, context: Any, *, state: str, entered_event: int) -> Any:
    if intrinsics.looks_like_call(expression):
        return intrinsics.evaluate(expression, data, context)
    try:
        return paths.select_input_or_context(expression, data, context)
    except paths.PathNotFound:
        source = context if expression.startswith("$$") else data
        raise errors.runtime_error(
            state,
            entered_event,
            f"The JSONPath '{expression}' specified for the field '{key}' could not be found in the input "
            f"'{paths.to_json(source)}'",
        ) from None
