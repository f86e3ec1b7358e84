"""SageMaker Runtime's InvokeEndpoint (REST-JSON, signing name ``sagemaker``) on the edge:
``POST /endpoints/{EndpointName}/invocations``.

The body is proxied to one of the endpoint's model servers (weighted across variants, round-robin
across instances) over pooled keep-alive connections, with SageMaker's limits: 6 MB request
body, 60 s for the container to answer. A container error comes back as ``ModelError`` (HTTP
424) with ``OriginalStatusCode``, ``OriginalMessage`` and ``LogStreamArn``, its message worded as
SageMaker's ("Received client error (415) from primary with message ...").
Each proxied invocation is published to CloudWatch as SageMaker does (namespace AWS/SageMaker,
dimensions EndpointName and VariantName): Invocations, Invocation4XXErrors, Invocation5XXErrors
and ModelLatency (microseconds; a timeout or lost connection counts as a 5XX), recorded on the
event loop right after the answer goes out, not before it.
Relies on Starlette and fleet.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..config import Settings
from ..errors import AwsError
from ..protocol import request_id, rest_json_error
from ..validation import validate_input
from . import common
from .deployments import Fleet
from .fleet import NoInstance

INVOCATIONS_PATH = "/endpoints/{EndpointName}/invocations"
MAX_PAYLOAD = 6 * 1024 * 1024
TIMEOUT_SECONDS = 60.0
_SCOPE_RE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/")
MetricRecorder = Callable[[str, str, dict[str, str], float], None]
"""``(namespace, metric name, dimensions, value)``: one data point, as PutMetricData takes it."""
_FORWARDED = ("content-type", "accept", "x-amzn-sagemaker-custom-attributes", "x-amzn-sagemaker-inference-id")


class InvokeEndpoint:
    def __init__(
        self, *, settings: Settings, fleet: Fleet, s3_handle: Callable[[Request], Awaitable[Response]]
    ) -> None:
        """``s3_handle``: S3's REST handler (a bucket named ``endpoints`` shares these paths)."""
        self.settings = settings
        self.fleet = fleet
        self.s3_handle = s3_handle
        # CloudWatch's recorder for the invocation metrics; cloud.py sets it once CloudWatch exists.
        self.record_metric: MetricRecorder | None = None

    def routes(self) -> list[BaseRoute]:
        return [
            Route(INVOCATIONS_PATH, self.invoke, methods=["POST"]),
            Route("/endpoints/{EndpointName}/async-invocations", self.unsupported, methods=["POST"]),
            Route(
                "/endpoints/{EndpointName}/invocations-response-stream", self.unsupported, methods=["POST"]
            ),
        ]

    async def unsupported(self, request: Request) -> Response:
        if self._for_s3(request):
            return await self.s3_handle(request)
        operation = (
            "InvokeEndpointAsync"
            if request.url.path.endswith("async-invocations")
            else "InvokeEndpointWithResponseStream"
        )
        return rest_json_error(AwsError("ValidationError", f"{operation} is not supported by localcloud"))

    @staticmethod
    def _for_s3(request: Request) -> bool:
        """A bucket named ``endpoints`` shares these paths: the SigV4 scope says which service is meant."""
        match = _SCOPE_RE.search(request.headers.get("authorization", ""))
        return bool(match and match.group(1) == "s3")

    def _error(self, code: str, message: str, status: int = 400, **extra: object) -> Response:
        return rest_json_error(AwsError(code, message, status, **extra))

    async def invoke(self, request: Request) -> Response:
        if self._for_s3(request):
            return await self.s3_handle(request)
        name = request.path_params["EndpointName"]
        fleet = self.fleet
        if fleet.loop is None:
            fleet.loop = asyncio.get_running_loop()
        router = fleet.routers.get(common.key(name))
        account = self.settings.account_id
        if router is None or router.table is None:
            return self._not_serving(name)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD:
            return self._payload_too_large(int(declared))
        body = await request.body()
        if len(body) > MAX_PAYLOAD:
            return self._payload_too_large(len(body))
        headers = {h: request.headers[h] for h in _FORWARDED if h in request.headers}
        try:
            instance = router.pick(request.headers.get("x-amzn-sagemaker-target-variant"))
        except KeyError:
            variant = request.headers.get("x-amzn-sagemaker-target-variant")
            return self._error("ValidationError", f"The variant {variant} does not exist on endpoint {name}.")
        except NoInstance as exc:
            return self._error("ServiceUnavailable", f"Endpoint {name}: {exc}; try again shortly.", 503)
        log_arn = (
            f"arn:aws:logs:{self.settings.region}:{account}:log-group:/aws/sagemaker/Endpoints/"
            f"{name}:log-stream:{instance.log_stream}"
        )
        started = time.perf_counter()
        status = 0  # no answer from the container (timeout, lost connection)
        try:
            status, out_headers, data = await instance.pool.post(
                "/invocations", body, headers, TIMEOUT_SECONDS
            )
        except TimeoutError:
            return self._model_error(
                0,
                "Your invocation timed out while waiting for a response from container "
                f"{instance.variant}. Review the latency metrics for each container, resolve "
                "the issue, and try again.",
                log_arn,
                instance.log,
            )
        except (OSError, asyncio.IncompleteReadError) as exc:
            return self._model_error(
                500, f"The model container closed the connection: {exc}", log_arn, instance.log
            )
        finally:
            router.release(instance)
            # Recorded once the answer is on its way (the loop runs this after the response is sent).
            asyncio.get_running_loop().call_soon(
                self._publish, name, instance.variant, time.perf_counter() - started, status
            )
        if status != 200:
            return self._model_error(status, data.decode("utf-8", errors="replace"), log_arn, instance.log)
        response_headers = {
            "x-Amzn-Invoked-Production-Variant": instance.variant,
            "x-amzn-RequestId": request_id(),
        }
        if "x-amzn-sagemaker-custom-attributes" in request.headers:
            response_headers["X-Amzn-SageMaker-Custom-Attributes"] = request.headers[
                "x-amzn-sagemaker-custom-attributes"
            ]
        return Response(
            data,
            status_code=200,
            headers=response_headers,
            media_type=out_headers.get("content-type", "application/json"),
        )

    def _not_serving(self, name: str) -> Response:
        """The answer for an endpoint with no fleet serving: a bad name, none such, or not InService."""
        # Running endpoints were validated by CreateEndpoint: check other names here, off the hot path.
        try:
            validate_input("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": name, "Body": b""})
        except AwsError as err:
            return self._error("ValidationError", err.message)
        account = self.settings.account_id
        endpoint = self.fleet.endpoints.get(name)
        if endpoint is None:
            return self._error("ValidationError", f"Endpoint {name} of account {account} not found.")
        return self._error(
            "ValidationError",
            f"Endpoint {name} of account {account} is not in service (status {endpoint.status}).",
        )

    def _publish(self, endpoint: str, variant: str, latency: float, status: int) -> None:
        """CloudWatch's AWS/SageMaker metrics for one invocation (see the module docstring)."""
        dims = {"EndpointName": endpoint, "VariantName": variant}
        record = self.record_metric
        if record is None:
            return
        record("AWS/SageMaker", "Invocations", dims, 1)
        record("AWS/SageMaker", "Invocation4XXErrors", dims, 1 if 400 <= status < 500 else 0)
        record("AWS/SageMaker", "Invocation5XXErrors", dims, 1 if status >= 500 or status == 0 else 0)
        record("AWS/SageMaker", "ModelLatency", dims, latency * 1e6)

    def _payload_too_large(self, size: int) -> Response:
        return self._error(
            "ValidationError",
            f"Request payload of {size} bytes exceeds the InvokeEndpoint limit of "
            f"{MAX_PAYLOAD} bytes (6 MB).",
            413,
        )

    def _model_error(self, status: int, message: str, log_arn: str, log_file: object) -> Response:
        kind = "client" if 400 <= status < 500 else "server"
        text = (
            f'Received {kind} error ({status}) from primary with message "{message}". See {log_arn} '
            f"in account {self.settings.account_id} for more information (local log: {log_file})."
        )
        return self._error(
            "ModelError", text, 424, OriginalStatusCode=status, OriginalMessage=message, LogStreamArn=log_arn
        )
