"""Must show: train.py run exactly as SageMaker runs it reaches valid_accuracy >= 0.85 and exports a
model whose handlers, imported from SM_MODEL_DIR/code alone, classify the test images.

Every test of the acceptance model (``trained_model``, ~25 s to train) is in this file: ``make test``
hands each file to one worker, so the model is trained once. The handlers' test runs a fresh
interpreter with only ``code/`` on sys.path (no PYTHONPATH, another working directory), loads
inference.py as a model server would, classifies JPEG, PNG and WebP bodies and a JSON batch, and
checks that garbage bytes and unsupported types are rejected with their statuses.
"""

import json
import re
import subprocess
import sys
import textwrap

import pytest
import torch

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(
    r"^epoch=(\d+) train_loss=(\d+\.\d{4}) train_accuracy=(\d\.\d{4}) valid_loss=(\d+\.\d{4}) "
    r"valid_accuracy=(\d\.\d{4}) epoch_seconds=(\d+\.\d{2}) images_per_second=(\d+\.\d)$"
)
TEST_LINE = re.compile(r"^test_loss=(\d+\.\d{4}) test_accuracy=(\d\.\d{4})$")
EVALUATION_LINE = re.compile(r"^test_top5_accuracy=(\d\.\d{4}) test_macro_f1=(\d\.\d{4})$")
CLIENT = textwrap.dedent(
    """
    import base64, io, json, sys
    from pathlib import Path
    code_dir, test_dir = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(code_dir))
    import inference
    import classifier
    from PIL import Image

    report = {"classifier_file": classifier.__file__, "correct": {}, "total": {}, "errors": {}}
    model = inference.model_fn(str(code_dir.parent))

    def classify(body, content_type, accept="application/json"):
        request = inference.input_fn(body, content_type)
        return json.loads(inference.output_fn(inference.predict_fn(request, model), accept))

    def encoded(path, fmt):
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").save(buffer, format=fmt)
        return buffer.getvalue()

    every = sorted(test_dir.glob("*/*.jpg"))
    files = every[::4]
    for fmt, content_type in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        correct = 0
        for path in files:
            top = classify(encoded(path, fmt), content_type)["predictions"]
            correct += top[0]["label"] == path.parent.name.split(".", 1)[1].replace("_", " ")
            assert len(top) == 4 and top[0]["probability"] >= top[-1]["probability"]
        report["correct"][fmt], report["total"][fmt] = correct, len(files)

    batch = every[1::2]
    body = json.dumps({"instances": [base64.b64encode(p.read_bytes()).decode() for p in batch], "top_k": 2})
    predictions = classify(body, "application/json")["predictions"]
    report["correct"]["JSON"] = sum(
        pred[0]["label"] == path.parent.name.split(".", 1)[1].replace("_", " ")
        for pred, path in zip(predictions, batch)
    )
    report["total"]["JSON"] = len(batch)
    report["batch_shape"] = [len(predictions), len(predictions[0])]

    for name, body, content_type in (
        ("garbage", b"\\x00\\x01 not an image at all", "image/jpeg"),
        ("unsupported", b"1,2,3", "text/csv"),
        ("bad_json", b"{\\"instances\\": [\\"!!\\"]}", "application/json"),
    ):
        try:
            inference.input_fn(body, content_type)
        except inference.InferenceError as error:
            report["errors"][name] = [error.status, str(error)]
    print(json.dumps(report))
    """
)


def test_acceptance_run_prints_exact_metric_lines_and_learns(trained_model):
    result = trained_model.result
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    metric_lines = [line for line in lines if line.startswith("epoch=")]
    assert [EPOCH_LINE.match(line) is not None for line in metric_lines] == [True] * 4, metric_lines
    epochs = [int(EPOCH_LINE.match(line).group(1)) for line in metric_lines]
    assert epochs == [1, 2, 3, 4]
    final_valid_accuracy = float(EPOCH_LINE.match(metric_lines[-1]).group(5))
    best_valid_accuracy = max(float(EPOCH_LINE.match(line).group(5)) for line in metric_lines)
    assert best_valid_accuracy >= 0.85, metric_lines
    assert final_valid_accuracy >= 0.85, metric_lines
    test_lines = [line for line in lines if line.startswith("test_")]
    assert len(test_lines) == 2 and TEST_LINE.match(test_lines[0]), test_lines
    assert EVALUATION_LINE.match(test_lines[1]), test_lines
    # The SageMaker MetricDefinition regexes find the values.
    assert re.findall(r"valid_accuracy=([0-9.]+)", result.stdout)[-1] == f"{final_valid_accuracy:.4f}"
    assert "rules_triggered" not in result.stdout  # profile is off by default
    assert "Traceback" not in result.stderr


