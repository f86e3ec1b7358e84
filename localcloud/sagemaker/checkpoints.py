"""CheckpointConfig: keeps a job's local checkpoint folder mirrored to its S3 (or file://) URI.

SageMaker copies ``s3://.../checkpoints`` into the container at start and uploads every change
the job makes to its local checkpoint path; so does this, by polling (the job is another process,
and polling every couple of seconds is cheap next to an epoch). A file is uploaded once its size
and mtime have been stable for one poll, so half-written checkpoints are not published.
Relies on the standard library and :mod:`localcloud.sagemaker.locations`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .locations import Locations

log = logging.getLogger("localcloud.sagemaker")
_UNKNOWN = (-1, -1)  # a remote file's stamp when it was not published by this sync: never a local one


class CheckpointSync:
    def __init__(self, locations: Locations, local: Path, uri: str) -> None:
        self.locations = locations
        self.local = local
        self.uri = uri
        self._published: dict[str, tuple[int, int]] = {}
        self._seen: dict[str, tuple[int, int]] = {}

    def restore(self) -> int:
        """Copy the remote checkpoints in (at job start), unless the local folder already has some.

        A local folder with files is a job resumed after localcloud stopped: what it wrote last
        may never have reached the remote (a file is uploaded one poll after it stopped changing,
        and a job can finish its last epoch just before a kill -9), so none of it counts as
        published: the next sync uploads all of it, and removes remote files the folder no
        longer has."""
        if any(p.is_file() for p in self.local.rglob("*")):
            self._published = dict.fromkeys(self.locations.list_files(self.uri), _UNKNOWN)
            return 0
        count = self.locations.fetch_copy(self.uri, self.local)
        self._published = self._scan()  # what is here now matches the remote
        return count

    def sync(self, final: bool = False) -> int:
        """Upload new/changed files (stable since the last call, or all when ``final``); mirror deletions."""
        current = self._scan()
        uploaded = 0
        for name, stamp in current.items():
            if self._published.get(name) == stamp:
                continue
            if not final and self._seen.get(name) != stamp:
                continue  # still changing (or first seen): wait one more poll
            try:
                self.locations.put_relative(self.local / name, self.uri, name)
                self._published[name] = stamp
                uploaded += 1
            except OSError as exc:  # the job replaced it meanwhile: next poll gets it
                log.debug("checkpoint %s not uploaded yet: %s", name, exc)
        for name in set(self._published) - set(current):
            self.locations.delete_relative(self.uri, name)
            del self._published[name]
        self._seen = current
        return uploaded

    def _scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        if not self.local.is_dir():
            return found
        for path in self.local.rglob("*"):
            try:
                if path.is_file():
                    stat = path.stat()
                    found[str(path.relative_to(self.local))] = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                continue
        return found
