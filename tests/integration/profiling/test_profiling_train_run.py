"""A profiled run of train.py, started as SageMaker starts it: rules.json, report.html, rules_triggered=N.

The run is the training-core acceptance run (sample data, resnet18 from scratch at 64 px, 2
epochs, batch 32) plus ``--profile true``. The report is also rendered in headless Chromium.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image

from support.chromium import CHROMIUM, headless
from support.train_job import Job, TrainingRun, run_to_completion

pytestmark = pytest.mark.slow

RULE_NAMES = {
    "StepOutlier",
    "GPUMemoryIncrease",
    "IOBottleneck",
    "Dataloader",
    "BatchSize",
    "CPUBottleneck",
    "LoadBalancing",
    "MaxInitializationTime",
    "LowGPUUtilization",
    "LossNotDecreasing",
    "Overfit",
}


@pytest.fixture(scope="module")
def profiled_run(module_tmp_path: Path, sample_data: Path) -> TrainingRun:
    hyperparameters = {
        "arch": "resnet18",
        "pretrained": "none",
        "image-size": "64",
        "epochs": "2",
        "batch-size": "32",
        "profile": "true",
    }
    job = Job(root=module_tmp_path, data=sample_data, gpus=torch.cuda.device_count())
    return run_to_completion(job, hyperparameters)


def test_rules_json_has_all_eleven_rules_with_status_and_details(profiled_run: TrainingRun) -> None:
    rules = profiled_run.rules()
    assert set(rules) == RULE_NAMES
    for name, entry in rules.items():
        assert entry["RuleEvaluationStatus"] in {"NoIssuesFound", "IssuesFound"}, (
            name,
            entry["StatusDetails"],
        )
        assert entry["StatusDetails"], name
        assert isinstance(entry["LastModifiedTime"], float)
        assert entry["Details"]["Parameters"], name
        assert entry["Details"]["DifferenceFromSageMaker"], name
        assert entry["Recommendation"], name
    # the numbers behind the verdicts come from this run
    observed = rules["StepOutlier"]["Details"]["Observed"]
    assert observed["steps"] >= 2 * 12  # 400 training images / batch 32, 2 epochs
    assert rules["MaxInitializationTime"]["Details"]["Observed"]["initialization_seconds"] > 0
    assert set(rules["LossNotDecreasing"]["Details"]["Observed"]["train_loss_per_epoch"]) == {"1", "2"}


def test_stdout_reports_rules_triggered(profiled_run: TrainingRun) -> None:
    issues = sum(e["RuleEvaluationStatus"] == "IssuesFound" for e in profiled_run.rules().values())
    assert profiled_run.rules_triggered() == issues


def test_report_html_embeds_the_plots(profiled_run: TrainingRun) -> None:
    page = (profiled_run.report_dir / "report.html").read_text()
    images = re.findall(r"<img [^>]*src='data:image/png;base64,", page)
    assert len(images) >= 3
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium)")
def test_report_renders_in_headless_chromium(profiled_run: TrainingRun, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"
    command = headless(
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1200,3000",
        (profiled_run.report_dir / "report.html").as_uri(),
    )
    process = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    assert screenshot.exists()
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 3000)
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        # a rendered report (text, coloured status cells, plots) has thousands of colours; a blank or
        # error page has a handful
        assert len(colours) > 1000
        non_white = sum(count for count, colour in colours if colour != (255, 255, 255))
        assert non_white > 0.1 * rgb.size[0] * rgb.size[1]
