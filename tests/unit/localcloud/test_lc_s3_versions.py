"""Requests naming a version on localcloud's unversioned buckets, through boto3, answered as S3
answers them: ``null`` is each object's one version, an empty id and any other id are 400
InvalidArgument (S3's messages), never a silent answer about the current object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.s3_inprocess import localcloud_s3

BUCKET = "versions"
OTHER = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"  # shaped like a real S3 version id


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Any]:
    client, close = localcloud_s3(tmp_path)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="k", Body=b"payload")
    yield client
    close()


def _refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(Bucket=BUCKET, **params)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]


def test_null_version_is_the_object(s3: Any) -> None:
    assert s3.get_object(Bucket=BUCKET, Key="k", VersionId="null")["Body"].read() == b"payload"
    assert s3.head_object(Bucket=BUCKET, Key="k", VersionId="null")["ContentLength"] == 7
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId="null")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_other_version_ids_are_invalid_arguments(s3: Any) -> None:
    error = _refused(s3.get_object, Key="k", VersionId=OTHER)
    assert (error["Code"], error["Message"]) == ("InvalidArgument", "Invalid version id specified")
    error = _refused(s3.get_object, Key="k", VersionId="")
    assert (error["Code"], error["Message"]) == ("InvalidArgument", "Version id cannot be the empty string")
    assert _refused(s3.head_object, Key="k", VersionId=OTHER)["Code"] == "400"  # HEAD: no body
    assert _refused(s3.delete_object, Key="k", VersionId=OTHER)["Code"] == "InvalidArgument"
    source = {"Bucket": BUCKET, "Key": "k", "VersionId": OTHER}
    assert _refused(s3.copy_object, Key="copy", CopySource=source)["Code"] == "InvalidArgument"
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"payload"  # nothing was deleted
    assert "copy" not in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]


def test_copy_from_the_null_version(s3: Any) -> None:
    s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "k", "VersionId": "null"})
    assert s3.get_object(Bucket=BUCKET, Key="copy")["Body"].read() == b"payload"


def test_delete_objects_by_version_deletes_null_and_refuses_others(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="j", Body=b"x")
    objects = [{"Key": "k", "VersionId": "null"}, {"Key": "j", "VersionId": OTHER}]
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
    assert answer["Deleted"] == [{"Key": "k", "VersionId": "null"}]
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in answer["Errors"]] == [
        ("j", OTHER, "InvalidArgument")
    ]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["j"]


def test_emptying_a_bucket_by_its_versions_as_tools_do(s3: Any) -> None:
    """What boto3's ``Bucket.object_versions.delete()`` (and CDK's auto-delete, Terraform's
    force_destroy) do: walk ListObjectVersions, DeleteObjects each page by VersionId, delete the bucket."""
    for key in ("a", "b/c", "d e"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=BUCKET, PaginationConfig={"PageSize": 2}
    ):
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        assert not s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects}).get("Errors")
    s3.delete_bucket(Bucket=BUCKET)
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
