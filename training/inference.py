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
encodes and answers each request on its own: a bad image fails only its request. SageMaker's
PyTorch toolkit does not call it: with ``SAGEMAKER_TS_BATCH_SIZE`` > 1 its handler service loops over
the batch calling ``input_fn -> predict_fn -> output_fn`` per request (one forward each), which
these handlers serve as they serve single requests (docs/contracts.md#inference).

Errors are :class:`InferenceError` subclasses whose ``status`` (also ``status_code``) is the HTTP
status and whose message is the response text: 400 malformed request or undecodable image,
406 unsupported Accept, 413 body / batch / image dimensions too large, 415 unsupported content
type. Anything else is a server fault (500).
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def input_fn(request_body: bytes | bytearray | str, request_content_type: str | None) -> InferenceRequest:
    """Decode the request's images; raises :class:`InferenceError` (400/413/415) for bad input."""
    return decode_request(request_body, request_content_type)


def predict_fn(input_data: InferenceRequest, model: LoadedModel) -> Prediction:
    """Class probabilities for every image of the request."""
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


def output_fn(prediction: Prediction, accept: str | None) -> bytes:
    """The JSON response body; raises :class:`NotAcceptable` (406) unless JSON is acceptable."""
    return encode_response(prediction, accept)
