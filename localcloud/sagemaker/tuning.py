"""Hyperparameter tuning jobs driven by Optuna: Create/Describe/List/Stop and the training jobs they launch.

A :class:`Tuner` thread per running tuning job asks an Optuna study for hyperparameters,
launches training jobs through :class:`~localcloud.sagemaker.training.TrainingJobs` (named
``<tuning-job>-<3-digit index>-<8 hex>`` as SageMaker does, with the ``_tuning_objective_metric``
hyperparameter SageMaker adds), follows their objective metric epoch by epoch, stops jobs early
(Auto = AWS's median rule, Hyperband = Optuna's HyperbandPruner fed the per-epoch values), and
tells the study each result. Strategies: Bayesian = TPESampler, Random = RandomSampler, Grid =
GridSampler (every categorical combination), Hyperband = TPESampler + HyperbandPruner; RandomSeed
seeds the sampler.

The study lives in an Optuna journal file next to the job's state, so a tuning job carries on
after ``localcloud`` restarts (its training jobs are resumed or failed by TrainingJobs first).
Relies on optuna.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import Trial, TrialState

from ..errors import AwsError
from ..store import Doc
from . import common, defaults
from .early_stopping import should_stop
from .locations import join
from .search_space import distributions, render
from .tuning_plan import TuningPlan, make_plan

if TYPE_CHECKING:
    from ..cloud import LocalCloud
    from .training import TrainingJobs

log = logging.getLogger("localcloud.sagemaker.tuning")
optuna.logging.set_verbosity(optuna.logging.WARNING)

TERMINAL = ("Completed", "Failed", "Stopped")
POLL_SECONDS = 1.0
FAIL_FAST_JOBS = 3  # the first jobs all failing fails the tuning job (the definition is broken)
_SUMMARY_FIELDS = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)


def objective_value(training_doc: Doc, metric: str) -> float | None:
    points = (training_doc.get("_series") or {}).get(metric) or []
    return float(points[-1][1]) if points else None


def objective_series(training_doc: Doc, metric: str) -> list[float]:
    return [float(p[1]) for p in (training_doc.get("_series") or {}).get(metric) or []]


def trial_summary(training_doc: Doc, tuning_name: str, metric: str, objective_type: str) -> Doc:
    """A HyperParameterTrainingJobSummary (ListTrainingJobsForHyperParameterTuningJob, BestTrainingJob)."""
    status = training_doc["TrainingJobStatus"]
    summary: Doc = {
        "TrainingJobName": training_doc["TrainingJobName"],
        "TrainingJobArn": training_doc["TrainingJobArn"],
        "TuningJobName": tuning_name,
        "CreationTime": training_doc["CreationTime"],
        "TrainingJobStatus": status,
        "TunedHyperParameters": training_doc.get("_tuned") or {},
    }
    for name in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if training_doc.get(name) is not None:
            summary[name] = training_doc[name]
    value = objective_value(training_doc, metric)
    if value is not None and status in ("Completed", "Stopped"):
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective_type,
            "MetricName": metric,
            "Value": value,
        }
        summary["ObjectiveStatus"] = "Succeeded"
    elif status in ("InProgress", "Stopping"):
        summary["ObjectiveStatus"] = "Pending"
    else:
        summary["ObjectiveStatus"] = "Failed"
    return summary


class TuningJobs:
    def __init__(self, cloud: LocalCloud, training: TrainingJobs) -> None:
        self.cloud = cloud
        self.store = cloud.store
        self.training = training
        self.root = cloud.settings.state_dir / "sagemaker" / "tuning-jobs"
        self._tuners: dict[str, Tuner] = {}
        self._lock = threading.Lock()
        training.listeners.append(self._on_training_event)

    # ------------------------------------------------------------------ API
    def create(self, params: dict[str, Any]) -> dict[str, str]:
        plan = make_plan(params)
        channels = params["TrainingJobDefinition"].get("InputDataConfig") or []
        if channels:  # named now, not as every trial's FailureReason
            self.training.locations.check_channels(channels, "TrainingJobDefinition.")
        name = params["HyperParameterTuningJobName"]
        arn = self.cloud.settings.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
        ts = common.now()
        config = dict(params["HyperParameterTuningJobConfig"])
        config.setdefault("TrainingJobEarlyStoppingType", "Off")
        doc: Doc = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": defaults.tuning_definition(params["TrainingJobDefinition"], plan.metric),
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": ts,
            "LastModifiedTime": ts,
            "TrainingJobStatusCounters": _status_counters([]),
            "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
            "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": 0},
            "ConsumedResources": {"RuntimeInSeconds": 0},
            "_request": params,
            "_trials": [],
            "_tags": params.get("Tags") or [],
            "_dir": str(self.root / name),
        }
        if not self.store.create(common.TUNING_JOB, common.key(name), doc):
            raise common.resource_in_use(f"Hyperparameter tuning job {name} already exists ({arn})")
        Path(doc["_dir"]).mkdir(parents=True, exist_ok=True)
        self._start_tuner(name)
        return {"HyperParameterTuningJobArn": arn}

    def get(self, name: str) -> Doc:
        doc = self.store.get(common.TUNING_JOB, common.key(name))
        if doc is None:
            raise common.resource_not_found(f"Amazon SageMaker can't find a tuning job with name {name}")
        return doc

    def describe(self, name: str) -> Doc:
        doc = common.public(self.get(name))
        metric = doc["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        doc["TrainingJobDefinition"] = defaults.tuning_definition(doc["TrainingJobDefinition"], metric)
        return doc

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = common.list_filters(
            self.store.list(common.TUNING_JOB), params, name_field="HyperParameterTuningJobName"
        )
        if params.get("StatusEquals"):
            docs = [d for d in docs if d["HyperParameterTuningJobStatus"] == params["StatusEquals"]]
        page, token = common.paginate(
            docs,
            params,
            sort_fields={
                "Name": lambda d: d["HyperParameterTuningJobName"],
                "CreationTime": lambda d: d["CreationTime"],
                "Status": lambda d: d["HyperParameterTuningJobStatus"],
            },
            default_sort="Name",
            default_order="Ascending",
        )
        summaries = []
        for doc in page:
            summary = {k: doc[k] for k in _SUMMARY_FIELDS if k in doc}
            summary["Strategy"] = doc["HyperParameterTuningJobConfig"]["Strategy"]
            summary["ResourceLimits"] = doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
            summaries.append(summary)
        out: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    def list_training_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(params["HyperParameterTuningJobName"])
        summaries = list(self.summaries(doc))
        if params.get("StatusEquals"):
            summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
        if params.get("SortBy") == "FinalObjectiveMetricValue":
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        page, token = common.paginate(
            summaries,
            params,
            sort_fields={
                "Name": lambda s: s["TrainingJobName"],
                "CreationTime": lambda s: s["CreationTime"],
                "Status": lambda s: s["TrainingJobStatus"],
                "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"][
                    "Value"
                ],
            },
            default_sort="Name",
            default_order="Ascending",
        )
        out: dict[str, Any] = {"TrainingJobSummaries": page}
        if token:
            out["NextToken"] = token
        return out

    def summaries(self, doc: Doc) -> Iterable[Doc]:
        objective = doc["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        for trial in doc["_trials"]:
            training = self.store.get(common.TRAINING_JOB, common.key(trial["TrainingJobName"]))
            if training is not None:
                yield trial_summary(
                    training, doc["HyperParameterTuningJobName"], objective["MetricName"], objective["Type"]
                )

    def stop(self, name: str) -> None:
        doc = self.get(name)
        status = doc["HyperParameterTuningJobStatus"]
        if status != "InProgress":
            raise common.validation(f"The request was rejected because the tuning job is in status {status}.")

        def stopping(d: Doc) -> None:
            d["HyperParameterTuningJobStatus"] = "Stopping"
            d["LastModifiedTime"] = common.now()

        self.store.update(common.TUNING_JOB, common.key(name), stopping)
        self._wake(common.key(name))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for doc in self.store.list(common.TUNING_JOB):
            if doc["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping"):
                log.info("tuning job %s: carrying on after a restart", doc["HyperParameterTuningJobName"])
                self._start_tuner(doc["HyperParameterTuningJobName"])

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
        doc = self.store.get(common.TRAINING_JOB, training_key)
        arn = (doc or {}).get("TuningJobArn")
        if arn:
            self._wake(arn.rsplit("/", 1)[-1])


def _status_counters(training_docs: Iterable[Doc]) -> dict[str, int]:
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    for doc in training_docs:
        status = doc["TrainingJobStatus"]
        if status in ("InProgress", "Stopping"):
            counters["InProgress"] += 1
        elif status == "Failed":
            retryable = str(doc.get("FailureReason", "")).startswith("InternalServerError")
            counters["RetryableError" if retryable else "NonRetryableError"] += 1
        else:
            counters[status] += 1
    return counters


class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler minus its ``study.stop()`` once the grid is exhausted: that only works inside
    ``study.optimize``, and the tuner (ask/tell) stops by itself after the last combination."""

    def after_trial(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: TrialState, values: Any
    ) -> None:
        return None


