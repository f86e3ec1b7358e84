"""What AWS's SAM translator (samtranslator, the library behind ``sam build`` and CloudFormation's
``AWS::Serverless`` transform) makes of templates: run with ``.venv-ref/bin/python`` (samtranslator's
pydantic pin clashes with the app's), it prints one JSON object for test_lc_template_differential.py.

Usage: ``python sam_reference.py TEMPLATE_JSON...`` where each file holds a template already read
into JSON (localcloud's loader turns the YAML short forms into long forms; samtranslator expects
the long forms too). For each template: ``merged``, the properties of every ``AWS::Serverless::*``
resource after SAM's Globals are applied (samtranslator's own ``Globals.merge``), ``resources``,
every logical ID -> type in the CloudFormation template the transform produces, and
``expressions``, the given intrinsic expressions with the parameter and pseudo-parameter references
resolved by samtranslator's ``IntrinsicsResolver`` (``Ref`` and ``Fn::Sub``).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from typing import Any

from samtranslator.intrinsics.resolver import IntrinsicsResolver
from samtranslator.plugins.globals.globals import Globals
from samtranslator.translator.transform import transform


class _NoManagedPolicies:
    """The translator only needs this for managed policies named without an ARN."""

    def load(self) -> dict[str, str]:
        return {}


def _with_s3_code(template: dict[str, Any]) -> dict[str, Any]:
    """Local CodeUri/DefinitionUri paths become S3 URIs, as ``sam package`` makes them."""
    doc = copy.deepcopy(template)
    sections = [r.get("Properties") or {} for r in doc.get("Resources", {}).values()]
    for props in [*sections, *(doc.get("Globals") or {}).values()]:
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://reference-bucket/{props[key].strip('./') or 'root'}"
    return doc


def describe(template: dict[str, Any], parameters: dict[str, Any], expressions: list[Any]) -> dict[str, Any]:
    globals_ = Globals(template)
    merged: dict[str, Any] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        if kind.startswith("AWS::Serverless::"):
            props = copy.deepcopy(resource.get("Properties") or {})
            merged[logical_id] = globals_.merge(kind, props, logical_id, resource.get("IgnoreGlobals"))
    output = transform(_with_s3_code(template), dict(parameters), _NoManagedPolicies())  # type: ignore[arg-type]
    resources = {k: v["Type"] for k, v in output["Resources"].items()}
    resolver = IntrinsicsResolver(dict(parameters))
    resolved = [resolver.resolve_parameter_refs(copy.deepcopy(e)) for e in expressions]
    return {"merged": merged, "resources": resources, "expressions": resolved}


def main(paths: list[str]) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator's pseudo parameters
    out = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            case = json.load(handle)
        out[path] = describe(case["template"], case.get("parameters", {}), case.get("expressions", []))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
