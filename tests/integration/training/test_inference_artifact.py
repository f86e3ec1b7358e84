"""Must show: the handlers imported from SM_MODEL_DIR/code alone classify the test images.

A fresh interpreter with only ``code/`` on sys.path (no PYTHONPATH, another working directory)
loads inference.py as a model server would, classifies JPEG, PNG and WebP bodies and a JSON
batch, and checks that garbage bytes and unsupported types are rejected with their statuses.
"""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

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
