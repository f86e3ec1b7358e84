"""Durable state for localcloud: a small SQLite document store shared by every service.

Each service keeps its resources as JSON documents keyed by ``(kind, name)`` (kinds are
namespaced by the service, e.g. ``sagemaker/training-job``) and append-only event logs
(execution history, status transitions). State survives a restart of ``localcloud up``; the
services reconcile whatever was running (see each service's ``start``).

Names compare with SQLite's default BINARY collation, i.e. by the bytes of their UTF-8 encoding,
which is S3's key order (and Python's ``str`` order, by code point); the ``(kind, name)`` primary
key is the index that serves prefix and range queries (``list``, ``scan``).

Relies on the standard library's sqlite3 only. One connection guarded by a lock: the server is
a single process and these operations are short.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Doc = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS events (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, name, seq)
);
"""

_MAX_CHAR = 0x10FFFF


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (None: no bound).

    In code-point order (= UTF-8 byte order): drop trailing U+10FFFF characters, then bump the
    last character by one, stepping over the surrogate range (not encodable in UTF-8).
    """
    stripped = prefix.rstrip(chr(_MAX_CHAR))
    if not stripped:
        return None
    point = ord(stripped[-1]) + 1
    if 0xD800 <= point <= 0xDFFF:
        point = 0xE000
    return stripped[:-1] + chr(point)


class Store:
    """JSON documents and event logs in one SQLite file (WAL mode, safe across threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def put(self, kind: str, name: str, doc: Doc) -> None:
        """Create or replace a document."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO resources (kind, name, doc, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc, updated = excluded.updated",
                (kind, name, json.dumps(doc), now, now),
            )

    def create(self, kind: str, name: str, doc: Doc) -> bool:
        """Insert a document only if absent; False when the name is taken (atomic)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO resources (kind, name, doc, created, updated) VALUES (?, ?, ?, ?, ?)",
                (kind, name, json.dumps(doc), now, now),
            )
            return cur.rowcount == 1

    def get(self, kind: str, name: str) -> Doc | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM resources WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, kind: str, prefix: str = "", *, omit: Sequence[str] = ()) -> list[Doc]:
        """Documents of a kind whose name starts with ``prefix``, oldest first; without the
        top-level keys in ``omit``, which SQLite drops before they are sent and decoded (a
        listing need not pay for a training job's metric series)."""
        upper = prefix_end(prefix)
        paths = [f'$."{key}"' for key in omit if '"' not in key]  # keys are the code's own names
        column = f"json_remove(doc, {', '.join('?' * len(paths))})" if paths else "doc"
        sql = f"SELECT {column} FROM resources WHERE kind = ? AND name >= ?"
        args: tuple[Any, ...] = (*paths, kind, prefix)
        if upper is not None:
            sql += " AND name < ?"
            args += (upper,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created, name", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def scan(
        self, kind: str, start: str, *, inclusive: bool, stop: str | None, limit: int
    ) -> builtins.list[tuple[str, Doc]]:
        """Up to ``limit`` (name, document) pairs with ``start <(=) name < stop``, in name order.

        An indexed range read: its cost is the rows returned, not the size of the kind.
        """
        sql = f"SELECT name, doc FROM resources WHERE kind = ? AND name {'>=' if inclusive else '>'} ?"
        args: tuple[Any, ...] = (kind, start)
        if stop is not None:
            sql += " AND name < ?"
            args += (stop,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY name LIMIT ?", (*args, limit)).fetchall()
        return [(name, json.loads(doc)) for name, doc in rows]

    def delete(self, kind: str, name: str) -> bool:
        with self._tx() as db:
            cur = db.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name))
            db.execute("DELETE FROM events WHERE kind = ? AND name = ?", (kind, name))
            return cur.rowcount == 1

    def update(self, kind: str, name: str, change: Callable[[Doc], None]) -> Doc:
        """Atomically read-modify-write a document; raises KeyError if it does not exist."""
        with self._tx() as db:
            row = db.execute("SELECT doc FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            if row is None:
                raise KeyError(f"{kind}/{name}")
            doc: Doc = json.loads(row[0])
            change(doc)
            db.execute(
                "UPDATE resources SET doc = ?, updated = ? WHERE kind = ? AND name = ?",
                (json.dumps(doc), time.time(), kind, name),
            )
            return doc

    def append_event(self, kind: str, name: str, event: Doc) -> int:
        """Append to the event log of (kind, name); returns the event's 1-based sequence number."""
        with self._tx() as db:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            seq = int(last) + 1
            db.execute(
                "INSERT INTO events (kind, name, seq, doc) VALUES (?, ?, ?, ?)",
                (kind, name, seq, json.dumps(event)),
            )
            return seq

    def events(self, kind: str, name: str, after: int = 0) -> builtins.list[Doc]:
        """Events with sequence number greater than ``after``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM events WHERE kind = ? AND name = ? AND seq > ? ORDER BY seq",
                (kind, name, after),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
