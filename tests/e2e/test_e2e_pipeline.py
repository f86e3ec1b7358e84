"""The whole app on one machine: the same template.yaml, state machine, Lambdas and scripts as on AWS.

- The README's first command, literally: ``make demo ONCE=1`` in a fresh copy of the working
  tree, from its root, with every default (relative ``.localcloud``, ports 4566/3000 unless taken,
  in which case the test says so and passes others), completes and predicts; ``make demo DATA=``
  with a missing split fails with one clear line before anything starts.
- A boto3 ``start_execution`` whose ``data`` points at ``file://`` folders completes SUCCEEDED
  with the outputs of docs/contracts.md#execution-output; the HTTP API then classifies a JPEG
  (top-5 JSON) and rejects garbage bytes with a 4xx JSON error.
- Failure paths end in Fail after Cleanup with a Cause naming the problem: an invalid execution
  input, and a dataset whose splits have different classes (the training jobs fail).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from classifier.sample_data import generate
from localcloud.ports import is_free
from localcloud.status import disk_usage, human_size
from support.localcloud_proc import REPO, LocalCloudProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE_INPUT = json.loads((REPO / "examples" / "local-input.json").read_text())


@pytest.fixture(scope="module")
def dataset(module_tmp_path: Path) -> Path:
    """4 classes (the API's top-5 has 4 entries), a quarter of the default images: the example
    input's two trials and retrain run 4 epochs each, and these tests check the pipeline, not what
    it learns (the README's command, above, trains on the full default dataset)."""
    root = module_tmp_path / "data" / "images"
    generate(root, classes=4, train_per_class=24, valid_per_class=6, test_per_class=6, size=64, seed=1)
    return root


@pytest.fixture(scope="module")
def app(module_tmp_path: Path) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(module_tmp_path / "state", template=REPO / "template.yaml") as lc:
        yield lc


def state_machine_arn(lc: LocalCloudProcess) -> str:
    with urllib.request.urlopen(f"{lc.edge_url}/_localcloud/stack") as resp:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in json.load(resp)["Outputs"]}
    return str(outputs["StateMachineArn"])


def run_execution(
    lc: LocalCloudProcess, name: str, execution_input: dict[str, Any], timeout: float = 900
) -> dict[str, Any]:
    sfn = lc.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=state_machine_arn(lc), name=name, input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return dict(description)
        time.sleep(1)
    sfn.stop_execution(executionArn=arn, error="TestTimeout")
    raise AssertionError(f"execution {name} still running after {timeout}s:\n{lc.server_log()}")


def entered_states(lc: LocalCloudProcess, execution_arn: str) -> list[str]:
    events = lc.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)[
        "events"
    ]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fresh_copy(tmp_path: Path) -> Path:
    """The working tree's files as a fresh clone has them (tracked + new, not ignored), in tmp_path.

    ``.venv`` is a link to this checkout's venv (no rebuild), its stamp newer than the copy's
    pyproject.toml and requirements.lock so make does not rebuild it; PYTHONPATH (see
    :func:`copy_env`) puts the copy's code first, so the copy's code is what runs.
    """
    copy = tmp_path / "clone"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = REPO / name, copy / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    (copy / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    stamp = (REPO / ".venv" / ".installed").stat().st_mtime
    for prerequisite in ("pyproject.toml", "requirements.lock"):
        os.utime(copy / prerequisite, (stamp - 60, stamp - 60))
    return copy


def copy_env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALCLOUD_", "AWS_", "PYTEST"))}
    env["PYTHONPATH"] = os.pathsep.join(str(copy / p) for p in (".", "training", "functions"))
    env["COLUMNS"] = "80"  # the final screen as an 80-column terminal shows it
    return env


@pytest.mark.timeout(3600)  # 2-3 min on an idle machine; a shared, loaded one needs far more
def test_readme_first_command_in_a_fresh_copy_with_every_default(tmp_path: Path) -> None:
    """`make demo ONCE=1` from the copy's root: relative .localcloud, ports 4566/3000 when free."""
    copy = fresh_copy(tmp_path)
    env = copy_env(copy)
    imported = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-c", "import localcloud; print(localcloud.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert imported.startswith(str(copy)), f"the copy's code must run, not {imported}"
    argv = ["make", "--no-print-directory", "demo", "ONCE=1"]
    taken = [port for port in (4566, 3000) if not is_free("127.0.0.1", port)]
    if taken:  # honest fallback: say so, and only the ports change; the state dir stays relative
        warnings.warn(f"ports {taken} are taken on this machine: the demo runs on other ports", stacklevel=1)
        argv += [f"EDGE_PORT={free_port()}", f"API_PORT={free_port()}"]
    started = time.monotonic()
    result = subprocess.run(
        argv, cwd=copy, env=env, capture_output=True, text=True, timeout=3300, check=False
    )
    wall = time.monotonic() - started
    state = copy / ".localcloud"
    log = (
        (state / "localcloud.log").read_text(errors="replace")[-6000:]
        if (state / "localcloud.log").exists()
        else ""
    )
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}\n{log}"
    print(
        f"make demo ONCE=1: {wall:.0f} s, state dir {human_size(disk_usage(state))}\n{result.stdout[-5000:]}"
    )
    assert "pipeline outputs" in result.stdout
    assert '"predictions"' in result.stdout
    assert "curl -X POST --data-binary @" in result.stdout
    assert "/_localcloud/execution?arn=arn%3Aaws%3Astates%3A" in result.stdout, "the console link to watch it"
    assert (state / "state.db").is_file(), "the default state dir is the relative .localcloud"
    assert not (state / "localcloud.pid").exists(), "demo --once must stop the localcloud it started"
    # finished jobs keep their artifacts in S3 only: no checkpoints or extracted copies left behind
    jobs = state / "sagemaker" / "training-jobs"
    assert not [p for p in jobs.rglob("*") if p.name in ("checkpoints", "algo-1", "code")], list(
        jobs.rglob("*")
    )


def test_make_demo_with_a_missing_split_fails_before_starting_anything(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path)
    data = tmp_path / "data"
    generate(data, classes=2, train_per_class=2, valid_per_class=1, test_per_class=1, size=16, seed=0)
    shutil.rmtree(data / "valid")
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", "ONCE=1", f"DATA={data}"],
        cwd=copy,
        env=copy_env(copy),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("demo failed")]
    assert errors == [
        f"demo failed: {data} is not an ImageFolder dataset with train/valid/test: missing valid"
    ]
    assert "Traceback" not in result.stderr
    assert not (copy / ".localcloud" / "localcloud.log").exists(), "nothing may be started"


