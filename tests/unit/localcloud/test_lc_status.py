"""``localcloud status`` with many jobs: the newest N of each section, a line for the rest, only the
shown items described, a generic Metrics column, and the --limit / --all options.

No localcloud runs here: the AWS clients are small in-memory fakes that count their calls, and page
and sort their List* answers with localcloud's own SageMaker paging (``sagemaker.common.list_page``),
so what ``status`` gets back is what a real instance would hand it. ``localcloud status`` runs
through ``cli.main`` and prints at 80 columns.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rich.console import Console

from localcloud import cli, status
from localcloud.sagemaker.common import by_fields, list_page

NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)
TUNING_ARN = "arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/sweep"


def training_job(i: int, **fields: Any) -> dict[str, Any]:
    """Training job ``job-NN``, created ``i`` minutes after the first."""
    return {
        "TrainingJobName": f"job-{i:02d}",
        "TrainingJobStatus": "Completed",
        "CreationTime": NOW + dt.timedelta(minutes=i),
        "TrainingStartTime": NOW + dt.timedelta(minutes=i),
        "TrainingEndTime": NOW + dt.timedelta(minutes=i, seconds=42),
        **fields,
    }


class FakeSageMaker:
    """Training jobs, tuning jobs and endpoints, listed and paged as localcloud's SageMaker does."""

    def __init__(
        self,
        jobs: list[dict[str, Any]],
        tuning: list[dict[str, Any]] | None = None,
        endpoints: list[dict[str, Any]] | None = None,
    ) -> None:
        self.jobs = {job["TrainingJobName"]: job for job in jobs}
        self.tuning = {job["HyperParameterTuningJobName"].lower(): job for job in tuning or []}
        self.endpoints = {e["EndpointName"]: e for e in endpoints or []}
        self.calls: Counter[str] = Counter()

    def _list(self, op: str, field: str, docs: dict[str, Any], name: str, params: dict[str, Any]) -> Any:
        self.calls[op] += 1
        assert 1 <= params["MaxResults"] <= 100, params  # SageMaker's range for every List*
        keep = (name, "CreationTime")
        return list_page(
            field,
            [*docs.values()],
            params,
            summary=lambda doc: {k: doc[k] for k in keep},
            sort_fields=by_fields(name, "CreationTime"),
            default_sort="CreationTime",
            default_order="Descending",
        )

    def list_training_jobs(self, **params: Any) -> Any:
        return self._list("ListTrainingJobs", "TrainingJobSummaries", self.jobs, "TrainingJobName", params)

    def list_hyper_parameter_tuning_jobs(self, **params: Any) -> Any:
        field, name = "HyperParameterTuningJobSummaries", "HyperParameterTuningJobName"
        return self._list("ListHyperParameterTuningJobs", field, self.tuning, name, params)

    def list_endpoints(self, **params: Any) -> Any:
        return self._list("ListEndpoints", "Endpoints", self.endpoints, "EndpointName", params)

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        self.calls["DescribeTrainingJob"] += 1
        return self.jobs[TrainingJobName]

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        self.calls["DescribeHyperParameterTuningJob"] += 1
        if HyperParameterTuningJobName.lower() not in self.tuning:  # names are case-insensitive
            error = {"Code": "ResourceNotFound", "Message": "Amazon SageMaker can't find a tuning job"}
            raise ClientError({"Error": error}, "DescribeHyperParameterTuningJob")
        return self.tuning[HyperParameterTuningJobName.lower()]

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        self.calls["DescribeEndpoint"] += 1
        return self.endpoints[EndpointName]


class FakeStepFunctions:
    """``machines`` state machines (one a ListStateMachines page, as a service may answer fewer
    than asked), each with the same ``count`` executions, newest first, in pages of ``maxResults``."""

    def __init__(self, count: int = 0, machines: int = 1) -> None:
        self.machines = [
            {"name": f"Machine{i}-EMA2A53PFGTD", "stateMachineArn": f"arn:sm:{i}"} for i in range(machines)
        ]
        self.executions = [
            {
                "name": f"run-{i:02d}",
                "executionArn": f"arn:x:{i}",
                "status": "SUCCEEDED",
                "startDate": NOW + dt.timedelta(minutes=i),
                "stopDate": NOW + dt.timedelta(minutes=i, seconds=5),
            }
            for i in range(count, 0, -1)
        ]

    def list_state_machines(self, maxResults: int, nextToken: str = "0") -> dict[str, Any]:
        start = int(nextToken)
        page: dict[str, Any] = {"stateMachines": self.machines[start : start + 1] if self.executions else []}
        if self.executions and start + 1 < len(self.machines):
            page["nextToken"] = str(start + 1)
        return page

    def list_executions(self, stateMachineArn: str, maxResults: int, nextToken: str = "0") -> Any:
        start = int(nextToken)
        page: dict[str, Any] = {"executions": self.executions[start : start + maxResults]}
        if start + maxResults < len(self.executions):
            page["nextToken"] = str(start + maxResults)
        return page


