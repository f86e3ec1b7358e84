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
  GetAtt that works on AWS works locally).
Known disagreements would be listed in ``KNOWN_DISAGREEMENTS`` with the AWS page that decides them; the
list is asserted exactly (a new one fails, and so does one that went away).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localcloud.template.loader import load_template
from localcloud.template.stack import HTTP_API, IAM_ROLE, Stack

REPO = Path(__file__).resolve().parents[3]
REFERENCE_PYTHON = REPO / ".venv-ref/bin/python"
TEMPLATES = ["template.yaml", "tests/fixtures/app/template.yaml", "tests/fixtures/sam/globals.yaml"]
# localcloud's implicit resource types -> what the transform generates for them
GENERATED_TYPE = {IAM_ROLE: "AWS::IAM::Role", HTTP_API: "AWS::ApiGatewayV2::Api"}
MINIMUM_CASES = 40

# case id -> (what differs, the AWS page that decides it)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {}


def _reference(tmp: Path) -> dict[str, Any]:
    if not REFERENCE_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-ref is missing: `make test` builds it (make reference-venv)")
        pytest.skip(".venv-ref is missing: run `make reference-venv`")
    inputs = []
    for name in TEMPLATES:
        path = tmp / (name.replace("/", "_") + ".json")
        path.write_text(json.dumps({"template": load_template(REPO / name)}))
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


def _stack(name: str) -> Stack:
    template = load_template(REPO / name)
    return Stack(template, "stack", region="us-east-1", account="123456789012", api_url="http://x")


def test_sam_loader_agrees_with_samtranslator(tmp_path: Path) -> None:
    reference = _reference(tmp_path)
    compared = 0
    disagreements: dict[str, str] = {}
    for name in TEMPLATES:
        stack, ref = _stack(name), reference[name]
        for logical_id, merged in ref["merged"].items():
            compared += 1
            mine = stack.resources[logical_id].properties
            if mine != merged:
                keys = sorted(k for k in set(mine) | set(merged) if mine.get(k) != merged.get(k))
                disagreements[f"{name}:globals:{logical_id}"] = ", ".join(
                    f"{k}: localcloud {mine.get(k)!r}, samtranslator {merged.get(k)!r}" for k in keys
                )
        for logical_id, resource in stack.resources.items():
            if resource.implicit:
                compared += 1
                generated = ref["resources"].get(logical_id)
                if generated != GENERATED_TYPE.get(resource.type):
                    disagreements[f"{name}:implicit:{logical_id}"] = (
                        f"localcloud {resource.type}; samtranslator {generated}"
                    )
        for logical_id, kind in ref["resources"].items():
            if kind in GENERATED_TYPE.values() and logical_id not in stack.resources:
                compared += 1
                disagreements[f"{name}:generated:{logical_id}"] = (
                    f"samtranslator makes {kind}; localcloud none"
                )
            elif kind in GENERATED_TYPE.values():
                compared += 1
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
