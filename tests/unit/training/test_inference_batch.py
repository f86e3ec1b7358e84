"""inference.py's predict_batch_fn: one forward pass for several requests, one prediction per request.

Contract: docs/contracts.md#inference (batched serving).
"""

import base64
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from PIL import Image

from classifier.export import export_model
from classifier.models import create_architecture

TRAINING = Path(__file__).resolve().parents[3] / "training"


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, object]:
    directory = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    network, _ = create_architecture("resnet18", 3)
    export_model(
        directory,
        network,
        arch="resnet18",
        classes=["a", "b", "c"],
        labels=["A", "B", "C"],
        image_size=64,
        resize_size=73,
        mean=[0.5] * 3,
        std=[0.25] * 3,
        hyperparameters={"arch": "resnet18"},
        metrics={"test_accuracy": 0.5},
        package_dir=TRAINING / "classifier",
        inference_script=TRAINING / "inference.py",
    )
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