class Tuner(threading.Thread):
    """Runs one tuning job to its end (or until localcloud stops)."""

    def __init__(self, jobs: TuningJobs, name: str) -> None:
        super().__init__(name=f"tuning-{name}", daemon=True)
        self.jobs = jobs
        self.name_ = name
        self.key = common.key(name)
        self.wake = threading.Event()
        self.shutdown = threading.Event()
        # Trials recorded by this tuner whose CreateTrainingJob has not returned yet: their training
        # job may not exist yet, which only means "failed" for a trial recorded before a restart.
        self._creating: set[str] = set()

    def doc(self) -> Doc:
        doc = self.jobs.store.get(common.TUNING_JOB, self.key)
        assert doc is not None
        return doc

    def update(self, change: Any) -> Doc:
        def apply(doc: Doc) -> None:
            change(doc)
            doc["LastModifiedTime"] = common.now()

        return self.jobs.store.update(common.TUNING_JOB, self.key, apply)

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
        doc = self.doc()
        plan = make_plan(doc["_request"])
        study = self._study(doc, plan)
        started = doc["CreationTime"]
        while not self.shutdown.is_set():
            doc = self.doc()
            trials = doc["_trials"]
            for trial in trials:
                if not trial.get("Done"):
                    self._observe(doc, trial, study, plan)
            # Judge the job on the counters and BestTrainingJob just computed from the trials observed
            # above: the previous pass's (before the last trials ended) would say "no objective".
            doc = self._refresh(self.doc(), plan)
            trials = doc["_trials"]
            running = [t for t in trials if not t.get("Done")]
            status = doc["HyperParameterTuningJobStatus"]
            over_time = plan.max_runtime is not None and common.now() - started > plan.max_runtime
            if status == "Stopping" or over_time:
                for trial in running:
                    self._stop_training(trial["TrainingJobName"])
                if not running:
                    self._end("Stopped", None)
                    return
            else:
                reason = self._finished_reason(doc, plan)
                if reason is None:
                    while len(running) < plan.max_parallel and len(self.doc()["_trials"]) < plan.max_jobs:
                        record = self._launch(study, plan)
                        if record is None:
                            break
                        running.append(record)
                elif not running:
                    self._complete(doc, reason)
                    return
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def _study(self, doc: Doc, plan: TuningPlan) -> optuna.Study:
        storage = JournalStorage(JournalFileBackend(str(Path(doc["_dir"]) / "optuna-journal.log")))
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
            study_name=doc["HyperParameterTuningJobName"],
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
            direction="maximize" if plan.maximize else "minimize",
        )

    def _launch(self, study: optuna.Study, plan: TuningPlan) -> Doc | None:
        """Start the next training job; None when SageMaker would not start it (the tuning job fails)."""
        doc = self.doc()
        index = len(doc["_trials"]) + 1
        trial = study.ask(distributions(plan.params))
        tuned = render(plan.params, trial.params)
        name = f"{doc['HyperParameterTuningJobName']}-{index:03d}-{secrets.token_hex(4)}"
        record: Doc = {
            "Index": index,
            "TrainingJobName": name,
            "TrialId": trial._trial_id,
            "Reported": 0,
            "Done": False,
        }
        self._creating.add(name)
        self.update(lambda d: d["_trials"].append(record))
        definition = doc["TrainingJobDefinition"]
        request: Doc = {
            k: v
            for k, v in definition.items()
            if k
            not in (
                "StaticHyperParameters",
                "DefinitionName",
                "TuningObjective",
                "HyperParameterRanges",
                "HyperParameterTuningResourceConfig",
            )
        }
        request["TrainingJobName"] = name
        request["HyperParameters"] = {
            **(definition.get("StaticHyperParameters") or {}),
            **tuned,
            "_tuning_objective_metric": plan.metric,
        }
        if definition.get("CheckpointConfig"):
            request["CheckpointConfig"] = {
                **definition["CheckpointConfig"],
                "S3Uri": join(definition["CheckpointConfig"]["S3Uri"], name),
            }
        try:
            self.jobs.training.create(request, tuning_job_arn=doc["HyperParameterTuningJobArn"], tuned=tuned)
        except AwsError as exc:
            message = exc.message
            study.tell(trial, state=TrialState.FAIL)
            self.update(lambda d: _mark(d, index, Done=True, LaunchError=message))
            self.wake.set()
            return None
        finally:
            self._creating.discard(name)
        log.info("tuning job %s: launched %s %s", doc["HyperParameterTuningJobName"], name, tuned)
        return record

    def _observe(self, doc: Doc, trial: Doc, study: optuna.Study, plan: TuningPlan) -> None:
        training = self.jobs.store.get(common.TRAINING_JOB, common.key(trial["TrainingJobName"]))
        if training is None:
            if trial["TrainingJobName"] in self._creating:  # being created right now: nothing to judge yet
                return
            # recorded before localcloud stopped, which happened before the training job was created
            self._tell(study, trial, None, TrialState.FAIL)
            return
        series = objective_series(training, plan.metric)
        optuna_trial = Trial(study, trial["TrialId"])
        status = training["TrainingJobStatus"]
        reported = int(trial.get("Reported", 0))
        stop_reason = trial.get("StopReason")
        for step in range(reported, len(series)):
            if study._storage.get_trial(trial["TrialId"]).state != TrialState.RUNNING:
                break
            optuna_trial.report(series[step], step + 1)
            if status != "InProgress" or stop_reason:
                continue
            if plan.strategy == "Hyperband":
                if optuna_trial.should_prune():
                    stop_reason = "Pruned"
                elif plan.max_resource is not None and step + 1 >= plan.max_resource:
                    stop_reason = "MaxResource"
            elif plan.early_stopping and should_stop(
                series[: step + 1], self._previous(doc, trial, plan), maximize=plan.maximize
            ):
                stop_reason = "EarlyStopped"
            if stop_reason:
                log.info(
                    "tuning job %s: stopping %s (%s at epoch %d)",
                    doc["HyperParameterTuningJobName"],
                    trial["TrainingJobName"],
                    stop_reason,
                    step + 1,
                )
                self._stop_training(trial["TrainingJobName"])
        if len(series) != reported or stop_reason != trial.get("StopReason"):
            self.update(lambda d: _mark(d, trial["Index"], Reported=len(series), StopReason=stop_reason))
        if status in TERMINAL:
            value = objective_value(training, plan.metric)
            if value is None or status == "Failed":
                self._tell(study, trial, None, TrialState.FAIL)
            elif status == "Stopped" and stop_reason in ("Pruned", "EarlyStopped"):
                self._tell(study, trial, value, TrialState.PRUNED)
            else:
                self._tell(study, trial, value, TrialState.COMPLETE)

    def _previous(self, doc: Doc, trial: Doc, plan: TuningPlan) -> list[list[float]]:
        out = []
        for other in doc["_trials"]:
            if other["Index"] >= trial["Index"]:
                continue
            training = self.jobs.store.get(common.TRAINING_JOB, common.key(other["TrainingJobName"]))
            if training is not None:
                out.append(objective_series(training, plan.metric))
        return out

    def _tell(self, study: optuna.Study, trial: Doc, value: float | None, state: TrialState) -> None:
        current = study._storage.get_trial(trial["TrialId"]).state
        if current == TrialState.RUNNING:
            study.tell(
                Trial(study, trial["TrialId"]), value if state == TrialState.COMPLETE else None, state=state
            )
        self.update(lambda d: _mark(d, trial["Index"], Done=True, Objective=value))

    def _stop_training(self, name: str) -> None:
        with contextlib.suppress(AwsError):  # already ending
            self.jobs.training.stop(name)

    # ------------------------------------------------------------------ results
    def _refresh(self, doc: Doc, plan: TuningPlan) -> Doc:
        """Recompute the counters and BestTrainingJob from the training jobs; returns the updated doc."""
        trainings = [
            t
            for t in (
                self.jobs.store.get(common.TRAINING_JOB, common.key(tr["TrainingJobName"]))
                for tr in doc["_trials"]
            )
            if t is not None
        ]
        summaries = list(self.jobs.summaries(doc))
        best = self._best(summaries, plan)
        objective_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        for summary in summaries:
            objective_counters[summary["ObjectiveStatus"]] += 1
        not_improving = self._not_improving(summaries, plan)

        def change(d: Doc) -> None:
            d["TrainingJobStatusCounters"] = _status_counters(trainings)
            d["ObjectiveStatusCounters"] = objective_counters
            d["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": not_improving}
            d["ConsumedResources"] = {
                "RuntimeInSeconds": int(
                    sum(
                        (t.get("TrainingEndTime") or common.now())
                        - (t.get("TrainingStartTime") or t["CreationTime"])
                        for t in trainings
                    )
                )
            }
            if best is not None:
                d["BestTrainingJob"] = best

        return self.update(change)

    @staticmethod
    def _best(summaries: list[Doc], plan: TuningPlan) -> Doc | None:
        scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
        if not scored:
            return None
        sign = -1.0 if plan.maximize else 1.0
        return min(
            scored,
            key=lambda s: (
                sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                s["CreationTime"],
            ),
        )

    @staticmethod
    def _not_improving(summaries: list[Doc], plan: TuningPlan) -> int:
        """Training jobs completed since the best objective last improved, in completion order."""
        done = sorted(
            (s for s in summaries if s["ObjectiveStatus"] == "Succeeded"),
            key=lambda s: s.get("TrainingEndTime", 0),
        )
        best: float | None = None
        since = 0
        for summary in done:
            value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            if best is None or (value > best if plan.maximize else value < best):
                best, since = value, 0
            else:
                since += 1
        return since

    def _finished_reason(self, doc: Doc, plan: TuningPlan) -> str | None:
        """Why the tuning job should launch no more training jobs (None: keep going)."""
        trials = doc["_trials"]
        failures = [t for t in trials if t.get("LaunchError")]
        if failures:
            return (
                f"failed:ClientError: could not start training job {failures[0]['TrainingJobName']}: "
                f"{failures[0]['LaunchError']}"
            )
        first = trials[:FAIL_FAST_JOBS]
        if (
            len(first) == min(FAIL_FAST_JOBS, plan.max_jobs)
            and all(t.get("Done") for t in first)
            and all(t.get("Objective") is None for t in first)
        ):
            return "failed:" + self._failure_summary(doc)
        best = doc.get("BestTrainingJob")
        if plan.target is not None and best is not None:
            value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            if (value >= plan.target) if plan.maximize else (value <= plan.target):
                return "target"
        not_improving = (doc.get("TuningJobCompletionDetails") or {}).get(
            "NumberOfTrainingJobsObjectiveNotImproving", 0
        )
        if plan.not_improving is not None and not_improving >= plan.not_improving:
            return "not-improving"
        if len(trials) >= plan.max_jobs:
            return "max-jobs"
        return None

    def _failure_summary(self, doc: Doc) -> str:
        reasons = []
        for trial in doc["_trials"]:
            training = self.jobs.store.get(common.TRAINING_JOB, common.key(trial["TrainingJobName"]))
            if training is not None and training.get("FailureReason"):
                reasons.append(f"{trial['TrainingJobName']}: {training['FailureReason']}")
        detail = reasons[-1] if reasons else "no training job reported the objective metric"
        return f"All training jobs failed. Last failure: {detail}"[:1024]

    def _complete(self, doc: Doc, reason: str) -> None:
        if reason.startswith("failed:"):
            self._end("Failed", reason[len("failed:") :])
        elif doc.get("BestTrainingJob") is None:
            self._end("Failed", self._failure_summary(doc))
        else:
            self._end("Completed", None)

    def _end(self, status: str, reason: str | None) -> None:
        doc = self.doc()
        for trial in doc["_trials"]:
            if not trial.get("Done") and status == "Failed":
                self._stop_training(trial["TrainingJobName"])

        def change(d: Doc) -> None:
            d["HyperParameterTuningJobStatus"] = status
            d["HyperParameterTuningEndTime"] = common.now()
            if reason:
                d["FailureReason"] = reason[:1024]

        self.update(change)
        log.info("tuning job %s: %s%s", self.name_, status, f" ({reason})" if reason else "")


def _mark(doc: Doc, index: int, **fields: Any) -> None:
    for trial in doc["_trials"]:
        if trial["Index"] == index:
            trial.update(fields)
