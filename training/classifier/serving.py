"""Serving logic behind inference.py: load the artifact, decode requests, predict, encode.

Contract: docs/contracts.md#inference.

Requests: ``image/jpeg``, ``image/png``, ``image/webp``, ``image/bmp``, ``image/gif``,
``application/x-image`` (one image), or ``application/json`` ``{"instances": ["<base64>", ...],
"top_k": 3}`` (a batch; an instance may also be ``{"b64": "..."}`` or a ``data:`` URL).
``top_k`` (default 5) comes from the JSON body, else a ``top_k`` parameter of the content type
(``image/jpeg; top_k=3``); a ``top_k`` parameter of the Accept header overrides both.
Response (``application/json``): ``{"predictions": [{"label", "class_index", "probability"}, ...]}``
for one image, and a list of such lists, one per instance, for a JSON batch.

Errors carry an HTTP status (``status``, and ``status_code`` for the SageMaker inference toolkit,
whose BaseInferenceToolkitError they extend when it is installed): 400 bad request or
undecodable image, 406 unsupported Accept, 413 too large, 415 unsupported content type.
Relies on torch, torchvision, Pillow (through :mod:`classifier.imaging`) and the standard library.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from classifier.imaging import ImageDecodeError, ImageTooLargeError, eval_transform, normalize, open_rgb

try:  # On SageMaker's serving containers, let the toolkit map our errors to their HTTP status.
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ErrorBase
except ImportError:  # pragma: no cover - depends on the container
    _ErrorBase = Exception

__all__ = [
    "DEFAULT_TOP_K",
    "IMAGE_CONTENT_TYPES",
    "MAX_BODY_BYTES",
    "MAX_INSTANCES",
    "BadRequest",
    "InferenceError",
    "InferenceRequest",
    "LoadedModel",
    "NotAcceptable",
    "PayloadTooLarge",
    "Prediction",
    "UnsupportedContentType",
    "decode_request",
    "encode_response",
    "load_model",
    "parse_media_type",
    "predict",
]

DEFAULT_TOP_K = 5
MAX_BODY_BYTES = 25 * 1024 * 1024  # SageMaker real-time endpoints accept at most 25 MB
MAX_INSTANCES = 64
DECODE_DRAFT_SIZE = 512  # JPEGs decode at reduced scale while both sides stay >= this (any image-size <= 448)
IMAGE_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/png", "image/webp", "image/bmp", "image/gif", "application/x-image"}
)
JSON_CONTENT_TYPE = "application/json"
_ACCEPTABLE = {"application/json", "application/*", "*/*", ""}


class InferenceError(_ErrorBase):
    """A request the model cannot serve; ``status`` is the HTTP status to answer with."""

    status = 400
    phrase = "Bad Request"

    def __init__(self, message: str):
        if _ErrorBase is Exception:
            Exception.__init__(self, message)
        else:  # pragma: no cover - sagemaker_inference installed
            _ErrorBase.__init__(self, self.status, message, self.phrase)
        self.message = message
        self.status_code = self.status

    def __str__(self) -> str:
        return self.message


class BadRequest(InferenceError):
    """Malformed request or an image that cannot be decoded (400)."""


class NotAcceptable(InferenceError):
    """The Accept header asks for something other than JSON (406)."""

    status = 406
    phrase = "Not Acceptable"


class PayloadTooLarge(InferenceError):
    """Body, batch or image dimensions over the limits (413)."""

    status = 413
    phrase = "Payload Too Large"


class UnsupportedContentType(InferenceError):
    """Content type other than the image types and application/json (415)."""

    status = 415
    phrase = "Unsupported Media Type"


@dataclass
class LoadedModel:
    """The network and what is needed to feed it and name its outputs."""

    network: nn.Module
    labels: list[str]
    image_size: int
    resize_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device


@dataclass
class InferenceRequest:
    """Decoded RGB images, the requested top-k and whether the request was a JSON batch."""

    images: list[Image.Image]
    top_k: int
    batch: bool


@dataclass
class Prediction:
    """Class probabilities per image (CPU float tensor N x C) and how to present them."""

    probabilities: torch.Tensor
    labels: list[str]
    top_k: int
    batch: bool


def parse_media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``"image/jpeg; top_k=3"`` -> ``("image/jpeg", {"top_k": "3"})`` (type lower-cased)."""
    if not header:
        return "", {}
    kind, *params = header.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        if name.strip():
            parsed[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), parsed


def _top_k(value: Any, source: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"top_k ({source}) must be a positive integer, got {value!r}")
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"top_k ({source}) must be a positive integer, got {value!r}") from None
    if k < 1 or str(value).strip() not in (str(k), f"{k}.0"):
        raise BadRequest(f"top_k ({source}) must be a positive integer, got {value!r}")
    return k


