"""The S3 service object: its edge route (the catch-all), start-up reconcile, and the Python API
other localcloud services use to read and write objects without going through HTTP.

The Python API works on the same files and metadata as the wire protocol, so an object written
by a training job's artifact upload is immediately visible to ``aws s3 ls`` and vice versa.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import Receive, Scope, Send

from ..config import Settings
from ..confine import confined
from ..service import BaseService
from ..store import Store
from .backend import S3Backend
from .responses import S3Protocol


class _CatchAll(BaseRoute):
    """Matches every HTTP request (Starlette's ``{path:path}`` does not match a key with a newline)."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class S3Service(BaseService):
    """File-backed S3 (path-style REST-XML) plus a Python API for the other services."""

    def __init__(self, *, settings: Settings, store: Store) -> None:
        self.root = settings.state_dir / "s3"
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend = S3Backend(store, self.root, settings.region)
        self.protocol = S3Protocol(self.backend)

    def routes(self) -> list[BaseRoute]:
        return [_CatchAll(self.protocol.handle)]

    def start(self) -> None:
        self.backend.reconcile()

    # ------------------------------------------------------------------ Python API
    def ensure_bucket(self, name: str) -> None:
        """Create the bucket unless it exists."""
        self.backend.create_bucket(name)

    def local_path(self, bucket: str, key: str) -> Path:
        """The file holding object ``bucket/key`` (where it would go, when it does not exist yet)."""
        doc = self.backend.find(bucket, key)
        return self.backend.path_of(doc) if doc else self.backend.natural_path(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        return self.backend.find(bucket, key) is not None

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted; NoSuchBucket when the bucket is missing."""
        return self.backend.keys(bucket, prefix)

    def put_file(
        self, bucket: str, key: str, source: Path, *, move: bool = False, content_type: str | None = None
    ) -> str:
        """Store a local file as an object (moved instead of copied with ``move``); returns its ETag."""
        return str(self.backend.put_file(bucket, key, source, move=move, content_type=content_type)["ETag"])

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str | None = None) -> str:
        temp = self.backend.temp_path()
        temp.write_bytes(data)
        return self.put_file(bucket, key, temp, move=True, content_type=content_type)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.backend.path_of(self.backend.head(bucket, key)).read_bytes()

    def delete(self, bucket: str, key: str) -> bool:
        return self.backend.delete(bucket, key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        keys = self.keys(bucket, prefix)
        for key in keys:
            self.backend.delete(bucket, key)
        return len(keys)

    def download_prefix(
        self,
        bucket: str,
        prefix: str,
        dest: Path,
        *,
        link: bool = True,
        keys: list[str] | None = None,
    ) -> list[Path]:
        """Copy every object under ``prefix`` (or just ``keys``) into ``dest`` as SageMaker File mode does.

        SageMaker's S3Prefix semantics (and the SDK's local mode, ``sagemaker.utils.download_folder``):
        every key that starts with the prefix *string* is downloaded, to the key with the whole prefix
        and any leading ``/`` removed. So ``s3://b/data/train`` and ``s3://b/data/train/`` both put
        ``data/train/cat/1.jpg`` at ``dest/cat/1.jpg``; note that prefix ``data/train`` also matches
        ``data/training/x``, which lands at ``dest/ing/x`` (as on SageMaker). A key equal to the prefix
        (a one-object channel) lands under its base name. Folder placeholders (keys ending ``/``) are
        skipped. Every local name goes through :func:`localcloud.confine.confined`: a key that would
        leave ``dest`` fails the download. With ``link`` the files are hard links to the object files
        (objects are never modified in place, so this is safe and instant).
        """
        selected = self.keys(bucket, prefix) if keys is None else keys
        written: list[Path] = []
        dest.mkdir(parents=True, exist_ok=True)
        for key in selected:
            if key.endswith("/"):
                continue  # folder placeholder objects
            relative = key[len(prefix) :].lstrip("/") if key != prefix else key.rsplit("/", 1)[-1]
            if not relative:
                continue
            target = confined(dest, relative, what=f"S3 key s3://{bucket}/{key}")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = self.local_path(bucket, key)
            target.unlink(missing_ok=True)
            try:
                if not link:
                    raise OSError
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            written.append(target)
        return written

    def download_file(self, bucket: str, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.backend.path_of(self.backend.head(bucket, key)), dest)
        return dest

    def upload_dir(self, source: Path, bucket: str, prefix: str) -> int:
        """Upload every file under ``source`` to ``prefix`` + its relative path; returns the count."""
        count = 0
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        for path in sorted(source.rglob("*")):
            if path.is_file():
                self.put_file(bucket, prefix + path.relative_to(source).as_posix(), path)
                count += 1
        return count
