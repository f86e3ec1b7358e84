"""localcloud's STS (query protocol, ``Action=...&Version=2011-06-15``): GetCallerIdentity and
AssumeRole, answered for localcloud's one account (``Settings.account_id``).

Signatures are not verified, so every caller is the account's root user, and AssumeRole hands
back well-formed temporary credentials that localcloud accepts like any others. Requests and
responses are checked against botocore's ``sts`` model (``localcloud/validation.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..service import BaseService
from ..validation import validate_input, validate_output
from .responses import StsApi

if TYPE_CHECKING:
    from ..cloud import LocalCloud

__all__ = ["StsService"]


class StsService(BaseService):
    query_service: str | None = "sts"

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.api = StsApi(cloud.settings)

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.api.operations.get(operation)
        if handler is None:
            raise AwsError(
                "InvalidAction",
                f"STS {operation} is not supported by localcloud (supported: "
                f"{', '.join(sorted(self.api.operations))})",
            )
        validate_input("sts", operation, params)
        result = handler(params)
        validate_output("sts", operation, result)
        return result
