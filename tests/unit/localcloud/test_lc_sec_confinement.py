"""Local paths derived from S3 keys and archive members stay under their folder; channel layout is
SageMaker's (the whole S3 prefix stripped); archives are capped; extracted models are removed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from localcloud.config import Settings
from localcloud.errors import AwsError
from localcloud.s3.service import S3Service
from localcloud.sagemaker import locations as locations_module
from localcloud.sagemaker.locations import Locations, extract_tarball
from localcloud.store import Store


@pytest.fixture
def s3(tmp_path: Path) -> S3Service:
    service = S3Service(settings=Settings(state_dir=tmp_path / "state"), store=Store(tmp_path / "db"))
    service.ensure_bucket("data")
    return service


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_key_with_an_absolute_remainder_stays_in_the_channel(s3: S3Service, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "file"
    s3.put_bytes("data", f"p/{outside}", b"pwned")  # the key p//tmp/.../outside/file
    dest = tmp_path / "channel"
    s3.download_prefix("data", "p/", dest)
    assert not outside.exists()
    assert files_under(dest) == [str(outside).lstrip("/")]


def test_keys_that_climb_out_or_through_a_symlink_are_refused(s3: S3Service, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "channel"
    dest.mkdir()
    (dest / "link").symlink_to(outside, target_is_directory=True)
    s3.put_bytes("data", "p/link/x", b"through a symlink")
    with pytest.raises(AwsError, match="resolves outside"):
        s3.download_prefix("data", "p/", dest)
    assert not (outside / "x").exists()
    s3.delete("data", "p/link/x")
    s3.put_bytes("data", "p/a/../../../escape", b"climb")
    with pytest.raises(AwsError, match=r"'\.\.' segment"):
        s3.download_prefix("data", "p/", dest)
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("uri_prefix", ["data/train", "data/train/"])
def test_channel_layout_strips_the_whole_prefix(s3: S3Service, tmp_path: Path, uri_prefix: str) -> None:
    # session.upload_data() returns s3://bucket/data/train (no slash): files must land at <class>/...
    for key in ("data/train/cats/1.jpg", "data/train/dogs/2.jpg", "data/train/", "data/valid/cats/3.jpg"):
        s3.put_bytes("data", key, b"x")
    locations = Locations(s3)
    dest = tmp_path / "train"
    assert locations.fetch_tree(f"s3://data/{uri_prefix}", dest) == 2
    assert files_under(dest) == ["cats/1.jpg", "dogs/2.jpg"]
    # ShardedByS3Key: the same layout, every other key per host
    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for index, shard in enumerate(shards):
        locations.fetch_tree(f"s3://data/{uri_prefix}", shard, shard=(index, 2))
    assert sorted(files_under(shards[0]) + files_under(shards[1])) == ["cats/1.jpg", "dogs/2.jpg"]


def test_prefix_semantics_match_sagemaker(s3: S3Service, tmp_path: Path) -> None:
    # S3Prefix matches the prefix *string*: data/train also matches data/training/x (-> ing/x);
    # a URI naming one object downloads it under its own name.
    for key in ("data/train/a.txt", "data/training/x.txt", "data/one.csv"):
        s3.put_bytes("data", key, b"x")
    assert files_under_after(s3, "data/train", tmp_path / "a") == ["a.txt", "ing/x.txt"]
    assert files_under_after(s3, "data/one.csv", tmp_path / "b") == ["one.csv"]


def files_under_after(s3: S3Service, prefix: str, dest: Path) -> list[str]:
    s3.download_prefix("data", prefix, dest)
    return files_under(dest)


def _tarball(path: Path, members: dict[str, int]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def test_an_archive_that_expands_too_far_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locations_module, "MIN_EXPANDED_BYTES", 1 << 20, raising=False)
    archive = _tarball(tmp_path / "model.tar.gz", {"code/inference.py": 10, "zeros.bin": 32 << 20})
    assert archive.stat().st_size < 100_000  # 32 MiB of zeros compress ~1000x
    dest = tmp_path / "model"
    with pytest.raises(AwsError, match=r"expands to more than .* \(at member 'zeros.bin'"):
        extract_tarball(archive, dest)
    assert not (dest / "zeros.bin").exists()


def test_an_archive_with_too_many_members_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locations_module, "MAX_MEMBERS", 5, raising=False)
    archive = _tarball(tmp_path / "sourcedir.tar.gz", {f"f{i}.py": 1 for i in range(6)})
    with pytest.raises(AwsError, match="more than 5 members"):
        extract_tarball(archive, tmp_path / "code")
    ok = _tarball(tmp_path / "small.tar.gz", {f"f{i}.py": 1 for i in range(5)})
    extract_tarball(ok, tmp_path / "small")
    assert len(files_under(tmp_path / "small")) == 5


def test_archive_members_cannot_leave_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(AwsError):
        extract_tarball(archive, tmp_path / "code")
    assert not (tmp_path / "evil.py").exists()


def test_an_object_is_never_stored_through_a_symlinked_folder(s3: S3Service, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (s3.root / "data" / "link").symlink_to(outside, target_is_directory=True)
    s3.put_bytes("data", "link/x", b"stays in the state dir")
    assert not (outside / "x").exists()
    assert s3.get_bytes("data", "link/x") == b"stays in the state dir"
    assert s3.local_path("data", "link/x").resolve().is_relative_to(s3.root.resolve())
