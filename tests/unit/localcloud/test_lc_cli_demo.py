"""The demo and CLI as a user meets them (issue 10): paths, data, interruptions, errors, 80 columns,
logs, help.

Everything here runs without a localcloud: AWS clients are small in-memory fakes and rendering is
captured with rich at 80 columns. The end-to-end runs are in tests/e2e/test_e2e_readme_demo.py.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from rich.console import Console

from localcloud import cli, status
from localcloud.config import Settings
from localcloud.logs import log_path
from pipeline_demo import cli as demo_cli
from pipeline_demo import demo
from pipeline_demo.dataset import check_dataset, upload_dataset
from pipeline_demo.errors import DemoError
from pipeline_demo.outputs import print_outputs
from pipeline_demo.progress import training_progress
from support.localcloud_proc import REPO, free_port

NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)


def render(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def images(root: Path, layout: dict[str, dict[str, int]]) -> Path:
    for split, classes in layout.items():
        for label, count in classes.items():
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                (folder / f"{i}.jpg").write_bytes(b"\xff\xd8\xff" + bytes([i]) * 10)
    return root


# ---------------------------------------------------------------- item 1: paths are absolute
def test_relative_state_dir_and_template_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(state_dir=Path(".localcloud"), template=Path("template.yaml"))
    assert settings.state_dir == tmp_path / ".localcloud"
    assert settings.template == tmp_path / "template.yaml"
    monkeypatch.chdir("/")  # a training job's cwd is its code dir: the paths still name the same place
    assert settings.state_dir == tmp_path / ".localcloud"


# ---------------------------------------------------------------- item 2: stale data, empty splits
class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_paginator(self, _name: str) -> Any:
        outer = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
                keys = sorted(k for k in outer.objects if k.startswith(Prefix))
                return [{"Contents": [{"Key": k, "Size": len(outer.objects[k])} for k in keys]}]

        return Pages()

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.objects[key] = Path(path).read_bytes()

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> None:
        for item in Delete["Objects"]:
            self.objects.pop(item["Key"], None)


def test_upload_mirrors_the_source_so_a_later_run_never_sees_earlier_files(tmp_path: Path) -> None:
    s3 = FakeS3()
    four = {"a": 3, "b": 3, "c": 3, "d": 3}
    first = images(tmp_path / "first", {"train": four, "valid": four, "test": four})
    upload_dataset(s3, first, "bucket", "datasets/demo", Console(file=io.StringIO()))
    second = images(tmp_path / "second", {"train": four, "valid": {"a": 2, "b": 2, "c": 2}, "test": four})
    upload_dataset(s3, second, "bucket", "datasets/demo", Console(file=io.StringIO()))
    valid = [k for k in s3.objects if k.startswith("datasets/demo/valid/")]
    assert {k.split("/")[3] for k in valid} == {"a", "b", "c"}
    assert len(valid) == 6


def test_an_empty_split_fails_naming_it(tmp_path: Path) -> None:
    root = images(tmp_path / "data", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    (root / "valid" / "a").mkdir(parents=True)
    with pytest.raises(DemoError, match="split valid has no images"):
        check_dataset(root)


# ---------------------------------------------------------------- item 5: running executions, interruptions
class FakeSfn:
    def __init__(self, running: list[dict[str, Any]]) -> None:
        self.running = running
        self.started: list[dict[str, Any]] = []

    def list_executions(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs.get("statusFilter") == "RUNNING"
        return {"executions": self.running}

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"executionArn": f"arn:aws:states:us-east-1:0:execution:sm:{kwargs['name']}"}


@pytest.fixture
def fake_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """run_demo with localcloud, S3 and Step Functions replaced; ``follow`` records what it follows."""
    old = {
        "name": "demo-old",
        "executionArn": "arn:aws:states:us-east-1:0:execution:sm:demo-old",
        "startDate": NOW,
    }
    world: dict[str, Any] = {"sfn": FakeSfn([old]), "s3": FakeS3(), "followed": []}
    monkeypatch.setattr(
        demo, "start_localcloud", lambda settings, console: (None, tmp_path / "state", settings.api_url)
    )
    monkeypatch.setattr(demo, "find_app", lambda settings: ("arn:sm", "bucket"))
    monkeypatch.setattr(
        demo,
        "aws_client",
        lambda settings, name, **_: world["sfn"] if name == "stepfunctions" else world["s3"],
    )

    def follow(progress: demo.Progress, console: Console, poll_seconds: float = 1.0) -> dict[str, Any]:
        world["followed"].append(progress.execution_arn)
        return {"status": "FAILED", "error": "Test", "cause": "stop here"}

    monkeypatch.setattr(demo, "follow", follow)
    monkeypatch.setattr(
        demo, "Progress", lambda settings, arn, logs_dir: type("P", (), {"execution_arn": arn})
    )
    data = images(tmp_path / "data", {s: {"a": 1, "b": 1} for s in ("train", "valid", "test")})
    world["options"] = demo.DemoOptions(
        settings=Settings(state_dir=tmp_path / "state", port=free_port(), api_port=free_port()),
        data=data,
        input_file=REPO / "examples" / "local-input.json",
        once=True,
    )
    (tmp_path / "state").mkdir()
    return world


def test_a_new_demo_follows_the_running_execution_instead_of_starting_another(
    fake_demo: dict[str, Any],
) -> None:
    console = Console(width=200, record=True, file=io.StringIO())
    demo.run_demo(fake_demo["options"], console)
    assert fake_demo["sfn"].started == []
    assert fake_demo["followed"] == ["arn:aws:states:us-east-1:0:execution:sm:demo-old"]
    text = console.export_text()
    assert "demo-old is still running" in text and "following it" in text and "--new" in text


def test_demo_new_starts_another_and_says_why(fake_demo: dict[str, Any]) -> None:
    fake_demo["options"].new = True
    console = Console(width=200, record=True, file=io.StringIO())
    demo.run_demo(fake_demo["options"], console)
    assert len(fake_demo["sfn"].started) == 1
    text = console.export_text()
    assert "started another execution although demo-old still runs, because --new was given" in text
    # the running execution keeps its data: the new one gets a prefix of its own
    assert all(
        "/datasets/demo-" in uri for uri in json.loads(fake_demo["sfn"].started[0]["input"])["data"].values()
    )


def test_localcloud_going_away_mid_demo_is_one_line(
    fake_demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def lost(progress: Any, console: Console, poll_seconds: float = 1.0) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")

    monkeypatch.setattr(demo, "follow", lost)
    monkeypatch.setattr(demo, "run_demo", _run_with(fake_demo["options"], demo.run_demo))
    code = demo.main_from_args(fake_demo["options"].settings, None, "unused", True)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "localcloud stopped while following execution demo-old" in err
    assert "pipeline-demo run --state-dir" in err


def _run_with(options: demo.DemoOptions, run: Any) -> Any:
    return lambda _options, console=None: run(options, Console(file=io.StringIO()))


# ---------------------------------------------------------------- item 6: one line for a user's mistake
def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = (demo_cli.main if argv[0] in ("run", "predict") else cli.main)(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_predict_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _cli(["predict", str(tmp_path / "nope.jpg"), "--api-port", str(free_port())], capsys)
    assert code == 1
    _one_line(err)
    assert "nope.jpg: no such file" in err


def test_predict_while_localcloud_is_down(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = images(tmp_path, {"test": {"a": 1}}) / "test" / "a" / "0.jpg"
    port = free_port()
    code, _, err = _cli(["predict", str(image), "--api-port", str(port)], capsys)
    assert code == 1
    _one_line(err)
    assert f"nothing answers on http://127.0.0.1:{port}" in err and "localcloud up" in err


def test_start_execution_while_localcloud_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, _, err = _cli(["start-execution", "--port", str(port)], capsys)
    assert code == 1
    _one_line(err)
    assert f"localcloud does not answer on http://127.0.0.1:{port}" in err and "localcloud up" in err


def test_start_execution_with_broken_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "input.json"
    broken.write_text('{"tuning": {"maxJobs": 2,}}')
    code, _, err = _cli(["start-execution", "--input", str(broken), "--port", str(free_port())], capsys)
    assert code == 1
    _one_line(err)
    assert "input.json is not valid JSON" in err and "line 1" in err


# ---------------------------------------------------------------- item 9: 80 columns, training progress
OUTPUT = {
    "tuningJob": "dogs-demo-20261203-091221",
    "bestTrainingJob": "dogs-demo-20261203-091221-002-35ede1fc",
    "bestHyperparameters": {"lr": "0.0012345678", "batch-size": "16", "arch": "resnet18", "epochs": "4"},
    "objective": {"metric": "valid:accuracy", "value": 0.83},
    "retrainJob": "dogs-demo-20261203-091221-retrain",
    "finalMetrics": {"valid:accuracy": 0.85, "valid:loss": 0.41, "test:accuracy": 0.8, "train:loss": 0.3},
    "modelArtifact": "s3://image-classifier-pipeline-artifactbucket-hcjle4i7nul2/models/"
    "dogs-demo-20261203-091221-retrain/output/model.tar.gz",
    "profiler": {"rules": [{"name": "LowGPUUtilization", "status": "IssuesFound"}, {"name": "Overfit"}]},
    "endpoint": {"name": "dog-breeds", "status": "InService"},
}


def test_demo_outputs_fit_80_columns_with_full_paths(tmp_path: Path) -> None:
    report = (
        tmp_path / "a-long-folder-name" / ".localcloud" / "reports" / OUTPUT["retrainJob"] / "report.html"
    )
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    print_outputs(console, OUTPUT, report, "http://127.0.0.1:3000")
    lines = console.export_text().splitlines()
    full = [line.strip() for line in lines if len(line) > 80]
    assert full == [str(report)] or full == [OUTPUT["modelArtifact"], str(report)], lines
    assert any(line.strip() == OUTPUT["modelArtifact"] for line in lines)
    assert any(line.strip() == str(report) for line in lines)
    text = "\n".join(lines)
    assert OUTPUT["bestTrainingJob"] in text and "lr=0.00123" in text


def test_demo_outputs_say_whether_the_gate_deployed_and_why(tmp_path: Path) -> None:
    reason = (
        "test accuracy 0.8000 is below the serving model dogs-old-model's 0.9000 - deploy.tolerance 0.01; "
        "kept s3://bucket/models/x/output/model.tar.gz (deploy it with deploy.force: true)"
    )
    kept = {
        **OUTPUT,
        "deployed": False,
        "reason": reason,
        "evaluation": {"top1Accuracy": 0.8, "top5Accuracy": 1.0, "macroF1": 0.7912},
    }
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    print_outputs(console, kept, None, "http://127.0.0.1:3000")
    text = console.export_text()
    assert "top-1 0.8000, top-5 1.0000, macro F1 0.7912" in text
    assert "no: the serving model was kept" in text
    assert "deployment gate" in text and " ".join(text.split()).count(reason) == 1
    # only the model URI stays unbroken (copyable); the gate's reason wraps
    assert [line.strip() for line in text.splitlines() if len(line) > 80] == [OUTPUT["modelArtifact"]]

    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    print_outputs(console, {**kept, "deployed": True, "reason": "test accuracy 0.9 >= 0"}, None, "x")
    assert any(line.split() == ["deployed", "yes"] for line in console.export_text().splitlines())


def test_training_progress_shows_epoch_elapsed_and_left() -> None:
    job = {
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "TrainingStartTime": NOW - dt.timedelta(seconds=70),
        "HyperParameters": {"epochs": '"4"'},
    }
    log = (
        "dataset: 4 classes\n"
        "epoch=1 train_loss=1.4 train_accuracy=0.3 valid_loss=2.4 valid_accuracy=0.4 epoch_seconds=30.00\n"
        "device: cpu\n"
        "epoch=2 train_loss=1.0 train_accuracy=0.5 valid_loss=0.7 valid_accuracy=0.7 epoch_seconds=30.00\n"
    )
    # 2 of 4 epochs done in 60 s, 10 s into the third: about 50 s left
    assert training_progress(job, log, NOW) == "epoch 3/4, 1:10 elapsed, ~0:50 left"
    assert training_progress({**job, "SecondaryStatus": "Downloading"}, "", NOW) == "Downloading"


class FakeSM:
    reason = (
        "AlgorithmError: ExecuteUserScriptError: ExitCode 2 ErrorMessage \".venv/bin/python: can't open "
        "file '/repo/.localcloud/sagemaker/training-jobs/x/code/train.py'\""
    )

    def list_training_jobs(self, **_: Any) -> dict[str, Any]:
        return {"TrainingJobSummaries": [{"TrainingJobName": "dogs-demo-20261203-091221-001-992c1895"}]}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return {
            "TrainingJobName": TrainingJobName,
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "CreationTime": NOW,
            "TrainingStartTime": NOW,
            "TrainingEndTime": NOW + dt.timedelta(seconds=42),
            "FailureReason": self.reason,
            "FinalMetricDataList": [{"MetricName": "valid:accuracy", "Value": 0.5}],
        }


class FakeSfnStatus:
    def list_state_machines(self, **_: Any) -> dict[str, Any]:
        return {"stateMachines": [{"name": "PipelineStateMachine-EMA2A53PFGTD", "stateMachineArn": "arn:sm"}]}

    def list_executions(self, **_: Any) -> dict[str, Any]:
        return {
            "executions": [
                {
                    "name": "demo-20261203-091221",
                    "executionArn": "arn:x",
                    "status": "FAILED",
                    "startDate": NOW,
                    "stopDate": NOW + dt.timedelta(seconds=80),
                }
            ]
        }

    def describe_execution(self, **_: Any) -> dict[str, Any]:
        return {"error": "JobFailed", "cause": FakeSM.reason}


def _executions_section() -> Any:
    from localcloud.stepfunctions.status_table import executions_section

    return executions_section


def _section_text(section: Any) -> str:
    assert section.body is not None
    return render(section.body)


@pytest.mark.parametrize(
    "section",
    [
        lambda: status.training_jobs(status.View({"sagemaker": FakeSM()})),
        lambda: _executions_section()({"stepfunctions": FakeSfnStatus()}),
    ],
)
def test_status_tables_fit_80_columns_and_errors_are_whole(section: Any) -> None:
    text = _section_text(section())
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert " ".join(FakeSM.reason.split()) in " ".join(text.split()), text


# ---------------------------------------------------------------- item 10: logs
def _state_with_logs(root: Path) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "app.json").write_text(
        json.dumps(
            {
                "Resources": {
                    "PredictFunction": {
                        "Type": "AWS::Serverless::Function",
                        "PhysicalResourceId": "app-Predict-ABC",
                    },
                    "Machine": {
                        "Type": "AWS::Serverless::StateMachine",
                        "PhysicalResourceId": "arn:aws:states:us-east-1:0:stateMachine:Machine-XYZ",
                    },
                }
            }
        )
    )
    fn = root / "logs" / "aws" / "lambda" / "app-Predict-ABC"
    fn.mkdir(parents=True)
    (fn / "2026-12-03-w1.log").write_text("START RequestId: 1\nhello from predict\n")
    sm = root / "logs" / "aws" / "states" / "Machine-XYZ"
    sm.mkdir(parents=True)
    events = [
        {
            "timestamp": 1796289141.5,
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {"input": "x" * 100_000},
        },
        {
            "timestamp": 1796289142.0,
            "type": "TaskStateEntered",
            "id": 2,
            "previousEventId": 1,
            "stateEnteredEventDetails": {"name": "StartTuning", "input": "y" * 100_000},
        },
        {
            "timestamp": 1796289150.0,
            "type": "ExecutionFailed",
            "id": 3,
            "previousEventId": 2,
            "executionFailedEventDetails": {"error": "JobFailed", "cause": "the job failed"},
        },
    ]
    (sm / "demo-1.log").write_text("".join(json.dumps(e) + "\n" for e in events))
    return root


def test_logs_takes_a_logical_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    state = _state_with_logs(tmp_path / "state")
    code, out, err = _cli(["logs", "PredictFunction", "--state-dir", str(state)], capsys)
    assert code == 0, err
    assert "hello from predict" in out


def test_logs_takes_an_endpoint_name_whose_streams_are_variant_slash_instance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    for endpoint, text in (("classifier", "model server up"), ("other", "not this one")):
        log_path(state, f"/aws/sagemaker/Endpoints/{endpoint}", "AllTraffic/i-0123456789abcdef").write_text(
            text + "\n"
        )
    code, out, err = _cli(["logs", "classifier", "--state-dir", str(state)], capsys)
    assert code == 0, err
    assert "model server up" in out and "not this one" not in out


def test_logs_of_an_execution_is_one_line_per_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = _state_with_logs(tmp_path / "state")
    code, out, _ = _cli(["logs", "demo-1", "--state-dir", str(state)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3 and all(len(line) < 200 for line in lines)
    assert "TaskStateEntered" in lines[1] and "StartTuning" in lines[1]
    assert "ExecutionFailed" in lines[2] and "JobFailed: the job failed" in lines[2]
    code, raw, _ = _cli(["logs", "demo-1", "--json", "--state-dir", str(state)], capsys)
    assert [json.loads(line)["id"] for line in raw.splitlines()] == [1, 2, 3]


def test_status_lists_functions_with_their_logical_ids(tmp_path: Path) -> None:
    class FakeLambda:
        def list_functions(self, **_: Any) -> dict[str, Any]:
            return {"Functions": [{"FunctionName": "app-Predict-ABC"}]}

    state = _state_with_logs(tmp_path / "state")
    from localcloud.logs import logical_ids

    text = _section_text(
        status.functions(status.View({"lambda": FakeLambda()}, logical_ids=logical_ids(state)))
    )
    row = next(line for line in text.splitlines() if "app-Predict-ABC" in line)
    assert "PredictFunction" in row


# ---------------------------------------------------------------- item 12: help and make
def _subparsers() -> dict[str, Any]:
    choices: dict[str, Any] = {}
    for parser in (cli.build_parser(), demo_cli.build_parser()):
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        choices.update(action.choices)  # type: ignore[attr-defined]
    return choices


def test_every_option_has_help_with_its_default() -> None:
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.option_strings:
                assert "default" in action.help, (
                    f"{name} {action.option_strings}: help does not give the default"
                )
        text = sub.format_help()
        assert "``" not in text and ":mod:" not in text, text
    assert "``" not in cli.build_parser().format_help()
    assert "``" not in demo_cli.build_parser().format_help()


def _make(*args: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_make_help_lists_the_targets() -> None:
    text = _make("help")
    for target in ("setup", "test", "lint", "demo", "deploy", "deploy-guided", "clean"):
        assert f"make {target} " in text


def test_make_demo_passes_once_state_dir_and_data() -> None:
    line = _make("-n", "demo", "ONCE=1", "STATE_DIR=/tmp/s", "DATA=/tmp/d", "EDGE_PORT=5001").splitlines()[-1]
    assert "-m pipeline_demo run" in line
    for part in ("--once", "--state-dir /tmp/s", "--data /tmp/d", "--port 5001"):
        assert part in line


def test_make_clean_stops_localcloud_before_deleting_state_and_deploy_is_not_guided() -> None:
    text = _make("-n", "clean")
    assert text.index("localcloud stop") < text.index("rm -rf")
    assert "--guided" not in _make("-n", "deploy").splitlines()[-1]
    assert "--guided" in _make("-n", "deploy-guided").splitlines()[-1]


# ---------------------------------------------------------------- item 13: state dir size
def test_disk_usage_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    size = status.disk_usage(tmp_path)
    assert 100_000 <= size < 200_000
    assert status.human_size(1536 * 1024 * 1024) == "1.5 GB"


def test_live_progress_fits_80_columns_and_shows_the_training_trials_epoch() -> None:
    progress = demo.Progress.__new__(demo.Progress)  # no clients: only the rendering is under test
    progress.execution_arn = "arn:aws:states:us-east-1:0:execution:PipelineStateMachine-EMA2A53PFGTD:demo-1"
    progress.state, progress.description = "WaitForTuning", {"status": "RUNNING"}
    progress.tuning_job, progress.training_job, progress.training = "dogs-demo-20261203-092211", None, None
    progress.trials = [
        {
            "TrainingJobName": "dogs-demo-20261203-092211-001-912d0fe1",
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"lr": "0.0008061012644834263", "batch-size": "16"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.85},
        },
        {
            "TrainingJobName": "dogs-demo-20261203-092211-002-35ede1fc",
            "TrainingJobStatus": "InProgress",
            "TunedHyperParameters": {"lr": "0.002012215496196943", "batch-size": "32"},
        },
    ]
    progress.running = {"dogs-demo-20261203-092211-002-35ede1fc": "epoch 3/4, 3:10 elapsed, ~1:40 left"}
    lines = render(progress.render()).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("batch-size=16, lr=0.000806" in line for line in lines), lines
    assert any(line.strip() == "002-35ede1fc epoch 3/4, 3:10 elapsed, ~1:40 left" for line in lines), lines
    assert "002-35ede1fc epoch 3/4, 3:10 elapsed, ~1:40 left" in progress.line()


def test_a_reused_instance_is_asked_for_predictions_on_its_own_api_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The instance already running was started with --api-port 3999: predictions go there."""
    doc = {"status": "running", "pid": 1, "stateDir": str(tmp_path), "api": "http://127.0.0.1:3999"}
    monkeypatch.setattr(demo, "localcloud_health", lambda url: (doc, None))
    monkeypatch.setattr(demo, "wait_ready", lambda url, timeout: doc)
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    proc, state_dir, api_url = demo.start_localcloud(Settings(state_dir=tmp_path / "other"), console)
    assert (proc, state_dir, api_url) == (None, tmp_path, "http://127.0.0.1:3999")
    assert "reusing the instance" in console.export_text()
