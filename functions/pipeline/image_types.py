"""Which image format a byte string is, judged by its magic bytes (JPEG, PNG, WebP).

Hand-written because it is three prefix checks: the stdlib's imghdr is gone (Python 3.13) and
decoding the image (Pillow) would be wasted work in a proxy that never looks at the pixels.
"""

from __future__ import annotations

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def sniff_image_type(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/webp``; None for anything else."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
