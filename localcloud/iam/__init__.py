"""localcloud's IAM, read-only (query protocol, ``Version=2010-05-08``): GetRole, ListRoles and
SimulatePrincipalPolicy over the roles of the deployed stack (``models.py``).

localcloud does not enforce IAM (see docs/localcloud.md), so SimulatePrincipalPolicy answers
``allowed`` for every action, which is what localcloud does. Requests and responses are checked
against botocore's ``iam`` model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..service import TableService
from .models import Roles
from .responses import IamApi

__all__ = ["IamService"]


class IamService(TableService):
    model_name = "iam"
    display_name = "IAM"
    scope = "IAM is read-only locally"
    query_service: str | None = "iam"

    def __init__(self, *, settings: Settings, stacks: Callable[[], list[dict[str, Any]]]) -> None:
        """``stacks``: the deployed stacks (CloudFormation's); their AWS::IAM::Role resources are
        the roles."""
        self.api = IamApi(Roles(stacks, settings.account_id), settings)
