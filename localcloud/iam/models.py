"""The IAM roles localcloud knows: the ``AWS::IAM::Role`` resources of the deployed stacks (explicit
and SAM's implicit function/state machine roles), as the template deployer recorded them
(physical name, and Description/Path/AssumeRolePolicyDocument when they resolved), read from
CloudFormation's stacks (the callable cloud.py hands IAM)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

IAM_ROLE = "AWS::IAM::Role"


class Roles:
    def __init__(self, stacks: Callable[[], list[dict[str, Any]]], account_id: str) -> None:
        self.stacks = stacks
        self.account_id = account_id

    def all(self) -> list[dict[str, Any]]:
        """Every role, as IAM's ``Role`` shape, sorted by name."""
        account = self.account_id
        roles: dict[str, dict[str, Any]] = {}
        for stack in self.stacks():
            for res in (stack.get("Resources") or {}).values():
                if res.get("Type") != IAM_ROLE:
                    continue
                name = str(res["PhysicalResourceId"])
                props = res.get("Properties") or {}
                path = str(props.get("Path") or "/")
                role: dict[str, Any] = {
                    "Path": path,
                    "RoleName": name,
                    "RoleId": "AROA" + hashlib.sha1(name.encode()).hexdigest()[:17].upper(),
                    "Arn": f"arn:aws:iam::{account}:role{path}{name}",
                    "CreateDate": float(stack.get("CreationTime") or stack.get("LastUpdatedTime") or 0),
                    "MaxSessionDuration": int(props.get("MaxSessionDuration") or 3600),
                }
                if props.get("Description"):
                    role["Description"] = str(props["Description"])
                if isinstance(props.get("AssumeRolePolicyDocument"), dict):
                    role["AssumeRolePolicyDocument"] = props["AssumeRolePolicyDocument"]
                roles[name] = role
        return [roles[n] for n in sorted(roles)]

    def get(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.all() if r["RoleName"] == name), None)
