"""HTTP API Lambda proxy integration, payload format 2.0: the request event and the response mapping.

Event (as API Gateway builds it): ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``,
``cookies`` (from the Cookie header, which then leaves ``headers``), ``headers`` (lowercase
names, repeated headers joined with commas), ``queryStringParameters`` (repeated keys joined with
commas), ``pathParameters``, ``requestContext`` (``http.method/path/protocol/sourceIp/userAgent``,
``requestId``, ``routeKey``, ``stage``, ``time``, ``timeEpoch``, ``apiId``, ``domainName`` ...),
``body`` and ``isBase64Encoded``. The body is base64-encoded unless its content type is textual
(``text/*``, JSON, XML, JavaScript) and it is valid UTF-8, as HTTP APIs do.

Response: a ``{"statusCode", "headers", "cookies", "body", "isBase64Encoded"}`` object, or any
other JSON value which API Gateway "infers" into a 200 ``application/json`` response whose body
is that value (a JSON string becomes the body itself). A function error or an unusable response
is a 500 ``{"message":"Internal Server Error"}``. Hand-written: the format is small and fixed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..lambda_.models import InvokeResult

_TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-javascript",
    "application/ecmascript",
    "application/yaml",
    "application/x-yaml",
)


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml"))


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


def build_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_params: dict[str, str],
    api_id: str,
    stage: str,
    request_id: str,
    account_id: str,
    domain: str,
    now: float,
) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    path = urllib.parse.unquote(request.raw_path)
    stamp = dt.datetime.fromtimestamp(now, dt.UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": stamp.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if path_params:
        event["pathParameters"] = path_params
    encoded = False
    if request.body:
        text: str | None = None
        if is_text(headers.get("content-type")):
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            text = base64.b64encode(request.body).decode()
            encoded = True
        event["body"] = text
    event["isBase64Encoded"] = encoded
    return event


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def message(status: int, text: str) -> HttpResponse:
    return HttpResponse(
        status, [("content-type", "application/json")], json.dumps({"message": text}).encode()
    )


INTERNAL_ERROR = 500


class _Malformed(ValueError):
    """A Lambda response API Gateway cannot map: answered 500 Internal Server Error."""


def map_response(result: InvokeResult) -> HttpResponse:
    """The HTTP response for a Lambda result (payload format 2.0)."""
    if result.function_error:
        return message(INTERNAL_ERROR, "Internal Server Error")
    try:
        value = json.loads(result.payload) if result.payload else None
        if not (isinstance(value, dict) and "statusCode" in value):
            text = value if isinstance(value, str) else result.payload.decode()
            return HttpResponse(200, [("content-type", "application/json")], text.encode())
        return HttpResponse(_status(value), _response_headers(value), _response_body(value))
    except ValueError:  # not JSON, or _Malformed
        return message(INTERNAL_ERROR, "Internal Server Error")


def _status(value: dict[str, Any]) -> int:
    try:
        status = int(value["statusCode"])
    except (TypeError, ValueError):
        raise _Malformed("statusCode") from None
    if not 100 <= status <= 599:
        raise _Malformed("statusCode")
    return status


def _response_headers(value: dict[str, Any]) -> list[tuple[str, str]]:
    raw_headers = value.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise _Malformed("headers")
    headers: list[tuple[str, str]] = []
    for name, item in raw_headers.items():
        values = item if isinstance(item, list) else [item]
        headers.append((str(name).lower(), ",".join(_header_text(v) for v in values)))
    for cookie in value.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    return headers


def _response_body(value: dict[str, Any]) -> bytes:
    body: Any = value.get("body")
    if body is None:
        return b""
    if value.get("isBase64Encoded"):
        try:
            return base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            raise _Malformed("body") from None
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
