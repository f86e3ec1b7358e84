"""Must show: train.py run exactly as SageMaker runs it reaches valid_accuracy >= 0.85 and exports a model."""

import json
import re

import pytest
import torch

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(
    r"^epoch=(\d+) train_loss=(\d+\.\d{4}) train_accuracy=(\d\.\d{4}) valid_loss=(\d+\.\d{4}) "
    r"valid_accuracy=(\d\.\d{4}) epoch_seconds=(\d+\.\d{2}) images_per_second=(\d+\.\d)$"
)
TEST_LINE = re.compile(r"^test_loss=(\d+\.\d{4}) test_accuracy=(\d\.\d{4})$")
EVALUATION_LINE = re.compile(r"^test_top5_accuracy=(\d\.\d{4}) test_macro_f1=(\d\.\d{4})$")


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
