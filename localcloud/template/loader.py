"""Reads a CloudFormation/SAM template (YAML or JSON) into plain Python data.

The short-form intrinsic tags become their long forms, as CloudFormation reads them:
``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``,
``!Condition C`` -> ``{"Condition": "C"}`` and every other ``!Name v`` -> ``{"Fn::Name": v}``
(``!Sub``, ``!Join``, ``!If``, ``!Equals``, ``!FindInMap`` ...). Dates stay strings (so
``AWSTemplateFormatVersion: 2010-09-09`` is not turned into a date). Relies on PyYAML (safe loader).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class TemplateSyntaxError(ValueError):
    """A template file that is not valid YAML/JSON or not a mapping."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation short-form tags."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


def _construct_string(loader: _CfnLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _construct_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_string)


def load_template(path: Path) -> dict[str, Any]:
    """The template as a dict; TemplateSyntaxError (with the file and the parser's message) if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateSyntaxError(f"cannot read template {path}: {exc.strerror}") from None
    return loads_template(text, str(path))


def loads_template(text: str, name: str = "template") -> dict[str, Any]:
    try:
        doc = yaml.load(text, Loader=_CfnLoader)
    except yaml.YAMLError as exc:
        raise TemplateSyntaxError(f"{name} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise TemplateSyntaxError(f"{name} must be a mapping with a Resources section")
    return doc
