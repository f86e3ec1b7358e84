"""Server-side request validation from botocore's service models.

botocore's client checks only types and required members; AWS's servers also enforce each
shape's ``pattern``, ``min``/``max`` (lengths, list sizes, numeric ranges) and ``enum``. This
module applies all of those, using the same JSON service models botocore ships, and formats the
result the way AWS does ("1 validation error detected: Value 'x' at 'a.b' failed to satisfy
constraint: ..."). No maintained library does this for arbitrary botocore models, hence hand-written.

Used by the emulated services on every request, and by the pipeline's tests to check the
requests its Lambdas build (so both sides agree on what SageMaker accepts).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from .errors import AwsError

_MAX_REPORTED = 10


@functools.cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    model = service_model(service)
    if operation not in model.operation_names:
        raise AwsError(
            "UnknownOperationException",
            f"Operation {operation} is not an operation of {service} (or not supported by localcloud)",
        )
    return model.operation_model(operation)


@functools.cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # Java-only syntax such as \p{L}: not checkable with Python's re
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "null" if not value else str(value)[:200]
    return str(value)[:200]


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        self.errors.append(
            f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: {constraint}"
        )

    def check(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(shape, StructureShape):
            self._structure(shape, value, path)
        elif isinstance(shape, ListShape):
            self._list(shape, value, path)
        elif isinstance(shape, MapShape):
            self._map(shape, value, path)
        elif shape.type_name == "string":
            self._string(shape, value, path)
        else:
            self._scalar(shape, value, path)

    def _structure(self, shape: StructureShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(value, path, "Member must be a structure")
            return
        for key in value:
            if key not in shape.members:
                self.errors.append(f"Unknown parameter '{key}' at '{path or 'request'}'")
        for required in shape.required_members:
            if value.get(required) is None:
                self.fail(None, self._join(path, required), "Member must not be null")
        for key, member_value in value.items():
            if key in shape.members and member_value is not None:
                self.check(shape.members[key], member_value, self._join(path, key))

    def _list(self, shape: ListShape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.fail(value, path, "Member must be a list")
            return
        self._length(value, len(value), shape.metadata, path)
        for i, item in enumerate(value):
            self.check(shape.member, item, f"{path}.{i + 1}.member")

    def _map(self, shape: MapShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(value, path, "Member must be a map")
            return
        self._length(value, len(value), shape.metadata, path)
        for key, item in value.items():
            self.check(shape.key, key, f"{path}.key")
            self.check(shape.value, item, f"{path}.{key}")

    def _string(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.fail(value, path, "Member must be a string")
            return
        meta = shape.metadata
        self._length(value, len(value), meta, path)
        enum = shape.enum
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        compiled = _compile(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")

    def _scalar(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(value, path, "Member must be an integer")
                return
            self._range(value, shape.metadata, path)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(value, path, "Member must be a number")
                return
            self._range(value, shape.metadata, path)
        elif kind == "boolean" and not isinstance(value, bool):
            self.fail(value, path, "Member must be a boolean")

    @staticmethod
    def _join(path: str, key: str) -> str:
        return f"{path}.{_camel(key)}" if path else _camel(key)

    def _length(self, value: Any, length: int, meta: dict[str, Any], path: str) -> None:
        if "min" in meta and length < meta["min"]:
            self.fail(value, path, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and length > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")

    def _range(self, value: float, meta: dict[str, Any], path: str) -> None:
        if "min" in meta and value < meta["min"]:
            self.fail(value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            self.fail(value, path, f"Member must have value less than or equal to {meta['max']}")


def validation_errors(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every constraint the request breaks, in AWS's wording (empty when valid)."""
    op = operation_model(service, operation)
    if op.input_shape is None:
        return [f"Unknown parameter '{k}'" for k in params]
    checker = _Checker()
    checker.check(op.input_shape, params, "")
    return checker.errors


def validate_input(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise AWS's ValidationException when ``params`` break the operation's input constraints."""
    errors = validation_errors(service, operation, params)
    if errors:
        count = len(errors)
        shown = "; ".join(errors[:_MAX_REPORTED])
        noun = "error" if count == 1 else "errors"
        raise AwsError("ValidationException", f"{count} validation {noun} detected: {shown}")


def validate_output(service: str, operation: str, result: dict[str, Any]) -> None:
    """Check a response localcloud built against the operation's output shape (members, types,
    required members, constraints): a mismatch is localcloud's bug, reported as a 500."""
    op = operation_model(service, operation)
    if op.output_shape is None:
        errors = [f"Unknown member '{k}' in the response" for k in result]
    else:
        checker = _Checker()
        checker.check(op.output_shape, result, "")
        errors = checker.errors
    if errors:
        raise AwsError(
            "InternalFailure",
            f"localcloud built an invalid {operation} response: {'; '.join(errors[:_MAX_REPORTED])}",
            status=500,
        )
