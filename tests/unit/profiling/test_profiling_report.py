"""rules.json and the self-contained report.html."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from profiling_testkit import make_epochs, make_profile, make_steps, make_system

from classifier.profiling.report import write_report
from classifier.profiling.rules import evaluate_rules


def test_report_files_are_written_and_self_contained(tmp_path: Path) -> None:
    steps = make_steps(200, data=np.r_[np.full(190, 0.01), np.full(10, 0.5)], epochs=2)
    data = make_profile(steps, make_system(steps, cpu=60.0), make_epochs([1.2, 0.9], [1.1, 1.0]))
    results = evaluate_rules(data)
    rules_path, html_path = write_report(tmp_path / "profiler-report", data, results)

    rules = json.loads(rules_path.read_text())
    assert [r["RuleConfigurationName"] for r in rules] == [r.name for r in results]
    for entry in rules:
        assert entry["RuleEvaluationStatus"] in {"NoIssuesFound", "IssuesFound", "Error"}
        assert entry["StatusDetails"]
        assert entry["Recommendation"]
        assert "Parameters" in entry["Details"] and "Observed" in entry["Details"]

    page = html_path.read_text()
    images = re.findall(r"<img [^>]*src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) >= 5  # histogram, timeline, breakdown, CPU, memory/IO, metrics
    assert all(len(b64) > 1000 for b64 in images)
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)  # nothing fetched from outside
    for result in results:
        assert result.name in page
    assert "alt='GPU utilisation and memory'" not in page  # no GPU plot on a CPU job


def test_gpu_plot_appears_when_gpus_were_sampled(tmp_path: Path) -> None:
    steps = make_steps(100)
    data = make_profile(
        steps, make_system(steps, gpu_util=[80.0, 70.0], gpu_memory=[30.0, 35.0]), device="cuda"
    )
    _, html_path = write_report(tmp_path, data, evaluate_rules(data))
    assert "alt='GPU utilisation and memory'" in html_path.read_text()


def test_details_are_html_escaped(tmp_path: Path) -> None:
    data = make_profile()
    results = evaluate_rules(data)
    from dataclasses import replace

    results[0] = replace(results[0], details="<script>alert(1)</script>")
    _, html_path = write_report(tmp_path, data, results)
    page = html_path.read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_report_without_any_steps_still_renders(tmp_path: Path) -> None:
    data = make_profile(make_steps(0), make_system(make_steps(1)), [])
    rules_path, html_path = write_report(tmp_path, data, evaluate_rules(data))
    assert len(json.loads(rules_path.read_text())) == 11
    assert "no training steps recorded" not in html_path.read_text()  # drawn into the PNG, not the HTML
    assert html_path.read_text().count("data:image/png;base64,") >= 5
