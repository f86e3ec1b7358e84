"""boto3 clients aimed at a localcloud instance (its CLI and status, and tools driving an instance)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from .config import Settings


def aws_client(
    settings: Settings,
    service: str,
    *,
    attempts: int = 3,
    connect_timeout: float = 10,
    read_timeout: float = 90,
) -> Any:
    """A client for ``service`` at the instance's edge, with localcloud's dummy credentials."""
    return boto3.client(
        service,
        endpoint_url=settings.edge_url,
        region_name=settings.region,
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",
        config=Config(
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        ),
    )
