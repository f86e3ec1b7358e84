"""Differential test: the HTTP API events localcloud builds, read back by Powertools.

Each request below goes through localcloud's real HTTP API app (Starlette's test client, route
matching, ``build_event``) to a stand-in Lambda that keeps the event. Every event must parse as
Powertools' ``APIGatewayProxyEventV2Model`` (pydantic; the model AWS's own library validates payload
format 2.0 with), and Powertools' ``APIGatewayProxyEventV2`` reader must give back what the client
sent: method, path, query parameters, headers, cookies, path parameters and the body (decoded when
base64-encoded). Known disagreements would be listed in ``KNOWN_DISAGREEMENTS`` with the AWS page
that decides them; the list is asserted exactly (a new one fails, and so does one that went away).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from starlette.testclient import TestClient

from localcloud.apigateway.app import HttpApiApp
from localcloud.apigateway.routes import Route, RouteTable
from localcloud.lambda_.models import InvokeResult

ROUTES = ["GET /pets", "ANY /pets/{name}", "ANY /files/{proxy+}", "POST /predict", "$default"]


@dataclass
class Case:
    name: str
    method: str
    path: str  # as sent, percent-encoded
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("plain GET", "GET", "/pets"),
    Case("query with repeats and blanks", "GET", "/pets", [("a", "1"), ("a", "2"), ("b", ""), ("c", "x y")]),
    Case("encoded path parameter", "GET", "/pets/a%20b", path_params={"name": "a b"}),
    Case("unicode path parameter", "DELETE", "/pets/%C3%A9t%C3%A9", path_params={"name": "été"}),
    Case("greedy path", "PUT", "/files/a/b/c.txt", path_params={"proxy": "a/b/c.txt"}),
    Case(
        "JSON body",
        "POST",
        "/predict",
        headers=[("Content-Type", "application/json")],
        body=json.dumps({"image": "aGVsbG8="}).encode(),
    ),
    Case("binary body", "POST", "/predict", headers=[("Content-Type", "image/png")], body=bytes(range(256))),
    Case("no content type", "POST", "/predict", body=b"raw bytes"),
    Case(
        "text that is not UTF-8",
        "POST",
        "/predict",
        headers=[("Content-Type", "text/plain")],
        body="café".encode("latin-1"),
    ),
    Case("cookies", "GET", "/pets", headers=[("Cookie", "c1=1; c2=two"), ("Cookie", "c3=3")]),
    Case(
        "repeated header",
        "PATCH",
        "/pets/x",
        headers=[("X-Multi", "a"), ("X-Multi", "b")],
        path_params={"name": "x"},
    ),
    Case("default route", "OPTIONS", "/anything/else"),
    Case("HEAD", "HEAD", "/pets"),
]

# case name -> (what differs, the AWS page that decides it)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {}


class _Lambda:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, function: str, payload: bytes, on_result: object = None) -> InvokeResult:
        self.events.append(json.loads(payload))
        return InvokeResult(200, b'{"statusCode": 200, "body": "ok"}', request_id="r")


def _client() -> tuple[TestClient, _Lambda]:
    fake = _Lambda()
    table = RouteTable([Route.from_doc({"apiId": "api1", "routeKey": k, "function": "f"}) for k in ROUTES])
    settings = SimpleNamespace(account_id="000000000000", host="127.0.0.1", api_port=3000)
    service = SimpleNamespace(table=table, settings=settings, invoke_lambda=fake.invoke, start_lambda=None)
    return TestClient(HttpApiApp(service), client=("203.0.113.7", 50000)), fake  # type: ignore[arg-type]


def _differences(case: Case, event: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    try:
        APIGatewayProxyEventV2Model.model_validate(event)
    except ValueError as exc:
        problems.append(f"does not parse: {exc}")
    read = APIGatewayProxyEventV2(event)
    sent_query: dict[str, str] = {}
    for key, value in case.query:
        sent_query[key] = f"{sent_query[key]},{value}" if key in sent_query else value
    expected_cookies = [
        c.strip() for name, v in case.headers if name.lower() == "cookie" for c in v.split(";")
    ]
    checks = {
        "method": (read.request_context.http.method, case.method),
        "path": (read.request_context.http.path, urllib.parse.unquote(case.path)),
        "raw path": (read.raw_path, case.path),
        "query": (read.query_string_parameters or {}, sent_query),
        "path parameters": (read.path_parameters or {}, case.path_params),
        "cookies": (read.cookies or [], expected_cookies),
        "body": (
            (base64.b64decode(read.body or "") if read.is_base64_encoded else (read.body or "").encode()),
            case.body,
        ),
    }
    for name in {n for n, _ in case.headers if n.lower() != "cookie"}:
        values = [v for n, v in case.headers if n.lower() == name.lower()]
        checks[f"header {name}"] = (read.headers.get(name), ",".join(values))
    checks["source IP"] = (read.request_context.http.source_ip, "203.0.113.7")
    problems += [
        f"{what}: read {got!r}, sent {sent!r}" for what, (got, sent) in checks.items() if got != sent
    ]
    return problems


def test_every_event_parses_and_reads_back_what_was_sent() -> None:
    client, fake = _client()
    disagreements: dict[str, list[str]] = {}
    for case in CASES:
        url = case.path + ("?" + urllib.parse.urlencode(case.query) if case.query else "")
        response = client.request(case.method, url, headers=case.headers, content=case.body)
        assert response.status_code == 200, (case.name, response.text)
        if problems := _differences(case, fake.events[-1]):
            disagreements[case.name] = problems
    assert len(fake.events) == len(CASES)
    print(
        f"\napigw events vs powertools: {len(CASES)} cases compared, "
        f"{len(CASES) - len(disagreements)} agree, {len(disagreements)} disagree "
        f"({len(KNOWN_DISAGREEMENTS)} documented)"
    )
    new = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    assert not new, f"new disagreements with Powertools: {json.dumps(new, indent=1)}"
    gone = set(KNOWN_DISAGREEMENTS) - set(disagreements)
    assert not gone, f"documented disagreements that no longer happen (remove them): {sorted(gone)}"
