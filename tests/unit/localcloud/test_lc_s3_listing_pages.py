"""S3 listing pages through boto3 (localcloud in-process), expected answers written by hand from
AWS's API reference: ListObjects' NextMarker, ListMultipartUploads' order and paging,
ListObjectVersions of an unversioned bucket; and that a page of uploads reads about a page of rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.s3.backend import UPLOAD_KIND, S3Backend
from localcloud.store import Store
from support.s3_inprocess import localcloud_s3

BUCKET = "pages"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Any]:
    client, close = localcloud_s3(tmp_path)
    client.create_bucket(Bucket=BUCKET)
    yield client
    close()


def test_list_objects_v1_gives_next_marker_only_with_a_delimiter(s3: Any) -> None:
    for key in ("a/1", "a/2", "b", "c"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    plain = s3.list_objects(Bucket=BUCKET, MaxKeys=2)
    assert plain["IsTruncated"] and [c["Key"] for c in plain["Contents"]] == ["a/1", "a/2"]
    assert "NextMarker" not in plain  # clients continue from the last Key
    rolled = s3.list_objects(Bucket=BUCKET, MaxKeys=2, Delimiter="/")
    assert rolled["IsTruncated"] and rolled["NextMarker"] == "b"
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    walked = s3.get_paginator("list_objects").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 1})
    assert [c["Key"] for page in walked for c in page["Contents"]] == ["a/1", "a/2", "b", "c"]


def _make_uploads(s3: Any, keys: list[str]) -> list[tuple[str, str]]:
    return [(key, s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]) for key in keys]


def test_uploads_are_listed_by_key_then_initiation_one_page_at_a_time(s3: Any) -> None:
    made = _make_uploads(s3, ["b", "a", "b", "a/x", "c", "a", "b"])
    expected = sorted(made, key=lambda pair: pair[0])  # stable: a key's uploads stay in creation order
    listed = s3.list_multipart_uploads(Bucket=BUCKET)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == expected
    assert listed["MaxUploads"] == 1000 and not listed["IsTruncated"]

    first = s3.list_multipart_uploads(Bucket=BUCKET, MaxUploads=3)
    assert [(u["Key"], u["UploadId"]) for u in first["Uploads"]] == expected[:3]
    assert first["IsTruncated"] and first["MaxUploads"] == 3
    assert (first["NextKeyMarker"], first["NextUploadIdMarker"]) == expected[2]
    # the next page starts inside key "a/x"'s neighbours: after the third upload, not after its key
    after = s3.list_multipart_uploads(
        Bucket=BUCKET, KeyMarker=expected[1][0], UploadIdMarker=expected[1][1], MaxUploads=1
    )
    assert [(u["Key"], u["UploadId"]) for u in after["Uploads"]] == [expected[2]]
    past_key = s3.list_multipart_uploads(Bucket=BUCKET, KeyMarker="a")
    assert [u["Key"] for u in past_key["Uploads"]] == ["a/x", "b", "b", "b", "c"]

    pages = list(
        s3.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 2})
    )
    assert len(pages) == 4
    assert [(u["Key"], u["UploadId"]) for page in pages for u in page["Uploads"]] == expected


def test_uploads_roll_up_at_the_delimiter(s3: Any) -> None:
    _make_uploads(s3, ["a/1", "a/2", "b", "photos/2006/x", "photos/2007/y", "z"])
    top = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/")
    assert [u["Key"] for u in top["Uploads"]] == ["b", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "photos/"]
    inside = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="photos/", Delimiter="/")
    assert "Uploads" not in inside
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["photos/2006/", "photos/2007/"]
    page = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/", MaxUploads=1)
    assert page["IsTruncated"] and page["NextKeyMarker"] == "a/" and "NextUploadIdMarker" not in page
    walked = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    seen = [(u["Key"],) for p in walked for u in p.get("Uploads", [])]
    assert seen == [("b",), ("z",)]


def test_object_versions_of_an_unversioned_bucket(s3: Any) -> None:
    keys = ["a b", "a+b", "a/1", "a/2", "z", "é"]  # UTF-8 order: é (c3 a9) after z
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    listed = s3.list_object_versions(Bucket=BUCKET)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        (k, "null", True) for k in keys
    ]
    assert listed["Versions"][0]["Size"] == 3 and listed["Versions"][0]["ETag"].startswith('"')
    page = s3.list_object_versions(Bucket=BUCKET, MaxKeys=2)
    assert page["IsTruncated"] and (page["NextKeyMarker"], page["NextVersionIdMarker"]) == ("a+b", "null")
    rest = s3.list_object_versions(Bucket=BUCKET, KeyMarker="a+b", VersionIdMarker="null")
    assert [v["Key"] for v in rest["Versions"]] == keys[2:]
    rolled = s3.list_object_versions(Bucket=BUCKET, Delimiter="/", MaxKeys=3)
    assert [v["Key"] for v in rolled["Versions"]] == ["a b", "a+b"]
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    assert rolled["NextKeyMarker"] == "a/" and "NextVersionIdMarker" not in rolled
    walked = s3.get_paginator("list_object_versions").paginate(
        Bucket=BUCKET, PaginationConfig={"PageSize": 4}
    )
    assert [v["Key"] for p in walked for v in p["Versions"]] == keys
    for params, message in [
        ({"VersionIdMarker": "null"}, "without a key marker"),
        ({"KeyMarker": "a", "VersionIdMarker": "3HL4kqtJlcpXroDTDmJ"}, "Invalid version id"),
    ]:
        with pytest.raises(ClientError) as raised:
            s3.list_object_versions(Bucket=BUCKET, **params)
        assert raised.value.response["Error"]["Code"] == "InvalidArgument"
        assert message in raised.value.response["Error"]["Message"]


def test_turning_versioning_on_is_refused_not_ignored(s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)


def test_a_page_of_uploads_reads_about_a_page_of_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = S3Backend(Store(tmp_path / "state.db"), tmp_path / "s3", "us-east-1")
    backend.create_bucket("big")
    for i in range(2000):
        backend.create_upload("big", f"k{i % 500:04d}", content_type=None, metadata={}, headers={})
    decoded = [0]
    real = json.loads

    def counting(text: Any, **kwargs: Any) -> Any:
        decoded[0] += 1
        return real(text, **kwargs)

    monkeypatch.setattr(json, "loads", counting)  # what the store decodes each row with
    page = backend.list_uploads("big", key_marker="k0250", max_uploads=100)
    assert [u["Key"] for u in page.contents][:5] == ["k0251"] * 4 + ["k0252"]
    assert page.truncated and decoded[0] <= 100 + 2  # the page, one look-ahead row, the bucket
    decoded[0] = 0
    rolled = backend.list_uploads("big", delimiter="0", max_uploads=5)
    assert rolled.common_prefixes == ["k0"] and decoded[0] <= 2 * 2 + 2


def test_uploads_stored_by_an_older_localcloud_are_found_and_listed(tmp_path: Path) -> None:
    backend = S3Backend(Store(tmp_path / "state.db"), tmp_path / "s3", "us-east-1")
    backend.create_bucket("old")
    doc = {
        "Bucket": "old",
        "Key": "data.bin",
        "UploadId": "Zm9vYmFy",
        "Initiated": 1.0,
        "ContentType": None,
        "Metadata": {},
        "Headers": {},
        "Parts": {},
    }
    backend.store.put(UPLOAD_KIND, "Zm9vYmFy", doc)  # named by upload id alone, as before
    backend.reconcile()
    assert backend.upload("old", "data.bin", "Zm9vYmFy")["Key"] == "data.bin"
    assert [u["UploadId"] for u in backend.list_uploads("old").contents] == ["Zm9vYmFy"]
    assert backend.store.get(UPLOAD_KIND, "Zm9vYmFy") is None


def test_a_page_size_of_zero_is_an_empty_page_that_is_not_truncated(s3: Any) -> None:
    # as S3 answers (ceph's s3-tests, written against AWS: test_bucket_list_maxkeys_zero)
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    _make_uploads(s3, ["a"])
    for page in (
        s3.list_objects(Bucket=BUCKET, MaxKeys=0),
        s3.list_objects_v2(Bucket=BUCKET, MaxKeys=0),
        s3.list_object_versions(Bucket=BUCKET, MaxKeys=0),
        s3.list_multipart_uploads(Bucket=BUCKET, MaxUploads=0),
    ):
        assert not page["IsTruncated"]
        assert not any(member in page for member in ("Contents", "Versions", "Uploads", "CommonPrefixes"))
