"""S3's building blocks without HTTP: aws-chunked decoding, ETags, listing semantics, files on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from localcloud.errors import AwsError
from localcloud.s3.backend import S3Backend
from localcloud.s3.body import AwsChunkedDecoder, multipart_etag
from localcloud.store import Store


def test_aws_chunked_decoder_handles_any_split_and_trailers() -> None:
    payload = bytes(range(256)) * 40
    body = (
        b"2800;chunk-signature=ab\r\n" + payload + b"\r\n0;chunk-signature=cd\r\n"
        b"x-amz-checksum-crc32:AAAA\r\n\r\n"
    )
    for step in (1, 7, 1000, len(body)):
        decoder = AwsChunkedDecoder()
        out = b"".join(decoder.feed(body[i : i + step]) for i in range(0, len(body), step))
        decoder.finish()
        assert out == payload and decoder.trailers == {"x-amz-checksum-crc32": "AAAA"}


def test_truncated_chunked_body_is_an_error() -> None:
    decoder = AwsChunkedDecoder()
    decoder.feed(b"10\r\nabc")
    with pytest.raises(AwsError, match="terminated unexpectedly"):
        decoder.finish()


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    parts = [b"a" * 10, b"b" * 3]
    tags = [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert multipart_etag(tags) == f'"{expected}-2"'


@pytest.fixture
def backend(tmp_path: Path) -> S3Backend:
    backend = S3Backend(Store(tmp_path / "state.db"), tmp_path / "s3", "us-east-1")
    backend.create_bucket("bucket")
    return backend


def _put(backend: S3Backend, key: str, data: bytes = b"x") -> None:
    temp = backend.temp_path()
    temp.write_bytes(data)
    backend.commit("bucket", key, temp, etag=f'"{hashlib.md5(data).hexdigest()}"', size=len(data))


def test_keys_that_cannot_be_files_still_work(backend: S3Backend) -> None:
    for key in ("a", "a/b", "folder/", "x/../y", "dup//slash"):
        _put(backend, key, key.encode())
    for key in ("a", "a/b", "folder/", "x/../y", "dup//slash"):
        assert backend.path_of(backend.head("bucket", key)).read_bytes() == key.encode()
    assert (backend.root / "bucket" / "a").is_file()  # natural path for the plain key
    assert backend.delete("bucket", "a/b") and backend.delete("bucket", "a")
    assert not (backend.root / "bucket" / "a").exists()


def test_listing_rolls_up_prefixes_and_pages_after_them(backend: S3Backend) -> None:
    for key in ("p/a/1", "p/a/2", "p/b/1", "p/c", "q"):
        _put(backend, key)
    first = backend.list_objects("bucket", prefix="p/", delimiter="/", max_keys=2)
    assert first.common_prefixes == ["p/a/", "p/b/"] and first.truncated and first.next_marker == "p/b/"
    rest = backend.list_objects("bucket", prefix="p/", delimiter="/", marker=first.next_marker or "")
    assert [d["Key"] for d in rest.contents] == ["p/c"] and not rest.truncated and rest.common_prefixes == []


def test_files_dropped_into_a_bucket_folder_become_objects(backend: S3Backend) -> None:
    folder = backend.root / "bucket" / "dropped"
    folder.mkdir(parents=True)
    (folder / "f.txt").write_bytes(b"hello")
    (backend.root / "newbucket").mkdir()
    (backend.root / "newbucket" / "g.bin").write_bytes(b"")
    backend.reconcile()
    doc = backend.head("bucket", "dropped/f.txt")
    assert doc["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"' and doc["ContentType"] == "text/plain"
    assert backend.keys("newbucket") == ["g.bin"]
    (folder / "f.txt").unlink()
    backend.reconcile()
    assert backend.find("bucket", "dropped/f.txt") is None


def test_bucket_names_follow_s3_rules(backend: S3Backend) -> None:
    for bad in ("ab", "Upper", "under_score", "192.168.0.1", "-start", "a..b"):
        with pytest.raises(AwsError, match="not valid"):
            backend.create_bucket(bad)
    assert backend.create_bucket("bucket") is False  # already yours: us-east-1 answers 200
