"""The SageMaker Python SDK itself (2.x and 3.x) against a real ``localcloud up``.

One localcloud (the app's template.yaml deployed, so its SageMakerRoleArn exists for SDK 3.x's role
check) serves three runs, each a subprocess in the SDK's own venv (``make sdk``) with only the
endpoint changed: ``examples/sdk_quickstart.py --local`` (SDK 2.x with its defaults: ``fit()``
streams CloudWatch logs, ``upload_data()`` URIs as returned), ``examples/sdk3_quickstart.py
--local`` (ModelTrainer, its tuner, sagemaker.core Endpoint) and ``examples/notebook.ipynb``
executed top to bottom by nbclient. Skipped, saying so, when a venv is missing.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker import container_mode
from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SDK2 = REPO / ".venv-sdk" / "bin" / "python"
SDK3 = REPO / ".venv-sdk3" / "bin" / "python"
CLASSES = {"Polka dots", "Stripes", "Checkerboard", "Rings", "Zigzag"}
FLOW_TIMEOUT = 900


def _need(python: Path) -> None:
    if not python.exists():
        pytest.skip(f"{python.parent.parent.name} is missing: run `make sdk` (make test builds it)")


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with LocalCloudProcess(
        tmp_path_factory.mktemp("lc-sdk") / "state", template=REPO / "template.yaml"
    ) as proc:
        yield proc


def _sdk_process(lc: LocalCloudProcess, argv: list[str], **extra_env: str) -> str:
    """Run ``argv`` (an SDK venv's python) against ``lc``; its stdout and stderr, once it succeeded.
    Its temporary files (the notebook's sample data, the SDK's own) go to a short-named TMPDIR
    deleted when it ends: a flow that leaves one behind does not leave it in /tmp."""
    env = lc.env()
    env.pop("PYTHONPATH", None)
    env.update(extra_env)
    with tempfile.TemporaryDirectory(prefix="sdk-flow-") as tmp:
        env["TMPDIR"] = tmp
        done = subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=FLOW_TIMEOUT, check=False
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{output[-6000:]}\nserver log:\n{lc.server_log()}"
    return output


def _run(lc: LocalCloudProcess, argv: list[str], tmp_path: Path) -> tuple[dict[str, Any], str]:
    report = tmp_path / "report.json"
    output = _sdk_process(lc, [*argv, "--local", "--report", str(report)])
    return json.loads(report.read_text()), output


def _check_top_k(predictions: list[dict[str, Any]]) -> None:
    assert len(predictions) == 5
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert {p["label"] for p in predictions} == CLASSES
    assert sum(probabilities) == pytest.approx(1.0, abs=0.01)


def _endpoint_gone(lc: LocalCloudProcess, name: str) -> None:
    with pytest.raises(ClientError, match="Could not find endpoint"):
        lc.client("sagemaker").describe_endpoint(EndpointName=name)


def test_sdk2_quickstart(lc: LocalCloudProcess, tmp_path: Path) -> None:
    _need(SDK2)
    report, output = _run(lc, [str(SDK2), "examples/sdk_quickstart.py"], tmp_path)
    steps = report["steps"]
    # fit() with its default logs="All": the job's own log lines stream to the caller
    assert "valid_accuracy=" in output
    # upload_data() URIs as returned (no trailing slash) and train.py still found its classes
    assert all(not uri.endswith("/") for uri in steps["upload_data"]["inputs"].values())
    assert steps["training_job_analytics"]["valid_accuracy"], "no valid:accuracy series"
    assert "valid:accuracy" in steps["training_job_analytics"]["metric_names"]
    assert steps["tuner_fit"]["trials"] == 2
    attach = steps["attach"]
    assert attach["best_job"] == steps["tuner_fit"]["best"]
    assert attach["attached_tuner_objective"] == "valid:accuracy"
    assert attach["attached_tuner_best"] == attach["best_job"]
    assert attach["attached_model_data"].endswith(f"/{attach['best_job']}/output/model.tar.gz")
    _check_top_k(steps["predict"]["predictions"])
    bad = steps["predict_non_image"]
    assert bad["error"] == "ModelError"
    assert 400 <= bad["original_status"] < 500
    _endpoint_gone(lc, steps["deploy"]["endpoint"])


def test_sdk3_quickstart(lc: LocalCloudProcess, tmp_path: Path) -> None:
    _need(SDK3)
    reason = container_mode.unavailable_reason()
    if reason is not None:  # ModelTrainer runs through ContainerEntrypoint
        pytest.skip(f"ContainerEntrypoint jobs cannot run here: {reason}")
    report, output = _run(lc, [str(SDK3), "examples/sdk3_quickstart.py"], tmp_path)
    steps = report["steps"]
    assert steps["train"]["status"] == "Completed"
    assert "valid_accuracy=" in output  # train(logs=True) streamed the job's log
    tuning = lc.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=steps["tune"]["tuning_job"]
    )
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    assert tuning["BestTrainingJob"]["TrainingJobName"] == steps["tune"]["best"]
    _check_top_k(steps["invoke"]["predictions"])
    bad = steps["invoke_non_image"]
    assert bad["error"] == "ModelError"
    assert 400 <= bad["original_status"] < 500
    _endpoint_gone(lc, steps["deploy"]["endpoint"])


NOTEBOOK_RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": "examples"}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def test_notebook_runs_top_to_bottom(lc: LocalCloudProcess, tmp_path: Path) -> None:
    _need(SDK2)
    notebook = REPO / "examples" / "notebook.ipynb"
    stored = json.loads(notebook.read_text())
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in stored["cells"]
        if c["cell_type"] == "code"
    ), "outputs must be stripped in the repo"
    executed = tmp_path / "executed.ipynb"
    _sdk_process(
        lc, [str(SDK2), "-c", NOTEBOOK_RUNNER, str(notebook), str(executed)], SDK_QUICKSTART_LOCAL="1"
    )
    cells = json.loads(executed.read_text())["cells"]
    text = "".join(
        out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"])
        for cell in cells
        for out in cell.get("outputs", [])
    )
    assert "true label:" in text
    top = [line.split()[-1] for line in text.split("true label:")[1].splitlines()[1:6]]
    assert len(top) == 5 and [float(p) for p in top] == sorted((float(p) for p in top), reverse=True)
