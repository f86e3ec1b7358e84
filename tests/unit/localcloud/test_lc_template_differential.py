"""Differential test: localcloud's SAM loader against AWS's SAM translator (samtranslator).

localcloud deploys SAM templates itself (localcloud/template: Globals merged into the resources,
SAM's implicit resources modelled so Ref/GetAtt to them work). samtranslator is the code that
performs the ``AWS::Serverless-2016-10-31`` transform for CloudFormation and ``sam build``; it runs in
its own venv (``.venv-ref``, built by ``make test``: its pydantic pin clashes with the app's) through
tests/support/sam_reference.py, which prints JSON.

Cases, on template.yaml, the test fixture app's template and tests/fixtures/sam/globals.yaml:
- every ``AWS::Serverless::*`` resource: localcloud's properties after Globals equal samtranslator's
  ``Globals.merge`` result;
- every implicit resource localcloud models exists, with the same type, in the translator's output;
- every IAM role and HTTP API the translator generates exists in localcloud's stack (so a Ref or
  GetAtt that works on AWS works locally);
- every ``Ref``/``Fn::Sub`` in the templates that names only parameters and pseudo parameters, plus
  the Fn::Sub forms in ``EXPRESSIONS``: localcloud's resolver against samtranslator's
  ``IntrinsicsResolver`` (where samtranslator resolves it completely).
Known disagreements would be listed in ``KNOWN_DISAGREEMENTS`` with the AWS page that decides them; the
list is asserted exactly (a new one fails, and so does one that went away).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.template.intrinsics import Resolver
from localcloud.template.loader import load_template
from localcloud.template.parameters import resolve_parameters
from localcloud.template.stack import HTTP_API, IAM_ROLE, Stack

REPO = Path(__file__).resolve().parents[3]
REFERENCE_PYTHON = REPO / ".venv-ref/bin/python"
TEMPLATES = ["template.yaml", "tests/fixtures/app/template.yaml", "tests/fixtures/sam/globals.yaml"]
# localcloud's implicit resource types -> what the transform generates for them
GENERATED_TYPE = {IAM_ROLE: "AWS::IAM::Role", HTTP_API: "AWS::ApiGatewayV2::Api"}
MINIMUM_CASES = 100
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "stack",
    "AWS::URLSuffix": "amazonaws.com",
}
# Fn::Sub forms beyond the templates' own (CloudFormation's Fn::Sub page: literals with ${!...},
# the list form with a variable map, pseudo parameters).
EXPRESSIONS = [
    {"Fn::Sub": "${!Literal}-${AWS::Region}"},
    {"Fn::Sub": ["${Name}.${AWS::URLSuffix}", {"Name": "www"}]},
    {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-${AWS::AccountId}/*"},
    {"Fn::Sub": "no variables at all"},
    {"Ref": "AWS::Region"},
]

# case id -> (what differs, the AWS page that decides it)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {}


def _reference(tmp: Path) -> dict[str, Any]:
    if not REFERENCE_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-ref is missing: `make test` builds it (make reference-venv)")
        pytest.skip(".venv-ref is missing: run `make reference-venv`")
    inputs = []
    for name in TEMPLATES:
        template = load_template(REPO / name)
        case = {
            "template": template,
            "parameters": {**_parameters(template), **PSEUDO},
            "expressions": _expressions(template),
        }
        path = tmp / (name.replace("/", "_") + ".json")
        path.write_text(json.dumps(case))
        inputs.append(str(path))
    done = subprocess.run(
        [str(REFERENCE_PYTHON), str(REPO / "tests/support/sam_reference.py"), *inputs],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    return {name: out[path] for name, path in zip(TEMPLATES, inputs, strict=True)}


def _parameters(template: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as CloudFormation passes them to a Ref: strings."""
    values = resolve_parameters(template, {})
    return {k: v if isinstance(v, str | list) else str(v) for k, v in values.items()}


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _expressions(template: dict[str, Any]) -> list[Any]:
    """Every Ref and Fn::Sub in the template that names only parameters and pseudo parameters."""
    names = set(template.get("Parameters") or {}) | set(PSEUDO)
    found = list(EXPRESSIONS)
    for node in _walk(template.get("Resources")):
        if len(node) != 1:
            continue
        ((key, value),) = node.items()
        if key == "Ref" and value in names:
            found.append(node)
        elif key == "Fn::Sub" and isinstance(value, str):
            refs = {m.split(".")[0].strip() for m in re.findall(r"\$\{([^}!]+)\}", value)}
            if refs <= names:
                found.append(node)
    unique = {json.dumps(e, sort_keys=True): e for e in found}
    return list(unique.values())


