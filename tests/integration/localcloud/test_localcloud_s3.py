"""localcloud's S3 through boto3, the AWS CLI and raw HTTP (aws-chunked bodies) on `localcloud up`."""

from __future__ import annotations

import base64
import filecmp
import hashlib
import http.client
import os
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow
AWS = str(REPO / ".venv" / "bin" / "aws")


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with LocalCloudProcess(tmp_path_factory.mktemp("lc-s3") / "state") as proc:
        yield proc


@pytest.fixture(scope="module")
def s3(lc: LocalCloudProcess) -> Any:
    client = lc.client("s3")
    client.create_bucket(Bucket="objects")
    return client


def aws(lc: LocalCloudProcess, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [AWS, *args], env=lc.env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def test_aws_s3_sync_round_trips_a_dataset_byte_for_byte(lc: LocalCloudProcess, tmp_path: Path) -> None:
    source = tmp_path / "dataset"
    files = {
        "train/001.Cats/a.jpg": os.urandom(3000),
        "train/001.Cats/b c+d.jpg": os.urandom(10),
        "train/002.Dogs/x.png": b"",
        "valid/002.Dogs/y.jpg": os.urandom(9 * 1024 * 1024),  # above the CLI's 8 MB multipart threshold
        "notes é.txt": "ünïcode".encode(),
    }
    for name, content in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(content)
    aws(lc, "s3", "mb", "s3://datasets")
    aws(lc, "s3", "sync", str(source), "s3://datasets/dogs/")
    listing = aws(lc, "s3", "ls", "--recursive", "s3://datasets/dogs/").stdout
    assert all(name in listing for name in files)
    assert "PRE train/" in aws(lc, "s3", "ls", "s3://datasets/dogs/").stdout
    again = aws(lc, "s3", "sync", str(source), "s3://datasets/dogs/").stdout
    assert "upload:" not in again  # nothing changed: nothing uploaded
    back = tmp_path / "back"
    aws(lc, "s3", "sync", "s3://datasets/dogs/", str(back))
    comparison = filecmp.dircmp(source, back)
    assert not comparison.left_only and not comparison.right_only
    for name, content in files.items():
        assert (back / name).read_bytes() == content
    # The objects are plain files under the state dir (docs/localcloud.md).
    assert (lc.state_dir / "s3" / "datasets" / "dogs" / "train" / "001.Cats" / "a.jpg").read_bytes() == files[
        "train/001.Cats/a.jpg"
    ]
    aws(lc, "s3", "rm", "--recursive", "s3://datasets/dogs/train/")
    remaining = aws(lc, "s3", "ls", "--recursive", "s3://datasets/dogs/").stdout
    assert "train/" not in remaining and "valid/002.Dogs/y.jpg" in remaining


def test_upload_and_download_file_use_multipart_with_s3_etags(s3: Any, tmp_path: Path) -> None:
    data = os.urandom(17 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    s3.upload_file(str(path), "objects", "big/file.bin")
    head = s3.head_object(Bucket="objects", Key="big/file.bin")
    assert head["ContentLength"] == len(data)
    chunk = 8 * 1024 * 1024
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == f'"{expected}-{len(parts)}"'
    out = tmp_path / "down.bin"
    s3.download_file("objects", "big/file.bin", str(out))
    assert out.read_bytes() == data


def test_put_get_range_metadata_and_conditions(s3: Any) -> None:
    put = s3.put_object(
        Bucket="objects",
        Key="docs/readme.txt",
        Body=b"0123456789",
        ContentType="text/plain",
        Metadata={"Owner": "team-a"},
    )
    assert put["ETag"] == f'"{hashlib.md5(b"0123456789").hexdigest()}"'
    got = s3.get_object(Bucket="objects", Key="docs/readme.txt")
    assert got["Body"].read() == b"0123456789"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "team-a"}
    assert s3.get_object(Bucket="objects", Key="docs/readme.txt", Range="bytes=2-4")["Body"].read() == b"234"
    partial = s3.get_object(Bucket="objects", Key="docs/readme.txt", Range="bytes=-3")
    assert partial["Body"].read() == b"789" and partial["ContentRange"] == "bytes 7-9/10"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="objects", Key="docs/readme.txt", Range="bytes=50-60")
    assert raised.value.response["Error"]["Code"] == "InvalidRange"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="objects", Key="docs/readme.txt", IfMatch='"nope"')
    assert raised.value.response["Error"]["Code"] == "PreconditionFailed"