class FakeLambda:
    """``count`` functions, paged by ListFunctions' Marker / NextMarker (50 a page at most)."""

    def __init__(self, count: int = 0) -> None:
        self.names = [f"app-Fn{i:02d}-ABC" for i in range(count)]

    def list_functions(self, MaxItems: int = 50, Marker: str = "0") -> dict[str, Any]:
        start, size = int(Marker), min(MaxItems, 50)
        page: dict[str, Any] = {"Functions": [{"FunctionName": n} for n in self.names[start : start + size]]}
        if start + size < len(self.names):
            page["NextMarker"] = str(start + size)
        return page


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The clients ``localcloud status`` gets; put fakes in before running it."""
    clients: dict[str, Any] = {
        "sagemaker": FakeSageMaker([]),
        "stepfunctions": FakeStepFunctions(),
        "lambda": FakeLambda(),
    }
    health = {"status": "running", "pid": 1, "stateDir": str(tmp_path)}
    monkeypatch.setattr(status, "localcloud_health", lambda url: (health, None))
    monkeypatch.setattr(status, "aws_client", lambda settings, name, **_: clients[name])
    monkeypatch.setenv("COLUMNS", "80")
    yield clients


def run_status(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = cli.main(["status", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80, out
    return out


def names_in(text: str, prefix: str) -> list[str]:
    return [word for line in text.splitlines() for word in line.split() if word.startswith(prefix)]


def test_default_shows_the_10_newest_training_jobs_and_describes_only_them(
    fakes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sm = fakes["sagemaker"] = FakeSageMaker([training_job(i) for i in range(1, 26)])
    out = run_status(capsys)
    assert names_in(out, "job-") == [f"job-{i:02d}" for i in range(25, 15, -1)]  # newest first
    assert "… and 15 more training jobs (--all to show them)" in out
    assert sm.calls["DescribeTrainingJob"] == 10
    assert sm.calls["ListTrainingJobs"] == 1  # 25 fit one page of 100


@pytest.mark.parametrize(
    ("args", "shown"), [(("--all",), 25), (("--limit", "3"), 3), (("--limit", "25"), 25)]
)
def test_limit_and_all_choose_how_many_jobs_are_shown(
    fakes: dict[str, Any], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], shown: int
) -> None:
    sm = fakes["sagemaker"] = FakeSageMaker([training_job(i) for i in range(1, 26)])
    out = run_status(capsys, *args)
    assert names_in(out, "job-") == [f"job-{i:02d}" for i in range(25, 25 - shown, -1)]
    assert sm.calls["DescribeTrainingJob"] == shown
    assert ("more training jobs" in out) == (shown < 25), out
    if shown == 3:
        assert "… and 22 more training jobs (--all to show them)" in out


def test_counting_past_the_first_page_describes_nothing_more(fakes: dict[str, Any]) -> None:
    sm = FakeSageMaker([training_job(i) for i in range(1, 251)])
    section = status.training_jobs(status.View({"sagemaker": sm}, limit=10))
    assert "… and 240 more training jobs" in render(section.body)
    assert sm.calls == Counter({"ListTrainingJobs": 3, "DescribeTrainingJob": 10})


def render(body: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(body)
    return console.export_text()


def test_the_metrics_column_shows_any_jobs_final_metrics() -> None:
    metrics = [
        {"MetricName": "train:mse", "Value": 0.0123456},
        {"MetricName": "val:rmse", "Value": 1.23456},
        {"MetricName": "val:r2", "Value": 0.987654},
        {"MetricName": "epoch[time]", "Value": 12.5},
        {"MetricName": "throughput", "Value": 1234567.0},
    ]
    sm = FakeSageMaker([training_job(1, FinalMetricDataList=metrics), training_job(2)])
    section = status.training_jobs(status.View({"sagemaker": sm}))
    text = render(section.body, width=200)
    assert "Metrics" in text and "valid acc" not in text
    row = next(line for line in text.splitlines() if "job-01" in line)
    assert row.rstrip().endswith("train:mse=0.01235 val:rmse=1.235 val:r2=0.9877 +2"), row
    narrow = render(section.body)  # at 80 columns the cell wraps between metrics, nothing is cut
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    assert "val:rmse=1.235" in narrow and "val:r2=0.9877" in narrow and "+2" in narrow, narrow


def test_a_tuning_trial_shows_its_objective_first_looking_the_tuning_job_up_once(
    fakes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = [
        {"MetricName": "a", "Value": 1.0},
        {"MetricName": "b", "Value": 2.0},
        {"MetricName": "c", "Value": 3.0},
        {"MetricName": "score", "Value": 0.5},
    ]
    trials = [training_job(i, FinalMetricDataList=metrics, TuningJobArn=TUNING_ARN) for i in range(1, 4)]
    tuning = {
        "HyperParameterTuningJobName": "Sweep",  # the trials' TuningJobArn says "sweep"
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": NOW,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
        },
        "TrainingJobStatusCounters": {"Completed": 3},
    }
    sm = fakes["sagemaker"] = FakeSageMaker([*trials, training_job(4, FinalMetricDataList=metrics)], [tuning])
    out = run_status(capsys, "--all")
    rows = {name: line for line in out.splitlines() for name in names_in(line, "job-")}
    for name in ("job-01", "job-02", "job-03"):
        assert "score=0.5 a=1 b=2 +1" in rows[name], out
    assert "a=1 b=2 c=3 +1" in rows["job-04"], out  # not a trial: the metrics in their own order
    assert sm.calls["DescribeHyperParameterTuningJob"] == 1  # the tuning section's description


def test_a_trial_whose_tuning_job_is_gone_shows_its_metrics_in_their_own_order() -> None:
    metrics = [{"MetricName": "loss", "Value": 0.25}, {"MetricName": "score", "Value": 0.75}]
    sm = FakeSageMaker([training_job(1, FinalMetricDataList=metrics, TuningJobArn=TUNING_ARN)])
    text = render(status.training_jobs(status.View({"sagemaker": sm})).body, width=200)
    assert "loss=0.25 score=0.75" in text, text


def test_training_jobs_alone_look_each_tuning_job_up_once() -> None:
    metrics = [{"MetricName": "loss", "Value": 0.25}, {"MetricName": "score", "Value": 0.75}]
    tuning = {"HyperParameterTuningJobConfig": {"HyperParameterTuningJobObjective": {"MetricName": "score"}}}
    trials = [training_job(i, FinalMetricDataList=metrics, TuningJobArn=TUNING_ARN) for i in range(1, 6)]
    sm = FakeSageMaker(trials, [{"HyperParameterTuningJobName": "sweep", **tuning}])
    text = render(status.training_jobs(status.View({"sagemaker": sm})).body, width=200)
    assert text.count("score=0.75 loss=0.25") == 5, text
    assert sm.calls["DescribeHyperParameterTuningJob"] == 1


def test_every_section_shows_its_newest_items_and_counts_the_rest(
    fakes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tuning = [
        {
            "HyperParameterTuningJobName": f"tune-{i:02d}",
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": NOW + dt.timedelta(minutes=i),
            "HyperParameterTuningJobConfig": {"Strategy": "Random"},
            "TrainingJobStatusCounters": {"Completed": 1},
        }
        for i in range(1, 13)
    ]
    endpoints = [
        {
            "EndpointName": f"ep-{i:02d}",
            "EndpointStatus": "InService",
            "CreationTime": NOW + dt.timedelta(minutes=i),
        }
        for i in range(1, 5)
    ]
    sm = fakes["sagemaker"] = FakeSageMaker([], tuning, endpoints)
    fakes["stepfunctions"] = FakeStepFunctions(14)
    fakes["lambda"] = FakeLambda(60)
    out = run_status(capsys, "--limit", "3")
    assert names_in(out, "tune-") == ["tune-12", "tune-11", "tune-10"]
    assert "… and 9 more tuning jobs (--all to show them)" in out
    assert names_in(out, "ep-") == ["ep-04", "ep-03", "ep-02"]
    assert "… and 1 more endpoint (--all to show them)" in out
    assert names_in(out, "run-") == ["run-14", "run-13", "run-12"]
    assert "… and 11 more executions (--all to show them)" in out
    assert names_in(out, "app-Fn") == ["app-Fn00-ABC", "app-Fn01-ABC", "app-Fn02-ABC"]
    assert "… and 57 more functions (--all to show them)" in out
    assert sm.calls["DescribeHyperParameterTuningJob"] == 3 and sm.calls["DescribeEndpoint"] == 3
    everything = run_status(capsys, "--all")
    assert len(names_in(everything, "app-Fn")) == 60  # past ListFunctions' first page of 50
    assert len(names_in(everything, "run-")) == 14 and len(names_in(everything, "tune-")) == 12
    assert "more" not in everything


def test_executions_of_every_state_machine_past_the_first_listing_page(
    fakes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    fakes["stepfunctions"] = FakeStepFunctions(2, machines=3)
    out = run_status(capsys)
    for i in range(3):
        assert f"Step Functions executions of Machine{i}-EMA2A53PFGTD" in out, out
    assert len(names_in(out, "run-")) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--limit", "0"), "argument --limit: must be 1 or more, got 0 (--all shows everything)"),
        (("--limit", "-3"), "argument --limit: must be 1 or more, got -3"),
        (("--limit", "ten"), "argument --limit: 'ten' is not a whole number"),
        (("--limit", "3", "--all"), "argument --all: not allowed with argument --limit"),
        (("--all", "--limit", "3"), "argument --limit: not allowed with argument --all"),
    ],
)
def test_bad_limits_are_argument_errors(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["status", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
