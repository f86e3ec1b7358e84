"""Differential test: localcloud's S3 listings against moto's (``mock_aws``), through boto3.

The same bucket (objects with odd keys: unicode, spaces, ``+``, ``%``, keys that sort around the
delimiter) and the same multipart uploads are made in both; then a table of ListObjects,
ListObjectVersions and ListMultipartUploads requests (prefixes, delimiters, markers, page sizes,
encoding-type=url) and paginator walks is run against each, and the answers compared. Upload ids
differ between the two, so each is compared as ``<key>#<n>`` (the n-th upload of that key).
localcloud runs in-process (tests/support/s3_inprocess.py).

Where the two disagree, AWS's API reference decides; each known disagreement is listed in
``KNOWN_DISAGREEMENTS`` with the page that decides it. The list is asserted exactly: a new
disagreement fails, and so does one that went away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from support.s3_inprocess import localcloud_s3, s3_client

BUCKET = "differential"
KEYS = [
    "sample.jpg",
    "photos/2006/January/sample.jpg",
    "photos/2006/February/sample2.jpg",
    "photos/2006/February/sample3.jpg",
    "photos/2006/index.html",
    "a-b",
    "a/b",
    "a//c",
    "a/",
    "a0",
    "a b/c",
    "a+b",
    "a%2Fb",
    "100%",
    "é/x",
    "éa",
    "\ue000",
    "😀/y",
    "z",
]
# Made in this order (key order, and a key's uploads one after the other), so that moto, which
# keeps uploads in the order they were made, can agree on order.
UPLOAD_KEYS = [
    "a b",
    "a%2Fb",
    "a+b",
    "a-b",
    "a/b",
    "a/b",
    "a/c",
    "a0",
    "photos/2006/a.jpg",
    "photos/2006/a.jpg",
    "photos/2006/a.jpg",
    "photos/2006/b.jpg",
    "photos/2007/c.jpg",
    "z",
    "é/x",
    "😀",
]


def _upload(key: str, n: int) -> tuple[str, str, int]:
    """Stands for the id of the n-th upload of ``key`` in a request."""
    return ("upload", key, n)


Case = tuple[str, str, dict[str, Any]]  # (id, operation, parameters)
CASES: list[Case] = [
    ("v1 all", "list_objects", {}),
    ("v1 max-keys 0", "list_objects", {"MaxKeys": 0}),
    ("v1 max-keys 3", "list_objects", {"MaxKeys": 3}),
    ("v1 max-keys 3 after marker", "list_objects", {"MaxKeys": 3, "Marker": "a/b"}),
    ("v1 prefix", "list_objects", {"Prefix": "a"}),
    ("v1 prefix photos/", "list_objects", {"Prefix": "photos/"}),
    ("v1 delimiter", "list_objects", {"Delimiter": "/"}),
    ("v1 delimiter max-keys 2", "list_objects", {"Delimiter": "/", "MaxKeys": 2}),
    ("v1 delimiter marker a/", "list_objects", {"Delimiter": "/", "Marker": "a/"}),
    ("v1 prefix and delimiter", "list_objects", {"Prefix": "photos/2006/", "Delimiter": "/"}),
    ("v1 prefix a delimiter /", "list_objects", {"Prefix": "a", "Delimiter": "/"}),
    ("v1 prefix a/ delimiter /", "list_objects", {"Prefix": "a/", "Delimiter": "/"}),
    ("v1 delimiter %", "list_objects", {"Delimiter": "%"}),
    ("v1 marker before prefix", "list_objects", {"Prefix": "photos/", "Marker": "a"}),
    ("v1 marker past prefix", "list_objects", {"Prefix": "a", "Marker": "b"}),
    ("v1 marker not a key", "list_objects", {"Marker": "a/bb"}),
    ("v1 unicode prefix", "list_objects", {"Prefix": "é"}),
    ("v1 url encoding", "list_objects", {"Prefix": "a", "EncodingType": "url"}),
    ("v1 url encoding delimiter", "list_objects", {"Delimiter": "/", "EncodingType": "url"}),
    ("v2 all", "list_objects_v2", {}),
    ("v2 max-keys 0", "list_objects_v2", {"MaxKeys": 0}),
    ("v2 delimiter max-keys 2", "list_objects_v2", {"Delimiter": "/", "MaxKeys": 2}),
    ("v2 start-after", "list_objects_v2", {"StartAfter": "a0"}),
    ("versions all", "list_object_versions", {}),
    ("versions max-keys 0", "list_object_versions", {"MaxKeys": 0}),
    ("versions max-keys 3", "list_object_versions", {"MaxKeys": 3}),
    ("versions key-marker", "list_object_versions", {"KeyMarker": "a/b"}),
    ("versions key-marker and null", "list_object_versions", {"KeyMarker": "a/b", "VersionIdMarker": "null"}),
    ("versions key-marker not a key", "list_object_versions", {"KeyMarker": "a/bb"}),
    ("versions key-marker max-keys 2", "list_object_versions", {"KeyMarker": "a0", "MaxKeys": 2}),
    ("versions prefix", "list_object_versions", {"Prefix": "photos/"}),
    ("versions delimiter", "list_object_versions", {"Delimiter": "/"}),
    ("versions delimiter max-keys 2", "list_object_versions", {"Delimiter": "/", "MaxKeys": 2}),
    ("versions delimiter key-marker a/", "list_object_versions", {"Delimiter": "/", "KeyMarker": "a/"}),
    ("versions prefix and delimiter", "list_object_versions", {"Prefix": "photos/2006/", "Delimiter": "/"}),
    ("versions unicode prefix", "list_object_versions", {"Prefix": "é"}),
    ("versions url encoding", "list_object_versions", {"Prefix": "a", "EncodingType": "url"}),
    ("versions version marker alone", "list_object_versions", {"VersionIdMarker": "null"}),
    ("versions unknown version marker", "list_object_versions", {"KeyMarker": "a", "VersionIdMarker": "x"}),
    ("versions empty version marker", "list_object_versions", {"KeyMarker": "a", "VersionIdMarker": ""}),
    ("uploads all", "list_multipart_uploads", {}),
    ("uploads max-uploads 0", "list_multipart_uploads", {"MaxUploads": 0}),
    ("uploads max-uploads 3", "list_multipart_uploads", {"MaxUploads": 3}),
    ("uploads max-uploads 5 (inside a key)", "list_multipart_uploads", {"MaxUploads": 5}),
    ("uploads prefix", "list_multipart_uploads", {"Prefix": "photos/"}),
    ("uploads prefix a", "list_multipart_uploads", {"Prefix": "a"}),
    ("uploads unicode prefix", "list_multipart_uploads", {"Prefix": "é"}),
    ("uploads delimiter", "list_multipart_uploads", {"Delimiter": "/"}),
    ("uploads delimiter max-uploads 2", "list_multipart_uploads", {"Delimiter": "/", "MaxUploads": 2}),
    ("uploads prefix and delimiter", "list_multipart_uploads", {"Prefix": "photos/", "Delimiter": "/"}),
    ("uploads key-marker", "list_multipart_uploads", {"KeyMarker": "a/b"}),
    ("uploads key-marker not a key", "list_multipart_uploads", {"KeyMarker": "a/bb"}),
    (
        "uploads key-marker and upload-id-marker",
        "list_multipart_uploads",
        {"KeyMarker": "photos/2006/a.jpg", "UploadIdMarker": _upload("photos/2006/a.jpg", 0)},
    ),
    (
        "uploads upload-id-marker without key-marker",
        "list_multipart_uploads",
        {"UploadIdMarker": _upload("a/b", 0)},
    ),
    ("uploads delimiter key-marker a/", "list_multipart_uploads", {"Delimiter": "/", "KeyMarker": "a/"}),
    ("uploads url encoding", "list_multipart_uploads", {"Prefix": "a", "EncodingType": "url"}),
]
# (id, paginator, parameters): every page's answer, as boto3's paginator walks them.
WALKS: list[Case] = [
    ("walk v1 pages of 4", "list_objects", {"PaginationConfig": {"PageSize": 4}}),
    ("walk v1 delimiter pages of 2", "list_objects", {"Delimiter": "/", "PaginationConfig": {"PageSize": 2}}),
    (
        "walk v2 delimiter pages of 2",
        "list_objects_v2",
        {"Delimiter": "/", "PaginationConfig": {"PageSize": 2}},
    ),
    ("walk versions pages of 4", "list_object_versions", {"PaginationConfig": {"PageSize": 4}}),
    (
        "walk versions delimiter pages of 2",
        "list_object_versions",
        {"Delimiter": "/", "PaginationConfig": {"PageSize": 2}},
    ),
    ("walk uploads pages of 2", "list_multipart_uploads", {"PaginationConfig": {"PageSize": 2}}),
    (
        "walk uploads delimiter pages of 2",
        "list_multipart_uploads",
        {"Delimiter": "/", "PaginationConfig": {"PageSize": 2}},
    ),
]

_API = "https://docs.aws.amazon.com/AmazonS3/latest/API/"
LIST_OBJECTS = _API + "API_ListObjects.html"
LIST_VERSIONS = _API + "API_ListObjectVersions.html"
LIST_UPLOADS = _API + "API_ListMultipartUploads.html"
V1_NEXT_MARKER = (
    "moto: a truncated ListObjects page without a delimiter has a NextMarker (an md5 token, not a key); "
    "AWS: 'NextMarker ... This element is returned only if you have the delimiter request parameter "
    "specified. If the response does not include the NextMarker element and it is truncated, you can "
    "use the value of the last Key element in the response as the marker parameter'",
    LIST_OBJECTS,
)
V1_MARKER_ECHO = (
    "moto: leaves Marker out of the answer; AWS: 'Marker: Indicates where in the bucket listing begins. "
    "Marker is included in the response if it was sent with the request.'",
    LIST_OBJECTS,
)
V1_DELIMITER_PAGING = (
    "moto: with a delimiter, MaxKeys and Marker page the keys only and every common prefix is on every "
    "page; AWS: 'Each rolled-up result counts as only one return against the MaxKeys value', and the "
    "page begins after Marker",
    LIST_OBJECTS,
)
V1_URL = (
    "moto: with encoding-type=url leaves Prefix and CommonPrefixes unencoded; AWS: 'returns encoded key "
    "name values in the following response elements: Delimiter, Marker, Prefix, NextMarker, Key' "
    "(boto3 does not decode ListObjects' Prefix, boto/boto3#3534: S3's answer shows it encoded too)",
    LIST_OBJECTS,
)
VERSIONS_MARKER = (
    "moto: with a key-marker that is not a key, drops the first key after it; AWS: key-marker "
    "'Specifies the key to start with when listing objects in a bucket': every key after it is listed",
    LIST_VERSIONS,
)
VERSIONS_TRUNCATION = (
    "moto: a page with a delimiter holds MaxKeys versions plus a common prefix, and the walk ends with "
    "an empty page; AWS: MaxKeys 'Sets the maximum number of keys returned in the response ... The "
    "response might contain fewer keys but will never contain more', a common prefix counting as one",
    LIST_VERSIONS,
)
VERSIONS_ZERO = (
    "moto: MaxKeys=0 answers IsTruncated with NextKeyMarker set to the first key, so a walk from it "
    "skips that key; S3 answers MaxKeys=0 with an empty page that is not truncated (ceph's s3-tests, "
    "checked against S3: test_bucket_list_maxkeys_zero); AWS: IsTruncated 'A flag that indicates "
    "whether Amazon S3 returned all of the results that satisfied the search criteria'",
    LIST_VERSIONS,
)
VERSIONS_BAD_MARKER = (
    "moto: lists with a version-id-marker but no key-marker, an empty one, or one that names no "
    "version; S3 answers 400 InvalidArgument, 'A version-id marker cannot be specified without a key "
    "marker.' / '... cannot be empty.' / 'Invalid version id specified' (as OpenStack Swift's s3api, "
    "which mirrors S3's errors); AWS: "
    "version-id-marker 'Specifies the object version you want to start listing from'",
    LIST_VERSIONS,
)
VERSIONS_URL = (
    "moto: ignores encoding-type=url (no EncodingType, keys unencoded); AWS: 'If you specify the "
    "encoding-type request parameter, Amazon S3 includes this element in the response, and returns "
    "encoded key name values in the following response elements: KeyMarker, NextKeyMarker, Prefix, "
    "Key, and Delimiter.'",
    LIST_VERSIONS,
)
UPLOADS_UNPAGED = (
    "moto: ListMultipartUploads ignores max-uploads, key-marker, upload-id-marker and delimiter "
    "(moto's docstring: 'The delimiter and max-uploads parameters have not yet been implemented'); "
    "AWS: max-uploads 'Sets the maximum number of multipart uploads, from 1 to 1,000, to return', "
    "a delimiter gives CommonPrefixes, key-marker/upload-id-marker 'specifies the multipart upload "
    "after which listing should begin'",
    LIST_UPLOADS,
)
UPLOADS_ECHO = (
    "moto: leaves Prefix and UploadIdMarker of the request out of the answer; AWS: Prefix 'When a "
    "prefix is provided in the request, this field contains the specified prefix', UploadIdMarker "
    "'Together with key-marker, specifies the multipart upload after which listing should begin'",
    LIST_UPLOADS,
)
UPLOADS_URL = (
    "moto: ignores encoding-type=url (no EncodingType, keys unencoded); AWS: 'If you specify the "
    "encoding-type request parameter, Amazon S3 returns encoded key name values in the following "
    "response elements: Delimiter, KeyMarker, Prefix, NextKeyMarker, Key.'",
    LIST_UPLOADS,
)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {
    "v1 max-keys 3": V1_NEXT_MARKER,
    "v1 max-keys 3 after marker": V1_NEXT_MARKER,
    "walk v1 pages of 4": V1_NEXT_MARKER,
    "v1 marker before prefix": V1_MARKER_ECHO,
    "v1 marker not a key": V1_MARKER_ECHO,
    "v1 marker past prefix": V1_MARKER_ECHO,
    "v1 delimiter max-keys 2": V1_DELIMITER_PAGING,
    "v1 delimiter marker a/": V1_DELIMITER_PAGING,
    "walk v1 delimiter pages of 2": V1_DELIMITER_PAGING,
    "v1 unicode prefix": V1_URL,
    "v1 url encoding delimiter": V1_URL,
    "versions key-marker not a key": VERSIONS_MARKER,
    "walk versions delimiter pages of 2": VERSIONS_TRUNCATION,
    "versions max-keys 0": VERSIONS_ZERO,
    "versions version marker alone": VERSIONS_BAD_MARKER,
    "versions unknown version marker": VERSIONS_BAD_MARKER,
    "versions empty version marker": VERSIONS_BAD_MARKER,
    "versions url encoding": VERSIONS_URL,
    **{
        f"uploads {case}": UPLOADS_UNPAGED
        for case in (
            "delimiter",
            "delimiter key-marker a/",
            "delimiter max-uploads 2",
            "key-marker",
            "key-marker and upload-id-marker",
            "key-marker not a key",
            "max-uploads 0",
            "max-uploads 3",
            "max-uploads 5 (inside a key)",
            "prefix and delimiter",
        )
    },
    "walk uploads pages of 2": UPLOADS_UNPAGED,
    "walk uploads delimiter pages of 2": UPLOADS_UNPAGED,
    "uploads prefix": UPLOADS_ECHO,
    "uploads prefix a": UPLOADS_ECHO,
    "uploads unicode prefix": UPLOADS_ECHO,
    "uploads upload-id-marker without key-marker": UPLOADS_ECHO,
    "uploads url encoding": UPLOADS_URL,
}


def _labels(upload_ids: list[tuple[str, str]]) -> dict[str, str]:
    """``<key>#<n>`` for each (key, upload id) in the order the uploads were made."""
    seen: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for key, upload_id in upload_ids:
        labels[upload_id] = f"{key}#{seen[key]}"
        seen[key] += 1
    return labels


