"""The thread that runs one hyperparameter tuning job, driven by Optuna.

A :class:`Tuner` asks an Optuna study for hyperparameters, launches training jobs through
:class:`~localcloud.sagemaker.training.TrainingJobs` (named ``<tuning-job>-<3-digit index>-<8
hex>`` as SageMaker does, with the ``_tuning_objective_metric`` hyperparameter SageMaker adds),
follows their objective metric epoch by epoch, stops jobs early (Auto = AWS's median rule,
Hyperband = Optuna's HyperbandPruner fed the per-epoch values), and tells the study each result.
Strategies: Bayesian = TPESampler, Random = RandomSampler, Grid = GridSampler (every categorical
combination), Hyperband = TPESampler + HyperbandPruner; RandomSeed seeds the sampler.

The study lives in an Optuna journal file in the job's folder, so a tuner started after a
restart carries on where the last one stopped. Each pass re-reads the tuning job's record and
writes what changed (trials, counters, BestTrainingJob) through TuningJobs' records.
Relies on optuna, tuning_results.py and early_stopping.py.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from ..errors import AwsError
from ..store import Doc
from . import common, tuning_results
from .early_stopping import should_stop
from .locations import join
from .records import Records, TrainingJob, Trial, TuningJob
from .search_space import distributions, render
from .training import TrainingJobs
from .tuning_plan import TuningPlan, make_plan

log = logging.getLogger("localcloud.sagemaker.tuning")
optuna.logging.set_verbosity(optuna.logging.WARNING)


class TunerOwner(Protocol):
    """What a tuner uses of the tuning jobs that own it (``tuning.TuningJobs``), named here so
    that this module does not import its owner."""

    records: Records[TuningJob]
    training: TrainingJobs

    def trainings(self, job: TuningJob) -> dict[str, TrainingJob]: ...

    def summaries(self, job: TuningJob, trainings: dict[str, TrainingJob] | None = None) -> Iterable[Doc]: ...

    def tuner_ended(self, key: str, tuner: Tuner) -> None: ...


TERMINAL = ("Completed", "Failed", "Stopped")
POLL_SECONDS = 1.0
_NOT_IN_TRIAL_REQUEST = (
    "StaticHyperParameters",
    "DefinitionName",
    "TuningObjective",
    "HyperParameterRanges",
    "HyperParameterTuningResourceConfig",
)


class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler minus its ``study.stop()`` once the grid is exhausted: that only works inside
    ``study.optimize``, and the tuner (ask/tell) stops by itself after the last combination."""

    def after_trial(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: TrialState, values: Any
    ) -> None:
        return None


def make_study(job: TuningJob, plan: TuningPlan) -> optuna.Study:
    """The job's Optuna study (created, or loaded from its journal after a restart)."""
    storage = JournalStorage(JournalFileBackend(str(Path(job.dir) / "optuna-journal.log")))
    seed = plan.seed
    sampler: optuna.samplers.BaseSampler
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if plan.strategy == "Random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif plan.strategy == "Grid":
        assert plan.grid is not None
        sampler = _GridSampler(plan.grid, seed=seed)
    else:  # Bayesian, Hyperband: Optuna's model-based sampler
        startup = max(2, min(10, plan.max_jobs // 3))
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup,
            multivariate=True,
            constant_liar=True,
            warn_independent_sampling=False,
        )
        if plan.strategy == "Hyperband":
            assert plan.max_resource is not None
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=plan.min_resource, max_resource=plan.max_resource
            )
    return optuna.create_study(
        study_name=job.name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
        direction="maximize" if plan.maximize else "minimize",
    )


def trial_request(job: TuningJob, name: str, tuned: dict[str, str], metric: str) -> Doc:
    """The CreateTrainingJob request of one trial, from the job's TrainingJobDefinition."""
    definition = job.description["TrainingJobDefinition"]
    request: Doc = {k: v for k, v in definition.items() if k not in _NOT_IN_TRIAL_REQUEST}
    request["TrainingJobName"] = name
    request["HyperParameters"] = {
        **(definition.get("StaticHyperParameters") or {}),
        **tuned,
        "_tuning_objective_metric": metric,
    }
    if definition.get("CheckpointConfig"):
        request["CheckpointConfig"] = {
            **definition["CheckpointConfig"],
            "S3Uri": join(definition["CheckpointConfig"]["S3Uri"], name),
        }
    return request


