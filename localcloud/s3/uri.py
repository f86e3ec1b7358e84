"""``s3://bucket/key`` URIs: parsing and formatting (used by S3's Python API and by SageMaker)."""

from __future__ import annotations

from urllib.parse import urlparse

from ..errors import AwsError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an ``s3://`` URI; ValidationException when it is not one."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise AwsError("ValidationException", f"'{uri}' is not a valid S3 URI (expected s3://bucket/key)")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"
