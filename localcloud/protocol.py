"""AWS wire-protocol helpers shared by the emulated services (responses and error shapes).

- JSON protocols (SageMaker json-1.1, Step Functions json-1.0): errors are
  ``{"__type": code, "message": msg}`` with ``x-amzn-ErrorType``; botocore reads ``__type``.
- REST-JSON (Lambda, SageMaker Runtime): ``x-amzn-ErrorType`` header plus a JSON body.
- REST-XML (S3): ``<Error><Code/><Message/></Error>``.
- RPC-v2 CBOR (CloudWatch): the JSON error map, CBOR-encoded (``cbor2``), ``smithy-protocol`` header.
- Query (STS, IAM, CloudFormation, CloudWatch): see ``query.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

import cbor2
from starlette.responses import JSONResponse, Response

from .errors import AwsError


def request_id() -> str:
    return str(uuid.uuid4())


def _default(value: Any) -> Any:
    """JSON for what ``json`` lacks: a timestamp as epoch seconds (AWS's JSON protocols), else text."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return str(value)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=_default).encode()


def json_response(data: Any, content_type: str = "application/x-amz-json-1.1", status: int = 200) -> Response:
    return Response(
        _dumps(data), status_code=status, media_type=content_type, headers={"x-amzn-RequestId": request_id()}
    )


def json_error(err: AwsError, content_type: str = "application/x-amz-json-1.1") -> Response:
    body: dict[str, Any] = {"__type": err.code, "message": err.message}
    body.update({k: v for k, v in err.extra.items() if not k.startswith("_")})
    return Response(
        _dumps(body),
        status_code=err.status,
        media_type=content_type,
        headers={"x-amzn-ErrorType": err.code, "x-amzn-RequestId": request_id()},
    )


def rest_json_error(err: AwsError) -> Response:
    body: dict[str, Any] = {"message": err.message, "Message": err.message}
    body.update({k: v for k, v in err.extra.items() if not k.startswith("_")})
    return JSONResponse(
        body, status_code=err.status, headers={"x-amzn-ErrorType": err.code, "x-amzn-RequestId": request_id()}
    )


def xml_error(err: AwsError, resource: str = "") -> Response:
    rid = request_id()
    extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in err.extra.items() if not k.startswith("_"))
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{rid}</RequestId>{extra}</Error>"
    )
    return Response(
        body, status_code=err.status, media_type="application/xml", headers={"x-amz-request-id": rid}
    )


CBOR_TYPE = "application/cbor"


def cbor_response(data: Any) -> Response:
    body = cbor2.dumps(data, datetime_as_timestamp=True, timezone=dt.UTC)
    return Response(
        body,
        media_type=CBOR_TYPE,
        headers={"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id()},
    )


def cbor_error(err: AwsError) -> Response:
    body: dict[str, Any] = {"__type": err.code, "message": err.message}
    body.update({k: v for k, v in err.extra.items() if not k.startswith("_")})
    return Response(
        cbor2.dumps(body, datetime_as_timestamp=True, timezone=dt.UTC),
        status_code=err.status,
        media_type=CBOR_TYPE,
        headers={
            "smithy-protocol": "rpc-v2-cbor",
            "x-amzn-RequestId": request_id(),
            "x-amzn-query-error": f"{err.code};{'Receiver' if err.status >= 500 else 'Sender'}",
        },
    )
