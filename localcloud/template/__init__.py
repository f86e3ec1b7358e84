"""Deploys a SAM template.yaml into localcloud at ``localcloud up`` (idempotent: a restart updates
everything in place), the way ``sam deploy`` does on AWS.

Steps: read the YAML (``loader``), resolve parameters (defaults, then the ``parameter_overrides``
of samconfig.toml's ``[default.localcloud.parameters]`` section, which SAM ignores, then
``LOCALCLOUD_PARAMETER_OVERRIDES``) and conditions, model the stack with SAM's implicit
resources and Globals (``stack``), resolve intrinsics (``intrinsics``), act on buckets,
functions, state machines and HTTP APIs (``resources``), resolve Outputs, and record the stack
(store kind ``cloudformation/stack`` and ``<state_dir>/stacks/<stack>.json``). Resources with no
local effect (roles, policies ...) are recorded too, for CloudFormation and IAM reads. Resources
of an earlier deployment that left the template (functions, state machines) are removed;
buckets are kept with their data.

The stack name is ``LOCALCLOUD_STACK_NAME``, else the ``stack_name`` that ``samconfig.toml`` beside
the template gives ``sam deploy``, else the template directory's name. Output values that
are ``execute-api`` URLs of this stack's HTTP APIs point at the local API port instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import tomllib
from pathlib import Path
from typing import Any

from ..store import Store
from .errors import TemplateError
from .intrinsics import Resolver
from .loader import TemplateSyntaxError, load_template
from .parameters import parse_overrides, resolve_parameters
from .resources import HANDLED, Deployer
from .stack import CFN_STATE_MACHINE, FUNCTION, HTTP_API, STATE_MACHINE, Resource, Stack, stack_name_from
from .targets import DeployTargets

__all__ = ["STACK_KIND", "TemplateError", "deploy_template", "stack_outputs"]

log = logging.getLogger("localcloud.template")

STACK_KIND = "cloudformation/stack"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def deploy_template(into: DeployTargets, path: Path) -> dict[str, Any]:
    """Deploy ``path`` into ``into`` (the services owning its resources); returns the stack record
    (resources and outputs)."""
    path = Path(path).resolve()
    try:
        template = load_template(path)
    except TemplateSyntaxError as exc:
        raise TemplateError(str(exc)) from None
    transforms = template.get("Transform") or []
    transforms = [transforms] if isinstance(transforms, str) else transforms
    if SAM_TRANSFORM not in transforms:
        log.warning("%s has no 'Transform: %s'; deploying its resources anyway", path, SAM_TRANSFORM)
    settings = into.settings
    name = stack_name_from(
        os.environ.get("LOCALCLOUD_STACK_NAME") or samconfig_stack_name(path) or path.parent.name
    )
    stack = Stack(
        template, name, region=settings.region, account=settings.account_id, api_url=settings.api_url
    )
    overrides = parse_overrides(samconfig_local_overrides(path))
    overrides.update(parse_overrides(os.environ.get("LOCALCLOUD_PARAMETER_OVERRIDES")))
    parameters = resolve_parameters(template, overrides)
    pseudo = {
        "AWS::Region": settings.region,
        "AWS::AccountId": settings.account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": name,
        "AWS::StackId": stack.stack_id,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }

    active: dict[str, Resource] = {}
    resolver = Resolver(
        stack.resolution_template(),
        parameters=parameters,
        pseudo=pseudo,
        ref=lambda logical: stack.ref(_active(active, stack, logical)),
        get_att=lambda logical, attr: stack.attribute(_active(active, stack, logical), attr),
    )

    def resolve_name(res: Resource) -> Any:
        prop = {
            "AWS::S3::Bucket": "BucketName",
            FUNCTION: "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            STATE_MACHINE: "Name",
            CFN_STATE_MACHINE: "StateMachineName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Logs::LogGroup": "LogGroupName",
        }.get(res.type)
        return resolver.resolve(res.properties.get(prop), f"Resource {res.logical_id}") if prop else None

    stack.resolve_name = resolve_name
    for logical_id, res in stack.resources.items():
        if res.condition is None or resolver.condition(res.condition, f"Resource {logical_id}"):
            active[logical_id] = res

    deployer = Deployer(into, stack, resolver, path.parent, active)
    deployer.deploy()
    outputs = _outputs(template, resolver, stack, deployer)
    previous = into.store.get(STACK_KIND, name)
    now = time.time()
    record = {
        "StackName": name,
        "StackId": stack.stack_id,
        "TemplatePath": str(path),
        "Description": str(template.get("Description") or ""),
        "StackStatus": "UPDATE_COMPLETE" if previous else "CREATE_COMPLETE",
        "CreationTime": (previous or {}).get("CreationTime") or now,
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": v if isinstance(v, str) else ",".join(v)}
            for k, v in parameters.items()
        ],
        "Resources": deployer.created,
        "Outputs": outputs,
        "LastUpdatedTime": now,
    }
    _remove_stale(into, previous, deployer.created)
    into.store.put(STACK_KIND, name, record)
    stacks_dir = settings.state_dir / "stacks"
    stacks_dir.mkdir(parents=True, exist_ok=True)
    (stacks_dir / f"{name}.json").write_text(json.dumps(record, indent=2))
    log.info(
        "deployed stack %s from %s: %d resources, outputs %s",
        name,
        path,
        len(deployer.created),
        {o["OutputKey"]: o["OutputValue"] for o in outputs},
    )
    return record


def _active(active: dict[str, Resource], stack: Stack, logical: str) -> Resource:
    if logical not in active:
        condition = stack.resources[logical].condition
        raise TemplateError(
            f"Resource {logical} is not created (its condition {condition} is false) but is referred to"
        )
    return active[logical]


def _outputs(
    template: dict[str, Any], resolver: Resolver, stack: Stack, deployer: Deployer
) -> list[dict[str, Any]]:
    outputs = []
    # https://<api id>.execute-api.<region>.amazonaws.com[/<stage>] -> the local API port
    rewrites = []
    for api in deployer.apis.values():
        stage = "" if api["stage"] in ("$default", "", None) else "/" + re.escape(str(api["stage"]))
        rewrites.append(
            re.compile(
                rf"^https://{re.escape(api['apiId'])}\.execute-api\.[a-z0-9-]+\.amazonaws\.com"
                rf"(?:{stage})?"
            )
        )
    for key, spec in (template.get("Outputs") or {}).items():
        if not isinstance(spec, dict) or "Value" not in spec:
            raise TemplateError(f"Outputs {key}: must have a Value")
        if "Condition" in spec and not resolver.condition(spec["Condition"], f"Outputs {key}"):
            continue
        value = resolver.resolve(spec["Value"], f"Outputs {key}")
        for pattern in rewrites if isinstance(value, str) else []:
            value = pattern.sub(stack.api_url.rstrip("/"), value)
        text = (
            value
            if isinstance(value, str)
            else ",".join(map(str, value))
            if isinstance(value, list)
            else str(value)
        )
        item = {"OutputKey": key, "OutputValue": text}
        if spec.get("Description"):
            item["Description"] = str(spec["Description"])
        outputs.append(item)
    return outputs


def _remove_stale(
    into: DeployTargets, previous: dict[str, Any] | None, current: dict[str, dict[str, Any]]
) -> None:
    if not previous:
        return
    now = {(r["Type"], r["PhysicalResourceId"]) for r in current.values()}
    for logical, res in (previous.get("Resources") or {}).items():
        key = (res["Type"], res["PhysicalResourceId"])
        if key in now:
            continue
        if res["Type"] == FUNCTION:
            into.lambda_.delete_function(res["PhysicalResourceId"])
        elif res["Type"] in (STATE_MACHINE, CFN_STATE_MACHINE):
            into.stepfunctions.delete_state_machine(res["PhysicalResourceId"])
        elif res["Type"] == HTTP_API:
            continue  # routes are replaced as a whole by set_routes
        elif res["Type"] not in HANDLED:
            continue  # recorded only (roles, policies, log groups ...): nothing to remove
        log.info("removed %s (%s) which is no longer in the template", logical, res["Type"])


def _samconfig(template: Path) -> dict[str, Any]:
    try:
        doc = tomllib.loads((template.parent / "samconfig.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    default = doc.get("default", {})
    return default if isinstance(default, dict) else {}


def samconfig_local_overrides(template: Path) -> str | None:
    """Parameter overrides for localcloud only (``[default.localcloud.parameters]`` in samconfig.toml,
    e.g. the example input a command output names): the local counterpart of ``sam deploy``'s."""
    value = _samconfig(template).get("localcloud", {}).get("parameters", {}).get("parameter_overrides")
    return value if isinstance(value, str) else None


def samconfig_stack_name(template: Path) -> str | None:
    """The stack name ``sam deploy`` would use, from samconfig.toml next to the template."""
    default = _samconfig(template)
    for section in ("global", "deploy"):
        name = default.get(section, {}).get("parameters", {}).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return None


def stack_outputs(store: Store, stack_name: str | None = None) -> dict[str, str]:
    """Outputs of a deployed stack (the only one when ``stack_name`` is None), for the CLI and tests."""
    stacks = store.list(STACK_KIND)
    if stack_name is not None:
        stacks = [s for s in stacks if s["StackName"] == stack_name]
    if not stacks:
        return {}
    latest = max(stacks, key=lambda s: s.get("LastUpdatedTime", 0))
    return {o["OutputKey"]: o["OutputValue"] for o in latest.get("Outputs", [])}
