"""S3 listings on `localcloud up` through boto3: a table of cases whose expected answers are written
by hand from S3's documented semantics (UTF-8 byte order, Prefix, Delimiter/CommonPrefixes,
StartAfter/Marker, MaxKeys/IsTruncated, continuation), never computed by the code under test.

The first rows are AWS's own ListObjects example (``photos/2006/...`` with ``Delimiter=/``).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow
BUCKET = "listing-table"
MAX = "\U0010ffff"  # the largest code point: its prefix has no "next string" bound
KEYS = [
    "sample.jpg",
    "photos/2006/January/sample.jpg",
    "photos/2006/February/sample2.jpg",
    "photos/2006/February/sample3.jpg",
    "photos/2006/February/sample4.jpg",
    "photos/2006/index.html",
    "a-b",
    "a/b",
    "a0",
    "z",
    "é/x",
    "\ue000",
    "😀",
    f"{MAX}/a",
    f"{MAX}z",
    "tab\tkey",
    "new\nline",
]
# By UTF-8 bytes: '-' 2d < '/' 2f < '0' 30; 'F' < 'J' < 'i'; é = c3 a9 < ee 80 80 < f0 9f.. < f4 8f bf bf.
ALL_IN_S3_ORDER = [
    "a-b",
    "a/b",
    "a0",
    "new\nline",
    "photos/2006/February/sample2.jpg",
    "photos/2006/February/sample3.jpg",
    "photos/2006/February/sample4.jpg",
    "photos/2006/January/sample.jpg",
    "photos/2006/index.html",
    "sample.jpg",
    "tab\tkey",
    "z",
    "é/x",
    "\ue000",
    "😀",
    f"{MAX}/a",
    f"{MAX}z",
]

# (request parameters, expected Contents keys, expected CommonPrefixes, expected IsTruncated)
CASES: list[tuple[dict[str, Any], list[str], list[str], bool]] = [
    (
        {"Prefix": "photos/2006/", "Delimiter": "/"},
        ["photos/2006/index.html"],
        ["photos/2006/February/", "photos/2006/January/"],
        False,
    ),
    (
        {"Delimiter": "/"},
        ["a-b", "a0", "new\nline", "sample.jpg", "tab\tkey", "z", "\ue000", "😀", f"{MAX}z"],
        ["a/", "photos/", "é/", f"{MAX}/"],
        False,
    ),
    (
        {"Prefix": "photos/2006/February/"},
        [
            "photos/2006/February/sample2.jpg",
            "photos/2006/February/sample3.jpg",
            "photos/2006/February/sample4.jpg",
        ],
        [],
        False,
    ),
    ({"Prefix": "a"}, ["a-b", "a/b", "a0"], [], False),
    ({"Prefix": "a", "Delimiter": "/"}, ["a-b", "a0"], ["a/"], False),
    ({"Prefix": MAX}, [f"{MAX}/a", f"{MAX}z"], [], False),
    ({"Prefix": MAX, "Delimiter": "/"}, [f"{MAX}z"], [f"{MAX}/"], False),
    ({"Prefix": "é"}, ["é/x"], [], False),
    ({"Prefix": "nothing-here"}, [], [], False),
    ({"Prefix": "photos/", "Delimiter": "2006"}, [], ["photos/2006"], False),
    (
        {"StartAfter": "photos/2006/January/sample.jpg"},
        [
            "photos/2006/index.html",
            "sample.jpg",
            "tab\tkey",
            "z",
            "é/x",
            "\ue000",
            "😀",
            f"{MAX}/a",
            f"{MAX}z",
        ],
        [],
        False,
    ),
    (
        {"StartAfter": "photos/", "Delimiter": "/"},
        ["sample.jpg", "tab\tkey", "z", "\ue000", "😀", f"{MAX}z"],
        ["é/", f"{MAX}/"],
        False,
    ),
    ({"Prefix": "z", "StartAfter": "a"}, ["z"], [], False),
    ({"Prefix": "a", "StartAfter": "b"}, [], [], False),
    ({"Prefix": "a", "StartAfter": "a-b"}, ["a/b", "a0"], [], False),
    ({"MaxKeys": 2, "Delimiter": "/"}, ["a-b"], ["a/"], True),
    (
        {"MaxKeys": 2, "Prefix": "photos/2006/Feb"},
        [
            "photos/2006/February/sample2.jpg",
            "photos/2006/February/sample3.jpg",
        ],
        [],
        True,
    ),
    (
        {"MaxKeys": 3, "Prefix": "photos/2006/Feb"},
        [
            "photos/2006/February/sample2.jpg",
            "photos/2006/February/sample3.jpg",
            "photos/2006/February/sample4.jpg",
        ],
        [],
        False,
    ),
    ({"MaxKeys": 1, "Prefix": "photos/2006/", "Delimiter": "/"}, [], ["photos/2006/February/"], True),
]


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with LocalCloudProcess(tmp_path_factory.mktemp("lc-s3-listing") / "state") as proc:
        client = proc.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for key in KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        yield proc


@pytest.fixture(scope="module")
def s3(lc: LocalCloudProcess) -> Any:
    return lc.client("s3")


def _shape(page: dict[str, Any]) -> tuple[list[str], list[str], bool]:
    return (
        [c["Key"] for c in page.get("Contents", [])],
        [p["Prefix"] for p in page.get("CommonPrefixes", [])],
        page["IsTruncated"],
    )


@pytest.mark.parametrize(("params", "contents", "prefixes", "truncated"), CASES)
def test_list_objects_v2_answers_what_s3_answers(
    s3: Any, params: dict[str, Any], contents: list[str], prefixes: list[str], truncated: bool
) -> None:
    page = s3.list_objects_v2(Bucket=BUCKET, **params)
    assert _shape(page) == (contents, prefixes, truncated)
    assert page["KeyCount"] == len(contents) + len(prefixes)
    assert ("NextContinuationToken" in page) == truncated


@pytest.mark.parametrize(("params", "contents", "prefixes", "truncated"), CASES)
def test_list_objects_v1_answers_what_s3_answers(
    s3: Any, params: dict[str, Any], contents: list[str], prefixes: list[str], truncated: bool
) -> None:
    v1 = {("Marker" if k == "StartAfter" else k): v for k, v in params.items()}
    page = s3.list_objects(Bucket=BUCKET, **v1)
    assert _shape(page) == (contents, prefixes, truncated)


def test_every_key_once_in_utf8_byte_order_across_pages(s3: Any) -> None:
    for operation in ("list_objects", "list_objects_v2"):
        pages = s3.get_paginator(operation).paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 3})
        assert [c["Key"] for page in pages for c in page["Contents"]] == ALL_IN_S3_ORDER


def test_delimiter_pages_continue_after_a_common_prefix(s3: Any) -> None:
    v1 = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=2)
    assert v1["NextMarker"] == "a/"
    after = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=2, Marker=v1["NextMarker"])
    assert _shape(after) == (["a0", "new\nline"], [], True)
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix="photos/2006/", Delimiter="/", PaginationConfig={"PageSize": 1}
        )
    )
    assert [_shape(p) for p in pages] == [
        ([], ["photos/2006/February/"], True),
        ([], ["photos/2006/January/"], True),
        (["photos/2006/index.html"], [], False),
    ]
    everything = s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    assert [_shape(p) for p in everything] == [
        (["a-b"], ["a/"], True),
        (["a0", "new\nline"], [], True),
        (["sample.jpg"], ["photos/"], True),
        (["tab\tkey", "z"], [], True),
        (["\ue000"], ["é/"], True),
        (["😀"], [f"{MAX}/"], True),
        ([f"{MAX}z"], [], False),
    ]


def test_aws_cli_lists_object_versions_and_uploads_page_by_page(lc: LocalCloudProcess, s3: Any) -> None:
    """`aws s3api list-object-versions` / `list-multipart-uploads` page through every entry (the CLI
    follows NextKeyMarker/NextVersionIdMarker/NextUploadIdMarker with --page-size)."""
    uploads = [s3.create_multipart_upload(Bucket=BUCKET, Key=k)["UploadId"] for k in ("u/2", "u/1", "u/2")]

    def cli(*args: str) -> Any:
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / "aws"), "s3api", *args, "--bucket", BUCKET, "--page-size", "3"],
            env=lc.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    versions = cli("list-object-versions")["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        (k, "null", True) for k in ALL_IN_S3_ORDER
    ]
    listed = cli("list-multipart-uploads")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [
        ("u/1", uploads[1]),
        ("u/2", uploads[0]),
        ("u/2", uploads[2]),
    ]
    for upload_id, key in zip(uploads, ("u/2", "u/1", "u/2"), strict=True):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
