"""What the demo shows once the execution has ended: the pipeline's outputs as a table, the
profiler report extracted from the retrain's output, and a real prediction through the HTTP API.

Relies on rich, tarfile (the report, from the instance's local S3 files) and urllib (the API).
"""

from __future__ import annotations

import json
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from .progress import short_number


def local_report(state_dir: Path, output: dict[str, Any]) -> Path | None:
    """Extract the profiler report from the retrain's output.tar.gz into the state dir."""
    profiler = output.get("profiler") or {}
    uri = profiler.get("reportUri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    archive = state_dir / "s3" / bucket / key
    if not archive.is_file():
        return None
    folder = str(profiler.get("reportPath") or "profiler-report").strip("/")
    target = state_dir / "reports" / str(output.get("retrainJob", "retrain"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.removeprefix("./").startswith(f"{folder}/")]
        tar.extractall(target, members=members, filter="data")
    report = target / folder / "report.html"
    return report if report.is_file() else None


def predict(api_url: str, image: Path) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{api_url}/predict",
        data=image.read_bytes(),
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _hyperparameters(values: dict[str, Any]) -> str:
    shown = {k: v for k, v in values.items() if not k.startswith(("sagemaker_", "_"))}
    return ", ".join(f"{k}={short_number(v)}" for k, v in sorted(shown.items()))


def _evaluation(evaluation: dict[str, Any]) -> str | None:
    """``top-1 0.9700, top-5 1.0000, macro F1 0.9698`` from the execution output's evaluation."""
    parts = [
        f"{label} {evaluation[key]:.4f}"
        for key, label in (("top1Accuracy", "top-1"), ("top5Accuracy", "top-5"), ("macroF1", "macro F1"))
        if isinstance(evaluation.get(key), (int, float))
    ]
    return ", ".join(parts) or None


def _deployed(output: dict[str, Any]) -> str | None:
    """``yes`` / ``no: the serving model was kept`` (the gate's reason follows under the table)."""
    if "deployed" not in output:
        return None
    return "yes" if output["deployed"] else "no: the serving model was kept (reason below)"


def print_outputs(console: Console, output: dict[str, Any], report: Path | None, api_url: str) -> None:
    """The outputs as a table that fits 80 columns; the model URI and report path on lines of their own."""
    table = Table(title="pipeline outputs", title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    objective = output.get("objective") or {}
    profiler = output.get("profiler") or {}
    rules = profiler.get("rules") or []
    triggered = [r["name"] for r in rules if r.get("status") == "IssuesFound"]
    endpoint = output.get("endpoint") or {}
    metrics = output.get("finalMetrics") or {}
    rows = [
        ("tuning job", output.get("tuningJob")),
        ("best trial", output.get("bestTrainingJob")),
        ("best hyperparameters", _hyperparameters(output.get("bestHyperparameters") or {})),
        ("best objective", f"{objective.get('metric')} = {objective.get('value')}"),
        ("retrain job", output.get("retrainJob")),
        (
            "retrain metrics",
            ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()) if k.endswith(("accuracy", "loss"))),
        ),
        (
            "profiler rules",
            f"{len(rules)} evaluated, {len(triggered)} found issues"
            + (f": {', '.join(triggered)}" if triggered else ""),
        ),
        ("test evaluation", _evaluation(output.get("evaluation") or {})),
        ("deployed", _deployed(output)),
        ("endpoint", f"{endpoint.get('name')} ({endpoint.get('status')})"),
        ("API", f"{api_url}/predict"),
    ]
    for name, value in rows:
        if value is not None:
            table.add_row(name, str(value))
    console.print(table)
    if output.get("reason"):  # prose: wrapped to the terminal, unlike the paths below
        console.print("[bold]deployment gate[/]", highlight=False)
        console.print(Padding(str(output["reason"]), (0, 0, 0, 2)), highlight=False)
    for label, value in (
        ("model", output.get("modelArtifact")),
        ("profiler report", str(report) if report else profiler.get("reportUri")),
    ):
        if value:
            console.print(f"[bold]{label}[/]", highlight=False)
            console.print(f"  {value}", highlight=False, soft_wrap=True)