def test_copy_delete_and_errors(s3: Any) -> None:
    s3.put_object(Bucket="objects", Key="src/a.txt", Body=b"payload", Metadata={"k": "v"})
    s3.copy_object(Bucket="objects", Key="dst/a.txt", CopySource={"Bucket": "objects", "Key": "src/a.txt"})
    copied = s3.get_object(Bucket="objects", Key="dst/a.txt")
    assert copied["Body"].read() == b"payload" and copied["Metadata"] == {"k": "v"}
    s3.copy_object(
        Bucket="objects",
        Key="dst/a.txt",
        CopySource="objects/dst/a.txt",
        MetadataDirective="REPLACE",
        Metadata={"k": "w"},
        ContentType="text/plain",
    )
    assert s3.head_object(Bucket="objects", Key="dst/a.txt")["Metadata"] == {"k": "w"}
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket="objects", Key="dst/a.txt", CopySource="objects/dst/a.txt")
    assert raised.value.response["Error"]["Code"] == "InvalidRequest"

    result = s3.delete_objects(
        Bucket="objects", Delete={"Objects": [{"Key": "src/a.txt"}, {"Key": "missing"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["missing", "src/a.txt"]
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="objects", Key="src/a.txt")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket="objects", Key="src/a.txt")
    assert raised.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="Bad_Name")
    assert raised.value.response["Error"]["Code"] == "InvalidBucketName"
    s3.create_bucket(Bucket="to-delete")
    s3.put_object(Bucket="to-delete", Key="x", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket="to-delete")
    assert raised.value.response["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket="to-delete", Key="x")
    s3.delete_bucket(Bucket="to-delete")
    assert "to-delete" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_list_objects_v2_prefix_delimiter_and_paging(s3: Any) -> None:
    s3.create_bucket(Bucket="listing")
    keys = [f"img/{c}/{i:02d}.jpg" for c in ("a", "b", "c") for i in range(5)] + [
        "img/top.txt",
        "other.txt",
        "img/b/nested/deep.jpg",
    ]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="listing", Prefix="img/", Delimiter="/", PaginationConfig={"PageSize": 2}
        )
    )
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    contents = [c["Key"] for page in pages for c in page.get("Contents", [])]
    assert prefixes == ["img/a/", "img/b/", "img/c/"] and contents == ["img/top.txt"]
    assert len(pages) == 2
    flat = [
        c["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="listing", Prefix="img/b/", PaginationConfig={"PageSize": 4}
        )
        for c in page["Contents"]
    ]
    assert flat == sorted(k for k in keys if k.startswith("img/b/"))
    after = s3.list_objects_v2(Bucket="listing", StartAfter="img/c/03.jpg")["Contents"]
    assert [c["Key"] for c in after] == ["img/c/04.jpg", "img/top.txt", "other.txt"]
    v1 = [
        c["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket="listing", PaginationConfig={"PageSize": 5}
        )
        for c in page["Contents"]
    ]
    assert v1 == sorted(keys)


def test_multipart_rules_and_abort(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket="objects", Key="mp/small-parts.bin")
    first = s3.upload_part(
        Bucket="objects", Key="mp/small-parts.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"a" * 100
    )
    second = s3.upload_part(
        Bucket="objects", Key="mp/small-parts.bin", UploadId=upload["UploadId"], PartNumber=2, Body=b"b" * 100
    )
    listed = s3.list_parts(Bucket="objects", Key="mp/small-parts.bin", UploadId=upload["UploadId"])["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 100), (2, 100)]
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket="objects",
            Key="mp/small-parts.bin",
            UploadId=upload["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]
            },
        )
    assert raised.value.response["Error"]["Code"] == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket="objects", Key="mp/small-parts.bin", UploadId=upload["UploadId"])
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket="objects", Key="mp/small-parts.bin", UploadId=upload["UploadId"])
    assert raised.value.response["Error"]["Code"] == "NoSuchUpload"


def _chunked(payload: bytes, sizes: list[int], trailer: str = "") -> bytes:
    body = b""
    offset = 0
    for size in sizes:
        chunk = payload[offset : offset + size]
        offset += size
        body += f"{len(chunk):x}".encode() + b"\r\n" + chunk + b"\r\n"
    return body + b"0\r\n" + trailer.encode() + b"\r\n"


def test_aws_chunked_uploads_with_checksum_trailers(lc: LocalCloudProcess, s3: Any) -> None:
    payload = os.urandom(70000)
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    body = _chunked(payload, [65536, 4464], trailer=f"x-amz-checksum-crc32:{crc}\r\n")
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "Content-Type": "application/octet-stream",
    }
    conn = http.client.HTTPConnection("127.0.0.1", lc.port, timeout=30)
    conn.request("PUT", "/objects/chunked/ok.bin", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("x-amz-checksum-crc32") == crc
    assert s3.get_object(Bucket="objects", Key="chunked/ok.bin")["Body"].read() == payload
    assert s3.head_object(Bucket="objects", Key="chunked/ok.bin").get("ContentEncoding") is None

    signed = {**headers, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
    signed.pop("x-amz-trailer")
    body = (
        b"".join(
            f"{n:x};chunk-signature={'0' * 64}\r\n".encode() + payload[o : o + n] + b"\r\n"
            for o, n in ((0, 40000), (40000, 30000))
        )
        + f"0;chunk-signature={'0' * 64}\r\n\r\n".encode()
    )
    conn.request("PUT", "/objects/chunked/signed.bin", body=body, headers=signed)
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    assert s3.get_object(Bucket="objects", Key="chunked/signed.bin")["Body"].read() == payload

    bad = _chunked(payload, [70000], trailer="x-amz-checksum-crc32:AAAAAA==\r\n")
    conn.request("PUT", "/objects/chunked/bad.bin", body=bad, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 400 and "<Code>BadDigest</Code>" in text
    conn.close()
    with pytest.raises(ClientError):
        s3.head_object(Bucket="objects", Key="chunked/bad.bin")


def test_unsupported_subresources_say_so(lc: LocalCloudProcess, s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        s3.get_bucket_policy(Bucket="objects")
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert "not supported by localcloud" in raised.value.response["Error"]["Message"]
