"""The log groups, streams and events localcloud's services write, read back as CloudWatch Logs.

Training jobs, model servers, Lambda workers and executions write plain text files (see
``localcloud/logs.py``: ``<state_dir>/logs/<group>/<stream>.log``, with a ``.group`` marker in
each group folder). A file has no per-line times, so this module keeps a *time index* beside
each file (``<stream>.log.times``): lines ``<end offset> <epoch ms>``, meaning every byte before
that offset had been written by that time. The index is brought up to date from the file's size
and modification time (the time of its last write) by a poller every ``POLL_SECONDS`` and on
every read, so an event's timestamp is the mtime seen when its line first appeared: never
earlier than the write, at most one poll later. Once given, a timestamp never changes (the
index is append-only and survives restarts), which the sagemaker SDK's log reader relies on
(it resumes from ``startTime`` = last timestamp and skips the events it already printed).

An event is one complete line (empty lines are dropped, as the awslogs driver does); a trailing
line without its newline becomes an event once the file has been quiet for ``PARTIAL_AFTER``
seconds. Hand-written: no library reads text logs as CloudWatch events.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..logs import GROUP_MARKER, TRAINING_JOBS

log = logging.getLogger("localcloud.logs")

POLL_SECONDS = 1.0
PARTIAL_AFTER = 2.0
INDEX_SUFFIX = ".times"


@dataclass(frozen=True)
class Event:
    index: int  # position in its stream, from 0
    timestamp: int  # epoch ms
    message: str


@dataclass
class Stream:
    group: str
    name: str
    path: Path
    created: int = 0  # epoch ms
    index: list[tuple[int, int]] = field(default_factory=list)  # (end offset, epoch ms), ascending
    events: list[Event] = field(default_factory=list)
    parsed: int = 0  # bytes of the file turned into events so far
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def first_event(self) -> int | None:
        return self.events[0].timestamp if self.events else None

    @property
    def last_event(self) -> int | None:
        return self.events[-1].timestamp if self.events else None

    @property
    def last_ingestion(self) -> int | None:
        return self.index[-1][1] if self.index else None


def declared_groups(stacks: Iterable[dict[str, Any]]) -> list[str]:
    """Log groups the deployed stacks declare (``AWS::Logs::LogGroup``): they exist, possibly empty,
    as CloudFormation would have created them."""
    return sorted(
        str(res["PhysicalResourceId"])
        for stack in stacks
        for res in (stack.get("Resources") or {}).values()
        if res.get("Type") == "AWS::Logs::LogGroup"
    )


def _group_of(root: Path, path: Path) -> tuple[str, str] | None:
    """(group, stream) for a log file: the nearest folder above it holding a ``.group`` marker."""
    folder = path.parent
    while folder != root and root in folder.parents:
        marker = folder / GROUP_MARKER
        if marker.is_file():
            group = marker.read_text().strip()
            return group, str(path.relative_to(folder))[: -len(".log")]
        folder = folder.parent
    rel = path.relative_to(root)
    training = Path(TRAINING_JOBS.strip("/"))  # files from before markers existed
    if training in rel.parents:
        return TRAINING_JOBS, str(path.relative_to(root / training))[: -len(".log")]
    if rel.parent == Path():
        return None
    return "/" + str(rel.parent), path.stem


class LogFiles:
    """Every log stream under ``<state_dir>/logs``, with events parsed incrementally."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "logs"
        self._streams: dict[Path, Stream] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ poller
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="cwlogs-index")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.streams()
            except Exception:  # never let the poller die: a read refreshes the index anyway
                log.exception("log index refresh failed")

    # ------------------------------------------------------------------ discovery
    def streams(self, group: str | None = None) -> list[Stream]:
        """Every stream (of ``group``), refreshed, sorted by group then name."""
        found: list[Stream] = []
        if self.root.is_dir():
            for path in self.root.rglob("*.log"):
                stream = self._stream(path)
                if stream is None or (group is not None and stream.group != group):
                    continue
                self._refresh(stream)
                found.append(stream)
        return sorted(found, key=lambda s: (s.group, s.name))

    def groups(self) -> dict[str, list[Stream]]:
        out: dict[str, list[Stream]] = {}
        for stream in self.streams():
            out.setdefault(stream.group, []).append(stream)
        return out

    def _stream(self, path: Path) -> Stream | None:
        with self._lock:
            stream = self._streams.get(path)
            if stream is None:
                names = _group_of(self.root, path)
                if names is None:
                    return None
                stream = Stream(group=names[0], name=names[1], path=path)
                stream.index = _load_index(path)
                self._streams[path] = stream
            return stream

    # ------------------------------------------------------------------ index and events
    def _refresh(self, stream: Stream) -> None:
        with stream.lock:
            try:
                st = stream.path.stat()
            except FileNotFoundError:
                return
            mtime_ms = st.st_mtime_ns // 1_000_000
            if not stream.created:
                stream.created = stream.index[0][1] if stream.index else mtime_ms
            indexed = stream.index[-1][0] if stream.index else 0
            if st.st_size < indexed or st.st_size < stream.parsed:  # truncated or replaced: start over
                stream.index, stream.events, stream.parsed = [], [], 0
                _index_path(stream.path).unlink(missing_ok=True)
                indexed = 0
            if st.st_size > indexed:
                stamp = max(mtime_ms, stream.index[-1][1] if stream.index else 0)
                stream.index.append((st.st_size, stamp))
                _append_index(stream.path, st.st_size, stamp)
            stream.size = st.st_size
            if st.st_size > stream.parsed:
                quiet = time.time() - st.st_mtime >= PARTIAL_AFTER
                self._parse(stream, st.st_size, take_partial=quiet)

    @staticmethod
    def _parse(stream: Stream, size: int, *, take_partial: bool) -> None:
        with stream.path.open("rb") as fh:
            fh.seek(stream.parsed)
            data = fh.read(size - stream.parsed)
        ends = [e[0] for e in stream.index]
        pos = 0
        while pos < len(data):
            newline = data.find(b"\n", pos)
            if newline < 0 and not take_partial:
                break
            stop = len(data) if newline < 0 else newline + 1
            text = data[pos : stop if newline < 0 else newline].decode("utf-8", errors="replace").rstrip("\r")
            end = stream.parsed + stop
            pos = stop
            if not text.strip():
                continue
            stamp = stream.index[bisect.bisect_left(ends, end)][1]
            stream.events.append(Event(len(stream.events), stamp, text))
        stream.parsed += pos


def _index_path(path: Path) -> Path:
    return path.with_name(path.name + INDEX_SUFFIX)


def _load_index(path: Path) -> list[tuple[int, int]]:
    try:
        lines = _index_path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    index: list[tuple[int, int]] = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            if index and int(parts[0]) <= index[-1][0]:  # written after a truncation: that one counts
                index = []
            index.append((int(parts[0]), int(parts[1])))
    return index


def _append_index(path: Path, offset: int, stamp: int) -> None:
    with _index_path(path).open("a") as fh:
        fh.write(f"{offset} {stamp}\n")
