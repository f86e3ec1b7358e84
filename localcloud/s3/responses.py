"""S3's wire protocol (the "responses" half): path-style (and ``<bucket>.localhost``) REST-XML.

One ASGI endpoint owns every path the other services do not claim. It works out the operation
from the method, the bucket/key in the path and the query's sub-resource, validates what it can
with botocore's model, calls :class:`~localcloud.s3.backend.S3Backend`, and renders S3's XML and
headers. Object bodies stream in and out (never held whole in memory); ``aws-chunked`` uploads
are decoded on the fly (``body.py``).

Supported: ListBuckets, Create/Head/Delete Bucket, GetBucketLocation, GetBucketVersioning,
ListObjects (v1 and v2), ListObjectVersions and ListMultipartUploads (``listings.py``: prefix,
delimiter, paging, encoding-type=url), Put/Get (Range, conditional)/Head/Delete Object,
DeleteObjects, CopyObject, multipart upload (Create, UploadPart, UploadPartCopy, Complete, Abort,
ListParts). Anything else (PutBucketVersioning included: buckets are unversioned) answers
``NotImplemented`` saying it is not supported by localcloud.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..errors import AwsError
from ..protocol import request_id, xml_error
from ..store import Doc
from ..validation import validate_input
from . import listings, versions, xmlio
from .backend import S3Backend, no_such_key
from .body import AwsChunkedDecoder, BodyDigest, is_aws_chunked
from .listings import int_param

log = logging.getLogger("localcloud.s3")

_STORED_HEADERS = ("content-encoding", "content-disposition", "content-language", "cache-control", "expires")
_RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
    "response-content-language": "content-language",
    "response-cache-control": "cache-control",
    "response-expires": "expires",
}
# Sub-resources S3 has that localcloud does not emulate (answered NotImplemented, by name).
_UNSUPPORTED = (
    "acl",
    "policy",
    "tagging",
    "cors",
    "lifecycle",
    "website",
    "encryption",
    "notification",
    "logging",
    "replication",
    "ownershipControls",
    "publicAccessBlock",
    "object-lock",
    "accelerate",
    "requestPayment",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "restore",
    "select",
    "torrent",
    "legal-hold",
    "retention",
    "attributes",
    "policyStatus",
    "session",
    "metadataTable",
)
_CHUNK = 1 << 20


def _ok(headers: dict[str, str] | None = None, status: int = 200, body: bytes = b"") -> Response:
    merged = {"x-amz-request-id": request_id(), "x-amz-id-2": "localcloud"}
    merged.update(headers or {})
    media = "application/xml" if body else None
    return Response(body, status_code=status, headers=merged, media_type=media)


def _xml(root: str, parts: list[str], status: int = 200) -> Response:
    return _ok(body=xmlio.document(root, parts), status=status)


def _metadata(request: Request) -> dict[str, str]:
    return {k[len("x-amz-meta-") :]: v for k, v in request.headers.items() if k.startswith("x-amz-meta-")}


def _stored_headers(request: Request) -> dict[str, str]:
    stored: dict[str, str] = {}
    for name in _STORED_HEADERS:
        value = request.headers.get(name)
        if name == "content-encoding" and value:
            value = ",".join(p for p in (s.strip() for s in value.split(",")) if p and p != "aws-chunked")
        if value:
            stored[name] = value
    return stored


def _version_of(entry: ET.Element) -> str | None:
    """A DeleteObjects entry's VersionId, or None where it names none."""
    found = xmlio.children(entry, "VersionId")
    return (found[0].text or "") if found else None


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single ``bytes=`` range; None when absent or not a byte range."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    spec = header[len("bytes=") :].strip()
    first, _, last = spec.partition("-")
    try:
        if first == "":
            length = int(last)
            if length == 0:
                raise ValueError
            return (max(size - length, 0), size - 1) if size else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        raise AwsError(
            "InvalidRange",
            "The requested range is not satisfiable",
            416,
            RangeRequested=header,
            ActualObjectSize=size,
        )
    return start, min(end, size - 1)


