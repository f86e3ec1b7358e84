"""One local stack: its resources (including the ones SAM creates implicitly), their physical IDs
and attributes, and SAM's ``Globals`` (every ``AWS::Serverless::*`` section, ``IgnoreGlobals``).

Physical IDs are deterministic (hash of stack and logical ID), so a restart re-deploys onto the
same names, CloudFormation-style: ``<stack>-<LogicalId>-<SUFFIX>`` for functions and roles,
lowercase for buckets, ``<LogicalId>-<SUFFIX>`` for state machines, a 10-character ID for HTTP
APIs; an explicit name property (``BucketName``, ``FunctionName``, ``Name`` ...) wins.
SAM's implicit resources are modelled so ``Ref``/``GetAtt`` to them work: ``ServerlessHttpApi``
(functions with HttpApi events and no ``ApiId``), ``<Function>Role`` and ``<StateMachine>Role``
(no ``Role`` given). Relies on ``intrinsics`` for the name properties.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import TemplateError

FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::Serverless::StateMachine"
HTTP_API = "AWS::Serverless::HttpApi"
BUCKET = "AWS::S3::Bucket"
CFN_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
IAM_ROLE = "AWS::IAM::Role"
IMPLICIT_API = "ServerlessHttpApi"

_NAME_PROPERTY = {
    BUCKET: "BucketName",
    FUNCTION: "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    STATE_MACHINE: "Name",
    CFN_STATE_MACHINE: "StateMachineName",
    IAM_ROLE: "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    HTTP_API: None,
}


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None = None
    implicit: bool = False
    depends_on: list[str] = field(default_factory=list)


def _suffix(stack: str, logical_id: str, length: int = 12) -> str:
    digest = hashlib.sha1(f"{stack}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:length]


def _generated(stack: str, logical_id: str, limit: int, *, with_stack: bool = True) -> str:
    """``<stack>-<LogicalId>-<SUFFIX>`` within ``limit`` characters: like CloudFormation, the stack
    and logical ID parts are shortened, never the unique suffix (a hash of both)."""
    suffix = _suffix(stack, logical_id)
    parts = [p for p in (stack if with_stack else "", logical_id) if p]
    budget = limit - len(suffix) - len(parts)
    if sum(map(len, parts)) > budget:
        if len(parts) == 2:
            stack_part = stack[: max(budget // 2, budget - len(logical_id))]
            parts = [stack_part, logical_id[: budget - len(stack_part)]]
        else:
            parts = [parts[0][:budget]]
    return "-".join([*(p.strip("-") for p in parts), suffix])


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _merge(base: Any, override: Any) -> Any:
    """SAM's Globals merge: maps merge key by key, lists concatenate, the resource's scalars win; an
    intrinsic function on either side is a scalar (the resource's value wins)."""
    if isinstance(base, dict) and isinstance(override, dict):
        if _is_intrinsic(base) or _is_intrinsic(override):
            return copy.deepcopy(override)
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = _merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return copy.deepcopy(base) + copy.deepcopy(override)
    return copy.deepcopy(override)


def _globals_for(globals_: dict[str, Any], kind: str, logical_id: str, ignore: Any) -> dict[str, Any]:
    """The Globals section for an ``AWS::Serverless::*`` type, less what the resource's
    ``IgnoreGlobals`` attribute (``"*"`` or a list of property names) leaves out."""
    section = (
        globals_.get(kind.removeprefix("AWS::Serverless::")) if kind.startswith("AWS::Serverless::") else None
    )
    if not isinstance(section, dict):
        return {}
    if ignore is None:
        return section
    if ignore == "*":
        return {}
    if not isinstance(ignore, list):
        raise TemplateError(f"Resource {logical_id}: IgnoreGlobals must be '*' or a list of property names")
    for name in ignore:
        if name not in section:
            raise TemplateError(
                f"Resource {logical_id}: IgnoreGlobals names {name!r}, which Globals does not set"
            )
    return {k: v for k, v in section.items() if k not in ignore}


def stack_name_from(text: str) -> str:
    """A valid CloudFormation stack name from a directory name (letters, digits, hyphens)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-") or "localcloud"
    if not name[0].isalpha():
        name = f"stack-{name}"
    return name[:128]


class Stack:
    def __init__(
        self, template: dict[str, Any], name: str, *, region: str, account: str, api_url: str
    ) -> None:
        self.template = template
        self.name = name
        self.region = region
        self.account = account
        self.api_url = api_url
        self.stack_id = (
            f"arn:aws:cloudformation:{region}:{account}:stack/{name}/"
            f"{hashlib.sha1(name.encode()).hexdigest()[:8]}-localcloud"
        )
        resources = template.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise TemplateError("Resources: the template must declare at least one resource")
        self.resources: dict[str, Resource] = {}
        globals_ = template.get("Globals") or {}
        for logical_id, body in resources.items():
            if not isinstance(body, dict) or not isinstance(body.get("Type"), str):
                raise TemplateError(f"Resource {logical_id}: must be a mapping with a Type")
            props = body.get("Properties") or {}
            if not isinstance(props, dict):
                raise TemplateError(f"Resource {logical_id}: Properties must be a mapping")
            kind = body["Type"]
            props = _merge(_globals_for(globals_, kind, logical_id, body.get("IgnoreGlobals")), props)
            depends = body.get("DependsOn") or []
            self.resources[logical_id] = Resource(
                logical_id,
                kind,
                props,
                body.get("Condition"),
                depends_on=[depends] if isinstance(depends, str) else list(depends),
            )
        self._add_implicit()
        self.resolve_name: Callable[[Resource], Any] | None = (
            None  # set by the deployer (resolves Name props)
        )

    def _add_implicit(self) -> None:
        needs_api = False
        for res in list(self.resources.values()):
            if res.type == FUNCTION:
                events = res.properties.get("Events") or {}
                for event in events.values() if isinstance(events, dict) else []:
                    if (
                        isinstance(event, dict)
                        and event.get("Type") == "HttpApi"
                        and not (event.get("Properties") or {}).get("ApiId")
                    ):
                        needs_api = True
            if res.type in (FUNCTION, STATE_MACHINE) and "Role" not in res.properties:
                role_id = f"{res.logical_id}Role"
                if role_id not in self.resources:
                    self.resources[role_id] = Resource(role_id, IAM_ROLE, {}, res.condition, implicit=True)
        if needs_api and IMPLICIT_API not in self.resources:
            self.resources[IMPLICIT_API] = Resource(IMPLICIT_API, HTTP_API, {}, implicit=True)

    def resolution_template(self) -> dict[str, Any]:
        """The template as intrinsics see it (implicit resources included)."""
        doc = dict(self.template)
        doc["Resources"] = {k: {"Type": r.type} for k, r in self.resources.items()}
        return doc

    # ------------------------------------------------------------------ physical IDs
    def physical_id(self, res: Resource) -> str:
        prop = _NAME_PROPERTY.get(res.type)
        if prop and prop in res.properties and self.resolve_name is not None:
            value = self.resolve_name(res)
            if value not in (None, ""):
                return str(value)
        if res.type == BUCKET:
            return _generated(self.name, res.logical_id, 63).lower()
        if res.type in (STATE_MACHINE, CFN_STATE_MACHINE):
            return _generated(self.name, res.logical_id, 80, with_stack=False)
        if res.type == HTTP_API:
            return _suffix(self.name, res.logical_id, 10).lower()
        if res.type in (FUNCTION, "AWS::Lambda::Function", IAM_ROLE):
            return _generated(self.name, res.logical_id, 64)
        return _generated(self.name, res.logical_id, 255)

    def ref(self, res: Resource) -> str:
        """What ``Ref`` returns for the resource (the ARN for state machines, as CloudFormation does)."""
        physical = self.physical_id(res)
        if res.type in (STATE_MACHINE, CFN_STATE_MACHINE):
            return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{physical}"
        return physical

    def attribute(self, res: Resource, name: str) -> Any:
        physical = self.physical_id(res)
        acct, region = self.account, self.region
        table: dict[str, dict[str, Any]] = {
            BUCKET: {
                "Arn": f"arn:aws:s3:::{physical}",
                "DomainName": f"{physical}.s3.amazonaws.com",
                "RegionalDomainName": f"{physical}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{physical}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{physical}.s3-website-{region}.amazonaws.com",
            },
            FUNCTION: {"Arn": f"arn:aws:lambda:{region}:{acct}:function:{physical}"},
            "AWS::Lambda::Function": {"Arn": f"arn:aws:lambda:{region}:{acct}:function:{physical}"},
            STATE_MACHINE: {"Arn": self.ref(res), "Name": physical},
            CFN_STATE_MACHINE: {"Arn": self.ref(res), "Name": physical},
            HTTP_API: {"ApiEndpoint": self.api_url, "ApiId": physical},
            IAM_ROLE: {
                "Arn": f"arn:aws:iam::{acct}:role/{physical}",
                "RoleId": f"AROA{_suffix(self.name, physical, 17)}",
            },
            "AWS::Logs::LogGroup": {"Arn": f"arn:aws:logs:{region}:{acct}:log-group:{physical}:*"},
            "AWS::KMS::Key": {"Arn": f"arn:aws:kms:{region}:{acct}:key/{physical}", "KeyId": physical},
        }
        attributes = table.get(res.type)
        if attributes is None:
            if name == "Arn":
                service = res.type.split("::")[1].lower()
                return f"arn:aws:{service}:{region}:{acct}:{physical}"
            raise TemplateError(
                f"Resource {res.logical_id}: attribute {name} of {res.type} is not supported by localcloud"
            )
        if name not in attributes:
            raise TemplateError(
                f"Resource {res.logical_id}: {res.type} has no attribute {name} "
                f"(localcloud knows {', '.join(sorted(attributes))})"
            )
        return attributes[name]
