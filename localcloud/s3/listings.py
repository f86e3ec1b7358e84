"""S3's listing operations on the wire: ListObjects (v1 and v2), ListObjectVersions and
ListMultipartUploads, from query string to result document.

Each reads one page from :class:`~localcloud.s3.backend.S3Backend` (an indexed range read) and
writes it with :func:`localcloud.s3.xmlio.render`, i.e. laid out by botocore's output shape. The
parameters they share (prefix, delimiter, encoding-type=url, a page size capped at 1000) are
read once here. Buckets in localcloud are unversioned, so ListObjectVersions answers as S3 does
for an unversioned bucket: each object once, with version id ``null``, as the latest version.

AWS API reference, the behaviour followed here:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html (NextMarker only with a
delimiter), https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html (uploads by key,
then initiation time; upload-id-marker ignored without key-marker).

Relies on :mod:`localcloud.s3.backend` and :mod:`localcloud.s3.xmlio`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AwsError
from ..store import Doc
from . import versions, xmlio
from .backend import Listing, S3Backend

MAX_PAGE = 1000


def int_param(query: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter (capped at ``maximum``), or S3's InvalidArgument."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AwsError(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            400,
            ArgumentName=name,
            ArgumentValue=raw,
        ) from None
    if value < 0:
        raise AwsError(
            "InvalidArgument",
            f"Argument {name} must be an integer between 0 and 2147483647",
            400,
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, maximum) if maximum is not None else value


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise AwsError(
            "InvalidArgument",
            "The continuation token provided is incorrect",
            400,
            ArgumentName="continuation-token",
        ) from None


def _invalid(message: str, name: str, value: str) -> AwsError:
    return AwsError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


@dataclass(frozen=True)
class _Request:
    """What every listing takes: prefix, delimiter, encoding-type and the page size."""

    prefix: str
    delimiter: str
    url: bool
    size: int

    @classmethod
    def of(cls, query: Mapping[str, str], size_name: str) -> _Request:
        encoding = query.get("encoding-type")
        if encoding not in (None, "url"):
            raise _invalid("Invalid Encoding Method specified in Request", "encoding-type", str(encoding))
        return cls(
            query.get("prefix", ""),
            query.get("delimiter", ""),
            encoding == "url",
            int_param(query, size_name, MAX_PAGE, maximum=MAX_PAGE),
        )

    def enc(self, value: str) -> str:
        return xmlio.encode_key(value, self.url)

    def result(self, listing: Listing) -> dict[str, Any]:
        """The members every listing result has: Prefix, Delimiter, EncodingType, IsTruncated and
        CommonPrefixes."""
        return {
            "Prefix": self.enc(self.prefix),
            "Delimiter": self.enc(self.delimiter) if self.delimiter else None,
            "EncodingType": "url" if self.url else None,
            "IsTruncated": listing.truncated,
            "CommonPrefixes": [{"Prefix": self.enc(p)} for p in listing.common_prefixes],
        }

    def next_markers(self, listing: Listing, id_member: str, last_id: str) -> dict[str, Any]:
        """NextKeyMarker and the next version/upload id marker, on a truncated page only; no id
        marker when the page ends with a common prefix (the next page skips past it by key)."""
        if not listing.truncated or listing.next_marker is None:
            return {}
        return {
            "NextKeyMarker": self.enc(listing.next_marker),
            id_member: None if listing.ends_with_prefix else last_id,
        }

    def entry(self, doc: Doc, *, owner: bool) -> dict[str, Any]:
        """An object as a listing shows it."""
        return {
            "Key": self.enc(doc["Key"]),
            "LastModified": doc["LastModified"],
            "ETag": doc["ETag"],
            "Size": doc["Size"],
            "Owner": xmlio.OWNER if owner else None,
            "StorageClass": "STANDARD",
        }


def list_objects(backend: S3Backend, bucket: str, query: Mapping[str, str]) -> bytes:
    """ListObjects, or ListObjectsV2 with ``list-type=2``."""
    request = _Request.of(query, "max-keys")
    v2 = query.get("list-type") == "2"
    if v2:
        token = query.get("continuation-token")
        marker = _untoken(token) if token else query.get("start-after", "")
    else:
        marker = query.get("marker", "")
    listing = backend.list_objects(
        bucket, prefix=request.prefix, delimiter=request.delimiter, marker=marker, max_keys=request.size
    )
    owner = not v2 or query.get("fetch-owner") == "true"
    result = {
        "Name": bucket,
        "MaxKeys": request.size,
        "Contents": [request.entry(doc, owner=owner) for doc in listing.contents],
        **request.result(listing),
    }
    if v2:
        truncated = listing.truncated and listing.next_marker is not None
        result |= {
            "KeyCount": len(listing.contents) + len(listing.common_prefixes),
            "ContinuationToken": query.get("continuation-token") or None,
            "NextContinuationToken": _token(listing.next_marker or "") if truncated else None,
            "StartAfter": request.enc(query["start-after"]) if query.get("start-after") else None,
        }
        return xmlio.render("ListObjectsV2", "ListBucketResult", result)
    # NextMarker only with a delimiter: without one, clients continue from the last Key.
    with_next = listing.truncated and request.delimiter and listing.next_marker is not None
    result |= {
        "Marker": request.enc(marker),
        "NextMarker": request.enc(listing.next_marker or "") if with_next else None,
    }
    return xmlio.render("ListObjects", "ListBucketResult", result)


def list_object_versions(backend: S3Backend, bucket: str, query: Mapping[str, str]) -> bytes:
    """ListObjectVersions of an unversioned bucket: every object once, version ``null``, latest."""
    request = _Request.of(query, "max-keys")
    key_marker = query.get("key-marker", "")
    version_marker = _version_marker(query, key_marker)
    listing = backend.list_objects(
        bucket,
        prefix=request.prefix,
        delimiter=request.delimiter,
        marker=key_marker,
        max_keys=request.size,
    )
    result = {
        "Name": bucket,
        "KeyMarker": request.enc(key_marker),
        "VersionIdMarker": version_marker,
        "MaxKeys": request.size,
        "Versions": [
            {**request.entry(doc, owner=True), "VersionId": "null", "IsLatest": True}
            for doc in listing.contents
        ],
        **request.result(listing),
        **request.next_markers(listing, "NextVersionIdMarker", "null"),
    }
    return xmlio.render("ListObjectVersions", "ListVersionsResult", result)


def _version_marker(query: Mapping[str, str], key_marker: str) -> str:
    """version-id-marker, checked as S3 checks it: it needs a key-marker, and an unversioned bucket
    has one version id, ``null``."""
    if "version-id-marker" not in query:
        return ""
    marker = query["version-id-marker"]
    if not key_marker:
        raise _invalid(
            "A version-id marker cannot be specified without a key marker.", "version-id-marker", marker
        )
    if not marker:
        raise _invalid("A version-id marker cannot be empty.", "version-id-marker", marker)
    versions.check(marker, "version-id-marker")
    return marker


def list_multipart_uploads(backend: S3Backend, bucket: str, query: Mapping[str, str]) -> bytes:
    """ListMultipartUploads: uploads in progress by key, then initiation time, one page."""
    request = _Request.of(query, "max-uploads")
    key_marker = query.get("key-marker", "")
    upload_marker = query.get("upload-id-marker", "")
    listing = backend.list_uploads(
        bucket,
        prefix=request.prefix,
        delimiter=request.delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_marker,
        max_uploads=request.size,
    )
    result = {
        "Bucket": bucket,
        "KeyMarker": request.enc(key_marker),
        "UploadIdMarker": upload_marker,
        "MaxUploads": request.size,
        "Uploads": [
            {
                "Key": request.enc(upload["Key"]),
                "UploadId": upload["UploadId"],
                "Initiated": upload["Initiated"],
                "StorageClass": "STANDARD",
                "Owner": xmlio.OWNER,
                "Initiator": xmlio.OWNER,
            }
            for upload in listing.contents
        ],
        **request.result(listing),
        **request.next_markers(
            listing, "NextUploadIdMarker", listing.contents[-1]["UploadId"] if listing.contents else ""
        ),
    }
    return xmlio.render("ListMultipartUploads", "ListMultipartUploadsResult", result)
