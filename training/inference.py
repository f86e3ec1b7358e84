"""SageMaker PyTorch serving handlers for the exported model (docs/contracts.md#inference).

The model directory's ``code/`` holds this file and the ``classifier`` package; this module puts
its own directory first on ``sys.path`` so it always uses that copy, also when a model server
imports it with ``code/`` on the path and another ``classifier`` is installed.

Requests:
    ``image/jpeg | image/png | image/webp | image/bmp | image/gif | application/x-image``: one image.
    ``application/json``: ``{"instances": ["<base64 image>", ...], "top_k": 3}`` (at most 64
    instances; an instance may also be ``{"b64": "..."}`` or a ``data:`` URL).
``top_k`` (default 5): the JSON body's ``top_k``, else a content-type parameter
(``Content-Type: image/jpeg; top_k=3``); an Accept parameter (``Accept: application/json; top_k=3``)
overrides both. Values above the number of classes return every class.

Response, always ``application/json``; :func:`output_fn` returns the body as bytes:
    one image: ``{"predictions": [{"label": "Stripes", "class_index": 1, "probability": 0.93}, ...]}``
    JSON batch: ``{"predictions": [[...top-k of instance 0...], [...instance 1...]]}``
sorted by probability, highest first.

Batches: :func:`predict_batch_fn` runs one forward pass for the images of several requests
(decoded one by one by :func:`input_fn`) and returns one :class:`Prediction` per request, so a
model server that batches concurrent requests (localcloud's, with ``SAGEMAKER_TS_BATCH_SIZE`` > 1)
encodes and answers each request on its own: a bad image fails only its request.

SageMaker's PyTorch toolkit does not call it: with ``SAGEMAKER_TS_BATCH_SIZE`` > 1 TorchServe hands
its handler service a list of requests, and the toolkit's ``Transformer.transform`` calls
``input_fn -> predict_fn -> output_fn`` for items 0..N-1 in order (one forward each), passing every
item the *first* request's Content-Type and Accept, and answers the whole batch with one error if
any handler raises. So, given the TorchServe ``context`` the toolkit passes to handlers that take
one (see :class:`_ToolkitBatch`), inside a batch of several these handlers read each request's own
headers, and turn its :class:`InferenceError` into that request's status
(``context.set_response_status(idx=...)``) and message body instead of raising.

Errors are :class:`InferenceError` subclasses whose ``status`` (also ``status_code``) is the HTTP
status and whose message is the response text: 400 malformed request or undecodable image,
406 unsupported Accept, 413 body / batch / image dimensions too large, 415 unsupported content
type. Anything else is a server fault (500).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if (Path(_HERE) / "classifier").is_dir() and sys.path[:1] != [_HERE]:
    sys.path.insert(0, _HERE)

from classifier.serving import (  # noqa: E402
    BadRequest,
    InferenceError,
    InferenceRequest,
    LoadedModel,
    NotAcceptable,
    PayloadTooLarge,
    Prediction,
    UnsupportedContentType,
    decode_request,
    encode_response,
    load_model,
    predict,
)

__all__ = [
    "BadRequest",
    "InferenceError",
    "NotAcceptable",
    "PayloadTooLarge",
    "Rejected",
    "UnsupportedContentType",
    "input_fn",
    "model_fn",
    "output_fn",
    "predict_batch_fn",
    "predict_fn",
]


def model_fn(model_dir: str) -> LoadedModel:
    """Load ``model.pt`` + ``model.json`` from ``model_dir`` (on the GPU when there is one)."""
    return load_model(Path(model_dir))


@dataclass
class Rejected:
    """A request of a toolkit batch that failed: answered with its own status by :func:`output_fn`."""

    error: InferenceError
    index: int


class _ToolkitBatch:
    """Which request of a TorchServe batch the SageMaker toolkit is handling now.

    The toolkit runs the handlers for items 0..N-1 of a batch in order on one thread, and
    TorchServe gives every batch a new ``context.request_ids`` dict: each :func:`input_fn` call
    takes the next index, counting from 0 again when that dict changes. ``None`` outside a batch
    of several (a single request, or a server that calls the handlers without a context).
    """

    def __init__(self) -> None:
        self._ids: object = None
        self._next = 0
        self.current: int | None = None

    def start_item(self, context: Any) -> int | None:
        processors = getattr(context, "request_processor", None) if context is not None else None
        if not processors or len(processors) < 2:
            self.current = None
            return None
        ids = getattr(context, "request_ids", None)
        if ids is not self._ids:
            self._ids, self._next = ids, 0
        self.current, self._next = self._next, self._next + 1
        return self.current


_TOOLKIT_BATCH = _ToolkitBatch()


def _header(context: Any, index: int, name: str) -> str | None:
    """Request ``index``'s own header (the toolkit passes every item the first request's)."""
    headers = context.get_all_request_header(index) or {}
    for key, value in headers.items():
        if str(key).lower() == name:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _reject(context: Any, rejected: Rejected) -> bytes:
    error = rejected.error
    context.set_response_status(code=error.status, phrase=error.phrase, idx=rejected.index)
    context.set_response_content_type(rejected.index, "text/plain; charset=utf-8")
    return error.message.encode("utf-8")


def input_fn(
    request_body: bytes | bytearray | str, request_content_type: str | None, context: Any = None
) -> InferenceRequest | Rejected:
    """Decode the request's images; raises :class:`InferenceError` (400/413/415) for bad input.

    Inside a toolkit batch of several (``context`` given) a bad request is returned as
    :class:`Rejected` instead, so that only this request fails.
    """
    index = _TOOLKIT_BATCH.start_item(context)
    if index is None:
        return decode_request(request_body, request_content_type)
    try:
        return decode_request(request_body, _header(context, index, "content-type"))
    except InferenceError as error:
        return Rejected(error, index)


def predict_fn(
    input_data: InferenceRequest | Rejected, model: LoadedModel, context: Any = None
) -> Prediction | Rejected:
    """Class probabilities for every image of the request (a :class:`Rejected` one passes through)."""
    if isinstance(input_data, Rejected):
        return input_data
    return predict(input_data, model)


def predict_batch_fn(inputs: list[InferenceRequest], model: LoadedModel) -> list[Prediction]:
    """One forward pass for every image of ``inputs``; one :class:`Prediction` per input, in order."""
    if not inputs:
        return []
    merged = InferenceRequest(images=[image for item in inputs for image in item.images], top_k=1, batch=True)
    probabilities = predict(merged, model).probabilities
    predictions = []
    start = 0
    for item in inputs:
        end = start + len(item.images)
        predictions.append(
            Prediction(
                probabilities=probabilities[start:end],
                labels=model.labels,
                top_k=item.top_k,
                batch=item.batch,
            )
        )
        start = end
    return predictions


def output_fn(prediction: Prediction | Rejected, accept: str | None, context: Any = None) -> bytes:
    """The JSON response body; raises :class:`NotAcceptable` (406) unless JSON is acceptable.

    Inside a toolkit batch of several, a :class:`Rejected` request (or a 406 here) gets its own
    status and message through ``context``, and the others their own Accept header.
    """
    index = _TOOLKIT_BATCH.current if context is not None else None
    if isinstance(prediction, Rejected):
        return _reject(context, prediction)
    if index is None:
        return encode_response(prediction, accept)
    try:
        body = encode_response(prediction, _header(context, index, "accept"))
    except InferenceError as error:
        return _reject(context, Rejected(error, index))
    context.set_response_content_type(index, "application/json")
    return body