def _resolve(params: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    by_label = {label: upload_id for upload_id, label in ids.items()}
    return {k: by_label[f"{v[1]}#{v[2]}"] if isinstance(v, tuple) else v for k, v in params.items()}


def _answer(page: dict[str, Any], ids: dict[str, str], url: bool) -> dict[str, Any]:
    """What a listing page says, upload ids as labels; request ids, dates and ETags left out, and
    EncodingType unless the case asked for it (boto3 asks for url by itself and decodes the answer)."""
    left_out = ("ResponseMetadata", "Name", "Bucket", *(() if url else ("EncodingType",)))
    answer = {k: v for k, v in page.items() if k not in left_out}
    answer.pop("NextContinuationToken", None)  # opaque: whether there is one is IsTruncated's job
    answer.pop("ContinuationToken", None)
    for member in ("Contents", "Versions"):
        if member in answer:
            answer[member] = [
                {k: v for k, v in item.items() if k in ("Key", "VersionId", "IsLatest", "Size")}
                for item in answer[member]
            ]
    if "Uploads" in answer:
        answer["Uploads"] = [(u["Key"], ids.get(u["UploadId"], "?")) for u in answer["Uploads"]]
    for member in ("UploadIdMarker", "NextUploadIdMarker"):
        if answer.get(member):
            answer[member] = ids.get(answer[member], answer[member])
    for member in ("Prefix", "Delimiter", "KeyMarker", "VersionIdMarker", "UploadIdMarker", "Marker"):
        if answer.get(member) == "":
            answer.pop(member)  # an empty element and no element say the same
    return {k: v for k, v in answer.items() if v != []}


def _run_all(s3: Any) -> dict[str, Any]:
    """Make the bucket and uploads, run every case and walk; the answers by case id."""
    s3.create_bucket(Bucket=BUCKET)
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    made = [(key, s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]) for key in UPLOAD_KEYS]
    ids = _labels(made)
    answers: dict[str, Any] = {}
    for case_id, operation, params in CASES:
        try:
            page = getattr(s3, operation)(Bucket=BUCKET, **_resolve(params, ids))
            answers[case_id] = _answer(page, ids, "EncodingType" in params)
        except ClientError as err:
            answers[case_id] = {"Error": err.response["Error"]["Code"]}
    for case_id, operation, params in WALKS:
        pages = s3.get_paginator(operation).paginate(Bucket=BUCKET, **params)
        try:
            answers[case_id] = [_answer(page, ids, False) for page in _at_most(pages, 40)]
        except ClientError as err:
            answers[case_id] = {"Error": err.response["Error"]["Code"]}
    return answers