def test_file_data_execution_succeeds_and_the_api_predicts(app: LocalCloudProcess, dataset: Path) -> None:
    execution_input = dict(EXAMPLE_INPUT)
    execution_input["data"] = {
        split: (dataset / split).as_uri() + "/" for split in ("train", "valid", "test")
    }
    description = run_execution(app, "e2e-file-data", execution_input)
    assert description["status"] == "SUCCEEDED", f"{description.get('error')}: {description.get('cause')}"
    output = json.loads(description["output"])
    for key in (
        "tuningJob",
        "bestTrainingJob",
        "bestHyperparameters",
        "objective",
        "retrainJob",
        "modelArtifact",
        "profiler",
        "endpoint",
    ):
        assert output.get(key), f"output lacks {key}: {output}"
    assert output["objective"]["metric"] == "valid:accuracy"
    assert output["modelArtifact"].startswith("s3://") and output["modelArtifact"].endswith("model.tar.gz")
    assert {r["name"] for r in output["profiler"]["rules"]} >= {"StepOutlier", "LossNotDecreasing", "Overfit"}
    assert output["endpoint"]["status"] == "InService"

    jpeg = next((dataset / "test").rglob("*.jpg"))
    status, body = post(f"{app.api_url}/predict", jpeg.read_bytes(), "image/jpeg")
    assert status == 200, body
    predictions = body["predictions"]
    assert len(predictions) == 4  # top-5 of a 4-class model
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert abs(sum(probabilities) - 1.0) < 1e-3
    assert {"label", "class_index", "probability"} <= set(predictions[0])

    # An animated GIF goes through the API to the model, which classifies its first frame.
    first = Image.open(jpeg).convert("RGB")
    gif = io.BytesIO()
    first.save(gif, format="GIF", save_all=True, append_images=[first.rotate(90), first.rotate(180)], loop=0)
    status, body = post(f"{app.api_url}/predict", gif.getvalue(), "image/gif")
    assert status == 200, body
    assert len(body["predictions"]) == 4

    status, body = post(
        f"{app.api_url}/predict", b"\x00garbage, not an image" * 10, "application/octet-stream"
    )
    assert 400 <= status < 500
    assert "message" in body or "error" in body


def test_invalid_input_fails_after_cleanup_naming_the_field(app: LocalCloudProcess) -> None:
    description = run_execution(app, "e2e-bad-input", {"tuning": {"strategy": "Annealing"}}, timeout=120)
    assert description["status"] == "FAILED"
    assert "tuning.strategy" in description.get("cause", ""), description
    states = entered_states(app, description["executionArn"])
    assert "Cleanup" in states
    assert states.index("Cleanup") < len(states) - 1  # Cleanup, then the Fail state


def test_training_failure_fails_after_cleanup_with_the_jobs_reason(
    app: LocalCloudProcess, dataset: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    extra = sorted((broken / "valid").iterdir())[0]
    extra.rename(broken / "valid" / "999.Not_in_train")
    execution_input = dict(EXAMPLE_INPUT)
    execution_input["data"] = {split: (broken / split).as_uri() + "/" for split in ("train", "valid", "test")}
    description = run_execution(app, "e2e-mismatched-classes", execution_input)
    assert description["status"] == "FAILED"
    cause = description.get("cause", "")
    assert "Not_in_train" in cause or "classes" in cause, description
    assert "Cleanup" in entered_states(app, description["executionArn"])
