"""STS operations: who the caller is, and temporary credentials for a role (see ``__init__``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import AwsError

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class StsApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.operations: dict[str, Handler] = {
            "GetCallerIdentity": self.get_caller_identity,
            "AssumeRole": self.assume_role,
        }

    def get_caller_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        account = self.settings.account_id
        return {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}

    def assume_role(self, params: dict[str, Any]) -> dict[str, Any]:
        role_arn = str(params["RoleArn"])
        parts = role_arn.split(":")
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            raise AwsError("ValidationError", f"{role_arn} is invalid: RoleArn must be an IAM role ARN")
        role = parts[5].rsplit("/", 1)[-1]
        session = str(params["RoleSessionName"])
        duration = int(params.get("DurationSeconds") or 3600)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=duration)
        role_id = "AROA" + hashlib.sha1(role_arn.encode()).hexdigest()[:17].upper()
        return {
            "Credentials": {
                "AccessKeyId": "ASIA" + secrets.token_hex(8).upper(),
                "SecretAccessKey": secrets.token_urlsafe(30),
                "SessionToken": secrets.token_urlsafe(96),
                "Expiration": expires,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": f"{role_id}:{session}",
                "Arn": f"arn:aws:sts::{parts[4] or self.settings.account_id}:assumed-role/{role}/{session}",
            },
            "PackedPolicySize": 0,
        }
