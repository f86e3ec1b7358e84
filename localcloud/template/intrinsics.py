"""CloudFormation intrinsic functions and conditions, resolved against one local stack.

Supported: ``Ref`` (parameters, resources, pseudo parameters ``AWS::Region``/``AccountId``/
``Partition``/``StackName``/``StackId``/``URLSuffix``/``NoValue``/``NotificationARNs``),
``Fn::GetAtt``, ``Fn::Sub`` (both forms, ``${!Literal}`` escapes), ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::If``/``Equals``/``Not``/``And``/``Or`` and ``Condition``, ``Fn::FindInMap``
(with the ``DefaultValue`` extension), ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::Length`` and
``Fn::ToJsonString``. ``Fn::ImportValue``/``Fn::Cidr``/``Fn::Transform`` say they are not supported.
Resources are reached through callbacks (physical ID for ``Ref``, attribute for ``GetAtt``) so
this module knows nothing of resource types. Hand-written: no maintained library resolves
intrinsics outside CloudFormation (cfn-lint checks but does not evaluate them).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from .errors import TemplateError


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Resolves intrinsics for one stack; ``resolve(value, where)`` returns plain data."""

    def __init__(
        self,
        template: dict[str, Any],
        *,
        parameters: dict[str, Any],
        pseudo: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    @property
    def resource_names(self) -> set[str]:
        return set((self.template.get("Resources") or {}).keys())

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str, where: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"{where}: condition '{name}' is not defined in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"{where}: condition '{name}' refers to itself")
        self._evaluating.add(name)
        try:
            value = self.resolve(conditions[name], f"Condition {name}")
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise TemplateError(f"Condition {name}: must evaluate to true or false, got {value!r}")
        self._conditions[name] = value
        return value

    # ------------------------------------------------------------------ resolution
    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in {"Ref", "Condition"} or key.startswith("Fn::"):
                return self.function(key, arg, where)
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item, where)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"{where}: Ref takes a name, got {name!r}")
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resource_names:
            return self._ref(name)
        raise TemplateError(f"{where}: Ref to '{name}', which is neither a parameter nor a resource")

    def get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        arg = self.resolve(arg, where)
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)):
            raise TemplateError(f"{where}: Fn::GetAtt takes [LogicalName, Attribute], got {arg!r}")
        resource, attribute = arg
        if resource not in self.resource_names:
            raise TemplateError(f"{where}: Fn::GetAtt refers to '{resource}', which is not a resource")
        return self._get_att(resource, attribute)

    def sub(self, arg: Any, where: str) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], dict):
                raise TemplateError(f"{where}: Fn::Sub takes a string or [string, {{variables}}]")
            text = arg[0]
            variables = {k: self.resolve(v, where) for k, v in arg[1].items()}
        elif isinstance(arg, str):
            text = arg
        else:
            raise TemplateError(f"{where}: Fn::Sub takes a string or [string, {{variables}}], got {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.resource_names:
                value = self.get_att(name.split(".", 1), where)
            else:
                value = self.ref(name, where)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TemplateError(f"{where}: Fn::Sub variable ${{{name}}} is not a string: {value!r}")
            return str(value)

        return _SUB_VAR.sub(replace, text)

    def function(self, key: str, arg: Any, where: str) -> Any:
        if key == "Ref":
            return self.ref(arg, where)
        if key == "Condition":
            return self.condition(arg, where)
        handler = _FUNCTIONS.get(key)
        if handler is None:
            raise TemplateError(f"{where}: {key} is not supported by localcloud")
        return handler(self, arg, where)


def _args(resolver: Resolver, arg: Any, where: str, name: str, count: int) -> list[Any]:
    values = resolver.resolve(arg, where)
    if not isinstance(values, list) or len(values) != count:
        raise TemplateError(f"{where}: {name} takes {count} arguments, got {arg!r}")
    return values


def _join(resolver: Resolver, arg: Any, where: str) -> str:
    delimiter, items = _args(resolver, arg, where, "Fn::Join", 2)
    if not isinstance(items, list):
        raise TemplateError(f"{where}: Fn::Join needs a list to join, got {items!r}")
    return str(delimiter).join(str(i) for i in items)


def _select(resolver: Resolver, arg: Any, where: str) -> Any:
    index, items = _args(resolver, arg, where, "Fn::Select", 2)
    try:
        return items[int(index)]
    except (ValueError, TypeError, IndexError):
        raise TemplateError(f"{where}: Fn::Select index {index!r} is not valid for {items!r}") from None


def _split(resolver: Resolver, arg: Any, where: str) -> list[str]:
    delimiter, text = _args(resolver, arg, where, "Fn::Split", 2)
    return str(text).split(str(delimiter))


def _if(resolver: Resolver, arg: Any, where: str) -> Any:
    if not isinstance(arg, list) or len(arg) != 3:
        raise TemplateError(f"{where}: Fn::If takes [condition, value if true, value if false]")
    chosen = arg[1] if resolver.condition(arg[0], where) else arg[2]
    return resolver.resolve(chosen, where)


def _equals(resolver: Resolver, arg: Any, where: str) -> bool:
    left, right = _args(resolver, arg, where, "Fn::Equals", 2)
    return (
        str(left) == str(right) if not (isinstance(left, list) or isinstance(right, list)) else left == right
    )


def _bools(resolver: Resolver, arg: Any, where: str, name: str) -> list[bool]:
    values = resolver.resolve(arg, where)
    if not isinstance(values, list) or not all(isinstance(v, bool) for v in values):
        raise TemplateError(f"{where}: {name} takes a list of conditions, got {arg!r}")
    return values


def _find_in_map(resolver: Resolver, arg: Any, where: str) -> Any:
    values = resolver.resolve(arg, where)
    if not isinstance(values, list) or len(values) not in (3, 4):
        raise TemplateError(f"{where}: Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]")
    name, top, second = (str(v) for v in values[:3])
    mapping = (resolver.template.get("Mappings") or {}).get(name)
    try:
        if mapping is None:
            raise KeyError(name)
        return mapping[top][second]
    except (KeyError, TypeError):
        if len(values) == 4 and isinstance(values[3], dict) and "DefaultValue" in values[3]:
            return values[3]["DefaultValue"]
        raise TemplateError(f"{where}: Fn::FindInMap found no value for [{name}, {top}, {second}]") from None


def _unsupported(name: str) -> Callable[[Resolver, Any, str], Any]:
    def fail(resolver: Resolver, arg: Any, where: str) -> Any:
        raise TemplateError(f"{where}: {name} is not supported by localcloud (a single local stack)")

    return fail


_FUNCTIONS: dict[str, Callable[[Resolver, Any, str], Any]] = {
    "Fn::GetAtt": lambda r, a, w: r.get_att(a, w),
    "Fn::Sub": lambda r, a, w: r.sub(a, w),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda r, a, w: not _bools(r, a, w, "Fn::Not")[0],
    "Fn::And": lambda r, a, w: all(_bools(r, a, w, "Fn::And")),
    "Fn::Or": lambda r, a, w: any(_bools(r, a, w, "Fn::Or")),
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda r, a, w: base64.b64encode(str(r.resolve(a, w)).encode()).decode(),
    "Fn::GetAZs": lambda r, a, w: [f"{r.pseudo['AWS::Region']}{z}" for z in "abc"],
    "Fn::Length": lambda r, a, w: len(r.resolve(a, w)),
    "Fn::ToJsonString": lambda r, a, w: json.dumps(r.resolve(a, w), separators=(",", ":")),
}
# Known to CloudFormation, refused with a clear message here.
_UNSUPPORTED = ("Fn::ImportValue", "Fn::Cidr", "Fn::Transform")
#: What the resolver implements: Ref, Condition and the Fn:: functions above.
SUPPORTED: frozenset[str] = frozenset({"Ref", "Condition", *_FUNCTIONS})
_FUNCTIONS.update({name: _unsupported(name) for name in _UNSUPPORTED})
