"""AWS's query protocol, server side: the one module STS, IAM, CloudFormation and CloudWatch's
query flavour share.

- Requests are form-encoded POSTs to ``/`` (``Action=<Operation>&Version=<api version>&...``);
  :func:`decode_params` turns the flat form back into the operation's parameters, driven by the
  botocore service model (nested ``A.B``, lists ``A.member.N``, maps ``A.entry.N.key``, and
  each member's type), the inverse of botocore's ``QuerySerializer``.
- :func:`service_name` says which service a request is for: the SigV4 credential scope
  (``Credential=AKID/date/region/<service>/aws4_request``), else the form's ``Version``.
- :func:`xml_response` renders a result dict as ``<OpResponse><OpResult>..</OpResult>
  <ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>``, driven by the model (element
  names, ``member`` lists, ``entry`` maps, ISO-8601 timestamps), what botocore's ``QueryParser``
  reads; :func:`query_error` is AWS's ``<ErrorResponse>`` shape.

Relies on botocore's service models and the standard library's XML and form decoding; the
conversion itself is hand-written because botocore ships only the client half of the protocol.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import urllib.parse
from typing import Any
from xml.etree import ElementTree as ET

from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.utils import parse_timestamp
from starlette.responses import Response

from .errors import AwsError
from .protocol import request_id
from .validation import operation_model, service_model

FORM_TYPE = "application/x-www-form-urlencoded"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def parse_form(body: bytes) -> dict[str, str]:
    """The form's fields (the last value wins for a repeated name, as AWS does)."""
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise AwsError("MalformedQueryString", "The request body is not UTF-8 form data") from exc
    return dict(pairs)


def service_name(authorization: str | None, form: dict[str, str], versions: dict[str, str]) -> str | None:
    """The signing name from the SigV4 credential scope, else the one whose API ``Version`` the form
    names (``versions`` maps API version -> signing name)."""
    match = _SCOPE.search(authorization or "")
    if match:
        return match.group(1)
    return versions.get(form.get("Version", ""))


def namespace(service: str) -> str:
    meta = service_model(service).metadata
    default = f"https://{meta['endpointPrefix']}.amazonaws.com/doc/{meta['apiVersion']}/"
    return str(meta.get("xmlNamespace") or default)


# ---------------------------------------------------------------------- request decoding
def decode_params(service: str, operation: str, form: dict[str, str]) -> dict[str, Any]:
    """The operation's parameters from the form (``Action`` and ``Version`` dropped); a value that
    is not of its member's type is a ValidationError naming the field."""
    shape = operation_model(service, operation).input_shape
    fields = {k: v for k, v in form.items() if k not in ("Action", "Version")}
    if shape is None:
        return {}
    value = _decode_structure(shape, fields, "")
    return value or {}


def _name(shape: Shape, default: str) -> str:
    return str(shape.serialization.get("name", default))


def _has_prefix(fields: dict[str, str], prefix: str) -> bool:
    return prefix in fields or any(k.startswith(prefix + ".") for k in fields)


def _decode(shape: Shape, fields: dict[str, str], prefix: str) -> Any:
    if isinstance(shape, StructureShape):
        return _decode_structure(shape, fields, prefix)
    if isinstance(shape, ListShape):
        return _decode_list(shape, fields, prefix)
    if isinstance(shape, MapShape):
        return _decode_map(shape, fields, prefix)
    return _scalar(shape, fields[prefix], prefix)


def _decode_structure(shape: StructureShape, fields: dict[str, str], prefix: str) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for member, member_shape in shape.members.items():
        key = _name(member_shape, member)
        full = f"{prefix}.{key}" if prefix else key
        if _has_prefix(fields, full):
            out[member] = _decode(member_shape, fields, full)
    return out


def _decode_list(shape: ListShape, fields: dict[str, str], prefix: str) -> list[Any]:
    if fields.get(prefix) == "":
        return []
    if shape.serialization.get("flattened"):
        base = prefix
        if shape.member.serialization.get("name"):
            base = ".".join([*prefix.split(".")[:-1], _name(shape.member, "")])
    else:
        base = f"{prefix}.{_name(shape.member, 'member')}"
    items = []
    index = 1
    while _has_prefix(fields, f"{base}.{index}"):
        items.append(_decode(shape.member, fields, f"{base}.{index}"))
        index += 1
    return items


def _decode_map(shape: MapShape, fields: dict[str, str], prefix: str) -> dict[str, Any]:
    base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_name, value_name = _name(shape.key, "key"), _name(shape.value, "value")
    out: dict[str, Any] = {}
    index = 1
    while _has_prefix(fields, f"{base}.{index}"):
        key = fields.get(f"{base}.{index}.{key_name}", "")
        out[key] = _decode(shape.value, fields, f"{base}.{index}.{value_name}")
        index += 1
    return out


def _scalar(shape: Shape, text: str, field: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise AwsError("ValidationError", f"Value '{text[:100]}' at '{field}' is not a valid {kind}") from exc
    return text


# ---------------------------------------------------------------------- response encoding
def xml_response(service: str, operation: str, result: dict[str, Any], status: int = 200) -> Response:
    op = operation_model(service, operation)
    rid = request_id()
    root = ET.Element(f"{operation}Response", xmlns=namespace(service))
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{operation}Result")
        _encode(ET.SubElement(root, wrapper), shape, result)
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = rid
    return Response(
        ET.tostring(root, encoding="utf-8", xml_declaration=True),
        status_code=status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": rid},
    )


def _encode(node: ET.Element, shape: Shape, value: Any) -> None:
    if isinstance(shape, StructureShape):
        for member, member_value in value.items():
            if member_value is None or member not in shape.members:
                continue
            member_shape = shape.members[member]
            name = _name(member_shape, member)
            if isinstance(member_shape, ListShape) and member_shape.serialization.get("flattened"):
                for item in member_value:
                    _encode(ET.SubElement(node, name), member_shape.member, item)
                continue
            _encode(ET.SubElement(node, name), member_shape, member_value)
    elif isinstance(shape, ListShape):
        item_name = _name(shape.member, "member")
        for item in value:
            _encode(ET.SubElement(node, item_name), shape.member, item)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            entry = ET.SubElement(node, "entry")
            ET.SubElement(entry, _name(shape.key, "key")).text = str(key)
            _encode(ET.SubElement(entry, _name(shape.value, "value")), shape.value, item)
    else:
        node.text = _text(shape, value)


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return iso8601(value)
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if kind in ("float", "double"):
        return repr(float(value))
    return str(value)


def iso8601(value: Any) -> str:
    """A timestamp (datetime or epoch seconds) as AWS writes it: ``2026-01-02T03:04:05.678Z``."""
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]) + "Z"
    return str(value)


def query_error(err: AwsError, service: str | None = None) -> Response:
    rid = request_id()
    root = ET.Element("ErrorResponse", xmlns=namespace(service)) if service else ET.Element("ErrorResponse")
    error = ET.SubElement(root, "Error")
    ET.SubElement(error, "Type").text = "Receiver" if err.status >= 500 else "Sender"
    ET.SubElement(error, "Code").text = err.code
    ET.SubElement(error, "Message").text = err.message
    ET.SubElement(root, "RequestId").text = rid
    return Response(
        ET.tostring(root, encoding="utf-8", xml_declaration=True),
        status_code=err.status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": rid},
    )
