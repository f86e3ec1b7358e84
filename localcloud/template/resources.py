"""Acts on the resource types localcloud emulates, from a resolved stack.

- ``AWS::S3::Bucket``: ``into.s3.ensure_bucket(name)``.
- ``AWS::Serverless::Function``: Handler, CodeUri (a directory relative to the template) or
  InlineCode, Runtime (Python), Timeout, MemorySize, Environment (Globals merged), Description;
  ``HttpApi`` events become routes; ``Layers`` that ``!Ref`` an ``AWS::Serverless::LayerVersion``
  of the template become its ContentUri directory and ``Metadata: BuildMethod``
  (``lambda_/layers.py`` loads them). -> ``into.lambda_.put_function``.
- ``AWS::Serverless::StateMachine`` / ``AWS::StepFunctions::StateMachine``: Definition (inline)
  or DefinitionUri (a local JSON/YAML file), DefinitionSubstitutions resolved to local ARNs.
  -> ``into.stepfunctions.put_state_machine``.
- ``AWS::Serverless::HttpApi`` (explicit, or SAM's implicit ``ServerlessHttpApi``): the API and
  its stage; routes come from the functions' events. -> ``into.apigateway.set_routes``.

Everything else (IAM roles and policies, log groups, permissions ...) has no local effect and is
listed in a debug log line; it is still recorded with its physical ID (for DescribeStackResources),
and a role also keeps its Description, Path and AssumeRolePolicyDocument (for IAM GetRole) when
they resolve. Every problem raises TemplateError naming the resource.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from ..errors import AwsError
from ..lambda_.layers import Layer
from .errors import TemplateError
from .intrinsics import Resolver
from .stack import (
    BUCKET,
    CFN_STATE_MACHINE,
    FUNCTION,
    HTTP_API,
    IAM_ROLE,
    IMPLICIT_API,
    STATE_MACHINE,
    Resource,
    Stack,
)
from .targets import DeployTargets

log = logging.getLogger("localcloud.template")

HANDLED = (BUCKET, FUNCTION, STATE_MACHINE, CFN_STATE_MACHINE, HTTP_API)
LAYER = "AWS::Serverless::LayerVersion"


def _where(res: Resource) -> str:
    return f"Resource {res.logical_id}"


def _int(res: Resource, name: str, value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{_where(res)}: {name} must be an integer, got {value!r}") from None


def _api_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property keys as the service API's camelCase (``LogGroupArn`` ->
    ``logGroupArn``), e.g. a state machine's Logging -> loggingConfiguration."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _api_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_keys(v) for v in value]
    return value


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class Deployer:
    def __init__(
        self,
        into: DeployTargets,
        stack: Stack,
        resolver: Resolver,
        template_dir: Path,
        active: dict[str, Resource],
    ) -> None:
        self.into = into
        self.stack = stack
        self.resolver = resolver
        self.template_dir = template_dir
        self.active = active
        self.routes: list[dict[str, Any]] = []
        self.apis: dict[str, dict[str, Any]] = {}
        self.created: dict[str, dict[str, Any]] = {}

    def props(self, res: Resource) -> dict[str, Any]:
        value = self.resolver.resolve(res.properties, _where(res))
        return value if isinstance(value, dict) else {}

    def local_path(self, res: Resource, field: str, value: Any) -> Path:
        if not isinstance(value, str):
            raise TemplateError(
                f"{_where(res)}: {field} {value!r} is not supported by localcloud (use a local "
                f"path relative to the template)"
            )
        if value.startswith("s3://"):
            raise TemplateError(
                f"{_where(res)}: {field} {value} is an S3 location; localcloud needs a local path "
                f"relative to the template"
            )
        path = (self.template_dir / value).resolve()
        if not path.exists():
            raise TemplateError(f"{_where(res)}: {field} {value} does not exist (looked in {path})")
        return path

    # ------------------------------------------------------------------ deploy
    def deploy(self) -> None:
        ignored = []
        order = [BUCKET, HTTP_API, FUNCTION, STATE_MACHINE, CFN_STATE_MACHINE]
        for kind in order:
            for res in self.active.values():
                if res.type == kind:
                    getattr(self, f"deploy_{kind.split('::')[-1].lower()}")(res)
        for res in self.active.values():
            if res.type not in HANDLED:
                ignored.append(f"{res.logical_id} ({res.type})")
                self.record_unhandled(res)
        if ignored:
            log.debug("no local effect (IAM, logs, permissions ...): %s", ", ".join(ignored))
        self.into.apigateway.set_routes(self.stack.name, list(self.apis.values()), self.routes)

    def record(self, res: Resource, physical: str) -> None:
        self.created[res.logical_id] = {"Type": res.type, "PhysicalResourceId": physical}

    def record_unhandled(self, res: Resource) -> None:
        """A resource with no local effect, recorded under its physical ID; a role's descriptive
        properties are kept when they resolve (a policy that does not resolve is left out)."""
        self.record(res, self.stack.physical_id(res))
        if res.type != IAM_ROLE:
            return
        kept: dict[str, Any] = {}
        for name in ("Description", "Path", "MaxSessionDuration", "AssumeRolePolicyDocument"):
            if name not in res.properties:
                continue
            try:
                kept[name] = self.resolver.resolve(res.properties[name], f"{_where(res)} {name}")
            except (TemplateError, AwsError):
                log.debug("%s: %s does not resolve locally; left out", res.logical_id, name)
        self.created[res.logical_id]["Properties"] = kept

    def deploy_bucket(self, res: Resource) -> None:
        name = self.stack.physical_id(res)
        self.into.s3.ensure_bucket(name)
        self.record(res, name)

    def deploy_httpapi(self, res: Resource) -> None:
        props = self.props(res)
        api_id = self.stack.physical_id(res)
        for unsupported in ("DefinitionBody", "DefinitionUri", "Auth", "Domain", "CorsConfiguration"):
            if props.get(unsupported):
                log.warning(
                    "Resource %s: %s is ignored by localcloud (routes come from the functions' HttpApi "
                    "events; no CORS, auth or custom domain)",
                    res.logical_id,
                    unsupported,
                )
        self.apis[api_id] = {
            "apiId": api_id,
            "name": props.get("Name") or f"{self.stack.name}-{res.logical_id}",
            "stage": props.get("StageName", "$default"),
            "logicalId": res.logical_id,
        }
        self.record(res, api_id)

    def deploy_function(self, res: Resource) -> None:
        where = _where(res)
        props = self.props(res)
        if props.get("PackageType") == "Image" or "ImageUri" in props:
            raise TemplateError(
                f"{where}: container image functions are not supported by localcloud (no Docker)"
            )
        runtime = str(props.get("Runtime") or "")
        if not runtime.startswith("python"):
            raise TemplateError(
                f"{where}: Runtime {runtime or '(none)'} is not supported by localcloud "
                f"(Python functions only)"
            )
        handler = props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{where}: Handler must be 'module.function', got {handler!r}")
        name = self.stack.physical_id(res)
        if "InlineCode" in props:
            code_dir = self.into.settings.state_dir / "lambda-code" / name
            code_dir.mkdir(parents=True, exist_ok=True)
            (code_dir / f"{handler.rsplit('.', 1)[0].replace('.', '/')}.py").write_text(
                str(props["InlineCode"])
            )
        else:
            if "CodeUri" not in props:
                raise TemplateError(f"{where}: CodeUri (or InlineCode) is required")
            code_dir = self.local_path(res, "CodeUri", props["CodeUri"])
            if not code_dir.is_dir():
                raise TemplateError(
                    f"{where}: CodeUri {props['CodeUri']} is not a directory (localcloud runs "
                    f"unpackaged code)"
                )
            module = handler.rsplit(".", 1)[0].replace(".", "/")
            if not ((code_dir / f"{module}.py").exists() or (code_dir / module / "__init__.py").exists()):
                log.warning(
                    "%s: Handler %s: no %s.py under %s (it must then be importable from the environment)",
                    where,
                    handler,
                    module,
                    code_dir,
                )
        for ignored in ("VpcConfig", "FileSystemConfigs"):
            if props.get(ignored):
                log.warning("%s: %s is ignored by localcloud", where, ignored)
        variables = (props.get("Environment") or {}).get("Variables") or {}
        if not isinstance(variables, dict):
            raise TemplateError(f"{where}: Environment.Variables must be a mapping")
        self.into.lambda_.put_function(
            name,
            handler=handler,
            code_dir=code_dir,
            runtime=runtime,
            timeout=_int(res, "Timeout", props.get("Timeout"), 3),
            memory=_int(res, "MemorySize", props.get("MemorySize"), 128),
            environment={str(k): _env_value(v) for k, v in variables.items()},
            description=str(props.get("Description") or ""),
            aliases=[res.logical_id],
            role=props.get("Role") if isinstance(props.get("Role"), str) else None,
            layers=self.function_layers(res),
        )
        self.record(res, name)
        self.function_events(res, props, name)

    def function_layers(self, res: Resource) -> list[Layer]:
        """The function's ``Layers`` that are ``!Ref``s to this template's AWS::Serverless::LayerVersion,
        as their local ContentUri directories (others are reported and left out)."""
        declared = res.properties.get("Layers") or []
        if not isinstance(declared, list):
            raise TemplateError(f"{_where(res)}: Layers must be a list")
        layers = []
        for item in declared:
            logical = item.get("Ref") if isinstance(item, dict) else None
            target = self.active.get(logical) if isinstance(logical, str) else None
            if target is None or target.type != LAYER:
                log.warning(
                    "%s: layer %s is not an %s of this template: ignored by localcloud",
                    _where(res),
                    item,
                    LAYER,
                )
                continue
            content = self.local_path(target, "ContentUri", self.props(target).get("ContentUri"))
            metadata = self.stack.template["Resources"][target.logical_id].get("Metadata") or {}
            build_method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
            layers.append(Layer(self.stack.physical_id(target), content, build_method))
        return layers

    def function_events(self, res: Resource, props: dict[str, Any], function_name: str) -> None:
        events = props.get("Events") or {}
        if not isinstance(events, dict):
            raise TemplateError(f"{_where(res)}: Events must be a mapping")
        for event_name, event in events.items():
            kind = event.get("Type") if isinstance(event, dict) else None
            if kind != "HttpApi":
                log.warning(
                    "%s: event %s of type %s is not emulated by localcloud (HttpApi events only)",
                    _where(res),
                    event_name,
                    kind,
                )
                continue
            eprops = event.get("Properties") or {}
            where = f"{_where(res)}: event {event_name}"
            version = str(eprops.get("PayloadFormatVersion", "2.0"))
            if version != "2.0":
                raise TemplateError(
                    f"{where}: PayloadFormatVersion {version} is not supported by localcloud (2.0 only)"
                )
            api_id = eprops.get("ApiId")
            if api_id is None:
                api_id = self.stack.physical_id(self.stack.resources[IMPLICIT_API])
            if api_id not in self.apis:
                raise TemplateError(
                    f"{where}: ApiId {api_id!r} is not an AWS::Serverless::HttpApi of this template"
                )
            path, method = eprops.get("Path"), eprops.get("Method")
            if path is None and method is None:
                route_key = "$default"
            else:
                method = str(method or "ANY").upper()
                if method == "ANY" or method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
                    route_key = f"{method} {path or '/'}"
                else:
                    raise TemplateError(f"{where}: Method {method} is not an HTTP method")
                if not str(path or "/").startswith("/"):
                    raise TemplateError(f"{where}: Path {path} must start with '/'")
            self.routes.append(
                {
                    "apiId": api_id,
                    "routeKey": route_key,
                    "function": function_name,
                    "timeoutMs": _int(res, "TimeoutInMillis", eprops.get("TimeoutInMillis"), 30000),
                }
            )

    def deploy_statemachine(self, res: Resource) -> None:
        where = _where(res)
        props = self.props(res)
        if res.type == CFN_STATE_MACHINE:
            definition = props.get("Definition")
            if definition is None and isinstance(props.get("DefinitionString"), str):
                definition = self.parse_definition(res, props["DefinitionString"], "DefinitionString")
            if definition is None and props.get("DefinitionS3Location"):
                raise TemplateError(f"{where}: DefinitionS3Location is not supported by localcloud")
            machine_type = props.get("StateMachineType", "STANDARD")
            role = props.get("RoleArn")
            logging_config = props.get("LoggingConfiguration")
        else:
            definition = props.get("Definition")
            if definition is None and "DefinitionUri" in props:
                path = self.local_path(res, "DefinitionUri", props["DefinitionUri"])
                definition = self.parse_definition(res, path.read_text(encoding="utf-8"), "DefinitionUri")
            machine_type = props.get("Type", "STANDARD")
            role = props.get("Role")
            logging_config = props.get("Logging")
        if not isinstance(definition, dict):
            raise TemplateError(f"{where}: Definition or DefinitionUri is required")
        substitutions = props.get("DefinitionSubstitutions") or {}
        if not isinstance(substitutions, dict):
            raise TemplateError(f"{where}: DefinitionSubstitutions must be a mapping")
        definition = substitute(definition, {str(k): _env_value(v) for k, v in substitutions.items()})
        implicit_role = self.stack.resources.get(f"{res.logical_id}Role")
        role_arn = (
            role
            if isinstance(role, str)
            else (
                self.stack.attribute(implicit_role, "Arn")
                if implicit_role is not None
                else f"arn:aws:iam::{self.stack.account}:role/{self.stack.name}-{res.logical_id}Role"
            )
        )
        name = self.stack.physical_id(res)
        try:
            arn = self.into.stepfunctions.put_state_machine(
                name,
                json.dumps(definition, indent=2),
                role_arn,
                str(machine_type),
                logging=_api_keys(logging_config) if isinstance(logging_config, dict) else None,
            )
        except AwsError as err:
            raise TemplateError(f"{where}: {err.message}") from None
        if props.get("Events"):
            log.warning("%s: Events (schedules, rules) are not emulated by localcloud", where)
        self.record(res, arn)

    def parse_definition(self, res: Resource, text: str, field: str) -> Any:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TemplateError(f"{_where(res)}: {field} is not valid JSON/YAML: {exc}") from None


def substitute(value: Any, substitutions: dict[str, str]) -> Any:
    """Replace ``${Key}`` in every string (keys included) of a definition."""
    if not substitutions:
        return value
    if isinstance(value, str):
        for key, replacement in substitutions.items():
            value = value.replace("${" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [substitute(v, substitutions) for v in value]
    if isinstance(value, dict):
        return {substitute(k, substitutions): substitute(v, substitutions) for k, v in value.items()}
    return value
