"""The ASL intrinsic functions (``States.Format(...)``, ``States.Array(...)`` ...) for JSONPath states.

``parse`` turns an invocation string into a small syntax tree (nested calls, single-quoted
string literals with the ``\\'`` ``\\{`` ``\\}`` ``\\\\`` escapes, numbers, booleans, null, and
``$``/``$$`` paths); ``evaluate`` runs it against the state input and the context object.
Parsing happens at definition time too, so a malformed call is rejected by CreateStateMachine.
Hand-written: no maintained Python library implements the ASL intrinsics. Semantics follow the
ASL specification's Appendix B and the Step Functions developer guide (intrinsic functions).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, paths

MAX_NESTING = 10
_MAX_STRING = 10_000
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class IntrinsicSyntaxError(ValueError):
    """An intrinsic function invocation that does not parse."""


@dataclass(frozen=True)
class Literal:
    value: Any
    # For string literals: the text split at unescaped "{}" (States.Format placeholders).
    format_parts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PathArg:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Literal | PathArg | Call, ...] = field(default_factory=tuple)


Node = Literal | PathArg | Call


def looks_like_call(text: str) -> bool:
    return text.startswith("States.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(
            f"Invalid intrinsic function '{self.text}': {message} at position {self.pos}"
        )

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t", "\n", "\r") and self.peek():
            self.pos += 1

    def parse(self) -> Call:
        call = self.call(depth=1)
        self.skip_spaces()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the closing parenthesis")
        return call

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.fail(f"more than {MAX_NESTING} nested intrinsic functions")
        start = self.pos
        while self.peek().isalnum() or self.peek() == ".":
            self.pos += 1
        name = self.text[start : self.pos]
        if not name.startswith("States.") or name not in FUNCTIONS:
            raise IntrinsicSyntaxError(
                f"Invalid intrinsic function '{self.text}': unknown function '{name}'"
                f" (supported: {', '.join(sorted(FUNCTIONS))})"
            )
        if self.peek() != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args: list[Node] = []
        self.skip_spaces()
        if self.peek() == ")":
            self.pos += 1
            return Call(name, tuple(args))
        while True:
            self.skip_spaces()
            args.append(self.argument(depth))
            self.skip_spaces()
            char = self.peek()
            self.pos += 1
            if char == ")":
                return Call(name, tuple(args))
            if char != ",":
                self.pos -= 1
                raise self.fail("expected ',' or ')'")

    def argument(self, depth: int) -> Node:
        char = self.peek()
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        start = self.pos
        while self.peek() and self.peek() not in ",) \t\n\r":
            self.pos += 1
        token = self.text[start : self.pos]
        if token in ("true", "false"):
            return Literal(token == "true")
        if token == "null":
            return Literal(None)
        try:
            number = json.loads(token)
        except ValueError:
            self.pos = start
            raise self.fail(f"unexpected argument '{token}'") from None
        if not isinstance(number, (int, float)):
            raise self.fail(f"unexpected argument '{token}'")
        return Literal(number)

    def string(self) -> Literal:
        self.pos += 1  # opening quote
        value: list[str] = []  # the literal's value
        chunk: list[str] = []  # text since the last unescaped "{}" placeholder
        parts: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise self.fail("unterminated string literal")
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ("'", "{", "}", "\\"):
                    raise self.fail("an open escape '\\' in a string literal")
                self.pos += 1
                value.append(escaped)
                chunk.append(escaped)
            elif char == "'":
                parts.append("".join(chunk))
                return Literal("".join(value), tuple(parts))
            elif char == "{" and self.peek() == "}":
                self.pos += 1
                value.append("{}")
                parts.append("".join(chunk))
                chunk = []
            else:
                value.append(char)
                chunk.append(char)

    def path(self) -> PathArg:
        start = self.pos
        depth = 0
        quote = ""
        while self.peek():
            char = self.peek()
            if quote:
                if char == quote:
                    quote = ""
            elif char in ("'", '"'):
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.pos += 1
        text = self.text[start : self.pos].strip()
        try:
            paths.check_path(text)
        except paths.PathError as exc:
            raise self.fail(str(exc)) from None
        return PathArg(text)


def parse(text: str) -> Call:
    """Parse an intrinsic function invocation; IntrinsicSyntaxError names what is wrong."""
    return _Parser(text.strip()).parse()


# --------------------------------------------------------------------------- evaluation


def evaluate(text: str | Call, data: Any, context: Any) -> Any:
    call = parse(text) if isinstance(text, str) else text
    return _evaluate(call, data, context)


def _evaluate(node: Node, data: Any, context: Any) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, PathArg):
        try:
            return paths.select_input_or_context(node.path, data, context)
        except paths.PathNotFound:
            raise _failure(f"The JSONPath '{node.path}' could not be found in the input") from None
    func = FUNCTIONS[node.name]
    if node.name == "States.Format":
        return _format(node, data, context)
    return func([_evaluate(arg, data, context) for arg in node.args])


def _failure(message: str) -> errors.StatesFailure:
    return errors.StatesFailure(errors.INTRINSIC_FAILURE, message)


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise _failure(f"{name} takes {expected} argument(s), got {len(args)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(name: str, value: Any) -> int:
    if not _is_number(value):
        raise _failure(f"{name} expects integer arguments, got {paths.to_json(value)}")
    return math.floor(value + 0.5) if isinstance(value, float) else int(value)


def _array(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _failure(f"{name} expects an array as its first argument, got {paths.to_json(value)}")
    return value


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _failure(f"{name} expects a string argument, got {paths.to_json(value)}")
    return value


def _json_key(value: Any) -> str:
    """Identity for JSON equality (so 1 and true, or 1 and 1.0 as JSON, compare as AWS does)."""
    return json.dumps(value, sort_keys=True)


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return paths.to_json(value)
    raise _failure(
        f"States.Format arguments must be strings, numbers, booleans or null, got {paths.to_json(value)}"
    )


def _format(node: Call, data: Any, context: Any) -> str:
    if not node.args:
        raise _failure("States.Format takes at least 1 argument, got 0")
    template_node, *arg_nodes = node.args
    if isinstance(template_node, Literal) and template_node.format_parts is not None:
        parts = list(template_node.format_parts)
    else:
        template = _evaluate(template_node, data, context)
        parts = _string("States.Format", template).split("{}")
    values = [_format_value(_evaluate(arg, data, context)) for arg in arg_nodes]
    if len(parts) - 1 != len(values):
        raise _failure(
            f"States.Format has {len(parts) - 1} placeholder(s) '{{}}' but {len(values)} argument(s) to "
            "insert"
        )
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out.extend((value, part))
    return "".join(out)


def _string_to_json(args: list[Any]) -> Any:
    _arity("States.StringToJson", args, 1)
    text = _string("States.StringToJson", args[0])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _failure(f"States.StringToJson could not parse {text!r}: {exc}") from None


def _json_to_string(args: list[Any]) -> str:
    _arity("States.JsonToString", args, 1)
    return paths.to_json(args[0])


def _array_fn(args: list[Any]) -> list[Any]:
    return list(args)


def _array_partition(args: list[Any]) -> list[list[Any]]:
    _arity("States.ArrayPartition", args, 2)
    items = _array("States.ArrayPartition", args[0])
    size = _integer("States.ArrayPartition", args[1])
    if size <= 0:
        raise _failure(f"States.ArrayPartition chunk size must be a positive integer, got {args[1]}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(args: list[Any]) -> bool:
    _arity("States.ArrayContains", args, 2)
    items = _array("States.ArrayContains", args[0])
    key = _json_key(args[1])
    return any(_json_key(item) == key for item in items)


def _array_range(args: list[Any]) -> list[int]:
    _arity("States.ArrayRange", args, 3)
    start, end, step = (_integer("States.ArrayRange", a) for a in args)
    if step == 0:
        raise _failure("States.ArrayRange step must not be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > 1000:
        raise _failure(f"States.ArrayRange would create {len(values)} items (at most 1000 are allowed)")
    return values


def _array_get_item(args: list[Any]) -> Any:
    _arity("States.ArrayGetItem", args, 2)
    items = _array("States.ArrayGetItem", args[0])
    index = _integer("States.ArrayGetItem", args[1])
    if not 0 <= index < len(items):
        raise _failure(
            f"States.ArrayGetItem index {index} is out of bounds for an array of {len(items)} items"
        )
    return items[index]


def _array_length(args: list[Any]) -> int:
    _arity("States.ArrayLength", args, 1)
    return len(_array("States.ArrayLength", args[0]))


def _array_unique(args: list[Any]) -> list[Any]:
    _arity("States.ArrayUnique", args, 1)
    seen: set[str] = set()
    out = []
    for item in _array("States.ArrayUnique", args[0]):
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _limited(name: str, value: Any) -> str:
    text = _string(name, value)
    if len(text) > _MAX_STRING:
        raise _failure(f"{name} input is {len(text)} characters long (at most {_MAX_STRING} are allowed)")
    return text


def _base64_encode(args: list[Any]) -> str:
    _arity("States.Base64Encode", args, 1)
    return base64.b64encode(_limited("States.Base64Encode", args[0]).encode()).decode()


def _base64_decode(args: list[Any]) -> str:
    _arity("States.Base64Decode", args, 1)
    text = _limited("States.Base64Decode", args[0])
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _failure(f"States.Base64Decode could not decode {text!r}: {exc}") from None


def _hash(args: list[Any]) -> str:
    _arity("States.Hash", args, 2)
    data = args[0] if isinstance(args[0], str) else paths.to_json(args[0])
    data = _limited("States.Hash", data)
    algorithm = _string("States.Hash", args[1])
    if algorithm not in _HASHES:
        raise _failure(f"States.Hash algorithm must be one of {', '.join(_HASHES)}, got {algorithm!r}")
    return hashlib.new(_HASHES[algorithm], data.encode()).hexdigest()


def _json_merge(args: list[Any]) -> dict[str, Any]:
    _arity("States.JsonMerge", args, 3)
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise _failure("States.JsonMerge expects two JSON objects")
    if deep is not False:
        raise _failure("States.JsonMerge supports only shallow merging: its third argument must be false")
    return {**left, **right}


def _math_random(args: list[Any]) -> int:
    _arity("States.MathRandom", args, 2, 3)
    start = _integer("States.MathRandom", args[0])
    end = _integer("States.MathRandom", args[1])
    if end < start:
        raise _failure(f"States.MathRandom end ({end}) must not be smaller than start ({start})")
    rng = random.Random(_integer("States.MathRandom", args[2])) if len(args) == 3 else random.SystemRandom()
    return start if end == start else rng.randrange(start, end)


def _math_add(args: list[Any]) -> int:
    _arity("States.MathAdd", args, 2)
    total = _integer("States.MathAdd", args[0]) + _integer("States.MathAdd", args[1])
    if not -(2**31) <= total < 2**31:
        raise _failure(f"States.MathAdd result {total} is outside the 32-bit integer range")
    return total


def _string_split(args: list[Any]) -> list[str]:
    _arity("States.StringSplit", args, 2)
    text = _string("States.StringSplit", args[0])
    delimiters = _string("States.StringSplit", args[1])
    if not delimiters:
        return [text] if text else []
    parts = [text]
    for delimiter in delimiters:
        parts = [piece for part in parts for piece in part.split(delimiter)]
    return [p for p in parts if p]


def _uuid(args: list[Any]) -> str:
    _arity("States.UUID", args, 0)
    return str(uuid.uuid4())


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "States.Format": lambda args: None,  # evaluated by _format (needs the unevaluated template)
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array_fn,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
