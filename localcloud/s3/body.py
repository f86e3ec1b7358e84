"""Request bodies for S3 writes: ``aws-chunked`` decoding, MD5 ETags and checksum verification.

SDKs send object data either as a plain body or ``aws-chunked`` (``x-amz-content-sha256:
STREAMING-...`` or ``Content-Encoding: aws-chunked``): ``<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n``
repeated, a zero-size chunk, then optional trailers such as ``x-amz-checksum-crc32:<b64>``.
:class:`AwsChunkedDecoder` undoes that framing incrementally so large uploads stream to disk.
Chunk signatures are not verified (localcloud does not check SigV4 at all); checksums that the
standard library can compute (CRC32, SHA-1, SHA-256, MD5) are, and a mismatch is S3's BadDigest.

No maintained library decodes aws-chunked on the server side, hence hand-written; relies on
hashlib, zlib and base64 only.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import AwsError

_CHECKSUM_HEADERS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    """CRC32 with hashlib's update/digest interface (S3 sends it base64 big-endian)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _new_checksum(algorithm: str) -> _Hash | None:
    if algorithm == "crc32":
        return _Crc32()
    if algorithm in ("sha1", "sha256"):
        return hashlib.new(algorithm)
    return None  # crc32c / crc64nvme: not in the standard library; accepted unverified


def is_aws_chunked(headers: Any) -> bool:
    sha = (headers.get("x-amz-content-sha256") or "").upper()
    encoding = (headers.get("content-encoding") or "").lower()
    return sha.startswith("STREAMING-") or "aws-chunked" in encoding


class AwsChunkedDecoder:
    """Incremental decoder of the aws-chunked framing; ``feed`` returns the payload bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._remaining = 0  # payload bytes still to read in the current chunk
        self._state = "size"  # size | data | data-crlf | trailers | done
        self.trailers: dict[str, str] = {}

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        steps = {
            "size": self._size_line,
            "data": self._data,
            "data-crlf": self._data_crlf,
            "trailers": self._trailer_line,
            "done": self._after_end,
        }
        while steps[self._state](out):
            pass
        return bytes(out)

    # Each step consumes what it can from the buffer; False when it needs more bytes.
    def _size_line(self, out: bytearray) -> bool:
        line = self._take_line()
        if line is None:
            return False
        size_text = line.split(b";", 1)[0].strip()
        try:
            self._remaining = int(size_text, 16)
        except ValueError:
            raise AwsError("IncompleteBody", "Malformed aws-chunked body: bad chunk size") from None
        self._state = "data" if self._remaining else "trailers"
        return True

    def _data(self, out: bytearray) -> bool:
        if not self._buffer:
            return False
        take = min(self._remaining, len(self._buffer))
        out += self._buffer[:take]
        del self._buffer[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._state = "data-crlf"
        return True

    def _data_crlf(self, out: bytearray) -> bool:
        if len(self._buffer) < 2:
            return False
        if self._buffer[:2] != b"\r\n":
            raise AwsError("IncompleteBody", "Malformed aws-chunked body: missing CRLF after chunk")
        del self._buffer[:2]
        self._state = "size"
        return True

    def _trailer_line(self, out: bytearray) -> bool:
        line = self._take_line()
        if line is None:
            return False
        if not line.strip():
            self._state = "done"
            return True
        name, _, value = line.decode("latin-1").partition(":")
        self.trailers[name.strip().lower()] = value.strip()
        return True

    def _after_end(self, out: bytearray) -> bool:
        self._buffer.clear()  # done: ignore anything after the final CRLF
        return False

    def finish(self) -> None:
        if self._state == "trailers" and not self._buffer:
            self._state = "done"  # some clients omit the final empty line
        if self._state != "done":
            raise AwsError("IncompleteBody", "The request body terminated unexpectedly")

    def _take_line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line


@dataclass
class BodyDigest:
    """Running MD5 (the ETag) plus whichever checksum the client declared."""

    headers: Any
    md5: Any = field(default_factory=hashlib.md5)
    size: int = 0
    _checksums: dict[str, _Hash] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = (self.headers.get("x-amz-sdk-checksum-algorithm") or "").lower()
        trailer = (self.headers.get("x-amz-trailer") or "").lower()
        for algorithm in _CHECKSUM_HEADERS:
            if (
                declared == algorithm
                or self.headers.get(f"x-amz-checksum-{algorithm}")
                or trailer == f"x-amz-checksum-{algorithm}"
            ):
                checksum = _new_checksum(algorithm)
                if checksum is not None:
                    self._checksums[algorithm] = checksum

    def update(self, data: bytes) -> None:
        self.md5.update(data)
        for checksum in self._checksums.values():
            checksum.update(data)
        self.size += len(data)

    def verify(self, trailers: dict[str, str]) -> dict[str, str]:
        """Check Content-MD5 and x-amz-checksum-* (header or trailer); return the checksums to echo."""
        content_md5 = self.headers.get("content-md5")
        if content_md5 and base64.b64encode(self.md5.digest()).decode() != content_md5.strip():
            raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.")
        echoed: dict[str, str] = {}
        for algorithm in _CHECKSUM_HEADERS:
            header = f"x-amz-checksum-{algorithm}"
            expected = trailers.get(header) or self.headers.get(header)
            if not expected:
                continue
            checksum = self._checksums.get(algorithm)
            if checksum is not None and base64.b64encode(checksum.digest()).decode() != expected.strip():
                raise AwsError(
                    "BadDigest",
                    f"The {algorithm.upper()} you specified did not match the calculated checksum.",
                )
            echoed[header] = expected.strip()
        return echoed

    @property
    def etag(self) -> str:
        return f'"{self.md5.hexdigest()}"'


def multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object: MD5 of the concatenated binary part MD5s, dash, part count."""
    joined = b"".join(bytes.fromhex(tag.strip('"')) for tag in part_etags)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"'
