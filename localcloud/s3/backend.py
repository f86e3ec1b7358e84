"""S3 state and behaviour (the "models" half): buckets, objects as files, multipart uploads.

Object data lives in plain files, ``<state>/s3/<bucket>/<key>`` (docs/localcloud.md), so a dataset in a
bucket is also a folder on disk; object metadata (ETag, size, content type, user metadata,
multipart part sizes) lives in the SQLite store under ``s3/object`` keyed ``<bucket>/<key>``.
Keys that cannot be a file path (a trailing ``/``, ``.``/``..`` segments, over-long segments, or a
file/folder clash such as ``a`` and ``a/b`` both existing) are stored under
``<state>/s3/.overflow/<bucket>/<sha256 of key>``; the metadata records each object's path.
Multipart uploads in progress are ``s3/upload`` documents named so that name order is S3's
listing order (key, then initiation time; see :func:`upload_name`), their parts files under
``<state>/s3/.uploads/<upload id>/``. Every listing page is an indexed range read (:meth:`S3Backend._page`).

Writes go to ``.tmp/`` first and are renamed into place, so readers never see partial objects
and a replaced object does not disturb a reader that already opened the old one. Files dropped
into a bucket folder by hand are registered when localcloud starts (``reconcile``).

Relies on the standard library and :mod:`localcloud.store`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..confine import confined
from ..errors import AwsError
from ..store import Doc, Store, prefix_end
from .body import multipart_etag

BUCKET_KIND = "s3/bucket"
OBJECT_KIND = "s3/object"
UPLOAD_KIND = "s3/upload"
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_DIRS = (".tmp", ".uploads", ".overflow")


def valid_bucket_name(name: str) -> bool:
    return (
        bool(_BUCKET_RE.match(name))
        and ".." not in name
        and not _IP_RE.match(name)
        and not name.startswith("xn--")
        and not name.endswith("-s3alias")
    )


def no_such_bucket(name: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=name)


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def _now() -> float:
    return time.time()


@dataclass
class Listing:
    """One page of a listing: documents and common prefixes in S3 order, and where it stopped."""

    contents: list[Doc] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_marker: str | None = None  # the page's last key or common prefix
    ends_with_prefix: bool = False  # whether that last entry is a common prefix


@dataclass(frozen=True)
class _Walk:
    """Where a listing reads: a store kind, the bucket's name prefix in it, and how a key (or key
    prefix) is written in a name (order-preserving, so name order is key order)."""

    kind: str
    base: str
    encode: Callable[[str], str] = str

    def name(self, key: str) -> str:
        return self.base + self.encode(key)


# Uploads are named ``<bucket>/<key, NULs escaped><_KEY_END><upload id>``: a NUL in the key becomes
# NUL U+0001 and the key ends with NUL NUL, so names sort by key (UTF-8 order) and then upload id.
_KEY_END = "\x00\x00"


def _escape_nul(key: str) -> str:
    return key.replace("\x00", "\x00\x01")


def upload_name(bucket: str, key: str, upload_id: str) -> str:
    """The store name of an upload: sorts by bucket, key (UTF-8 order), then upload id."""
    return f"{bucket}/{_escape_nul(key)}{_KEY_END}{upload_id}"


def _new_upload_id() -> tuple[str, float]:
    """A fresh upload id and its initiation time: the id starts with the time in nanoseconds (16 hex
    digits), so upload ids of one key sort by initiation time, the order S3 lists them in."""
    now = time.time_ns()
    tail = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
    return f"{now:016x}{tail}", now / 1e9


def _add(listing: Listing, max_items: int, key: str, doc: Doc | None) -> bool:
    """Add a document (or, with ``doc`` None, the common prefix ``key``) to the page; False when the
    page is already full (it is then marked truncated)."""
    if len(listing.contents) + len(listing.common_prefixes) >= max_items:
        listing.truncated = True
        return False
    if doc is None:
        listing.common_prefixes.append(key)
    else:
        listing.contents.append(doc)
    listing.next_marker, listing.ends_with_prefix = key, doc is None
    return True


class S3Backend:
    """Buckets and objects on disk plus their metadata in the store (thread-safe)."""

    def __init__(self, store: Store, root: Path, region: str) -> None:
        self.store = store
        self.root = root
        self.region = region
        self._lock = threading.RLock()
        for name in _RESERVED_DIRS:
            (root / name).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ buckets
    def create_bucket(self, name: str) -> bool:
        """Create a bucket; False when it already exists (us-east-1 answers 200 for that)."""
        if not valid_bucket_name(name):
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)
        created = self.store.create(
            BUCKET_KIND, name, {"Name": name, "CreationDate": _now(), "Region": self.region}
        )
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return created

    def bucket(self, name: str) -> Doc:
        doc = self.store.get(BUCKET_KIND, name)
        if doc is None:
            raise no_such_bucket(name)
        return doc

    def list_buckets(self) -> list[Doc]:
        return sorted(self.store.list(BUCKET_KIND), key=lambda d: d["Name"])

    def delete_bucket(self, name: str) -> None:
        self.bucket(name)
        with self._lock:
            if not self.is_empty(name):
                raise AwsError(
                    "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=name
                )
            for upload in self.store.list(UPLOAD_KIND, f"{name}/"):
                self.abort_upload(name, upload["Key"], upload["UploadId"])
            self.store.delete(BUCKET_KIND, name)
            shutil.rmtree(self.root / name, ignore_errors=True)
            shutil.rmtree(self.root / ".overflow" / name, ignore_errors=True)

    # ------------------------------------------------------------------ objects
    def temp_path(self) -> Path:
        return self.root / ".tmp" / uuid.uuid4().hex

    def head(self, bucket: str, key: str) -> Doc:
        doc = self.store.get(OBJECT_KIND, f"{bucket}/{key}")
        if doc is None:
            self.bucket(bucket)
            raise no_such_key(key)
        return doc

    def find(self, bucket: str, key: str) -> Doc | None:
        return self.store.get(OBJECT_KIND, f"{bucket}/{key}")

    def path_of(self, doc: Doc) -> Path:
        return self.root / str(doc["Path"])

    def natural_path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def commit(
        self,
        bucket: str,
        key: str,
        temp: Path,
        *,
        etag: str,
        size: int,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        part_sizes: list[int] | None = None,
        checksums: dict[str, str] | None = None,
    ) -> Doc:
        """Move a fully written temp file into place as object ``bucket/key`` and record it."""
        if len(key.encode()) > 1024:
            temp.unlink(missing_ok=True)
            raise AwsError("KeyTooLongError", "Your key is too long", 400)
        self.bucket(bucket)
        with self._lock:
            existing = self.find(bucket, key)
            target = self.path_of(existing) if existing else self._choose_path(bucket, key)
            target.parent.mkdir(parents=True, exist_ok=True)
            temp.replace(target)
            doc: Doc = {
                "Bucket": bucket,
                "Key": key,
                "Size": size,
                "ETag": etag,
                "LastModified": _now(),
                "ContentType": content_type or "binary/octet-stream",
                "Metadata": metadata or {},
                "Headers": headers or {},
                "Path": str(target.relative_to(self.root)),
            }
            if part_sizes:
                doc["PartSizes"] = part_sizes
            if checksums:
                doc["Checksums"] = checksums
            self.store.put(OBJECT_KIND, f"{bucket}/{key}", doc)
            return doc

    def put_file(
        self,
        bucket: str,
        key: str,
        source: Path,
        *,
        move: bool = False,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Doc:
        """Store a local file as an object (copied, or moved when ``move``); computes its ETag."""
        temp = self.temp_path()
        if move:
            try:
                source.replace(temp)
            except OSError:  # another file system
                shutil.move(str(source), temp)
        else:
            shutil.copyfile(source, temp)
        md5 = hashlib.md5()
        with temp.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                md5.update(chunk)
        guessed = content_type or mimetypes.guess_type(key)[0]
        return self.commit(
            bucket,
            key,
            temp,
            etag=f'"{md5.hexdigest()}"',
            size=temp.stat().st_size,
            content_type=guessed,
            metadata=metadata,
        )

    def delete(self, bucket: str, key: str) -> bool:
        self.bucket(bucket)
        with self._lock:
            doc = self.find(bucket, key)
            if doc is None:
                return False
            path = self.path_of(doc)
            self.store.delete(OBJECT_KIND, f"{bucket}/{key}")
            path.unlink(missing_ok=True)
            self._prune(path.parent, stop=self.root / bucket)
        return True

    def copy(
        self,
        source: Doc,
        bucket: str,
        key: str,
        *,
        replace_metadata: bool,
        content_type: str | None,
        metadata: dict[str, str],
        headers: dict[str, str],
    ) -> Doc:
        temp = self.temp_path()
        try:
            os.link(self.path_of(source), temp)  # objects are never modified in place: safe to share
        except OSError:
            shutil.copyfile(self.path_of(source), temp)
        if replace_metadata:
            return self.commit(
                bucket,
                key,
                temp,
                etag=source["ETag"],
                size=source["Size"],
                content_type=content_type,
                metadata=metadata,
                headers=headers,
                part_sizes=source.get("PartSizes"),
            )
        return self.commit(
            bucket,
            key,
            temp,
            etag=source["ETag"],
            size=source["Size"],
            content_type=source.get("ContentType"),
            metadata=source.get("Metadata"),
            headers=source.get("Headers"),
            part_sizes=source.get("PartSizes"),
            checksums=source.get("Checksums"),
        )

    def list_objects(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", marker: str = "", max_keys: int = 1000
    ) -> Listing:
        """Keys in UTF-8 order after ``marker``, rolled up at ``delimiter`` (S3 ListObjects semantics)."""
        self.bucket(bucket)
        walk = _Walk(OBJECT_KIND, f"{bucket}/")
        return self._page(
            walk,
            prefix=prefix,
            delimiter=delimiter,
            after=(walk.name(marker), False),
            marker_key=marker,
            max_items=max_keys,
        )

    def _page(
        self,
        walk: _Walk,
        *,
        prefix: str,
        delimiter: str,
        after: tuple[str, bool],
        marker_key: str,
        max_items: int,
    ) -> Listing:
        """One page of ``walk``'s documents under ``prefix`` from ``after`` (a name and whether it is
        included), rolled up at ``delimiter``; a common prefix equal to ``marker_key`` (the page before
        ended with it) is not repeated.

        Reads only what the page needs: indexed range reads on the store's names from the start up
        to the prefix's end; each common prefix is emitted once and the next read starts past every
        name under it, so a page costs O(page), not O(documents in the bucket).
        """
        listing = Listing()
        if max_items == 0:  # S3: an empty page that is not truncated
            return listing
        first = walk.name(prefix)
        stop = prefix_end(first)
        start, inclusive = after if after[0] >= first else (first, True)
        batch_size = 2
        while True:
            # With a delimiter the next read may jump past a common prefix: read 2 rows after a
            # jump, doubling while rows are plain keys, so a page costs O(page) rows either way.
            want = max_items - len(listing.contents) - len(listing.common_prefixes) + 1
            limit = min(want, batch_size) if delimiter else want
            batch = self.store.scan(walk.kind, start, inclusive=inclusive, stop=stop, limit=limit)
            jump: str | None = None
            for name, doc in batch:
                key: str = doc["Key"]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common != marker_key and not _add(listing, max_items, common, None):
                        return listing
                    jump = prefix_end(walk.name(common))
                    if jump is None:
                        return listing
                    break
                if not _add(listing, max_items, key, doc):
                    return listing
                start, inclusive = name, False
            if jump is not None:
                start, inclusive, batch_size = jump, True, 2
            elif len(batch) < limit:
                return listing
            else:
                batch_size *= 2

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        self.bucket(bucket)
        return sorted(d["Key"] for d in self.store.list(OBJECT_KIND, f"{bucket}/{prefix}"))

    def is_empty(self, bucket: str) -> bool:
        """True when the bucket holds no object (one indexed read)."""
        base = f"{bucket}/"
        return not self.store.scan(OBJECT_KIND, base, inclusive=True, stop=prefix_end(base), limit=1)

    # ------------------------------------------------------------------ multipart
    def create_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None,
        metadata: dict[str, str],
        headers: dict[str, str],
    ) -> str:
        self.bucket(bucket)
        upload_id, initiated = _new_upload_id()
        self.store.put(
            UPLOAD_KIND,
            upload_name(bucket, key, upload_id),
            {
                "Bucket": bucket,
                "Key": key,
                "UploadId": upload_id,
                "Initiated": initiated,
                "ContentType": content_type,
                "Metadata": metadata,
                "Headers": headers,
                "Parts": {},
            },
        )
        (self.root / ".uploads" / upload_id).mkdir(parents=True, exist_ok=True)
        return upload_id

    def upload(self, bucket: str, key: str, upload_id: str) -> Doc:
        doc = self.store.get(UPLOAD_KIND, upload_name(bucket, key, upload_id))
        if doc is None:
            self.bucket(bucket)
            raise AwsError(
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, "
                "or the upload may have been aborted or completed.",
                404,
                UploadId=upload_id,
            )
        return doc

    def commit_part(
        self, bucket: str, key: str, upload_id: str, number: int, *, temp: Path, etag: str, size: int
    ) -> None:
        if not 1 <= number <= MAX_PARTS:
            temp.unlink(missing_ok=True)
            raise AwsError(
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
                400,
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        self.upload(bucket, key, upload_id)
        temp.replace(self.root / ".uploads" / upload_id / str(number))

        def record(doc: Doc) -> None:
            doc["Parts"][str(number)] = {"ETag": etag, "Size": size, "LastModified": _now()}

        self.store.update(UPLOAD_KIND, upload_name(bucket, key, upload_id), record)

    def complete_upload(self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]) -> Doc:
        upload = self.upload(bucket, key, upload_id)
        if not parts:
            raise AwsError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400,
            )
        numbers = [n for n, _ in parts]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise AwsError(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
                400,
                UploadId=upload_id,
            )
        stored = upload["Parts"]
        for index, (number, etag) in enumerate(parts):
            part = stored.get(str(number))
            if part is None or part["ETag"].strip('"') != etag.strip().strip('"'):
                raise AwsError(
                    "InvalidPart",
                    "One or more of the specified parts could not be found. The part "
                    "may not have been uploaded, or the specified entity tag may not match the "
                    "part's entity tag.",
                    400,
                    UploadId=upload_id,
                    PartNumber=number,
                    ETag=etag,
                )
            if index < len(parts) - 1 and part["Size"] < MIN_PART_SIZE:
                raise AwsError(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    400,
                    ProposedSize=part["Size"],
                    MinSizeAllowed=MIN_PART_SIZE,
                    PartNumber=number,
                    ETag=etag,
                )
        temp = self.temp_path()
        part_dir = self.root / ".uploads" / upload_id
        with temp.open("wb") as out:
            for number, _ in parts:
                with (part_dir / str(number)).open("rb") as part_file:
                    shutil.copyfileobj(part_file, out, 1 << 20)
        sizes = [stored[str(n)]["Size"] for n, _ in parts]
        doc = self.commit(
            bucket,
            key,
            temp,
            etag=multipart_etag([stored[str(n)]["ETag"] for n, _ in parts]),
            size=sum(sizes),
            content_type=upload.get("ContentType"),
            metadata=upload.get("Metadata"),
            headers=upload.get("Headers"),
            part_sizes=sizes,
        )
        self.store.delete(UPLOAD_KIND, upload_name(bucket, key, upload_id))
        shutil.rmtree(part_dir, ignore_errors=True)
        return doc

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.upload(bucket, key, upload_id)
        self.store.delete(UPLOAD_KIND, upload_name(bucket, key, upload_id))
        shutil.rmtree(self.root / ".uploads" / upload_id, ignore_errors=True)

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> Listing:
        """One page of multipart uploads in S3's order (key, then initiation time), from after
        ``key_marker`` (and, for that key, after ``upload_id_marker``), rolled up at ``delimiter``.

        An indexed range read like :meth:`list_objects`: upload names sort by key, then upload id,
        and upload ids sort by initiation time (:func:`_new_upload_id`).
        """
        self.bucket(bucket)
        walk = _Walk(UPLOAD_KIND, f"{bucket}/", _escape_nul)
        key_end = walk.name(key_marker) + _KEY_END
        if not key_marker:  # S3 ignores upload-id-marker without key-marker
            after = (walk.base, True)
        elif upload_id_marker:
            after = (key_end + upload_id_marker, False)
        else:
            after = (prefix_end(key_end) or key_end, True)
        return self._page(
            walk,
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            marker_key=key_marker,
            max_items=max_uploads,
        )

    def _rename_old_uploads(self) -> None:
        """Uploads stored by an older localcloud under their upload id alone get their sorted name
        (their ids carry no time, so among one key's uploads they sort by id)."""
        for doc in self.store.list(UPLOAD_KIND):
            old = doc["UploadId"]
            if self.store.get(UPLOAD_KIND, old) is not None:
                self.store.put(UPLOAD_KIND, upload_name(doc["Bucket"], doc["Key"], old), doc)
                self.store.delete(UPLOAD_KIND, old)

    # ------------------------------------------------------------------ files on disk
    def reconcile(self) -> None:
        """Register files dropped into bucket folders by hand; forget objects whose file is gone."""
        self._rename_old_uploads()
        for entry in sorted(self.root.iterdir()):
            if (
                entry.is_dir()
                and valid_bucket_name(entry.name)
                and self.store.get(BUCKET_KIND, entry.name) is None
            ):
                self.store.create(
                    BUCKET_KIND,
                    entry.name,
                    {"Name": entry.name, "CreationDate": _now(), "Region": self.region},
                )
        for bucket in self.list_buckets():
            name = bucket["Name"]
            known = {d["Path"]: d for d in self.store.list(OBJECT_KIND, f"{name}/")}
            for rel, doc in known.items():
                if not (self.root / rel).is_file():
                    self.store.delete(OBJECT_KIND, f"{name}/{doc['Key']}")
            bucket_dir = self.root / name
            bucket_dir.mkdir(parents=True, exist_ok=True)
            for path in bucket_dir.rglob("*"):
                if path.is_file() and str(path.relative_to(self.root)) not in known:
                    self._register_in_place(name, str(path.relative_to(bucket_dir)), path)
        for stale in (self.root / ".tmp").iterdir():
            stale.unlink(missing_ok=True)

    def _register_in_place(self, bucket: str, key: str, path: Path) -> None:
        md5 = hashlib.md5()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                md5.update(chunk)
        stat = path.stat()
        self.store.put(
            OBJECT_KIND,
            f"{bucket}/{key}",
            {
                "Bucket": bucket,
                "Key": key,
                "Size": stat.st_size,
                "ETag": f'"{md5.hexdigest()}"',
                "LastModified": stat.st_mtime,
                "ContentType": mimetypes.guess_type(key)[0] or "binary/octet-stream",
                "Metadata": {},
                "Headers": {},
                "Path": str(path.relative_to(self.root)),
            },
        )

    def _choose_path(self, bucket: str, key: str) -> Path:
        """The natural path for ``key`` when it can be a file there, else an overflow path."""
        segments = key.split("/")
        usable = (
            key
            and not key.endswith("/")
            and "\x00" not in key
            and all(s not in ("", ".", "..") and len(s.encode()) <= 255 for s in segments)
        )
        if usable:
            try:
                path = confined(self.root / bucket, key, what="S3 key")
            except AwsError:  # e.g. a folder in the bucket that is a symlink to elsewhere
                return self.root / ".overflow" / bucket / hashlib.sha256(key.encode()).hexdigest()
            parent = self.root / bucket
            clash = False
            for segment in segments[:-1]:
                parent = parent / segment
                if parent.exists() and not parent.is_dir():
                    clash = True
                    break
            if not clash and not path.is_dir():
                return path
        return self.root / ".overflow" / bucket / hashlib.sha256(key.encode()).hexdigest()

    def _prune(self, folder: Path, stop: Path) -> None:
        while folder != stop and stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
