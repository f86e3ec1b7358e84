"""XML in and out for the S3 REST-XML protocol: rendering result documents, reading request bodies.

Rendering is string building with escaping (the documents are small and fixed); :func:`render`
lays a result out by the operation's output shape in botocore's S3 model (element names, member
order, flattened lists), so a listing is written as the dict botocore would parse it into.
Parsing uses the standard library's ElementTree with namespaces ignored, as S3 accepts bodies
with or without ``xmlns``.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from botocore.model import ListShape, Shape, StructureShape

from ..errors import AwsError
from ..validation import service_model

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


def iso8601(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def encode_key(value: str, url: bool) -> str:
    """A key as S3 writes it in a listing: URL-encoded when the client asked for encoding-type=url."""
    return quote(value, safe="/~") if url else value


_CONTROL = {chr(c): f"&#x{c:X};" for c in range(0x20) if chr(c) not in "\t\n"}
_CONTROL["\t"] = "&#9;"
_CONTROL["\n"] = "&#10;"


def element(tag: str, value: object) -> str:
    """``<tag>value</tag>``, escaped; control characters as character references, as S3 writes them
    (so a CR or tab in a key survives an XML parser; the others need ``encoding-type=url``)."""
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value), _CONTROL)
    return f"<{tag}>{text}</{tag}>"


def document(root: str, parts: Iterable[str]) -> bytes:
    body = "".join(parts)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NAMESPACE}">{body}</{root}>').encode()


OWNER = {"ID": OWNER_ID, "DisplayName": "localcloud"}


def owner() -> str:
    return f"<Owner>{element('ID', OWNER_ID)}{element('DisplayName', 'localcloud')}</Owner>"


def render(operation: str, root: str, result: Mapping[str, Any]) -> bytes:
    """The ``root`` document of S3 ``operation``'s result, laid out by its botocore output shape.

    ``result`` is shaped like what boto3 returns (member names, lists of dicts, timestamps as
    epoch seconds); members that are None or absent, and header members, are left out.
    """
    shape = service_model("s3").operation_model(operation).output_shape
    assert isinstance(shape, StructureShape)
    return document(root, [_members(shape, result)])


def _members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    out = []
    for name, member in shape.members.items():
        if value.get(name) is None or member.serialization.get("location"):
            continue
        tag = member.serialization.get("name", name)
        if isinstance(member, ListShape) and member.serialization.get("flattened"):
            tag = member.member.serialization.get("name", tag)  # as botocore's parser names it
        out.append(_node(tag, member, value[name]))
    return "".join(out)


def _node(tag: str, shape: Shape, value: Any) -> str:
    if isinstance(shape, StructureShape):
        return f"<{tag}>{_members(shape, value)}</{tag}>"
    if isinstance(shape, ListShape):
        if shape.serialization.get("flattened"):
            return "".join(_node(tag, shape.member, item) for item in value)
        item_tag = shape.member.serialization.get("name", "member")
        return f"<{tag}>" + "".join(_node(item_tag, shape.member, item) for item in value) + f"</{tag}>"
    if shape.type_name == "timestamp":
        return element(tag, iso8601(value))
    return element(tag, value)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        ) from None


def children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def child_text(node: ET.Element, name: str, default: str = "") -> str:
    found = children(node, name)
    return (found[0].text or "") if found else default