def _at_most(pages: Any, count: int) -> Iterator[dict[str, Any]]:
    for n, page in enumerate(pages):
        if n == count:
            raise AssertionError("more pages than there are keys: the walk does not end")
        yield page


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_S3_DEFAULT_MAX_KEYS", "1000")
        with mock_aws():
            reference = _run_all(s3_client())
    client, close = localcloud_s3(tmp_path_factory.mktemp("lc-s3-diff"))
    try:
        ours = _run_all(client)
    finally:
        close()
    return ours, reference


def test_listings_answer_what_moto_answers_except_the_documented_cases(
    answers: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, reference = answers
    disagreements = {case: (ours[case], reference[case]) for case in ours if ours[case] != reference[case]}
    print(
        f"\n{len(ours)} cases: {len(ours) - len(disagreements)} agree, "
        f"{len(disagreements)} disagree ({len(KNOWN_DISAGREEMENTS)} documented)"
    )
    new = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    gone = set(KNOWN_DISAGREEMENTS) - set(disagreements)
    assert not new, "\n".join(f"{k}:\n  localcloud {v[0]}\n  moto       {v[1]}" for k, v in new.items()) + (
        f"\nnew: {sorted(new)}"
    )
    assert not gone, f"no longer disagree (remove from KNOWN_DISAGREEMENTS): {sorted(gone)}"
