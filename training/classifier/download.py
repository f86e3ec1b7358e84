"""Download and unpack the dog-breed dataset (133 classes, ImageFolder layout ``dogImages/train|valid|test``).

    python -m classifier.download --out data/      # -> data/dogImages/{train,valid,test}

Resumable: bytes go to ``<file>.part`` and a rerun (or a retry after a dropped connection)
continues with an HTTP Range request. The final size is checked against the size the server
announced (and ``--expected-size`` when given) before the file is renamed into place.
Extraction refuses archives with absolute paths, ``..`` components or symbolic links and
unpacks into a temporary directory first, so a half-extracted dataset is never left behind.
Written with urllib and zipfile (no library does resumable download + safe extraction in one);
the progress bar is tqdm's, shown only on a terminal.
"""

from __future__ import annotations

import argparse
import re
import shutil
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

__all__ = ["DEFAULT_URL", "DownloadError", "download", "extract_zip", "main"]

DEFAULT_URL = "https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip"
_CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(Exception):
    """The download or the archive is not what it should be (message says why)."""


def _total_from_headers(status: int, headers: object, offset: int) -> tuple[int, int | None]:
    """(start offset of the body, total size or None) from a 200 or 206 response."""
    get = getattr(headers, "get", lambda _name, _default=None: None)
    if status == 206:
        match = _CONTENT_RANGE.match(get("Content-Range", "") or "")
        if not match:
            raise DownloadError("the server answered a range request without a valid Content-Range")
        start = int(match.group(1))
        if start != offset:
            raise DownloadError(f"asked for bytes from {offset}, the server sent from {start}")
        total = None if match.group(3) == "*" else int(match.group(3))
        return start, total
    length = get("Content-Length")
    return 0, int(length) if length is not None else None


def _fetch(url: str, part: Path, *, timeout: float, show_progress: bool) -> int | None:
    """Append the rest of ``url`` to ``part``; return the total size the server announced."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the part file is complete
            match = _CONTENT_RANGE.match(str(error.headers.get("Content-Range", "")).replace("*", "0-0"))
            return int(match.group(3)) if match and match.group(3).isdigit() else offset
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    with response:
        start, total = _total_from_headers(response.status, response.headers, offset)
        mode = "ab" if start else "wb"  # a 200 answer restarts from zero
        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=part.name, file=sys.stderr)
        try:
            with part.open(mode) as handle:
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return total


def download(
    url: str,
    destination: Path,
    *,
    expected_size: int | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    show_progress: bool | None = None,
) -> Path:
    """Download ``url`` to ``destination`` (resuming ``destination.part``); return ``destination``.

    Retries dropped connections, continuing where they stopped. Raises :class:`DownloadError`
    when the size does not match or the server refuses.
    """
    if destination.is_file() and (expected_size is None or destination.stat().st_size == expected_size):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    progress = sys.stderr.isatty() if show_progress is None else show_progress
    total: int | None = None
    for attempt in range(retries + 1):
        try:
            total = _fetch(url, part, timeout=timeout, show_progress=progress)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            if attempt == retries:
                raise DownloadError(f"{url}: {error}") from None
            time.sleep(min(30.0, 2.0**attempt))
            continue
        size = part.stat().st_size
        if total is None or size >= total:
            break
        # The connection ended early: resume on the next attempt.
    size = part.stat().st_size if part.exists() else 0
    if total is not None and size != total:
        raise DownloadError(f"{destination.name}: got {size} bytes, the server announced {total}")
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{destination.name}: got {size} bytes, expected {expected_size}")
    part.replace(destination)
    return destination


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        raise DownloadError(f"unsafe path in archive: {name!r}")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DownloadError(f"symbolic link in archive: {name!r}")


def extract_zip(archive: Path, out_dir: Path) -> list[Path]:
    """Safely unpack ``archive`` into ``out_dir``; return the top-level entries created.

    Every member is checked before anything is written; top-level entries that already exist
    in ``out_dir`` are replaced.
    """
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for info in members:
                _check_member(info)
            staging = out_dir / f".extract-{archive.stem}"
            if staging.exists():
                shutil.rmtree(staging)
            staging.mkdir(parents=True)
            bundle.extractall(staging)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a valid zip file ({error})") from None
    created = []
    for entry in sorted(staging.iterdir()):
        if entry.name == "__MACOSX":
            continue
        target = out_dir / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        entry.replace(target)
        created.append(target)
    shutil.rmtree(staging)
    return created


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m classifier.download --out data/``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("data"), help="directory for the zip and the dataset"
    )
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--expected-size", type=int, help="exact size of the zip in bytes (optional check)")
    parser.add_argument("--keep-zip", action="store_true", help="keep the zip after extracting")
    args = parser.parse_args(argv)
    name = PurePosixPath(urllib.parse.urlparse(args.url).path).name or "dataset.zip"
    archive = args.out / name
    try:
        download(args.url, archive, expected_size=args.expected_size)
        created = extract_zip(archive, args.out)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not args.keep_zip:
        archive.unlink()
    for path in created:
        print(f"extracted {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