def test_model_dir_holds_model_json_and_serving_code(trained_model):
    model_dir = trained_model.job.model_dir
    assert (model_dir / "model.pt").is_file()
    assert (model_dir / "code" / "inference.py").is_file()
    assert (model_dir / "code" / "classifier" / "serving.py").is_file()
    state = torch.load(model_dir / "model.pt", map_location="cpu", weights_only=True)
    assert state["fc.weight"].shape == (4, 512)
    description = json.loads((model_dir / "model.json").read_text())
    assert description["arch"] == "resnet18"
    assert description["classes"] == ["001.Polka_dots", "002.Stripes", "003.Checkerboard", "004.Rings"]
    assert description["labels"] == ["Polka dots", "Stripes", "Checkerboard", "Rings"]
    assert description["image_size"] == 64
    assert len(description["mean"]) == 3 and len(description["std"]) == 3
    assert description["hyperparameters"]["lr"] == 0.001
    assert description["hyperparameters"]["batch-size"] == 32
    assert description["metrics"]["valid_accuracy"] >= 0.85
    assert 0.0 <= description["metrics"]["test_accuracy"] <= 1.0
    assert description["versions"]["torch"] == torch.__version__
    assert 0.0 <= description["metrics"]["test_macro_f1"] <= 1.0


def test_evaluation_travels_with_the_model_and_in_the_output(trained_model):
    in_model = json.loads((trained_model.job.model_dir / "evaluation.json").read_text())
    output = trained_model.job.output_dir / "data"
    assert json.loads((output / "evaluation.json").read_text()) == in_model
    assert (output / "evaluation.html").read_text().startswith("<!DOCTYPE html>")
    description = json.loads((trained_model.job.model_dir / "model.json").read_text())
    assert in_model["top1Accuracy"] == pytest.approx(description["metrics"]["test_accuracy"], abs=1e-6)
    assert in_model["images"] == 100 and sum(map(sum, in_model["confusionMatrix"])) == 100
    line = next(x for x in trained_model.result.stdout.splitlines() if x.startswith("test_top5"))
    top5, macro_f1 = in_model["top5Accuracy"], in_model["macroAvg"]["f1"]
    assert line == f"test_top5_accuracy={top5:.4f} test_macro_f1={macro_f1:.4f}"


def test_checkpoint_of_the_last_epoch_is_left_for_resume(trained_model):
    checkpoint = torch.load(trained_model.job.checkpoint_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["progress"]["completed_epochs"] == 4
    assert not (trained_model.job.output_dir / "failure").exists()


def test_handlers_from_the_model_dir_classify_and_reject(trained_model, sample_data, tmp_path):
    assert trained_model.result.returncode == 0, trained_model.result.stderr[-3000:]
    code_dir = trained_model.job.model_dir / "code"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-c", CLIENT, str(code_dir), str(sample_data / "test")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["classifier_file"].startswith(str(code_dir))
    for fmt in ("JPEG", "PNG", "WEBP", "JSON"):
        accuracy = report["correct"][fmt] / report["total"][fmt]
        assert accuracy >= 0.8, (fmt, report)
    assert report["batch_shape"] == [50, 2]
    assert report["errors"]["garbage"][0] == 400
    assert "cannot decode image" in report["errors"]["garbage"][1]
    assert report["errors"]["unsupported"][0] == 415
    assert "text/csv" in report["errors"]["unsupported"][1]
    assert report["errors"]["bad_json"][0] == 400
