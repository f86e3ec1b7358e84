"""Helpers for the template/state-machine tests: CloudFormation YAML, IAM statements, tools.

``load_template`` reads template.yaml with its short-form intrinsics (``!Ref``, ``!Sub``...)
turned into their long form, as CloudFormation itself does; ``iam_statements`` lists every
policy statement the template declares, wherever it sits.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFINITION = ROOT / "statemachine" / "pipeline.asl.json"
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def walk(node: Any) -> Iterator[Any]:
    """Every dict, list and scalar inside ``node``."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(resource logical id, statement)`` for every IAM statement in the template."""
    for name, resource in template["Resources"].items():
        for node in walk(resource.get("Properties", {})):
            if isinstance(node, dict) and isinstance(node.get("Statement"), list):
                for statement in node["Statement"]:
                    yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def definition() -> dict[str, Any]:
    return json.loads(DEFINITION.read_text())


def substituted_definition(substitutions: dict[str, str]) -> str:
    """The ASL with its ``${...}`` DefinitionSubstitutions replaced, as Step Functions receives it."""
    text = DEFINITION.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    return text


def tool_env() -> dict[str, str]:
    """Environment for sam / cfn-lint: offline-safe dummy credentials, a region, no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_CONTEXT_DISABLE_UPDATE_CHECK": "1",
        }
    )
    env.pop("AWS_PROFILE", None)
    env.setdefault("PYENV_VERSION", "3.11.7:3.12.1")  # sam build needs a python3.12 next to ours
    return env


def which(tool: str) -> str | None:
    return shutil.which(tool)
