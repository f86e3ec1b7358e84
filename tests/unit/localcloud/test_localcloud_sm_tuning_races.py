"""Interleavings between a tuning job's Tuner thread and the training jobs it launches.

The training side is a stand-in that writes training-job documents into the real store the way
TrainingRun does; the Tuner, TuningJobs and the Optuna study are the real ones. Each test pins one
ordering that a loaded machine can produce and checks the tuner's verdict.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from localcloud.config import Settings
from localcloud.sagemaker import common
from localcloud.sagemaker.records import Records, TrainingJob, Trial, TuningJob
from localcloud.sagemaker.script_mode import HostLayout
from localcloud.sagemaker.training_run import TrainingRun
from localcloud.sagemaker.tuner import Tuner, make_study
from localcloud.sagemaker.tuning import TuningJobs
from localcloud.sagemaker.tuning_plan import make_plan
from localcloud.store import Doc, Store

METRIC = "valid:accuracy"


class FakeCloud:
    def __init__(self, state_dir: Path) -> None:
        self.settings = Settings(state_dir=state_dir, port=1, api_port=2)
        self.store = Store(state_dir / "state.db")


class InstantTraining:
    """Training jobs that have already run to their end by the time CreateTrainingJob returns.

    Under load every trial of a small tuning job can finish (metrics stored, status terminal,
    "ended" notified) before the tuner thread gets the CPU again: this replays that ordering.
    """

    def __init__(self, cloud: FakeCloud, values: dict[str, float | None], status: str = "Completed") -> None:
        self.store = cloud.store
        self.records = Records(cloud.store, common.TRAINING_JOB, TrainingJob)
        self.settings = cloud.settings
        self.values = values  # by the tuned "lr"; None: the job printed no objective metric
        self.status = status
        self.listeners: list[Any] = []
        self.created: list[str] = []

    def create(self, params: dict[str, Any], *, tuning_job_arn: str, tuned: dict[str, str]) -> str:
        name = params["TrainingJobName"]
        arn = self.settings.arn("sagemaker", f"training-job/{name.lower()}")
        ts = common.now()
        value = self.values[tuned["lr"]]
        doc: Doc = {
            "TrainingJobName": name,
            "TrainingJobArn": arn,
            "TuningJobArn": tuning_job_arn,
            "_tuned": tuned,
            "CreationTime": ts,
            "TrainingStartTime": ts,
            "TrainingEndTime": ts,
            "TrainingJobStatus": self.status,
            "_series": {METRIC: [[ts, 0.5], [ts, value]]} if value is not None else {},
        }
        assert self.store.create(common.TRAINING_JOB, common.key(name), doc)
        self.created.append(name)
        for listener in self.listeners:
            listener("ended", common.key(name))
        return arn

    def stop(self, name: str, reason: str = "Stopped") -> None:
        raise AssertionError(f"nothing should be stopped ({name})")


def _request(name: str, lrs: list[str], *, max_jobs: int, parallel: int) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "lr", "Values": lrs}]},
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://bucket/code.tar.gz"',
            },
            "AlgorithmSpecification": {
                "TrainingImage": "local",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": METRIC, "Regex": "valid_accuracy=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::000000000000:role/sm",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


def _tuning_jobs(cloud: FakeCloud, training: InstantTraining) -> TuningJobs:
    return TuningJobs(settings=cloud.settings, store=cloud.store, training=training)  # type: ignore[arg-type]


def _run_to_end(tmp_path: Path, values: dict[str, float | None], *, status: str = "Completed") -> TuningJob:
    cloud = FakeCloud(tmp_path)
    training = InstantTraining(cloud, values, status)
    tuning = _tuning_jobs(cloud, training)
    lrs = sorted(values)
    tuning.create(_request("race", lrs, max_jobs=len(lrs), parallel=len(lrs)))
    with tuning._lock:
        tuner = tuning._tuners.get("race")
    if tuner is not None:
        tuner.join(timeout=30)
        assert not tuner.is_alive()
    job = tuning.get("race")
    assert len(training.created) == len(lrs)
    return job


def test_trials_that_all_finish_before_the_tuner_looks_again_complete_the_job(tmp_path: Path) -> None:
    job = _run_to_end(tmp_path, {"0.1": 0.7, "0.5": 0.9, "0.9": 0.8})
    assert job.status == "Completed", job.get("FailureReason")
    best = job.get("BestTrainingJob")
    assert best["TunedHyperParameters"] == {"lr": "0.5"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.9
    assert job.get("ObjectiveStatusCounters") == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    assert all(t.done and t.objective is not None for t in job.trials)


def test_one_job_with_an_objective_is_enough_to_complete(tmp_path: Path) -> None:
    job = _run_to_end(tmp_path, {"0.1": None, "0.5": None, "0.9": 0.6})
    assert job.status == "Completed", job.get("FailureReason")
    assert job.get("BestTrainingJob")["TunedHyperParameters"] == {"lr": "0.9"}


def test_jobs_without_the_objective_metric_still_fail_the_tuning_job(tmp_path: Path) -> None:
    job = _run_to_end(tmp_path, {"0.1": None, "0.5": None, "0.9": None})
    assert job.status == "Failed"
    assert "no training job reported the objective metric" in job.get("FailureReason")


@pytest.mark.parametrize("restarted", [False, True])
def test_a_recorded_trial_without_its_training_job(tmp_path: Path, restarted: bool) -> None:
    """A trial is recorded before its CreateTrainingJob: only one recorded before localcloud
    restarted (not being created by this tuner) is failed for having no training job."""
    cloud = FakeCloud(tmp_path)
    tuning = _tuning_jobs(cloud, InstantTraining(cloud, {"0.1": 0.7}))
    tuning._start_tuner = lambda name: None  # type: ignore[method-assign]  # drive the tuner by hand
    tuning.create(_request("race", ["0.1"], max_jobs=1, parallel=1))
    tuner = Tuner(tuning, "race")
    plan = make_plan(tuner.job().request)
    study = make_study(tuner.job(), plan)
    name = "race-001-0123abcd"
    trial = Trial(index=1, training_job_name=name, trial_id=study.ask()._trial_id)
    tuner.update(lambda job: job.trials.append(trial))
    if not restarted:
        tuner._creating.add(name)
    job = tuner.job()
    tuner._observe(job, job.trials[0], study, plan)
    assert tuner.job().trials[0].done is restarted
    assert study.trials[0].state == (TrialState.FAIL if restarted else TrialState.RUNNING)


def test_metric_listeners_see_the_points_they_are_told_about(tmp_path: Path) -> None:
    """A "metrics" notification wakes the tuner, which reads the stored series: the points must be
    in the store by then, including the last line a job prints without a newline before exiting."""
    cloud = FakeCloud(tmp_path)
    seen: list[list[float]] = []

    class Jobs:
        records = Records(cloud.store, common.TRAINING_JOB, TrainingJob)

        def metrics_changed(self, key: str) -> None:
            stored = cloud.store.get(common.TRAINING_JOB, key) or {}
            seen.append([p[1] for p in (stored.get("_series") or {}).get(METRIC, [])])

    log_file = tmp_path / "algo-1.log"
    definitions = [{"Name": METRIC, "Regex": "valid_accuracy=([0-9.]+)"}]
    doc: Doc = {"AlgorithmSpecification": {"MetricDefinitions": definitions}, "_logs": [str(log_file)]}
    cloud.store.create(common.TRAINING_JOB, "job", doc)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "print('valid_accuracy=0.5'); print('valid_accuracy=0.75', end='')"],
            stdout=out,
        )
    proc.wait(timeout=30)
    run = TrainingRun(Jobs(), "job")  # type: ignore[arg-type]
    run.procs = [proc]
    layout = HostLayout(tmp_path / "algo-1", tmp_path / "code", tmp_path / "checkpoints")
    assert run._monitor(run.job(), [layout], None) == [0]
    assert seen and seen[-1] == [0.5, 0.75]
    assert all(values for values in seen)
