"""Ships the training code to S3 as SageMaker's ``sourcedir.tar.gz``, content-addressed.

The function package carries the training code: ``functions/.training-code`` is a symlink to
``../training``, which ``sam build`` follows (it copies the files into the artifact), and which
localcloud, running functions/ in place, resolves to the same files. (The name is hidden so that
mypy and ruff, walking functions/, do not check the training code a second time.) So ``sam deploy`` alone
ships it, and StartTuning / StartTraining publish it on first use as
``s3://<bucket>/code/<sha256[:12]>/sourcedir.tar.gz``: the key depends only on the content,
the upload is skipped when the object exists, and the archive is byte-for-byte reproducible
(sorted entries, fixed mtimes and owners). ``__pycache__``, tests and hidden files stay out.
Relies on the standard library (tarfile, gzip, hashlib) and an S3 client.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .errors import ConfigurationError

CODE_DIR = Path(__file__).resolve().parent.parent / ".training-code"
EXCLUDED_DIRS = frozenset({"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
REQUIRED_FILES = ("train.py", "inference.py")


def code_files(root: Path) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every file to ship, sorted; symlinks inside are followed."""
    if not root.is_dir():
        raise ConfigurationError(f"training code not found at {root} (functions/.training-code -> training)")
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith(".") or filename.endswith(EXCLUDED_SUFFIXES):
                continue
            path = Path(dirpath) / filename
            files.append((path.relative_to(root).as_posix(), path))
    names = {name for name, _ in files}
    missing = [name for name in REQUIRED_FILES if name not in names]
    if missing:
        raise ConfigurationError(f"training code at {root} lacks {', '.join(missing)}")
    return sorted(files)


def content_sha256(files: list[tuple[str, Path]]) -> str:
    """The sha256 naming the code: of every file's archive name and content, in order."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _archive(files: list[tuple[str, Path]]) -> bytes:
    import gzip
    import tarfile  # only when the code is archived, not on every cold start (~3 ms)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def build_archive(root: Path | None = None) -> tuple[bytes, str]:
    """The reproducible ``sourcedir.tar.gz`` bytes and the sha256 of its content."""
    files = code_files(CODE_DIR if root is None else root)
    return _archive(files), content_sha256(files)


def code_key(content_sha256: str) -> str:
    return f"code/{content_sha256[:12]}/sourcedir.tar.gz"


def publish_training_code(s3: Any, bucket: str, root: Path | None = None) -> str:
    """Upload the archive unless an identical one is already there; returns its ``s3://`` URI.

    The key comes from the content's hash alone, so the archive is compressed only when it is
    missing (the first run after a code change), not on every call."""
    files = code_files(CODE_DIR if root is None else root)
    content_sha = content_sha256(files)
    key = code_key(content_sha)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=_archive(files),
            ContentType="application/gzip",
            Metadata={"content-sha256": content_sha},
        )
    return f"s3://{bucket}/{key}"
