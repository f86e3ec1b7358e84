"""Which image format a byte string is, judged by its magic bytes (JPEG, PNG, WebP, GIF, BMP).

These are the image types the model's inference.py decodes (GIF: its first frame, as Pillow
reads it), so the predictions API forwards exactly those. Hand-written because it is a few prefix
checks: the stdlib's imghdr is gone (Python 3.13) and decoding the image (Pillow) would be wasted
work in a proxy that never looks at the pixels.
"""

from __future__ import annotations

import struct

ACCEPTED_FORMATS = ("JPEG", "PNG", "WebP", "GIF", "BMP")
ACCEPTED_DESCRIPTION = ", ".join(ACCEPTED_FORMATS[:-1]) + " or " + ACCEPTED_FORMATS[-1]  # for messages

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_GIF = (b"GIF87a", b"GIF89a")
# The sizes of the DIB headers Pillow's BMP reader knows (BITMAPCOREHEADER ... BITMAPV5HEADER):
# "BM" alone is too weak a signature for a proxy that also sees text.
_BMP_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def sniff_image_type(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png``, ``image/webp``, ``image/gif`` or ``image/bmp``; None otherwise."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(_GIF):
        return "image/gif"
    if (
        len(data) >= 18
        and data[:2] == b"BM"
        and struct.unpack_from("<I", data, 14)[0] in _BMP_DIB_HEADER_SIZES
    ):
        return "image/bmp"
    return None
