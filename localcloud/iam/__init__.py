"""localcloud's IAM, read-only (query protocol, ``Version=2010-05-08``): GetRole, ListRoles and
SimulatePrincipalPolicy over the roles of the deployed stack (``models.py``).

localcloud does not enforce IAM (see docs/localcloud.md), so SimulatePrincipalPolicy answers
``allowed`` for every action, which is what localcloud does. Requests and responses are checked
against botocore's ``iam`` model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..service import BaseService
from ..validation import validate_input, validate_output
from .models import Roles
from .responses import IamApi

if TYPE_CHECKING:
    from ..cloud import LocalCloud

__all__ = ["IamService"]


class IamService(BaseService):
    query_service: str | None = "iam"

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.api = IamApi(Roles(cloud), cloud.settings)

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.api.operations.get(operation)
        if handler is None:
            raise AwsError(
                "InvalidAction",
                f"IAM {operation} is not supported by localcloud (IAM is read-only locally; supported: "
                f"{', '.join(sorted(self.api.operations))})",
            )
        validate_input("iam", operation, params)
        result = handler(params)
        validate_output("iam", operation, result)
        return result