class Tuner(threading.Thread):
    """Runs one tuning job to its end (or until localcloud stops)."""

    def __init__(self, jobs: TunerOwner, name: str) -> None:
        super().__init__(name=f"tuning-{name}", daemon=True)
        self.jobs = jobs
        self.name_ = name
        self.key = common.key(name)
        self.wake = threading.Event()
        self.shutdown = threading.Event()
        # Trials recorded by this tuner whose CreateTrainingJob has not returned yet: their training
        # job may not exist yet, which only means "failed" for a trial recorded before a restart.
        self._creating: set[str] = set()

    def job(self) -> TuningJob:
        job = self.jobs.records.get(self.key)
        assert job is not None
        return job

    def update(self, change: Callable[[TuningJob], None]) -> TuningJob:
        def apply(job: TuningJob) -> None:
            change(job)
            job.set(LastModifiedTime=common.now())

        return self.jobs.records.update(self.key, apply)

    def mark(self, index: int, change: Callable[[Trial], None]) -> None:
        """Change trial ``index`` of the stored record."""
        self.update(lambda job: change(job.trial(index)))

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            log.exception("tuning job %s failed in localcloud", self.name_)
            self._end("Failed", f"InternalServerError: localcloud could not run the tuning job: {exc}")
        finally:
            self.jobs.tuner_ended(self.key, self)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        job = self.job()
        plan = make_plan(job.request)
        study = make_study(job, plan)
        while not self.shutdown.is_set():
            if self._pass(study, plan):
                return
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def _pass(self, study: optuna.Study, plan: TuningPlan) -> bool:
        """Observe the running trials, then stop, launch or finish; True when the job has ended."""
        job = self.job()
        for trial in job.trials:
            if not trial.done:
                self._observe(job, trial, study, plan)
        # Judge the job on the counters and BestTrainingJob just computed from the trials observed
        # above: the previous pass's (before the last trials ended) would say "no objective".
        job = self._refresh(self.job(), plan)
        running = [t for t in job.trials if not t.done]
        over_time = plan.max_runtime is not None and common.now() - job.creation_time > plan.max_runtime
        if job.status == "Stopping" or over_time:
            for trial in running:
                self._stop_training(trial.training_job_name)
            if not running:
                self._end("Stopped", None)
                return True
            return False
        reason = tuning_results.finished_reason(job, plan, lambda: self.jobs.trainings(job))
        if reason is None:
            self._launch_more(len(running), study, plan)
        elif not running:
            self._complete(job, reason)
            return True
        return False

    def _launch_more(self, running: int, study: optuna.Study, plan: TuningPlan) -> None:
        while running < plan.max_parallel and len(self.job().trials) < plan.max_jobs:
            if self._launch(study, plan) is None:
                break
            running += 1

    def _launch(self, study: optuna.Study, plan: TuningPlan) -> Trial | None:
        """Start the next training job; None when SageMaker would not start it (the tuning job fails)."""
        job = self.job()
        index = len(job.trials) + 1
        optuna_trial = study.ask(distributions(plan.params))
        tuned = render(plan.params, optuna_trial.params)
        name = f"{job.name}-{index:03d}-{secrets.token_hex(4)}"
        trial = Trial(index=index, training_job_name=name, trial_id=optuna_trial._trial_id)
        self._creating.add(name)
        self.update(lambda record: record.trials.append(trial))
        try:
            self.jobs.training.create(
                trial_request(job, name, tuned, plan.metric), tuning_job_arn=job.arn, tuned=tuned
            )
        except AwsError as exc:
            message = exc.message
            study.tell(optuna_trial, state=TrialState.FAIL)
            self.mark(index, lambda t: _set(t, done=True, launch_error=message))
            self.wake.set()
            return None
        finally:
            self._creating.discard(name)
        log.info("tuning job %s: launched %s %s", job.name, name, tuned)
        return trial

    def _observe(self, job: TuningJob, trial: Trial, study: optuna.Study, plan: TuningPlan) -> None:
        training = self.jobs.training.records.get(trial.training_job_name)
        if training is None:
            if trial.training_job_name in self._creating:  # being created right now: nothing to judge yet
                return
            # recorded before localcloud stopped, which happened before the training job was created
            self._tell(study, trial, None, TrialState.FAIL)
            return
        series = training.objective_series(plan.metric)
        stop_reason = self._report(job, trial, training, series=series, study=study, plan=plan)
        if len(series) != trial.reported or stop_reason != trial.stop_reason:
            self.mark(trial.index, lambda t: _set(t, reported=len(series), stop_reason=stop_reason))
        if training.status in TERMINAL:
            value = training.objective_value(plan.metric)
            if value is None or training.status == "Failed":
                self._tell(study, trial, None, TrialState.FAIL)
            elif training.status == "Stopped" and stop_reason in ("Pruned", "EarlyStopped"):
                self._tell(study, trial, value, TrialState.PRUNED)
            else:
                self._tell(study, trial, value, TrialState.COMPLETE)

    def _report(
        self,
        job: TuningJob,
        trial: Trial,
        training: TrainingJob,
        *,
        series: list[float],
        study: optuna.Study,
        plan: TuningPlan,
    ) -> str | None:
        """Tell the study the epochs not reported yet; stop the training job early when the
        strategy says so. The trial's stop reason (the one it had, or the one just decided)."""
        optuna_trial = optuna.trial.Trial(study, trial.trial_id)
        stop_reason = trial.stop_reason
        for step in range(trial.reported, len(series)):
            if study._storage.get_trial(trial.trial_id).state != TrialState.RUNNING:
                break
            optuna_trial.report(series[step], step + 1)
            if training.status != "InProgress" or stop_reason:
                continue
            stop_reason = self._early_stop(job, trial, optuna_trial, series[: step + 1], plan)
            if stop_reason:
                log.info(
                    "tuning job %s: stopping %s (%s at epoch %d)",
                    job.name,
                    trial.training_job_name,
                    stop_reason,
                    step + 1,
                )
                self._stop_training(trial.training_job_name)
        return stop_reason

    def _early_stop(
        self,
        job: TuningJob,
        trial: Trial,
        optuna_trial: optuna.trial.Trial,
        series: list[float],
        plan: TuningPlan,
    ) -> str | None:
        if plan.strategy == "Hyperband":
            if optuna_trial.should_prune():
                return "Pruned"
            if plan.max_resource is not None and len(series) >= plan.max_resource:
                return "MaxResource"
            return None
        if plan.early_stopping and should_stop(
            series, self._previous(job, trial, plan), maximize=plan.maximize
        ):
            return "EarlyStopped"
        return None

    def _previous(self, job: TuningJob, trial: Trial, plan: TuningPlan) -> list[list[float]]:
        out = []
        for other in job.trials:
            if other.index >= trial.index:
                continue
            training = self.jobs.training.records.get(other.training_job_name)
            if training is not None:
                out.append(training.objective_series(plan.metric))
        return out

    def _tell(self, study: optuna.Study, trial: Trial, value: float | None, state: TrialState) -> None:
        current = study._storage.get_trial(trial.trial_id).state
        if current == TrialState.RUNNING:
            study.tell(
                optuna.trial.Trial(study, trial.trial_id),
                value if state == TrialState.COMPLETE else None,
                state=state,
            )
        self.mark(trial.index, lambda t: _set(t, done=True, objective=value))

    def _stop_training(self, name: str) -> None:
        with contextlib.suppress(AwsError):  # already ending
            self.jobs.training.stop(name)

    # ------------------------------------------------------------------ results
    def _refresh(self, job: TuningJob, plan: TuningPlan) -> TuningJob:
        """Recompute the counters and BestTrainingJob from the training jobs; returns the updated record."""
        trainings = self.jobs.trainings(job)
        summaries = list(self.jobs.summaries(job, trainings))
        best = tuning_results.best(summaries, plan)
        since = tuning_results.not_improving(summaries, plan)
        runtime = sum(
            (t.get("TrainingEndTime") or common.now()) - (t.get("TrainingStartTime") or t.creation_time)
            for t in trainings.values()
        )

        def change(record: TuningJob) -> None:
            record.set(
                TrainingJobStatusCounters=tuning_results.status_counters(trainings.values()),
                ObjectiveStatusCounters=tuning_results.objective_counters(summaries),
                TuningJobCompletionDetails={"NumberOfTrainingJobsObjectiveNotImproving": since},
                ConsumedResources={"RuntimeInSeconds": int(runtime)},
            )
            if best is not None:  # once there is a best training job, it stays
                record.set(BestTrainingJob=best)

        return self.update(change)

    def _complete(self, job: TuningJob, reason: str) -> None:
        if reason.startswith("failed:"):
            self._end("Failed", reason[len("failed:") :])
        elif job.get("BestTrainingJob") is None:
            self._end("Failed", tuning_results.failure_summary(job, self.jobs.trainings(job)))
        else:
            self._end("Completed", None)

    def _end(self, status: str, reason: str | None) -> None:
        for trial in self.job().trials:
            if not trial.done and status == "Failed":
                self._stop_training(trial.training_job_name)

        def change(record: TuningJob) -> None:
            record.set(HyperParameterTuningJobStatus=status, HyperParameterTuningEndTime=common.now())
            if reason:
                record.set(FailureReason=reason[:1024])

        self.update(change)
        log.info("tuning job %s: %s%s", self.name_, status, f" ({reason})" if reason else "")


def _set(trial: Trial, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(trial, name, value)
