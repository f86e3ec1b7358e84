"""Where SageMaker data lives: ``s3://`` URIs (localcloud's own S3) and ``file://`` URIs (local mode).

Fetching a channel, the training code or a model artifact, and publishing artifacts or
checkpoints, all go through here so both URI schemes behave the same. ``s3://`` reads use the S3
service's files directly (hard links where possible); nothing goes over HTTP.
Archives are unpacked with tarfile's ``data`` filter plus localcloud's confinement check and
size/member caps (``_Budget``). Relies on the standard library (tarfile, shutil).
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from .. import environment
from ..confine import confined
from ..errors import AwsError
from ..s3 import parse_s3_uri

if TYPE_CHECKING:
    from ..s3 import S3Service


def file_path(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(unquote(parsed.netloc + parsed.path))


def check_uri(uri: str, what: str) -> None:
    """ValidationException unless ``uri`` is an s3:// or file:// URI."""
    if uri.startswith("s3://"):
        parse_s3_uri(uri)
        return
    if uri.startswith("file://") and file_path(uri).is_absolute():
        return
    raise AwsError(
        "ValidationException",
        f"{what} '{uri}' must be an s3:// URI (or a file:// URI with an "
        "absolute path, as in SageMaker local mode)",
    )


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


class Locations:
    """Reads and writes s3:// and file:// locations for training and hosting."""

    def __init__(self, s3: S3Service) -> None:
        self.s3 = s3

    def check_channels(self, channels: list[dict[str, Any]], where: str = "") -> None:
        """ValidationException, before any job starts, for a channel whose data cannot exist.

        An s3:// channel's bucket must exist; a file:// channel's path must exist. (An empty prefix
        in an existing bucket is still found only when the job runs, as on SageMaker.)
        """
        for channel in channels:
            uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
            if not uri:
                continue
            field = f"{where}InputDataConfig channel '{channel['ChannelName']}' S3Uri {uri}"
            if uri.startswith("file://"):
                if not file_path(uri).exists():
                    raise AwsError(
                        "ValidationException",
                        f"{field}: {file_path(uri)} does not exist (expected a folder holding the "
                        "channel's files, or one file)",
                    )
                continue
            bucket, _ = parse_s3_uri(uri)
            try:
                self.s3.backend.bucket(bucket)
            except AwsError:
                raise AwsError(
                    "ValidationException",
                    f"{field}: bucket '{bucket}' does not exist (create it and upload the channel's "
                    "data under that prefix first)",
                ) from None

    def fetch_tree(self, uri: str, dest: Path, *, shard: tuple[int, int] | None = None) -> int:
        """Materialise a channel at ``dest`` (File mode); returns the number of files.

        s3:// prefixes are hard-linked from the bucket folder (``shard=(i, n)`` keeps every n-th key
        for ShardedByS3Key); a file:// folder is used in place through a symlink (read-only by
        contract, as SageMaker local mode mounts it).
        """
        if uri.startswith("file://"):
            source = file_path(uri)
            if not source.exists():
                raise AwsError("ValidationException", f"Channel data {uri} does not exist")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                if dest.is_symlink() or dest.exists():
                    _remove(dest)
                dest.symlink_to(source, target_is_directory=True)
                return sum(1 for p in source.rglob("*") if p.is_file())
            dest.mkdir(parents=True, exist_ok=True)
            (dest / source.name).unlink(missing_ok=True)
            (dest / source.name).symlink_to(source)
            return 1
        bucket, prefix = parse_s3_uri(uri)
        keys = None
        if shard is not None:
            index, count = shard
            keys = self.s3.keys(bucket, prefix)[index::count]
        return len(self.s3.download_prefix(bucket, prefix, dest, keys=keys))

    def fetch_file(self, uri: str, dest: Path) -> Path:
        """Copy one object/file (a tarball) to ``dest``."""
        if uri.startswith("file://"):
            source = file_path(uri)
            if not source.is_file():
                raise AwsError("ValidationException", f"{uri} does not exist or is not a file")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            return dest
        bucket, key = parse_s3_uri(uri)
        if not self.s3.exists(bucket, key):
            raise AwsError("ValidationException", f"Could not find {uri} (no such S3 object)")
        return self.s3.download_file(bucket, key, dest)

    def fetch_code(self, uri: str, dest: Path) -> None:
        """Unpack a source/model tarball, or copy a source folder, into ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        if uri.startswith("file://") and file_path(uri).is_dir():
            shutil.copytree(file_path(uri), dest, dirs_exist_ok=True)
            return
        if uri.startswith("s3://") and uri.endswith("/"):
            bucket, prefix = parse_s3_uri(uri)
            self.s3.download_prefix(bucket, prefix, dest, link=False)
            return
        archive = dest.parent / f".{dest.name}.tar.gz"
        self.fetch_file(uri, archive)
        try:
            extract_tarball(archive, dest)
        finally:
            archive.unlink(missing_ok=True)

    def publish_file(self, local: Path, uri: str, *, move: bool = False) -> None:
        if uri.startswith("file://"):
            target = file_path(uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            if move:
                shutil.move(str(local), target)
            else:
                shutil.copyfile(local, target)
            return
        bucket, key = parse_s3_uri(uri)
        self.s3.ensure_bucket(bucket)
        self.s3.put_file(bucket, key, local, move=move)

    def list_files(self, uri: str) -> list[str]:
        """Relative names of everything under a prefix/folder (for checkpoint resume checks)."""
        if uri.startswith("file://"):
            root = file_path(uri)
            return (
                sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
                if root.is_dir()
                else []
            )
        bucket, prefix = parse_s3_uri(uri)
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        try:
            return [k[len(prefix) :] for k in self.s3.keys(bucket, prefix)]
        except AwsError:
            return []

    def fetch_copy(self, uri: str, dest: Path) -> int:
        """Copy (never link: the job may rewrite them in place) every file under a prefix/folder."""
        if uri.startswith("file://"):
            root = file_path(uri)
            if not root.is_dir():
                return 0
            shutil.copytree(root, dest, dirs_exist_ok=True)
            return sum(1 for p in root.rglob("*") if p.is_file())
        bucket, prefix = parse_s3_uri(uri)
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        try:
            return len(self.s3.download_prefix(bucket, prefix, dest, link=False))
        except AwsError:
            return 0

    def put_relative(self, local: Path, uri: str, relative: str) -> None:
        self.publish_file(local, join(uri, relative))

    def delete_relative(self, uri: str, relative: str) -> None:
        target = join(uri, relative)
        if target.startswith("file://"):
            file_path(target).unlink(missing_ok=True)
            return
        bucket, key = parse_s3_uri(target)
        with contextlib.suppress(AwsError):
            self.s3.delete(bucket, key)


# Archive extraction limits: a model.tar.gz or sourcedir.tar.gz may expand to at most this many
# members, and to at most EXPANSION_RATIO times its own size (never less than MIN_EXPANDED_BYTES,
# never more than LOCALCLOUD_MAX_EXTRACT_BYTES, 64 GiB by default). Model weights barely compress,
# so honest archives stay far below the ratio; a 1 MB archive of zeros claiming 1 GiB does not.
MAX_MEMBERS = 100_000
EXPANSION_RATIO = 100
MIN_EXPANDED_BYTES = 256 * 1024 * 1024


class _Budget:
    """A tarfile extraction filter: ``data`` filter + confinement + member-count and size caps."""

    def __init__(self, archive: Path, dest: Path) -> None:
        self.archive = archive
        self.dest = dest
        self.members = 0
        self.total = 0
        allowed = max(MIN_EXPANDED_BYTES, EXPANSION_RATIO * archive.stat().st_size)
        self.ceiling = environment.current().max_extract_bytes
        self.limit = min(self.ceiling, allowed)

    def __call__(self, member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise AwsError(
                "ValidationException",
                f"{self.archive.name} has more than {MAX_MEMBERS} members; localcloud does not unpack it",
            )
        self.total += max(member.size, 0)
        if self.total > self.limit:
            raise AwsError(
                "ValidationException",
                f"{self.archive.name} expands to more than {self.limit} bytes (at member {member.name!r}; "
                f"the limit is {EXPANSION_RATIO}x the archive's size, at most {self.ceiling} bytes: "
                "set LOCALCLOUD_MAX_EXTRACT_BYTES to raise it); localcloud does not unpack it",
            )
        if member.name not in ("", "."):
            confined(self.dest, member.name.removeprefix("./") or ".", what="archive member")
        return tarfile.data_filter(member, path)


def extract_tarball(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``: members confined to ``dest``, size and count capped."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter=_Budget(archive, dest))
    except (tarfile.TarError, OSError) as exc:
        raise AwsError("ValidationException", f"Could not unpack {archive.name}: {exc}") from None


def make_tarball(source: Path, archive: Path) -> Path:
    """``tar czf archive -C source .`` (gzip level 1: model weights barely compress anyway)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(source.rglob("*")) if source.is_dir() else []:
            tar.add(path, arcname=str(path.relative_to(source)), recursive=False)
    return archive


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
