"""GET / through the predict function's HTTP API resolver: the upload page and its security headers."""

from __future__ import annotations

import re
from typing import Any

from pipeline_testkit import FakeContext
from test_pipeline_predict import http_event

from pipeline import predict as module


def _get_page() -> dict[str, Any]:
    event = http_event(None, base64_encoded=False)
    event.update(routeKey="GET /", rawPath="/")
    event["requestContext"].update(routeKey="GET /")
    event["requestContext"]["http"].update(method="GET", path="/")
    return module.handler(event, FakeContext())  # type: ignore[arg-type]


def _csp(response: dict[str, Any]) -> dict[str, str]:
    policy = response["headers"]["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


def test_the_page_is_html_with_strict_headers() -> None:
    response = _get_page()
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = _csp(response)
    assert csp["default-src"] == "'none'"
    assert csp["img-src"] == "blob: data:"
    assert csp["connect-src"] == "'self'"
    assert csp["form-action"] == csp["frame-ancestors"] == csp["base-uri"] == "'none'"
    assert csp["script-src"] == csp["style-src"]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{24}'", csp["script-src"])


def test_every_inline_script_and_style_carries_this_responses_nonce() -> None:
    first, second = _get_page(), _get_page()
    nonce = _csp(first)["script-src"][len("'nonce-") : -1]
    assert nonce != _csp(second)["script-src"][len("'nonce-") : -1]  # fresh per response
    body = first["body"]
    tags = re.findall(r"<(script|style)\b([^>]*)>", body)
    assert {tag for tag, _ in tags} == {"script", "style"}
    assert all(f'nonce="{nonce}"' in attrs for _, attrs in tags)
    assert "{{NONCE}}" not in body


def test_the_page_loads_nothing_from_other_hosts_and_posts_to_predict() -> None:
    body = _get_page()["body"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", body)
    assert 'fetch("predict"' in body
    assert 'accept="image/*"' in body and "capture=" in body
    assert 'name="viewport"' in body


def test_other_methods_on_the_page_are_not_routes() -> None:
    event = http_event(b"x")
    event.update(routeKey="POST /", rawPath="/")
    event["requestContext"]["http"].update(path="/")
    assert module.handler(event, FakeContext())["statusCode"] == 404  # type: ignore[arg-type]
