"""The console's routes under ``/_localcloud/`` on the edge: HTML pages, their live fragments, static
files, the profiler report.

Every page is a GET: the page function (``pages.py``: service calls through ``data.py``) and the
Jinja2 rendering run in a worker thread, one page at a time, so the AWS APIs sharing the event
loop are never blocked and keep the other threads. ``?fragment=1`` answers only the page's
``live`` block: ``static/console.js`` polls it every two seconds and swaps it in (no reload)
until the page says it is final. Each answer
carries a strict Content-Security-Policy (scripts, styles and images from this origin only;
fetches to it only; no framing by other origins); requests from other origins never get here
(guard.py refuses them). A missing resource or a bad parameter is a 404/400 page naming it.

Relies on Starlette (routing, static files), anyio (worker threads) and Jinja2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import jinja2
from botocore.exceptions import ClientError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import AwsError
from . import pages, views
from .data import ConsoleData

if TYPE_CHECKING:
    from ..cloud import LocalCloud

HERE = Path(__file__).parent
PREFIX = "/_localcloud"
PageFunction = Callable[[ConsoleData, Any, Any], dict[str, Any]]
T = TypeVar("T")
WORKERS = 1  # console pages built at once (more wait their turn without holding a thread)

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
    )
)
# The profiler's report.html is the job's own output: shown sandboxed (no scripts, no requests).
REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = views.when
    env.filters["ms"] = views.microseconds
    env.globals["prefix"] = PREFIX
    return env


class Console:
    def __init__(self, cloud: LocalCloud) -> None:
        self.data = ConsoleData(cloud)
        self.env = environment()
        self._limiter: anyio.CapacityLimiter | None = None

    async def in_thread(self, function: Callable[[], T]) -> T:
        """Run ``function`` in a worker thread, at most ``WORKERS`` console pages at a time: the
        console is one person's view, and the AWS APIs keep the rest of the threadpool, the store's
        lock and the interpreter to themselves (bench/console_pages.py measures it)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(WORKERS)
        return await anyio.to_thread.run_sync(function, limiter=self._limiter)

    def render(self, template: str, context: dict[str, Any], fragment: bool) -> str:
        tmpl = self.env.get_template(template)
        if not fragment:
            return tmpl.render(context)
        return "".join(tmpl.blocks["live"](tmpl.new_context(context)))

    def page(self, template: str, function: PageFunction) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            fragment = request.query_params.get("fragment") == "1"

            def build() -> tuple[str, bool]:
                context = function(self.data, request.path_params, request.query_params)
                return self.render(template, context, fragment), bool(context.get("final"))

            try:
                html, final = await self.in_thread(build)
            except (AwsError, ClientError) as exc:
                return self.error(exc, request)
            # console.js stops polling a page whose work has ended
            return HTMLResponse(html, headers={**HEADERS, "X-Console-Final": "1" if final else "0"})

        return endpoint

    def error(self, exc: Exception, request: Request) -> Response:
        if isinstance(exc, AwsError):
            code, message, status = exc.code, exc.message, 404 if exc.status < 500 else exc.status
        else:
            err = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
            code, message, status = err.get("Code", "Error"), err.get("Message", str(exc)), 404
        asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        context = {"title": code, "section": "", "code": code, "message": message, "asked": asked}
        html = self.render("error.html", context, False)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def report(self, request: Request) -> Response:
        name = request.path_params["name"]

        def load() -> bytes | None:
            report: bytes | None = self.data.profiler_output(self.data.training_job(name))["report"]
            return report

        try:
            body = await self.in_thread(load)
        except AwsError as exc:
            return self.error(exc, request)
        if body is None:
            missing = AwsError(
                "NotFound", f"training job {name} has no profiler report (profile=true writes one)"
            )
            return self.error(missing, request)
        headers = {**HEADERS, "Content-Security-Policy": REPORT_CSP}
        return HTMLResponse(body, headers=headers)

    async def index(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/executions", status_code=303)

    def routes(self) -> list[BaseRoute]:
        page = self.page
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/executions", page("executions.html", pages.executions), methods=["GET"]),
            Route("/execution", page("execution.html", pages.execution), methods=["GET"]),
            Route("/tuning", page("tuning_jobs.html", pages.tuning_jobs), methods=["GET"]),
            Route("/tuning/{name}", page("tuning_job.html", pages.tuning_job), methods=["GET"]),
            Route("/training", page("training_jobs.html", pages.training_jobs), methods=["GET"]),
            Route("/training/{name}", page("training_job.html", pages.training_job), methods=["GET"]),
            Route("/training/{name}/report", self.report, methods=["GET"]),
            Route("/endpoints", page("endpoints.html", pages.endpoints), methods=["GET"]),
            Route("/endpoints/{name}", page("endpoint.html", pages.endpoint), methods=["GET"]),
            Route("/s3", page("buckets.html", pages.buckets), methods=["GET"]),
            Route("/s3/{bucket}", page("bucket.html", pages.bucket), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]


def routes(cloud: LocalCloud) -> list[BaseRoute]:
    """The console mounted at ``/_localcloud`` (the edge lists it after its health and stack routes)."""
    return [Mount(PREFIX, routes=Console(cloud).routes())]
