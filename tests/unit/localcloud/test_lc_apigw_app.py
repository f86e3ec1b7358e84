"""The HTTP API app's answers when the Lambda call itself goes wrong: API Gateway's own JSON errors.

The app (``localcloud/apigateway/app.py``) runs the blocking Lambda call on a thread pool and
waits for it up to the route's integration timeout. A call that raises (a localcloud bug, not a
function error) must still answer as HTTP APIs do, ``500 {"message":"Internal Server Error"}``
with ``apigw-requestid``, not drop the connection or leak a server error page; a call slower
than ``TimeoutInMillis`` answers ``503 {"message":"Service Unavailable"}`` while the invocation
carries on. A result the call hands to ``on_result`` before it returns (as the Lambda pool does
when a worker answers, ahead of its END/REPORT bookkeeping) is answered at once. Uses Starlette's
test client with a stand-in for Lambda's Invoke.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace

from starlette.testclient import TestClient

from localcloud.apigateway.app import HttpApiApp
from localcloud.apigateway.routes import Route, RouteTable
from localcloud.errors import AwsError
from localcloud.lambda_.models import InvokeResult


def _client(invoke: object, timeout_ms: int = 30000, start: object = None) -> TestClient:
    route = Route.from_doc(
        {"apiId": "api1", "routeKey": "POST /predict", "function": "f", "timeoutMs": timeout_ms}
    )
    settings = SimpleNamespace(account_id="000000000000", host="127.0.0.1", api_port=3000)
    service = SimpleNamespace(
        table=RouteTable([route]), settings=settings, invoke_lambda=invoke, start_lambda=start
    )
    return TestClient(HttpApiApp(service), raise_server_exceptions=False)  # type: ignore[arg-type]


def test_a_failing_lambda_call_answers_api_gateways_500() -> None:
    def invoke(function: str, payload: bytes, on_result: object = None) -> InvokeResult:
        raise RuntimeError("a localcloud bug")

    response = _client(invoke).post("/predict", content=b"x")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert response.headers["apigw-requestid"]


def test_a_slow_function_answers_503_and_the_invocation_carries_on() -> None:
    release, finished = threading.Event(), threading.Event()

    def invoke(function: str, payload: bytes, on_result: object = None) -> InvokeResult:
        release.wait(10)
        finished.set()
        return InvokeResult(200, b'{"statusCode": 200, "body": "late"}', request_id="r")

    client = _client(invoke, timeout_ms=50)
    response = client.post("/predict", content=b"x")
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})
    release.set()
    assert finished.wait(10)


def test_the_functions_answer_is_mapped() -> None:
    def invoke(function: str, payload: bytes, on_result: object = None) -> InvokeResult:
        return InvokeResult(200, b'{"statusCode": 201, "body": "made"}', request_id="r")

    response = _client(invoke).post("/predict", content=b"x")
    assert (response.status_code, response.text) == (201, "made")


def test_a_result_handed_to_on_result_is_answered_before_the_call_returns() -> None:
    answered, returned = threading.Event(), threading.Event()

    def invoke(
        function: str, payload: bytes, on_result: Callable[[InvokeResult], None] | None = None
    ) -> InvokeResult:
        result = InvokeResult(200, b'{"statusCode": 200, "body": "early"}', request_id="r")
        if on_result is not None:
            on_result(result)
        answered.wait(5)  # the pool's bookkeeping (REPORT line, release) happens after the hand-off
        returned.set()
        return result

    response = _client(invoke).post("/predict", content=b"x")
    assert (response.status_code, response.text) == (200, "early")
    assert not returned.is_set()  # the answer did not wait for the call to return
    answered.set()
    assert returned.wait(5)


def _never(function: str, payload: bytes, on_result: object = None) -> InvokeResult:
    raise AssertionError("invoke_lambda called although start_lambda started the call")


def test_a_call_started_from_the_loop_is_answered_from_on_result() -> None:
    """With a warm worker idle, start_lambda hands the event over from the loop; the callable it
    returns (on a pool thread) finishes the call; the answer is what on_result got."""
    started: list[bytes] = []

    def start(
        function: str, payload: bytes, *, on_result: Callable[[InvokeResult], None]
    ) -> Callable[[], InvokeResult]:
        started.append(payload)
        result = InvokeResult(200, b'{"statusCode": 202, "body": "started"}', request_id="r")

        def finish() -> InvokeResult:
            on_result(result)
            return result

        return finish

    response = _client(_never, start=start).post("/predict", content=b"x")
    assert (response.status_code, response.text) == (202, "started")
    assert len(started) == 1 and b'"routeKey": "POST /predict"' in started[0]


def test_without_an_idle_worker_the_call_runs_on_the_pool() -> None:
    def invoke(function: str, payload: bytes, on_result: object = None) -> InvokeResult:
        return InvokeResult(200, b'{"statusCode": 200, "body": "cold"}', request_id="r")

    response = _client(invoke, start=lambda function, payload, on_result: None).post("/predict", content=b"x")
    assert (response.status_code, response.text) == (200, "cold")


def test_a_start_refused_by_lambda_answers_api_gateways_error() -> None:
    def start(function: str, payload: bytes, on_result: object) -> None:
        raise AwsError("RequestTooLargeException", "Request must be smaller than 6291456 bytes", status=413)

    response = _client(_never, start=start).post("/predict", content=b"x")
    assert (response.status_code, response.json()) == (413, {"message": "Request Entity Too Large"})
