"""localcloud's API Gateway HTTP APIs: the template's ``HttpApi`` routes served on the API port.

``set_routes(stack, apis, routes)`` (called by the template deployer) replaces a stack's routes and
keeps them in the store (kind ``apigateway/stack``), so they survive a restart. ``asgi()`` is the
app for the API port (``app.py``): it matches a route, builds the payload format 2.0 event
(``events.py``), invokes the function through Lambda's Invoke (``invoke_lambda``) and maps the
response. No CORS, authorizers or custom domains: a plain HTTP API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from starlette.types import ASGIApp

from ..config import Settings
from ..lambda_.models import InvokeResult
from ..service import BaseService
from ..store import Store
from .routes import Route, RouteTable

__all__ = ["ROUTES_KIND", "HttpApiService", "InvokeLambda", "StartLambda"]

log = logging.getLogger("localcloud.apigateway")

ROUTES_KIND = "apigateway/stack"


class InvokeLambda(Protocol):
    """Lambda's in-process Invoke (``Functions.invoke``): the result is returned, and also handed
    to ``on_result`` from the thread that learnt it."""

    def __call__(
        self,
        function_name: str,
        payload: bytes,
        /,
        *,
        on_result: Callable[[InvokeResult], None] | None = None,
    ) -> InvokeResult: ...


class StartLambda(Protocol):
    """Lambda's non-blocking start of an Invoke (``Functions.start_invoke``): a callable that
    finishes it on a thread, or None when the function has no idle warm worker."""

    def __call__(
        self, function_name: str, payload: bytes, /, *, on_result: Callable[[InvokeResult], None]
    ) -> Callable[[], InvokeResult] | None: ...


class HttpApiService(BaseService):
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        invoke_lambda: InvokeLambda,
        start_lambda: StartLambda | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.invoke_lambda = invoke_lambda
        self.start_lambda = start_lambda
        self._lock = threading.Lock()
        self.table = RouteTable([])

    def start(self) -> None:
        self._rebuild()

    def set_routes(self, stack: str, apis: list[dict[str, Any]], routes: list[dict[str, Any]]) -> None:
        """Replace the HTTP APIs and routes of one stack."""
        for doc in routes:
            Route.from_doc(doc)  # raises ValueError for a malformed path before anything changes
        self.store.put(ROUTES_KIND, stack, {"stack": stack, "apis": apis, "routes": routes})
        self._rebuild()
        for doc in routes:
            log.info("route %s -> %s", doc["routeKey"], doc["function"])

    def _rebuild(self) -> None:
        routes = []
        for record in self.store.list(ROUTES_KIND):
            stages = {api["apiId"]: api.get("stage", "$default") for api in record.get("apis", [])}
            routes += [
                Route.from_doc(doc, stages.get(doc["apiId"], "$default")) for doc in record.get("routes", [])
            ]
        with self._lock:
            self.table = RouteTable(routes)

    def routes_summary(self) -> list[dict[str, Any]]:
        """Route keys and their functions, for ``localcloud status`` and tests."""
        return [
            {"routeKey": r.route_key, "function": r.function, "apiId": r.api_id} for r in self.table.routes
        ]

    def asgi(self) -> ASGIApp:
        from .app import HttpApiApp

        return HttpApiApp(self)
