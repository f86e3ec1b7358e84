"""IAM read operations over ``models.Roles``: GetRole, ListRoles (Marker/MaxItems paging) and
SimulatePrincipalPolicy (every action ``allowed``: localcloud does not enforce IAM).

Policy documents go on the wire URL-encoded, as IAM sends them (botocore decodes them back).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import AwsError
from .models import Roles

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _wire(role: dict[str, Any]) -> dict[str, Any]:
    out = dict(role)
    if "AssumeRolePolicyDocument" in out:
        out["AssumeRolePolicyDocument"] = urllib.parse.quote(json.dumps(out["AssumeRolePolicyDocument"]))
    return out


class IamApi:
    def __init__(self, roles: Roles, settings: Settings) -> None:
        self.roles = roles
        self.settings = settings
        self.operations: dict[str, Handler] = {
            "GetRole": self.get_role,
            "ListRoles": self.list_roles,
            "SimulatePrincipalPolicy": self.simulate_principal_policy,
        }

    def get_role(self, params: dict[str, Any]) -> dict[str, Any]:
        role = self.roles.get(params["RoleName"])
        if role is None:
            raise AwsError(
                "NoSuchEntity", f"The role with name {params['RoleName']} cannot be found.", status=404
            )
        return {"Role": _wire(role)}

    def list_roles(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        roles = [r for r in self.roles.all() if r["Path"].startswith(prefix)]
        start = 0
        if params.get("Marker"):
            names = [r["RoleName"] for r in roles]
            if params["Marker"] not in names:
                raise AwsError("ValidationError", "Invalid Marker")
            start = names.index(params["Marker"])
        limit = int(params.get("MaxItems") or 100)
        page = roles[start : start + limit]
        out: dict[str, Any] = {"Roles": [_wire(r) for r in page], "IsTruncated": start + limit < len(roles)}
        if out["IsTruncated"]:
            out["Marker"] = roles[start + limit]["RoleName"]
        return out

    def simulate_principal_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        resources = params.get("ResourceArns") or ["*"]
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": "allowed",
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in params["ActionNames"]
            for resource in resources
        ]
        return {"EvaluationResults": results, "IsTruncated": False}
