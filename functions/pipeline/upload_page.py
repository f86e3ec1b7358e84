"""The upload page: ``GET /`` on the HTTP API answers one self-contained HTML page.

The page (static/upload.html, read once per container at cold start) lets a person choose, drop,
paste or photograph an image, POSTs its bytes to ``predict`` (relative, so it works under any
stage path) and draws the top labels as probability bars; the API's 4xx messages appear inline.
Everything is served from here, nothing from other hosts: the response carries a strict
Content-Security-Policy whose inline ``<script>``/``<style>`` are allowed by a per-response nonce.

It is a powertools ``Router`` that predict.py includes, so the page and the API it calls ship
as one function (CodeUri functions/ carries the HTML as package data). Relies on powertools'
event handler (through http_api.py) and the standard library's ``secrets``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from .http_api import Response, new_router

PAGE_PATH = Path(__file__).with_name("static") / "upload.html"
PAGE_TEMPLATE = PAGE_PATH.read_text(encoding="utf-8")
NONCE_MARK = "{{NONCE}}"

router = new_router()


def content_security_policy(nonce: str) -> str:
    """Nothing from anywhere unless listed: the page's own nonce'd code, local images, same-origin fetch."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "img-src blob: data:",
            "connect-src 'self'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


def page_response(nonce: str | None = None) -> Response[str]:
    """The page with a fresh nonce in its CSP header and its inline script and style."""
    nonce = nonce or secrets.token_urlsafe(18)
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=PAGE_TEMPLATE.replace(NONCE_MARK, nonce),
        headers={
            "Content-Security-Policy": content_security_policy(nonce),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",  # a nonce must not be reused from a cache
        },
    )


@router.get("/")
def upload_page() -> Response[str]:
    return page_response()
