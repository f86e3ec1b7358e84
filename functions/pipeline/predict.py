"""Predict: ``POST /predict`` on the HTTP API, proxied to the SageMaker endpoint.

The body is the image itself (HTTP API payload 2.0 delivers binary bodies base64-encoded). Its
type is decided by its first bytes, not by the Content-Type header: JPEG, PNG, WebP, GIF (the
model reads its first frame) and BMP go on to the endpoint; anything else is a 400. Over 4.5 MB
is a 413. ``?top_k=N`` (1-100, default 5) caps the answer and reaches the model as an Accept
parameter (``application/json; top_k=N``, inference.py's contract). The answer is
``{"predictions": [{"label", "class_index", "probability"}, ...]}`` (docs/contracts.md#inference).

Endpoint trouble gets a status and a message, never a stack trace: missing endpoint (SageMaker
Runtime's ValidationError) or starting endpoint -> 503, a model (container) error -> 502 with the
container's message, except a 4xx from the model (bad image, unsupported type) which passes
through as that 4xx; throttling -> 429.
``GET /`` on the same function answers the upload page (upload_page.py) that calls this route.

Every answer carries ``X-Correlation-Id``: the HTTP API's request id (``requestContext.requestId``),
which is also the ``correlation_id`` of every log line of the request, so a user's report finds
its logs. The resolver is imported alone (http_api.py), the runtime client made once per container.
Relies on powertools' APIGatewayHttpResolver and Logger/Metrics/Tracer, and botocore (sagemaker-runtime).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from .aws import error_code, error_message, runtime_client
from .http_api import APIGatewayHttpResolver, Response, ServiceError, content_types
from .image_types import ACCEPTED_DESCRIPTION, sniff_image_type
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .upload_page import router as upload_page_router

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()
app = APIGatewayHttpResolver()
app.include_router(upload_page_router)  # GET /: the upload page that POSTs here (upload_page.py)

MAX_IMAGE_BYTES = int(4.5 * 1024 * 1024)
DEFAULT_TOP_K = 5
MAX_TOP_K = 100
CORRELATION_HEADER = "X-Correlation-Id"


class PredictError(Exception):
    """A failure with the HTTP status and message the caller should see."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_top_k(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_TOP_K
    try:
        value = int(raw)
    except ValueError:
        raise PredictError(400, f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {raw!r}") from None
    if not 1 <= value <= MAX_TOP_K:
        raise PredictError(400, f"top_k must be from 1 to {MAX_TOP_K}, got {value}")
    return value


def request_body(body: str | None, is_base64: bool) -> bytes:
    """The raw bytes the client sent."""
    if not body:
        return b""
    if not is_base64:
        return body.encode("utf-8", errors="surrogateescape")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise PredictError(400, "the request body is marked base64 but does not decode") from None


def _container_message(original: str) -> str:
    """The model container's message; JSON bodies like {"message": ...} are unwrapped."""
    try:
        parsed = json.loads(original)
    except ValueError:
        return original.strip() or "no message"
    if isinstance(parsed, dict):
        for key in ("message", "error", "errorMessage"):
            if parsed.get(key):
                return str(parsed[key])
    return original.strip()


def _endpoint_error(exc: ClientError, endpoint: str) -> PredictError:
    code, message = error_code(exc), error_message(exc)
    if code == "ModelError":
        status = int(exc.response.get("OriginalStatusCode") or 0)
        detail = _container_message(str(exc.response.get("OriginalMessage") or message))
        if 400 <= status < 500:
            return PredictError(status, detail)
        return PredictError(502, f"the model failed on this request ({status or 'no status'}): {detail}")
    if code == "ModelNotReadyException":
        return PredictError(503, f"endpoint {endpoint} is starting; try again in a minute")
    if code in ("ThrottlingException", "TooManyRequestsException"):
        return PredictError(429, "too many requests to the model; slow down and retry")
    # SageMaker Runtime answers a missing endpoint with ValidationError (the control plane's
    # spelling is ValidationException); both mean "this request cannot be served as it is".
    validation = code in ("ValidationError", "ValidationException")
    missing = any(phrase in message.lower() for phrase in ("not found", "could not find"))
    if validation and missing:
        return PredictError(
            503,
            f"endpoint {endpoint} is not deployed: run the pipeline (aws stepfunctions start-execution) "
            "and wait for it to succeed",
        )
    if validation:
        return PredictError(503, f"endpoint {endpoint} cannot take requests now: {message}")
    return PredictError(502, f"the model endpoint {endpoint} failed ({code}): {message}")


def predict_image(runtime: Any, endpoint: str, image: bytes, top_k: int) -> dict[str, Any]:
    """Send ``image`` to the endpoint; ``{"predictions": [...]}`` with at most ``top_k`` entries."""
    if not image:
        raise PredictError(400, "empty body: POST the image bytes (curl --data-binary @dog.jpg)")
    if len(image) > MAX_IMAGE_BYTES:
        raise PredictError(413, f"the image is {len(image)} bytes; the limit is {MAX_IMAGE_BYTES} (4.5 MB)")
    content_type = sniff_image_type(image)
    if content_type is None:
        raise PredictError(400, f"the body is not a {ACCEPTED_DESCRIPTION} image (judged by its first bytes)")
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=image,
            ContentType=content_type,
            Accept=f"application/json; top_k={top_k}",
        )
    except ClientError as exc:
        raise _endpoint_error(exc, endpoint) from exc
    except BotoCoreError as exc:
        raise PredictError(502, f"could not reach the model endpoint {endpoint}: {exc}") from exc
    raw = response["Body"].read()
    try:
        answer = json.loads(raw)
        predictions = answer["predictions"]
        if not isinstance(predictions, list):
            raise TypeError("predictions is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise PredictError(502, f"the model endpoint did not answer predictions JSON: {exc}") from exc
    return {"predictions": predictions[:top_k]}


def endpoint_name() -> str:
    name = os.environ.get("ENDPOINT_NAME", "")
    if not name:
        raise PredictError(500, "the function's ENDPOINT_NAME is not set (template.yaml)")
    return name


@app.post("/predict")
def predict_route() -> Response[Any]:
    event = app.current_event
    try:
        image = request_body(event.body, bool(event.is_base64_encoded))
        top_k = parse_top_k(event.get_query_string_value("top_k"))
        result = predict_image(runtime_client(), endpoint_name(), image, top_k)
    except PredictError as exc:
        logger.info("prediction refused", extra={"status": exc.status, "reason": exc.message})
        metrics.add_metric(name="PredictionErrors", unit=MetricUnit.Count, value=1)
        raise ServiceError(exc.status, exc.message) from exc
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result)


def with_correlation_id(response: dict[str, Any]) -> dict[str, Any]:
    """The answer with the request's correlation id as a header (every route, errors included)."""
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        response.setdefault("headers", {})[CORRELATION_HEADER] = str(correlation_id)
    return response


@instrumented(logger, metrics, tracer, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return with_correlation_id(app.resolve(event, context))
