"""localcloud's STS (query protocol, ``Action=...&Version=2011-06-15``): GetCallerIdentity and
AssumeRole, answered for localcloud's one account (``Settings.account_id``).

Signatures are not verified, so every caller is the account's root user, and AssumeRole hands
back well-formed temporary credentials that localcloud accepts like any others. Requests and
responses are checked against botocore's ``sts`` model (``localcloud/validation.py``).
"""

from __future__ import annotations

from ..config import Settings
from ..service import TableService
from .responses import StsApi

__all__ = ["StsService"]


class StsService(TableService):
    model_name = "sts"
    display_name = "STS"
    query_service: str | None = "sts"

    def __init__(self, *, settings: Settings) -> None:
        self.api = StsApi(settings)
