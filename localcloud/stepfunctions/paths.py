"""JSONPath for the Amazon States Language: paths, reference paths, ResultPath and payload templates.

- A *path* (InputPath, OutputPath, ``"x.$": "$.y"`` values) is any JSONPath; a definite path
  (only fields and single indexes) yields one value, an indefinite one (``[*]``, slices, filters,
  ``..``) yields the list of matches, as Step Functions (Jayway JsonPath) does.
- A *reference path* (ResultPath, ItemsPath, Choice ``Variable``, ``*Path`` fields) identifies a
  single node; ResultPath may create the missing objects along it.
- ``$$.`` selects from the context object instead of the state input.

Parsing and matching use jsonpath-ng (``jsonpath_ng.ext`` for filters); what is ours is the ASL
semantics on top (definite vs indefinite, reference paths, ResultPath placement, templates).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.ext.parser import parse as _jsonpath_parse
from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

from . import errors

_PARSE_LOCK = threading.Lock()  # ply's parser tables are shared state


class PathError(ValueError):
    """A path that does not parse, or is not allowed where it is used."""


class PathNotFound(LookupError):
    """A definite path that matches nothing in the data."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@functools.lru_cache(maxsize=4096)
def parse_path(path: str) -> JSONPath:
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathError(f"'{path}' is not a JSONPath (it must start with '$')")
    try:
        with _PARSE_LOCK:
            return _jsonpath_parse(path)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions for lexer/parser errors
        raise PathError(f"'{path}' is not a valid JSONPath: {exc}") from exc


def _definite(node: JSONPath) -> bool:
    if isinstance(node, (Root, This)):
        return True
    if isinstance(node, Child):
        return _definite(node.left) and _definite(node.right)
    if isinstance(node, Fields):
        return len(node.fields) == 1 and node.fields[0] != "*"
    if isinstance(node, Index):
        return len(node.indices) == 1
    return False


def is_definite(path: str) -> bool:
    return _definite(parse_path(path))


def reference_steps(path: str) -> list[str | int]:
    """The field names and indexes of a reference path; PathError when it is not one."""
    node = parse_path(path)
    steps: list[str | int] = []

    def walk(n: JSONPath) -> None:
        if isinstance(n, Root):
            return
        if isinstance(n, Child):
            walk(n.left)
            walk(n.right)
            return
        if isinstance(n, Fields) and len(n.fields) == 1 and n.fields[0] != "*":
            steps.append(str(n.fields[0]))
            return
        if isinstance(n, Index) and len(n.indices) == 1:
            steps.append(int(n.indices[0]))
            return
        raise PathError(f"'{path}' is not a valid reference path (only '.field' and '[index]' are allowed)")

    walk(node)
    return steps


def check_path(value: Any) -> None:
    """Raise PathError unless ``value`` is a valid path (context paths ``$$.`` included)."""
    if not isinstance(value, str):
        raise PathError(f"'{value}' is not a JSONPath (it must be a string)")
    parse_path(value[1:] if value.startswith("$$") else value)


def check_reference_path(value: Any) -> None:
    if not isinstance(value, str):
        raise PathError(f"'{value}' is not a reference path (it must be a string)")
    reference_steps(value[1:] if value.startswith("$$") else value)


def select(data: Any, path: str) -> Any:
    """The value a path selects; the list of matches for an indefinite path; PathNotFound if none."""
    if path == "$":
        return data
    expr = parse_path(path)
    matches = [m.value for m in expr.find(data)]
    if _definite(expr):
        if not matches:
            raise PathNotFound(path)
        return matches[0]
    return matches


def select_input_or_context(expression: str, data: Any, context: Any) -> Any:
    """Evaluate ``$...`` against the state input and ``$$...`` against the context object."""
    if expression.startswith("$$"):
        return select(context, expression[1:])
    return select(data, expression)


def apply_result_path(data: Any, result_path: str | None, result: Any) -> Any:
    """Place ``result`` into (a copy of) ``data`` at ``result_path`` (ASL ResultPath rules).

    ``None`` (ResultPath null) keeps the input; ``"$"`` replaces it; missing objects on the way are
    created. A step that meets a non-object raises States.ResultPathMatchFailure.
    """
    if result_path is None:
        return data
    steps = reference_steps(result_path)
    if not steps:
        return result
    root = copy.deepcopy(data)
    node = root
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise _result_path_failure(result_path, data)
            if last:
                node[step] = result
            else:
                if step not in node:
                    node[step] = {}
                child = node[step]
                if not isinstance(child, (dict, list)):
                    raise _result_path_failure(result_path, data)
                node = child
        else:
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                raise _result_path_failure(result_path, data)
            if last:
                node[step] = result
            else:
                node = node[step]
    return root


def _result_path_failure(result_path: str, data: Any) -> errors.StatesFailure:
    return errors.StatesFailure(
        errors.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ReferencePath {result_path} to input {to_json(data)}",
    )


def to_json(value: Any) -> str:
    """Compact JSON as Step Functions writes it in history events and outputs."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
