"""localcloud's IAM, read-only (query protocol, ``Version=2010-05-08``): GetRole, ListRoles and
SimulatePrincipalPolicy over the roles of the deployed stack (``models.py``).

localcloud does not enforce IAM (see docs/localcloud.md), so SimulatePrincipalPolicy answers
``allowed`` for every action, which is what localcloud does. Requests and responses are checked
against botocore's ``iam`` model.
"""

from __future__ import annotations

from ..config import Settings
from ..service import TableService
from ..store import Store
from .models import Roles
from .responses import IamApi

__all__ = ["IamService"]


class IamService(TableService):
    model_name = "iam"
    display_name = "IAM"
    scope = "IAM is read-only locally"
    query_service: str | None = "iam"

    def __init__(self, *, settings: Settings, store: Store) -> None:
        self.api = IamApi(Roles(store, settings.account_id), settings)
