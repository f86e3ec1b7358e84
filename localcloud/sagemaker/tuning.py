"""Hyperparameter tuning jobs: Create/Describe/List/Stop, the training jobs they launched, and one
:class:`~localcloud.sagemaker.tuner.Tuner` thread per running job (the tuner does the tuning).

State is one :class:`~localcloud.sagemaker.records.TuningJob` record per job (its request, its
trials) in the store and an Optuna journal in ``<state>/sagemaker/tuning-jobs/<name>/``, so a
tuning job carries on after ``localcloud`` restarts (its training jobs are resumed or failed by
TrainingJobs first). ``api.py`` turns records into AWS's answers. Relies on tuner.py,
tuning_plan.py, tuning_results.py and training.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..store import Doc, Store
from . import common, defaults
from .records import Records, TrainingJob, TuningJob
from .training import TrainingJobs
from .tuner import Tuner
from .tuning_plan import make_plan
from .tuning_results import status_counters, trial_summary

log = logging.getLogger("localcloud.sagemaker.tuning")

ACTIVE = ("InProgress", "Stopping")


class TuningJobs:
    def __init__(self, *, settings: Settings, store: Store, training: TrainingJobs) -> None:
        self.settings = settings
        self.records: Records[TuningJob] = Records(store, common.TUNING_JOB, TuningJob)
        self.training = training
        self.root = settings.state_dir / "sagemaker" / "tuning-jobs"
        self._tuners: dict[str, Tuner] = {}
        self._lock = threading.Lock()
        training.listeners.append(self._on_training_event)

    # ------------------------------------------------------------------ API
    def create(self, params: dict[str, Any]) -> str:
        """Start a tuning job; its ARN."""
        plan = make_plan(params)
        channels = params["TrainingJobDefinition"].get("InputDataConfig") or []
        if channels:  # named now, not as every trial's FailureReason
            self.training.locations.check_channels(channels, "TrainingJobDefinition.")
        name = params["HyperParameterTuningJobName"]
        arn = self.settings.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
        ts = common.now()
        config = dict(params["HyperParameterTuningJobConfig"])
        config.setdefault("TrainingJobEarlyStoppingType", "Off")
        job = TuningJob(
            description={
                "HyperParameterTuningJobName": name,
                "HyperParameterTuningJobArn": arn,
                "HyperParameterTuningJobConfig": config,
                "TrainingJobDefinition": defaults.tuning_definition(
                    params["TrainingJobDefinition"], plan.metric
                ),
                "HyperParameterTuningJobStatus": "InProgress",
                "CreationTime": ts,
                "LastModifiedTime": ts,
                "TrainingJobStatusCounters": status_counters([]),
                "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
                "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": 0},
                "ConsumedResources": {"RuntimeInSeconds": 0},
            },
            tags=params.get("Tags") or [],
            request=params,
            dir=str(self.root / name),
        )
        if not self.records.create(name, job):
            raise common.resource_in_use(f"Hyperparameter tuning job {name} already exists ({arn})")
        Path(job.dir).mkdir(parents=True, exist_ok=True)
        self._start_tuner(name)
        return arn

    def get(self, name: str) -> TuningJob:
        return self.records.require(
            name,
            lambda n: common.resource_not_found(f"Amazon SageMaker can't find a tuning job with name {n}"),
        )

    def descriptions(self) -> list[Doc]:
        """Every tuning job's description (ListHyperParameterTuningJobs), without their trials."""
        return self.records.descriptions(omit=("trials",))

    def trainings(self, job: TuningJob) -> dict[str, TrainingJob]:
        """The training jobs of ``job``'s trials that exist, by name, in trial order."""
        out = {}
        for trial in job.trials:
            training = self.training.records.get(trial.training_job_name)
            if training is not None:
                out[trial.training_job_name] = training
        return out

    def summaries(self, job: TuningJob, trainings: dict[str, TrainingJob] | None = None) -> Iterable[Doc]:
        """A HyperParameterTrainingJobSummary per trial whose training job exists, in trial order."""
        objective = job.objective
        for training in (self.trainings(job) if trainings is None else trainings).values():
            yield trial_summary(training, job.name, objective["MetricName"], objective["Type"])

    def stop(self, name: str) -> None:
        status = self.get(name).status
        if status != "InProgress":
            raise common.validation(f"The request was rejected because the tuning job is in status {status}.")
        self.records.update(
            name, lambda job: job.set(HyperParameterTuningJobStatus="Stopping", LastModifiedTime=common.now())
        )
        self._wake(common.key(name))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for job in self.records.all():
            if job.status in ACTIVE:
                log.info("tuning job %s: carrying on after a restart", job.name)
                self._start_tuner(job.name)

    def stop_all(self) -> None:
        with self._lock:
            tuners = list(self._tuners.values())
        for tuner in tuners:
            tuner.shutdown.set()
            tuner.wake.set()
        for tuner in tuners:
            tuner.join(timeout=10)

    def _start_tuner(self, name: str) -> None:
        tuner = Tuner(self, name)
        with self._lock:
            self._tuners[common.key(name)] = tuner
        tuner.start()

    def tuner_ended(self, key: str, tuner: Tuner) -> None:
        with self._lock:
            if self._tuners.get(key) is tuner:
                del self._tuners[key]

    def _wake(self, key: str) -> None:
        with self._lock:
            tuner = self._tuners.get(key)
        if tuner is not None:
            tuner.wake.set()

    def _on_training_event(self, event: str, training_key: str) -> None:
        training = self.training.records.get(training_key)
        arn = training.tuning_job_arn if training is not None else None
        if arn:
            self._wake(arn.rsplit("/", 1)[-1])
