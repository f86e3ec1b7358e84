"""S3 listings read one page, not the bucket: the prefix-end bound and the rows a page decodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import localcloud.store as store_module
from localcloud.s3.backend import OBJECT_KIND, S3Backend
from localcloud.store import Store, prefix_end

MAX = "\U0010ffff"


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("", None),
        ("a", "b"),
        ("photos/", "photos0"),
        ("é", "ê"),
        ("a" + MAX, "b"),
        ("a" + MAX + MAX, "b"),
        (MAX, None),
        ("\ud7ff", "\ue000"),  # the next code point after U+D7FF that UTF-8 can encode
        ("\x7f", "\x80"),
    ],
)
def test_prefix_end_is_the_next_string_after_every_string_with_the_prefix(
    prefix: str, end: str | None
) -> None:
    assert prefix_end(prefix) == end


def test_prefix_end_bounds_exactly_the_strings_with_the_prefix_in_utf8_order() -> None:
    samples = [
        "",
        "a",
        "a" + MAX,
        "a" + MAX + "z",
        "b",
        "é",
        "é/x",
        "ê",
        "\ue000",
        MAX,
        MAX + "a",
        "\x7f",
        "\x80",
    ]
    for prefix in samples:
        end = prefix_end(prefix)
        for s in samples:
            inside = s.encode() >= prefix.encode() and (end is None or s.encode() < end.encode())
            assert inside == s.startswith(prefix), (prefix, s)


@pytest.fixture
def backend(tmp_path: Path) -> S3Backend:
    b = S3Backend(Store(tmp_path / "state.db"), tmp_path / "s3", "us-east-1")
    b.create_bucket("big")
    for folder in range(10):
        for i in range(300):
            key = f"f{folder}/k{i:04d}"
            b.store.put(OBJECT_KIND, f"big/{key}", {"Bucket": "big", "Key": key, "Size": 1})
    return b


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the documents the store decodes (one per row it reads)."""
    count = [0]
    real = json.loads

    def counting(text: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return real(text, **kwargs)

    monkeypatch.setattr(store_module.json, "loads", counting)
    return count


def test_a_page_reads_about_a_page_of_rows(backend: S3Backend, decoded: list[int]) -> None:
    listing = backend.list_objects("big", marker="f5/k0100", max_keys=100)
    assert [d["Key"] for d in listing.contents][:2] == ["f5/k0101", "f5/k0102"]
    assert listing.truncated and listing.next_marker == "f5/k0200"
    assert decoded[0] <= 101 + 2  # the page, one look-ahead row, the bucket document


def test_a_delimiter_page_skips_past_each_common_prefix(backend: S3Backend, decoded: list[int]) -> None:
    listing = backend.list_objects("big", delimiter="/")
    assert listing.common_prefixes == [f"f{n}/" for n in range(10)] and not listing.truncated
    assert decoded[0] <= 10 * 2 + 2  # two rows per common prefix, then a jump past it: not 3000 rows


def test_a_prefix_page_reads_only_under_the_prefix(backend: S3Backend, decoded: list[int]) -> None:
    listing = backend.list_objects("big", prefix="f9/", max_keys=5)
    assert [d["Key"] for d in listing.contents] == [f"f9/k{i:04d}" for i in range(5)]
    assert decoded[0] <= 6 + 2