def _finish_sub(value: Any) -> Any:
    """samtranslator substitutes parameters inside Fn::Sub and leaves the Fn::Sub itself to
    CloudFormation; its last step (a variable map of plain strings, ``${!x}`` -> ``${x}``) is done here."""
    if not (isinstance(value, dict) and set(value) == {"Fn::Sub"}):
        return value
    body = value["Fn::Sub"]
    text, variables = (body, {}) if isinstance(body, str) else body
    if not isinstance(text, str) or not all(isinstance(v, str) for v in variables.values()):
        return value
    for name, replacement in variables.items():
        text = text.replace("${" + name + "}", replacement)
    if re.search(r"\$\{[^!]", text):
        return value
    return text.replace("${!", "${")


def _unresolved(value: Any) -> bool:
    return any(set(n) & {"Ref", "Fn::Sub"} for n in _walk(value))


def _stack(name: str) -> Stack:
    template = load_template(REPO / name)
    return Stack(template, "stack", region="us-east-1", account="123456789012", api_url="http://x")


def _compare_globals(name: str, stack: Stack, ref: dict[str, Any], disagreements: dict[str, str]) -> int:
    """Globals merged into each resource's properties; returns the number of cases compared."""
    for logical_id, merged in ref["merged"].items():
        mine = stack.resources[logical_id].properties
        if mine != merged:
            keys = sorted(k for k in set(mine) | set(merged) if mine.get(k) != merged.get(k))
            disagreements[f"{name}:globals:{logical_id}"] = ", ".join(
                f"{k}: localcloud {mine.get(k)!r}, samtranslator {merged.get(k)!r}" for k in keys
            )
    return len(ref["merged"])


def _compare_generated(name: str, stack: Stack, ref: dict[str, Any], disagreements: dict[str, str]) -> int:
    """The implicit resources (both directions); returns the number of cases compared."""
    compared = 0
    for logical_id, resource in stack.resources.items():
        if resource.implicit:
            compared += 1
            generated = ref["resources"].get(logical_id)
            if generated != GENERATED_TYPE.get(resource.type):
                disagreements[f"{name}:implicit:{logical_id}"] = (
                    f"localcloud {resource.type}; samtranslator {generated}"
                )
    for logical_id, kind in ref["resources"].items():
        if kind in GENERATED_TYPE.values():
            compared += 1
            if logical_id not in stack.resources:
                disagreements[f"{name}:generated:{logical_id}"] = (
                    f"samtranslator makes {kind}; localcloud none"
                )
    return compared


def _compare_intrinsics(name: str, ref: dict[str, Any], disagreements: dict[str, str]) -> int:
    """Ref / Fn::Sub on parameters and pseudo parameters; returns the number of cases compared."""
    compared = 0
    template = load_template(REPO / name)
    resolver = Resolver(
        template,
        parameters=_parameters(template),
        pseudo=PSEUDO,
        ref=lambda logical: f"physical-{logical}",
        get_att=lambda logical, attribute: f"{logical}.{attribute}",
    )
    for expression, resolved in zip(_expressions(template), ref["expressions"], strict=True):
        theirs = _finish_sub(resolved)
        if _unresolved(theirs):
            continue  # samtranslator leaves it to CloudFormation: nothing to compare
        compared += 1
        mine = resolver.resolve(expression, "test")
        if mine != theirs:
            disagreements[f"{name}:intrinsic:{json.dumps(expression)}"] = (
                f"localcloud {mine!r}; samtranslator {theirs!r}"
            )
    return compared


def test_sam_loader_agrees_with_samtranslator(tmp_path: Path) -> None:
    reference = _reference(tmp_path)
    compared = 0
    disagreements: dict[str, str] = {}
    for name in TEMPLATES:
        stack, ref = _stack(name), reference[name]
        compared += _compare_globals(name, stack, ref, disagreements)
        compared += _compare_generated(name, stack, ref, disagreements)
        compared += _compare_intrinsics(name, ref, disagreements)
    print(
        f"\nSAM loader vs samtranslator: {compared} cases compared, {compared - len(disagreements)} agree, "
        f"{len(disagreements)} disagree ({len(KNOWN_DISAGREEMENTS)} documented)"
    )
    for case_id, difference in sorted(disagreements.items()):
        print(f"  {case_id}: {difference}")
    assert compared >= MINIMUM_CASES
    new = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    assert not new, f"new disagreements with samtranslator: {json.dumps(new, indent=1)}"
    gone = set(KNOWN_DISAGREEMENTS) - set(disagreements)
    assert not gone, f"documented disagreements that no longer happen (remove them): {sorted(gone)}"
