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
    assert len(test_lines) == 1 and TEST_LINE.match(test_lines[0]), test_lines
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


def test_checkpoint_of_the_last_epoch_is_left_for_resume(trained_model):
    checkpoint = torch.load(trained_model.job.checkpoint_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["progress"]["completed_epochs"] == 4
    assert not (trained_model.job.output_dir / "failure").exists()