def load_model(model_dir: Path) -> LoadedModel:
    """Rebuild the network from model.json and load model.pt (``weights_only=True``)."""
    from classifier.models import create_architecture

    description = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    network, _ = create_architecture(description["arch"], int(description["num_classes"]))
    state = torch.load(model_dir / "model.pt", map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    network.to(device).eval()
    return LoadedModel(
        network=network,
        labels=list(description["labels"]),
        image_size=int(description["image_size"]),
        resize_size=int(description["resize_size"]),
        mean=tuple(description["mean"]),
        std=tuple(description["std"]),
        device=device,
    )


def _decode_base64(instance: Any, index: int) -> bytes:
    if isinstance(instance, dict) and isinstance(instance.get("b64"), str):
        instance = instance["b64"]
    if not isinstance(instance, str):
        raise BadRequest(
            f'instance {index}: expected a base64 string or {{"b64": ...}}, got {type(instance).__name__}'
        )
    if instance.startswith("data:") and "," in instance:
        instance = instance.split(",", 1)[1]
    try:
        return base64.b64decode(instance, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"instance {index}: not valid base64") from None


def _image(data: bytes, where: str) -> Image.Image:
    try:
        return open_rgb(data, draft_size=DECODE_DRAFT_SIZE)
    except ImageTooLargeError as error:
        raise PayloadTooLarge(f"{where}{error}") from None
    except ImageDecodeError as error:
        raise BadRequest(f"{where}{error}") from None


def decode_request(body: bytes | bytearray | str, content_type: str | None) -> InferenceRequest:
    """Turn a request body into an :class:`InferenceRequest`; raises an :class:`InferenceError`."""
    media_type, params = parse_media_type(content_type)
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes, more than the {MAX_BODY_BYTES} allowed")
    top_k = _top_k(params["top_k"], "content-type parameter") if "top_k" in params else DEFAULT_TOP_K
    if media_type in IMAGE_CONTENT_TYPES:
        if not raw:
            raise BadRequest("empty request body: send the image bytes")
        return InferenceRequest(images=[_image(raw, "")], top_k=top_k, batch=False)
    if media_type == JSON_CONTENT_TYPE:
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BadRequest(f"request body is not valid JSON: {error}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            raise BadRequest('expected a JSON object {"instances": ["<base64 image>", ...]}')
        instances = payload["instances"]
        if not instances:
            raise BadRequest("instances is empty: send at least one base64-encoded image")
        if len(instances) > MAX_INSTANCES:
            raise PayloadTooLarge(
                f"{len(instances)} instances, more than the {MAX_INSTANCES} allowed per request"
            )
        if "top_k" in payload:
            top_k = _top_k(payload["top_k"], "JSON body")
        images = [_image(_decode_base64(item, i), f"instance {i}: ") for i, item in enumerate(instances)]
        return InferenceRequest(images=images, top_k=top_k, batch=True)
    shown = media_type or "(none)"
    supported = ", ".join(sorted(IMAGE_CONTENT_TYPES | {JSON_CONTENT_TYPE}))
    raise UnsupportedContentType(f"unsupported content type {shown}; send one of: {supported}")


@torch.inference_mode()
def predict(request: InferenceRequest, model: LoadedModel) -> Prediction:
    """Softmax probabilities for every image in the request."""
    transform = eval_transform(model.image_size)
    batch = torch.stack([transform(image) for image in request.images])
    inputs = normalize(batch.to(model.device), model.mean, model.std)
    logits = model.network(inputs)
    probabilities = torch.softmax(logits.float(), dim=1).cpu()
    return Prediction(
        probabilities=probabilities, labels=model.labels, top_k=request.top_k, batch=request.batch
    )


def _acceptable(accept: str | None) -> tuple[bool, dict[str, str]]:
    if not accept:
        return True, {}
    for part in accept.split(","):
        media_type, params = parse_media_type(part)
        if media_type in _ACCEPTABLE:
            return True, params
    return False, {}


def encode_response(prediction: Prediction, accept: str | None) -> bytes:
    """The JSON response body (always ``application/json``); raises :class:`NotAcceptable` otherwise."""
    ok, params = _acceptable(accept)
    if not ok:
        raise NotAcceptable(f"cannot answer with {accept}; the response is application/json")
    top_k = _top_k(params["top_k"], "accept parameter") if "top_k" in params else prediction.top_k
    k = min(top_k, prediction.probabilities.shape[1])
    values, indices = prediction.probabilities.topk(k, dim=1)
    per_image = [
        [
            {"label": prediction.labels[index], "class_index": index, "probability": round(value, 6)}
            for value, index in zip(row_values.tolist(), row_indices.tolist(), strict=True)
        ]
        for row_values, row_indices in zip(values, indices, strict=True)
    ]
    body = {"predictions": per_image if prediction.batch else per_image[0]}
    return json.dumps(body).encode("utf-8")
