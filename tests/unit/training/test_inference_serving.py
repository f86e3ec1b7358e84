"""The inference handlers' logic: content types, top_k, response shape, errors with HTTP statuses.

Contract: docs/contracts.md#inference.
"""

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from classifier import serving
from classifier.serving import (
    BadRequest,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedContentType,
    decode_request,
    encode_response,
    load_model,
    parse_media_type,
    predict,
)
from support.tiny_model import LABELS, export_tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("model"), image_size=32)


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir)


def _jpeg(color=(200, 30, 30), size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def _run(body, content_type, model, accept="application/json"):
    return json.loads(encode_response(predict(decode_request(body, content_type), model), accept))


def test_single_image_returns_top5_capped_at_the_class_count_sorted(model):
    result = _run(_jpeg(), "image/jpeg", model)
    predictions = result["predictions"]
    assert len(predictions) == 3
    assert {p["label"] for p in predictions} == set(LABELS)
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    assert all(LABELS[p["class_index"]] == p["label"] for p in predictions)


def test_top_k_from_the_content_type_parameter(model):
    assert len(_run(_jpeg(), "image/jpeg; top_k=1", model)["predictions"]) == 1


def test_top_k_from_the_accept_parameter_overrides(model):
    assert len(_run(_jpeg(), "image/jpeg; top_k=1", model, "application/json; top_k=2")["predictions"]) == 2


def test_json_batch_returns_one_list_per_instance(model):
    images = [base64.b64encode(_jpeg(c)).decode() for c in [(10, 10, 10), (250, 250, 0)]]
    body = json.dumps({"instances": [images[0], {"b64": images[1]}], "top_k": 2})
    predictions = _run(body, "application/json", model)["predictions"]
    assert len(predictions) == 2
    assert all(len(p) == 2 for p in predictions)


def test_x_image_and_png_and_a_wildcard_accept(model):
    buffer = io.BytesIO()
    Image.new("LA", (20, 20)).save(buffer, format="PNG")
    assert len(_run(buffer.getvalue(), "application/x-image", model, "*/*")["predictions"]) == 3


def test_animated_gif_is_classified_by_its_first_frame(model):
    """image/gif works end to end (the API forwards it): the first frame, as Pillow reads it."""
    frames = [Image.new("RGB", (64, 64), color) for color in ((220, 20, 20), (20, 20, 220), (20, 220, 20))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    request = decode_request(buffer.getvalue(), "image/gif")
    assert np.asarray(request.images[0]).mean(axis=(0, 1)).round().tolist() == [220, 20, 20]
    result = _run(buffer.getvalue(), "image/gif; top_k=2", model)
    assert len(result["predictions"]) == 2


def test_unsupported_content_type_is_415(model):
    with pytest.raises(UnsupportedContentType) as caught:
        decode_request(b"a,b,c", "text/csv")
    assert caught.value.status == 415
    assert "text/csv" in str(caught.value) and "image/jpeg" in str(caught.value)


def test_garbage_bytes_are_400_with_a_message():
    with pytest.raises(BadRequest) as caught:
        decode_request(b"definitely not an image", "image/jpeg")
    assert caught.value.status == 400
    assert "cannot decode image" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"images": []}', "instances"),
        ('{"instances": []}', "empty"),
        ('{"instances": ["@@@"]}', "instance 0: not valid base64"),
        ('{"instances": ["aGVsbG8="]}', "instance 0: cannot decode image"),
        ('{"instances": [42]}', "instance 0: expected a base64 string"),
        ('{"instances": ["aGVsbG8="], "top_k": 0}', "top_k"),
        ('{"instances": ["aGVsbG8="], "top_k": "three"}', "top_k"),
    ],
)
def test_bad_json_requests_are_400(body, message):
    with pytest.raises(BadRequest, match=message):
        decode_request(body, "application/json")


def test_oversized_body_and_batch_are_413(monkeypatch):
    monkeypatch.setattr(serving, "MAX_BODY_BYTES", 10)
    with pytest.raises(PayloadTooLarge) as caught:
        decode_request(b"x" * 11, "image/png")
    assert caught.value.status == 413
    monkeypatch.setattr(serving, "MAX_BODY_BYTES", 10**9)
    with pytest.raises(PayloadTooLarge, match="instances"):
        decode_request(json.dumps({"instances": ["a"] * (serving.MAX_INSTANCES + 1)}), "application/json")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_413():
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, format="PNG")
    with pytest.raises(PayloadTooLarge, match="pixels"):
        decode_request(buffer.getvalue(), "image/png")


def test_unacceptable_accept_is_406(model):
    prediction = predict(decode_request(_jpeg(), "image/jpeg"), model)
    with pytest.raises(NotAcceptable) as caught:
        encode_response(prediction, "text/html")
    assert caught.value.status == 406


def test_media_type_parsing():
    assert parse_media_type('Image/JPEG; top_k="3"; q=1') == ("image/jpeg", {"top_k": "3", "q": "1"})
    assert parse_media_type(None) == ("", {})


def test_model_json_describes_the_artifact(model_dir):
    description = json.loads((model_dir / "model.json").read_text())
    assert description["labels"] == LABELS
    assert description["classes"][0] == "001.Golden_retriever"
    assert {"torch", "torchvision", "pillow", "python"} <= set(description["versions"])
    assert (model_dir / "code" / "inference.py").is_file()
    assert (model_dir / "code" / "classifier" / "serving.py").is_file()
    assert not list((model_dir / "code").rglob("__pycache__"))
    state = torch.load(model_dir / "model.pt", weights_only=True)
    assert state["fc.weight"].shape == (3, 512)