def _read_file(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


class S3Protocol:
    """The ASGI endpoint: request -> operation -> backend -> S3 XML/headers."""

    def __init__(self, backend: S3Backend) -> None:
        self.backend = backend

    async def handle(self, request: Request) -> Response:
        try:
            bucket, key = self._bucket_and_key(request)
            for name in _UNSUPPORTED:
                if name in request.query_params:
                    raise AwsError("NotImplemented", f"S3 ?{name} is not supported by localcloud", 501)
            if not bucket:
                if request.method != "GET":
                    raise AwsError(
                        "MethodNotAllowed",
                        "The specified method is not allowed against this resource.",
                        405,
                        Method=request.method,
                        ResourceType="SERVICE",
                    )
                return await run_in_threadpool(self.list_buckets)
            if key:
                validate_input("s3", "HeadObject", {"Bucket": bucket, "Key": key})
                return await self._object(request, bucket, key)
            return await self._bucket(request, bucket)
        except AwsError as err:
            if request.method == "HEAD" or err.status == 304:  # no body for these
                return Response(
                    status_code=err.status,
                    headers={"x-amz-request-id": request_id(), "x-amz-error-code": err.code},
                )
            return xml_error(err, resource=request.url.path)

    @staticmethod
    def _bucket_and_key(request: Request) -> tuple[str, str]:
        """Bucket and key from the request path, percent-decoded exactly once.

        Starlette's ``path`` is already decoded (and ``request.url`` drops tabs and newlines), so the
        key comes from ``raw_path``: ``a%2520b`` is the key ``a%20b``, never ``a b``.
        """
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        try:
            path = unquote_to_bytes(raw.decode("latin-1")).decode("utf-8")
        except UnicodeDecodeError:
            raise AwsError("InvalidURI", "Couldn't parse the specified URI.", 400) from None
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host.endswith(".localhost"):  # virtual-hosted style against *.localhost
            return host[: -len(".localhost")], path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    # ------------------------------------------------------------------ service / bucket
    def list_buckets(self) -> Response:
        buckets = "".join(
            f"<Bucket>{xmlio.element('Name', b['Name'])}"
            f"{xmlio.element('CreationDate', xmlio.iso8601(b['CreationDate']))}"
            f"{xmlio.element('BucketRegion', b.get('Region') or self.backend.region)}</Bucket>"
            for b in self.backend.list_buckets()
        )
        return _xml("ListAllMyBucketsResult", [xmlio.owner(), f"<Buckets>{buckets}</Buckets>"])

    async def _bucket(self, request: Request, bucket: str) -> Response:
        query = request.query_params
        method = request.method
        validate_input("s3", "HeadBucket", {"Bucket": bucket})
        if method == "PUT":
            if "versioning" in query:
                raise AwsError(
                    "NotImplemented",
                    "S3 bucket versioning is not supported by localcloud (its buckets are unversioned)",
                    501,
                )
            await request.body()
            await run_in_threadpool(self.backend.create_bucket, bucket)
            return _ok({"Location": f"/{bucket}"})
        if method == "HEAD":
            doc = await run_in_threadpool(self.backend.bucket, bucket)
            return _ok({"x-amz-bucket-region": doc.get("Region") or self.backend.region})
        if method == "DELETE":
            await run_in_threadpool(self.backend.delete_bucket, bucket)
            return _ok(status=204)
        if method == "POST" and "delete" in query:
            return await self._delete_objects(request, bucket)
        if method == "GET":
            if "location" in query:
                doc = await run_in_threadpool(self.backend.bucket, bucket)
                region = doc.get("Region") or self.backend.region
                text = "" if region == "us-east-1" else region
                return _ok(body=xmlio.document("LocationConstraint", [text]))
            if "versioning" in query:
                await run_in_threadpool(self.backend.bucket, bucket)
                return _xml("VersioningConfiguration", [])
            listing = listings.list_objects
            if "uploads" in query:
                listing = listings.list_multipart_uploads
            elif "versions" in query:
                listing = listings.list_object_versions
            body = await run_in_threadpool(listing, self.backend, bucket, dict(query))
            return _ok(body=body)
        raise AwsError(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
            Method=method,
            ResourceType="BUCKET",
        )

    async def _delete_objects(self, request: Request, bucket: str) -> Response:
        body = await self._small_body(request)
        headers = request.headers
        if not headers.get("content-md5") and not any(
            name.startswith("x-amz-checksum-") or name == "x-amz-sdk-checksum-algorithm" for name in headers
        ):
            # As S3 does: an integrity header is required, which also means a web page cannot send
            # this as a "simple" cross-origin request.
            raise AwsError(
                "InvalidRequest",
                "Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)",
                400,
            )
        digest = BodyDigest(headers)
        digest.update(body)
        digest.verify({})
        root = xmlio.parse(body)
        quiet = xmlio.child_text(root, "Quiet").lower() == "true"
        objects = [(xmlio.child_text(obj, "Key"), _version_of(obj)) for obj in xmlio.children(root, "Object")]
        if len(objects) > 1000:
            raise AwsError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400,
            )

        def delete_all() -> list[str]:
            parts: list[str] = []
            for key, version in objects:
                named = xmlio.element("Key", key)
                if version is not None:
                    named += xmlio.element("VersionId", version)
                try:
                    if version is not None:
                        versions.check(version)
                    self.backend.delete(bucket, key)
                    if not quiet:
                        parts.append(f"<Deleted>{named}</Deleted>")
                except AwsError as err:
                    parts.append(
                        f"<Error>{named}{xmlio.element('Code', err.code)}"
                        f"{xmlio.element('Message', err.message)}</Error>"
                    )
            return parts

        self.backend.bucket(bucket)
        return _xml("DeleteResult", await run_in_threadpool(delete_all))

    # ------------------------------------------------------------------ objects
    async def _object(self, request: Request, bucket: str, key: str) -> Response:
        query = request.query_params
        method = request.method
        if "versionId" in query and method in ("GET", "HEAD", "DELETE"):
            versions.check(query["versionId"])
        if method == "PUT":
            if "uploadId" in query:
                return await self._upload_part(request, bucket, key)
            if request.headers.get("x-amz-copy-source"):
                return await run_in_threadpool(self._copy_object, request, bucket, key)
            return await self._put_object(request, bucket, key)
        if method in ("GET", "HEAD"):
            if method == "GET" and "uploadId" in query:
                return await run_in_threadpool(self._list_parts, bucket, key, dict(query))
            return await run_in_threadpool(self._get_object, request, bucket, key)
        if method == "DELETE":
            if "uploadId" in query:
                await run_in_threadpool(self.backend.abort_upload, bucket, key, query["uploadId"])
            else:
                await run_in_threadpool(self.backend.delete, bucket, key)
            return _ok(status=204)
        if method == "POST":
            if "uploads" in query:
                upload_id = await run_in_threadpool(
                    self.backend.create_upload,
                    bucket,
                    key,
                    content_type=request.headers.get("content-type"),
                    metadata=_metadata(request),
                    headers=_stored_headers(request),
                )
                return _xml(
                    "InitiateMultipartUploadResult",
                    [
                        xmlio.element("Bucket", bucket),
                        xmlio.element("Key", key),
                        xmlio.element("UploadId", upload_id),
                    ],
                )
            if "uploadId" in query:
                return await self._complete_upload(request, bucket, key, query["uploadId"])
        raise AwsError(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
            Method=method,
            ResourceType="OBJECT",
        )

    async def _receive(self, request: Request) -> tuple[Path, BodyDigest, dict[str, str]]:
        """Stream the request body (aws-chunked decoded) to a temp file; verify its checksums."""
        temp = self.backend.temp_path()
        digest = BodyDigest(request.headers)
        decoder = AwsChunkedDecoder() if is_aws_chunked(request.headers) else None
        try:
            with temp.open("wb") as out:
                async for chunk in request.stream():
                    data = decoder.feed(chunk) if decoder is not None else chunk
                    if data:
                        out.write(data)
                        digest.update(data)
            trailers: dict[str, str] = {}
            if decoder is not None:
                decoder.finish()
                trailers = decoder.trailers
            expected = request.headers.get("x-amz-decoded-content-length")
            if expected is not None and expected.isdigit() and int(expected) != digest.size:
                raise AwsError(
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                    400,
                )
            echoed = digest.verify(trailers)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, digest, echoed

    async def _small_body(self, request: Request) -> bytes:
        body = await request.body()
        if is_aws_chunked(request.headers):
            decoder = AwsChunkedDecoder()
            body = decoder.feed(body)
            decoder.finish()
        return body

    async def _put_object(self, request: Request, bucket: str, key: str) -> Response:
        await run_in_threadpool(self.backend.bucket, bucket)
        if request.headers.get("if-none-match") == "*" and self.backend.find(bucket, key) is not None:
            await request.body()
            raise AwsError(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                412,
                Condition="If-None-Match",
            )
        temp, digest, echoed = await self._receive(request)
        doc = await run_in_threadpool(
            lambda: self.backend.commit(
                bucket,
                key,
                temp,
                etag=digest.etag,
                size=digest.size,
                content_type=request.headers.get("content-type"),
                metadata=_metadata(request),
                headers=_stored_headers(request),
                checksums=echoed,
            )
        )
        return _ok({"ETag": doc["ETag"], **echoed})

    def _object_headers(self, doc: Doc) -> dict[str, str]:
        headers = {
            "Content-Type": doc.get("ContentType") or "binary/octet-stream",
            "ETag": doc["ETag"],
            "Last-Modified": xmlio.http_date(doc["LastModified"]),
            "Accept-Ranges": "bytes",
        }
        headers.update(doc.get("Headers") or {})
        for name, value in (doc.get("Metadata") or {}).items():
            headers[f"x-amz-meta-{name}"] = value
        return headers

    def _get_object(self, request: Request, bucket: str, key: str) -> Response:
        doc = self.backend.head(bucket, key)
        self._check_conditions(request, doc)
        headers = self._object_headers(doc)
        for param, header in _RESPONSE_OVERRIDES.items():
            if param in request.query_params:
                headers[header] = request.query_params[param]
        size = doc["Size"]
        span: tuple[int, int] | None = None
        part_number = request.query_params.get("partNumber")
        if part_number is not None:
            sizes = doc.get("PartSizes") or [size]
            number = int_param(request.query_params, "partNumber", 1)
            if not 1 <= number <= len(sizes):
                raise AwsError(
                    "InvalidPartNumber",
                    "The requested partnumber is not satisfiable",
                    416,
                    PartNumberRequested=number,
                    ActualPartCount=len(sizes),
                )
            start = sum(sizes[: number - 1])
            span = (start, start + sizes[number - 1] - 1)
            headers["x-amz-mp-parts-count"] = str(len(sizes))
        else:
            span = _parse_range(request.headers.get("range"), size)
        status = 200
        start, length = 0, size
        if span is not None:
            start, length = span[0], span[1] - span[0] + 1
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
            status = 206
        headers["Content-Length"] = str(length)
        headers["x-amz-request-id"] = request_id()
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        path = self.backend.path_of(doc)
        if not path.is_file():
            raise no_such_key(key)
        return StreamingResponse(_read_file(path, start, length), status_code=status, headers=headers)

    @staticmethod
    def _check_conditions(request: Request, doc: Doc) -> None:
        etag = doc["ETag"]
        if_match = request.headers.get("if-match")
        if if_match and if_match.strip() not in ("*", etag, etag.strip('"')):
            raise AwsError(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                412,
                Condition="If-Match",
            )
        if_none = request.headers.get("if-none-match")
        if if_none and if_none.strip() in ("*", etag, etag.strip('"')):
            raise AwsError("NotModified", "Not Modified", 304)

    def _copy_source(self, request: Request) -> Doc:
        raw, versioned, version = unquote(request.headers["x-amz-copy-source"]).partition("?versionId=")
        if versioned:
            versions.check(version, "x-amz-copy-source")
        src_bucket, _, src_key = raw.lstrip("/").partition("/")
        if not src_bucket or not src_key:
            raise AwsError(
                "InvalidArgument",
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                400,
                ArgumentName="x-amz-copy-source",
            )
        source = self.backend.head(src_bucket, src_key)
        match = request.headers.get("x-amz-copy-source-if-match")
        if match and match.strip() not in (source["ETag"], source["ETag"].strip('"')):
            raise AwsError(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                412,
                Condition="x-amz-copy-source-If-Match",
            )
        return source

    def _copy_object(self, request: Request, bucket: str, key: str) -> Response:
        source = self._copy_source(request)
        replace = request.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
        if source["Bucket"] == bucket and source["Key"] == key and not replace:
            raise AwsError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object "
                "to itself without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
                400,
            )
        doc = self.backend.copy(
            source,
            bucket,
            key,
            replace_metadata=replace,
            content_type=request.headers.get("content-type"),
            metadata=_metadata(request),
            headers=_stored_headers(request),
        )
        return _xml(
            "CopyObjectResult",
            [
                xmlio.element("LastModified", xmlio.iso8601(doc["LastModified"])),
                xmlio.element("ETag", doc["ETag"]),
            ],
        )

    async def _upload_part(self, request: Request, bucket: str, key: str) -> Response:
        query = request.query_params
        number = int_param(query, "partNumber", 0)
        upload_id = query["uploadId"]
        await run_in_threadpool(self.backend.upload, bucket, key, upload_id)
        if request.headers.get("x-amz-copy-source"):
            return await run_in_threadpool(self._upload_part_copy, request, bucket, key, upload_id, number)
        temp, digest, echoed = await self._receive(request)
        await run_in_threadpool(
            lambda: self.backend.commit_part(
                bucket, key, upload_id, number, temp=temp, etag=digest.etag, size=digest.size
            )
        )
        return _ok({"ETag": digest.etag, **echoed})

    def _upload_part_copy(
        self, request: Request, bucket: str, key: str, upload_id: str, number: int
    ) -> Response:
        source = self._copy_source(request)
        span = _parse_range(request.headers.get("x-amz-copy-source-range"), source["Size"])
        start, length = (span[0], span[1] - span[0] + 1) if span else (0, source["Size"])
        temp = self.backend.temp_path()
        digest = BodyDigest({})
        with temp.open("wb") as out:
            for chunk in _read_file(self.backend.path_of(source), start, length):
                out.write(chunk)
                digest.update(chunk)
        self.backend.commit_part(
            bucket, key, upload_id, number, temp=temp, etag=digest.etag, size=digest.size
        )
        return _xml(
            "CopyPartResult",
            [
                xmlio.element(
                    "LastModified",
                    xmlio.iso8601((self.backend.root / ".uploads" / upload_id / str(number)).stat().st_mtime),
                ),
                xmlio.element("ETag", digest.etag),
            ],
        )

    async def _complete_upload(self, request: Request, bucket: str, key: str, upload_id: str) -> Response:
        root = xmlio.parse(await self._small_body(request))
        parts: list[tuple[int, str]] = []
        for part in xmlio.children(root, "Part"):
            try:
                parts.append((int(xmlio.child_text(part, "PartNumber")), xmlio.child_text(part, "ETag")))
            except ValueError:
                raise AwsError(
                    "MalformedXML",
                    "The XML you provided was not well-formed or did not validate "
                    "against our published schema",
                    400,
                ) from None
        doc = await run_in_threadpool(self.backend.complete_upload, bucket, key, upload_id, parts)
        return _xml(
            "CompleteMultipartUploadResult",
            [
                xmlio.element("Location", f"/{bucket}/{key}"),
                xmlio.element("Bucket", bucket),
                xmlio.element("Key", key),
                xmlio.element("ETag", doc["ETag"]),
            ],
        )

    def _list_parts(self, bucket: str, key: str, query: dict[str, str]) -> Response:
        upload = self.backend.upload(bucket, key, query["uploadId"])
        marker = int_param(query, "part-number-marker", 0)
        max_parts = int_param(query, "max-parts", 1000, maximum=1000)
        numbers = sorted(int(n) for n in upload["Parts"] if int(n) > marker)
        shown = numbers[:max_parts]
        truncated = len(numbers) > max_parts
        parts = [
            xmlio.element("Bucket", bucket),
            xmlio.element("Key", key),
            xmlio.element("UploadId", upload["UploadId"]),
            xmlio.element("PartNumberMarker", marker),
            xmlio.element("NextPartNumberMarker", shown[-1] if shown else marker),
            xmlio.element("MaxParts", max_parts),
            xmlio.element("IsTruncated", truncated),
            xmlio.owner(),
            xmlio.element("StorageClass", "STANDARD"),
        ]
        for number in shown:
            part = upload["Parts"][str(number)]
            parts.append(
                "<Part>"
                + xmlio.element("PartNumber", number)
                + xmlio.element("LastModified", xmlio.iso8601(part["LastModified"]))
                + xmlio.element("ETag", part["ETag"])
                + xmlio.element("Size", part["Size"])
                + "</Part>"
            )
        return _xml("ListPartsResult", parts)
