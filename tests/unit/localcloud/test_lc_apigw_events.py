"""HTTP API payload format 2.0: the event a Lambda receives, the response mapping, and route matching
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localcloud.apigateway.events import HttpRequest, build_event, is_text, map_response
from localcloud.apigateway.routes import Route, RouteTable
from localcloud.lambda_.models import InvokeResult, function_name_from


def event(body: bytes = b"", content_type: str | None = None, **kwargs: Any) -> dict[str, Any]:
    headers = [
        ("Host", "127.0.0.1:3000"),
        ("User-Agent", "curl/8.0"),
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("Cookie", "cookie1=1; cookie2=2"),
    ]
    if content_type:
        headers.append(("Content-Type", content_type))
    request = HttpRequest(
        method="POST",
        raw_path=kwargs.get("raw_path", "/my/path"),
        raw_query=kwargs.get("raw_query", "parameter1=value1&parameter1=value2&parameter2=value"),
        headers=headers,
        body=body,
        source_ip="127.0.0.1",
    )
    return build_event(
        request,
        route_key="POST /my/{p}",
        path_params={"p": "path"},
        api_id="api1234567",
        stage="$default",
        request_id="req-1",
        account_id="000000000000",
        domain="127.0.0.1:3000",
        now=1583348638.390,
    )


def test_event_structure_matches_the_documented_format() -> None:
    ev = event(b'{"k": "v"}', "application/json")
    assert ev["version"] == "2.0" and ev["routeKey"] == "POST /my/{p}"
    assert ev["rawPath"] == "/my/path"
    assert ev["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert ev["cookies"] == ["cookie1=1", "cookie2=2"]
    assert ev["headers"]["x-multi"] == "a,b" and ev["headers"]["user-agent"] == "curl/8.0"
    assert "cookie" not in ev["headers"] and all(k == k.lower() for k in ev["headers"])
    assert ev["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert ev["pathParameters"] == {"p": "path"}
    context = ev["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/my/path",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8.0",
    }
    assert context["stage"] == "$default" and context["requestId"] == "req-1"
    assert context["time"] == "04/Mar/2020:19:03:58 +0000" and context["timeEpoch"] == 1583348638390
    assert ev["body"] == '{"k": "v"}' and ev["isBase64Encoded"] is False


def test_binary_bodies_are_base64_encoded() -> None:
    jpeg = b"\xff\xd8\xff\xe0binary"
    ev = event(jpeg, "image/jpeg")
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == jpeg
    # curl --data-binary sends application/x-www-form-urlencoded: not a text type for HTTP APIs
    assert event(jpeg, "application/x-www-form-urlencoded")["isBase64Encoded"] is True
    # a "text" content type whose bytes are not UTF-8 cannot travel as a JSON string either
    assert event(jpeg, "text/plain")["isBase64Encoded"] is True
    assert event(b"hello", "text/plain; charset=utf-8")["body"] == "hello"
    no_body = event()
    assert "body" not in no_body and no_body["isBase64Encoded"] is False


def test_text_types() -> None:
    assert all(map(is_text, ["text/csv", "application/json", "application/vnd.api+json", "application/xml"]))
    assert not any(map(is_text, [None, "image/png", "application/octet-stream", "multipart/form-data"]))


def result(value: Any, error: bool = False) -> InvokeResult:
    return InvokeResult(200, json.dumps(value).encode(), "Unhandled" if error else None)


def test_structured_response() -> None:
    response = map_response(
        result(
            {
                "statusCode": 201,
                "headers": {"X-A": "1", "Multi": ["a", "b"]},
                "cookies": ["c=1", "d=2"],
                "body": "created",
            }
        )
    )
    assert response.status == 201 and response.body == b"created"
    assert ("x-a", "1") in response.headers and ("multi", "a,b") in response.headers
    assert [v for k, v in response.headers if k == "set-cookie"] == ["c=1", "d=2"]
    assert ("content-type", "application/json") in response.headers  # defaulted


def test_base64_response_body_is_decoded() -> None:
    raw = bytes(range(256))
    response = map_response(
        result(
            {
                "statusCode": 200,
                "isBase64Encoded": True,
                "headers": {"content-type": "image/png"},
                "body": base64.b64encode(raw).decode(),
            }
        )
    )
    assert response.body == raw and ("content-type", "image/png") in response.headers


def test_inferred_responses() -> None:
    # "If your Lambda function returns valid JSON and doesn't return a statusCode, API Gateway makes
    # assumptions" (the response format section of the page above)
    text = map_response(result("Hello from Lambda!"))
    assert (text.status, text.body) == (200, b"Hello from Lambda!")
    obj = map_response(result({"message": "Hello from Lambda!"}))
    assert obj.status == 200 and json.loads(obj.body) == {"message": "Hello from Lambda!"}
    assert ("content-type", "application/json") in obj.headers


def test_errors_become_internal_server_error() -> None:
    for bad in (
        result({"errorType": "ValueError"}, error=True),
        result({"statusCode": "abc"}),
        InvokeResult(200, b"not json"),
        result({"statusCode": 200, "isBase64Encoded": True, "body": "@@"}),
    ):
        response = map_response(bad)
        assert (response.status, json.loads(response.body)) == (500, {"message": "Internal Server Error"})


def table(*keys: str) -> RouteTable:
    return RouteTable([Route.from_doc({"apiId": "a", "routeKey": k, "function": k}) for k in keys])


@pytest.mark.parametrize(
    ("method", "path", "expected", "params"),
    [
        ("GET", "/pets", "GET /pets", {}),
        ("GET", "/pets/", "GET /pets", {}),
        ("GET", "/pets/dog", "GET /pets/dog", {}),
        ("GET", "/pets/cat", "GET /pets/{name}", {"name": "cat"}),
        ("GET", "/pets/a%20b", "GET /pets/{name}", {"name": "a b"}),
        ("POST", "/pets/cat", "ANY /pets/{name}", {"name": "cat"}),
        ("GET", "/pets/cat/toys/ball", "ANY /pets/{proxy+}", {"proxy": "cat/toys/ball"}),
        ("DELETE", "/anything", "$default", {}),
    ],
)
def test_route_matching_prefers_the_most_specific(
    method: str, path: str, expected: str, params: dict[str, str]
) -> None:
    routes = table(
        "$default", "ANY /pets/{proxy+}", "ANY /pets/{name}", "GET /pets/{name}", "GET /pets/dog", "GET /pets"
    )
    found = routes.match(method, path)
    assert found is not None and (found[0].route_key, found[1]) == (expected, params)


def test_no_route_and_method_mismatch() -> None:
    assert table("GET /pets").match("POST", "/pets") is None
    assert table("GET /pets").match("GET", "/dogs") is None
    with pytest.raises(ValueError, match="greedy"):
        Route.from_doc({"apiId": "a", "routeKey": "GET /{proxy+}/x", "function": "f"})


def test_function_identifiers() -> None:
    assert function_name_from("my-function") == ("my-function", None)
    assert function_name_from("my-function:v1") == ("my-function", "v1")
    assert function_name_from("123456789012:function:my-function") == ("my-function", None)
    assert function_name_from("arn:aws:lambda:us-west-2:123456789012:function:my-function:$LATEST") == (
        "my-function",
        "$LATEST",
    )
