"""inference.py's predict_batch_fn: one forward pass for several requests, one prediction per request.

Contract: docs/contracts.md#inference (batched serving).
"""

import base64
import importlib.util
import inspect
import io
import json
import sys
from types import ModuleType

import pytest
from PIL import Image

from support.tiny_model import export_tiny_model


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, object]:
    directory = export_tiny_model(tmp_path_factory.mktemp("model"))
    spec = importlib.util.spec_from_file_location(
        "batch_inference_under_test", directory / "code" / "inference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, module.model_fn(str(directory))


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (70, 50), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_batch_answers_each_request_as_if_it_were_alone(inference: tuple[ModuleType, object]) -> None:
    module, model = inference
    requests = [
        (_jpeg((250, 0, 0)), "image/jpeg; top_k=1"),
        (json.dumps({"instances": [base64.b64encode(_jpeg((0, 0, 250))).decode()] * 2}), "application/json"),
        (_jpeg((0, 250, 0)), "image/png"),  # the type is the image's, read by Pillow: still decodes
    ]
    inputs = [module.input_fn(body, content_type) for body, content_type in requests]
    batched = module.predict_batch_fn(inputs, model)
    assert len(batched) == len(requests)
    for item, prediction in zip(inputs, batched, strict=True):
        alone = json.loads(module.output_fn(module.predict_fn(item, model), "application/json"))
        together = json.loads(module.output_fn(prediction, "application/json"))
        assert together.keys() == alone.keys()
        flat_alone = (
            alone["predictions"] if not item.batch else [p for row in alone["predictions"] for p in row]
        )
        flat_together = (
            together["predictions"] if not item.batch else [p for row in together["predictions"] for p in row]
        )
        assert [p["label"] for p in flat_alone] == [p["label"] for p in flat_together]
        for a, b in zip(flat_alone, flat_together, strict=True):
            assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)
    assert (
        len(json.loads(module.output_fn(batched[0], "application/json"))["predictions"]) == 1
    )  # its own top_k
    assert (
        len(json.loads(module.output_fn(batched[1], "application/json"))["predictions"]) == 2
    )  # its 2 instances
    assert module.predict_batch_fn([], model) == []


class RequestProcessor:
    """TorchServe's ts.context.RequestProcessor, abridged: one request's headers and response status."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.status = (200, "")
        self.response_headers: dict[str, str] = {}


class Context:
    """TorchServe's ts.context.Context as the toolkit sees it during one batch."""

    def __init__(self, headers: list[dict[str, str]]) -> None:
        self.request_ids = {i: f"req-{i}" for i in range(len(headers))}  # a new dict per batch
        self.request_processor = [RequestProcessor(h) for h in headers]

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].headers

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.request_processor[idx].status = (code, phrase)

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.request_processor[idx].response_headers["content-type"] = value


def _toolkit_transform(
    module: ModuleType, model: object, bodies: list[bytes], context: Context
) -> list[bytes]:
    """sagemaker_inference.transformer.Transformer.transform's loop over a TorchServe batch: every item
    gets the first request's headers, handlers taking one more argument get the context, and an
    exception from any of them would answer the whole batch with one error (raised here)."""

    def run(function: object, *args: object) -> object:
        parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
        return function(*args, context) if len(parameters) == len(args) + 1 else function(*args)  # type: ignore[operator]

    first = context.request_processor[0].headers
    content_type, accept = first.get("Content-Type"), first.get("Accept") or "application/json"
    responses = []
    for body in bodies:
        data = run(module.input_fn, body, content_type)
        responses.append(run(module.output_fn, run(module.predict_fn, data, model), accept))
    return responses  # type: ignore[return-value]


def test_in_a_toolkit_batch_each_request_gets_its_own_headers_and_status(
    inference: tuple[ModuleType, object],
) -> None:
    module, model = inference
    instances = json.dumps({"instances": [base64.b64encode(_jpeg((9, 9, 9))).decode()]}).encode()
    batch = [
        (_jpeg((250, 0, 0)), {"Content-Type": "image/jpeg", "Accept": "application/json; top_k=2"}),
        (b"\xff\xd8\xff not a jpeg", {"Content-Type": "image/jpeg"}),
        (instances, {"Content-Type": "application/json"}),  # not the first request's type
        (_jpeg((0, 250, 0)), {"Content-Type": "image/jpeg", "Accept": "text/csv"}),
    ]
    context = Context([headers for _, headers in batch])
    responses = _toolkit_transform(module, model, [body for body, _ in batch], context)
    statuses = [p.status[0] for p in context.request_processor]
    assert statuses == [200, 400, 200, 406]
    assert len(json.loads(responses[0])["predictions"]) == 2  # its own Accept's top_k
    assert b"image" in responses[1].lower()
    assert len(json.loads(responses[2])["predictions"]) == 1  # decoded as JSON: one instance
    assert b"application/json" in responses[3]
    assert context.request_processor[1].response_headers["content-type"].startswith("text/plain")

    # The next batch counts from its first request again.
    context = Context([{"Content-Type": "image/jpeg"}, {"Content-Type": "image/jpeg"}])
    responses = _toolkit_transform(module, model, [b"junk", _jpeg((1, 2, 3))], context)
    assert [p.status[0] for p in context.request_processor] == [400, 200]


def test_a_lone_toolkit_request_still_raises_for_the_toolkit_to_answer(
    inference: tuple[ModuleType, object],
) -> None:
    module, model = inference
    context = Context([{"Content-Type": "image/jpeg"}])
    with pytest.raises(module.BadRequest):
        _toolkit_transform(module, model, [b"junk"], context)
