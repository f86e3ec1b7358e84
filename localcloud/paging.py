"""Opaque page tokens and offset paging, shared by localcloud's List*/Describe* operations.

AWS's ``nextToken``/``NextToken`` is opaque to clients; localcloud's is base64 of a small JSON
object. :class:`TokenFormat` encodes and decodes one (standard or URL-safe alphabet, default or
compact JSON separators, so each service keeps the exact tokens it has always handed out);
:func:`offset_page` cuts a page out of a list and says where the next one starts. A token that is
not one of ours raises :class:`BadToken`, which each service answers with its own error code and
message (``InvalidToken``, ``ValidationException``, ``InvalidParameterException`` ...).
Hand-written: botocore pages on the client side only. Relies on the standard library.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class BadToken(ValueError):
    """A page token localcloud did not hand out."""


@dataclass(frozen=True)
class TokenFormat:
    urlsafe: bool = False
    compact: bool = False

    def encode(self, data: Mapping[str, Any]) -> str:
        text = json.dumps(data, separators=(",", ":") if self.compact else None).encode()
        return (base64.urlsafe_b64encode(text) if self.urlsafe else base64.b64encode(text)).decode()

    def decode(self, token: str) -> dict[str, Any]:
        try:
            raw = base64.urlsafe_b64decode(token.encode()) if self.urlsafe else base64.b64decode(token)
            data = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise BadToken(token) from exc
        if not isinstance(data, dict):
            raise BadToken(token)
        return data


# base64 of ``{"offset": n}``: Step Functions' and SageMaker's tokens.
OFFSET_TOKENS = TokenFormat()


def offset_page(
    items: Sequence[T],
    token: str | None,
    limit: int,
    *,
    field: str = "offset",
    tokens: TokenFormat = OFFSET_TOKENS,
) -> tuple[list[T], str | None]:
    """The page of ``items`` that ``token`` (None: the first) starts, at most ``limit`` long, and
    the token of the next page (None on the last). ``field`` names the offset inside the token."""
    start = 0
    if token:
        try:
            start = int(tokens.decode(token)[field])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadToken(token) from exc
    end = start + limit
    next_token = tokens.encode({field: end}) if end < len(items) else None
    return list(items[start:end]), next_token
