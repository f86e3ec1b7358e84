"""The demo's data: the generated sample dataset, the checks a user's ImageFolder root must pass,
and its upload, so that the template's bucket mirrors it exactly.

Relies on boto3's S3 client (passed in), rich for the one-line messages, and
``python -m classifier.sample_data`` run as a subprocess (the demo drives the app from outside).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console

from .errors import DemoError

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


def ensure_sample_data(root: Path, classes: int, console: Console) -> Path:
    """Generate the procedural sample dataset once (marker file makes it idempotent)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    console.print(f"[bold]data[/] generating a {classes}-class sample dataset in {root}", soft_wrap=True)
    subprocess.run(
        [sys.executable, "-m", "classifier.sample_data", "--out", str(root), "--classes", str(classes)],
        check=True,
    )
    marker.write_text("ok\n")
    return root


def dataset_files(root: Path) -> list[Path]:
    """Every image of the train/valid/test splits, in a stable order."""
    return [
        p
        for split in SPLITS
        for p in sorted((root / split).rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]


def check_dataset(root: Path) -> None:
    """DemoError naming the split unless every split of ``root`` is a folder holding images."""
    if not root.is_dir():
        raise DemoError(f"--data {root}: no such folder (give an ImageFolder root with train/ valid/ test/)")
    missing = [split for split in SPLITS if not (root / split).is_dir()]
    if missing:
        raise DemoError(
            f"{root} is not an ImageFolder dataset with train/valid/test: missing {', '.join(missing)}"
        )
    empty = [split for split in SPLITS if not any(dataset_files_in(root / split))]
    if empty:
        raise DemoError(
            f"{root}: split {', '.join(empty)} has no images ({', '.join(sorted(IMAGE_SUFFIXES))} "
            "files in one folder per class); nothing was started"
        )


def dataset_files_in(split: Path) -> Iterator[Path]:
    return (p for p in split.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def upload_dataset(s3: Any, root: Path, bucket: str, prefix: str, console: Console) -> dict[str, str]:
    """Make s3://bucket/prefix/ mirror the train/valid/test images of ``root`` exactly.

    Objects already there with the same size are kept, others uploaded, and objects that are not
    in ``root`` deleted, so a run never trains on an earlier run's files (``aws s3 sync --delete``).
    """
    existing: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        existing.update({obj["Key"]: obj["Size"] for obj in page.get("Contents", [])})
    files = {f"{prefix}/{p.relative_to(root).as_posix()}": p for p in dataset_files(root)}
    todo = [(key, p) for key, p in files.items() if existing.get(key) != p.stat().st_size]
    stale = sorted(set(existing) - set(files))
    console.print(
        f"[bold]data[/] {len(files)} images; uploading {len(todo)}, deleting {len(stale)} "
        f"stale in s3://{bucket}/{prefix}/",
        highlight=False,
        soft_wrap=True,
    )
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]], "Quiet": True},
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: s3.upload_file(str(item[1]), bucket, item[0]), todo))
    return {split: f"s3://{bucket}/{prefix}/{split}/" for split in SPLITS}


def first_test_image(root: Path) -> Path:
    for path in sorted((root / "test").rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    raise DemoError(f"no test image under {root / 'test'}")
