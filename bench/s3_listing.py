"""S3 listing cost vs bucket size, and `aws s3 sync` vs `cp -r`, on a real `localcloud up`, one run.

1. One ListObjectsV2 page (1000 keys, boto3) in buckets of 1k, 10k and 100k objects, interleaved
   rounds, median ms: first page, last full page (StartAfter), and a Delimiter="/" page
   (every bucket has 1000 folders: the page is 1000 common prefixes, each skipped past). A page
   should cost the same in any bucket (target: the 100k page <= 2x the 1k page). The buckets are
   filled before the server starts: empty files on disk plus their metadata rows in one
   transaction (100k PUTs would take minutes); the server's start-up reconcile checks them.
   Then one ListMultipartUploads page (1000 uploads, and a Delimiter="/" page) in buckets with
   1k and 10k uploads in progress (--upload-sizes), the same way.
2. `aws s3 sync` of N small files (default 10,000, 200-2000 bytes) up to a bucket and back down,
   against `cp -r` of the same tree; seconds and ratios.

    .venv/bin/python bench/s3_listing.py [--rounds 7] [--files 10000] [--sizes 1000,10000,100000]
        [--upload-sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from localcloud.s3.backend import OBJECT_KIND, UPLOAD_KIND, upload_name  # noqa: E402
from localcloud.store import Store  # noqa: E402
from support.localcloud_proc import LocalCloudProcess  # noqa: E402

AWS = str(REPO / ".venv" / "bin" / "aws")


def key_of(i: int) -> str:
    """Object ``i``: 1000 folders in every bucket (a Delimiter page is 1000 common prefixes)."""
    return f"d{i % 1000:04d}/f{i:07d}.txt"


def populate(state: Path, bucket: str, count: int) -> None:
    """``count`` empty objects in ``bucket``: files on disk plus metadata rows, one transaction."""
    root = state / "s3" / bucket
    now = time.time()
    rows = []
    for i in range(count):
        key = key_of(i)
        path = root / key
        if i < 1000:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        doc = {
            "Bucket": bucket,
            "Key": key,
            "Size": 0,
            "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
            "LastModified": now,
            "ContentType": "text/plain",
            "Metadata": {},
            "Headers": {},
            "Path": f"{bucket}/{key}",
        }
        rows.append((OBJECT_KIND, f"{bucket}/{key}", json.dumps(doc), now, now))
    store = Store(state / "state.db")
    with store._tx() as db:  # bench set-up only: one bulk insert instead of 100k commits
        db.executemany(
            "INSERT INTO resources (kind, name, doc, created, updated) VALUES (?, ?, ?, ?, ?)", rows
        )
    store.close()


def populate_uploads(state: Path, bucket: str, count: int) -> None:
    """``count`` multipart uploads in progress (no parts) in ``bucket``: metadata rows, one transaction."""
    (state / "s3" / bucket).mkdir(parents=True, exist_ok=True)
    now = time.time()
    rows = []
    for i in range(count):
        key, upload_id = key_of(i), f"{time.time_ns() + i:016x}bench{i:07d}"
        doc = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "Initiated": now, "ContentType": None}
        doc |= {"Metadata": {}, "Headers": {}, "Parts": {}}
        rows.append((UPLOAD_KIND, upload_name(bucket, key, upload_id), json.dumps(doc), now, now))
    store = Store(state / "state.db")
    with store._tx() as db:  # bench set-up only, as populate()
        db.executemany(
            "INSERT INTO resources (kind, name, doc, created, updated) VALUES (?, ?, ?, ?, ?)", rows
        )
    store.close()


def bench_uploads(lc: LocalCloudProcess, sizes: list[int], rounds: int) -> None:
    s3 = lc.client("s3")
    kinds = ("first page", "delimiter page")
    samples: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in sizes}
    prepared = {
        n: {
            "first page": lambda n=n: s3.list_multipart_uploads(Bucket=f"mpu-{n}", MaxUploads=1000),
            "delimiter page": lambda n=n: s3.list_multipart_uploads(Bucket=f"mpu-{n}", Delimiter="/"),
        }
        for n in sizes
    }
    for n in sizes:  # sanity and warm-up
        page = s3.list_multipart_uploads(Bucket=f"mpu-{n}", MaxUploads=1000)
        assert len(page["Uploads"]) == min(n, 1000) and page["IsTruncated"] == (n > 1000)
    for _ in range(rounds):
        for kind in kinds:
            for n in sizes:
                samples[(kind, n)].append(timed_ms(prepared[n][kind]))
    title = f"ListMultipartUploads, 1000 uploads a page, median of {rounds} interleaved rounds (ms):"
    print_table(title, "uploads", samples, kinds, sizes)


def print_table(
    title: str,
    size_label: str,
    samples: dict[tuple[str, int], list[float]],
    kinds: tuple[str, ...],
    sizes: list[int],
) -> dict[str, float]:
    """Median ms per kind and size, each with its ratio to the smallest size; returns those bases."""
    print(f"\n{title}")
    print(f"  {size_label:>12} " + " ".join(f"{k:>16}" for k in kinds))
    base = {k: statistics.median(samples[(k, sizes[0])]) for k in kinds}
    for n in sizes:
        cells = []
        for kind in kinds:
            med = statistics.median(samples[(kind, n)])
            cells.append(f"{med:8.1f} ({med / base[kind]:4.2f}x)")
        print(f"  {n:>12,} " + " ".join(f"{c:>16}" for c in cells))
    return base


def timed_ms(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def bench_listing(lc: LocalCloudProcess, sizes: list[int], rounds: int) -> None:
    s3 = lc.client("s3")
    kinds = ("first page", "last page", "delimiter page")
    samples: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in sizes}

    def calls(n: int) -> dict[str, object]:
        bucket = f"list-{n}"
        last_after = sorted(key_of(i) for i in range(n))[-1001] if n > 1000 else ""
        return {
            "first page": lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1000),
            "last page": lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1000, StartAfter=last_after),
            "delimiter page": lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1000, Delimiter="/"),
        }

    for n in sizes:  # sanity and warm-up: every page is full and right
        page = s3.list_objects_v2(Bucket=f"list-{n}", MaxKeys=1000)
        assert page["KeyCount"] == min(n, 1000) and page["Contents"][0]["Key"] == key_of(0), page["KeyCount"]
        folders = s3.list_objects_v2(Bucket=f"list-{n}", Delimiter="/")
        assert len(folders["CommonPrefixes"]) == min(n, 1000)
    prepared = {n: calls(n) for n in sizes}
    for _ in range(rounds):
        for kind in kinds:
            for n in sizes:
                samples[(kind, n)].append(timed_ms(prepared[n][kind]))
    title = f"ListObjectsV2, 1000 keys a page, median of {rounds} interleaved rounds (ms):"
    base = print_table(title, "bucket size", samples, kinds, sizes)
    worst = max(statistics.median(samples[(k, sizes[-1])]) / base[k] for k in kinds)
    print(f"  largest bucket vs smallest, worst of the three: {worst:.2f}x (target <= 2x)")


def make_tree(root: Path, files: int) -> None:
    for i in range(files):
        path = root / f"class{i % 10:02d}" / f"img{i:06d}.bin"
        if i < 10:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(200 + (i * 37) % 1800))


def run_s(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    return time.perf_counter() - start


def bench_sync(lc: LocalCloudProcess, work: Path, files: int) -> None:
    tree = work / "tree"
    make_tree(tree, files)
    env = lc.env()
    lc.client("s3").create_bucket(Bucket="sync-bench")
    up = run_s([AWS, "s3", "sync", "--quiet", str(tree), "s3://sync-bench/tree"], env)
    down = run_s([AWS, "s3", "sync", "--quiet", "s3://sync-bench/tree", str(work / "down")], env)
    noop = run_s([AWS, "s3", "sync", "--quiet", str(tree), "s3://sync-bench/tree"], env)
    cp_up = run_s(["cp", "-r", str(tree), str(work / "cp-copy")])
    cp_down = run_s(["cp", "-r", str(work / "cp-copy"), str(work / "cp-back")])
    count = sum(1 for p in (work / "down").rglob("*") if p.is_file())
    assert count == files, count
    print(f"\n`aws s3 sync` of {files:,} small files (200-2000 B) vs `cp -r` of the same tree (s):")
    print(f"  up    {up:7.2f}   cp -r {cp_up:6.2f}   ratio {up / cp_up:7.1f}x")
    print(f"  down  {down:7.2f}   cp -r {cp_down:6.2f}   ratio {down / cp_down:7.1f}x")
    print(f"  sync again, nothing to do (lists {files:,} keys): {noop:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--upload-sizes", default="1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    upload_sizes = [int(s) for s in args.upload_sizes.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="bench-s3-listing-"))
    try:
        state = work / "state"
        start = time.perf_counter()
        for n in sizes:
            populate(state, f"list-{n}", n)
        for n in upload_sizes:
            populate_uploads(state, f"mpu-{n}", n)
        print(f"populated {sum(sizes):,} objects in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        with LocalCloudProcess(state) as lc:
            print(f"localcloud up (reconciling them) in {time.perf_counter() - start:.1f} s")
            bench_listing(lc, sizes, args.rounds)
            if upload_sizes:
                bench_uploads(lc, upload_sizes, args.rounds)
            if args.files:
                bench_sync(lc, work, args.files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
