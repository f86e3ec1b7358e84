"""Training jobs: Create/Describe/List/Stop, and what happens to running jobs across restarts.

State is one :class:`~localcloud.sagemaker.records.TrainingJob` record per job in the store
(``sagemaker/training-job``); ``api.py`` turns records into AWS's answers. The job's files live in
``<state>/sagemaker/training-jobs/<name>/`` (one ``/opt/ml`` per host, ``code/``, ``checkpoints/``)
and its log under ``<state>/logs/aws/sagemaker/TrainingJobs/<name>/``. Each running job has a
:class:`~localcloud.sagemaker.training_run.TrainingRun` thread.

Restart policy (``start``): a job that was InProgress is **killed and resumed** rather than
adopted. Its processes (still alive if only localcloud died, since they run in their own
sessions) are stopped by (pid, start time) and the job's command is launched again: train.py
resumes from its checkpoint folder (or CheckpointConfig.S3Uri). Adoption was rejected because an
orphan keeps the old edge URL in its environment, and its exit status cannot be collected by a
process that is not its parent. Such a job died of an internal error (a lost host), which is
what SageMaker's ``RetryStrategy`` retries: with it, the job runs again under the same name (from
its checkpoint, or from scratch) up to MaximumRetryAttempts times, each retry a ``Restarting``
transition; without it, a job with no checkpoint to resume from is Failed with a reason saying
so. A script that exited non-zero is recorded Failed (AlgorithmError) when it exits and is never
retried. A job that had not launched yet starts again; a job that was Stopping ends Stopped.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..store import Doc, Store
from . import common, defaults
from .locations import Locations
from .processes import GpuPool, stop_groups
from .records import Records, TrainingJob, TrainingMetricsView
from .training_checks import check_create_training_job
from .training_outcome import rule_statuses
from .training_run import SHUTDOWN_GRACE, TrainingRun

log = logging.getLogger("localcloud.sagemaker.training")

ACTIVE = ("InProgress", "Stopping")
NO_CHECKPOINT = (
    "InternalServerError: localcloud restarted while this job was running and the job has no "
    "checkpoint to resume from (write checkpoints to SM_CHECKPOINT_DIR or set CheckpointConfig "
    "to make a job resumable, or set RetryStrategy to retry it from scratch)"
)
RETRIES_EXHAUSTED = "InternalServerError: localcloud restarted while this job was running, again"


class TrainingJobs:
    def __init__(self, *, settings: Settings, store: Store, locations: Locations, gpu_pool: GpuPool) -> None:
        self.settings = settings
        self.records: Records[TrainingJob] = Records(store, common.TRAINING_JOB, TrainingJob)
        self.metrics = TrainingMetricsView(self.records)  # what CloudWatch reads of the jobs
        self.locations = locations
        self.root = settings.state_dir / "sagemaker" / "training-jobs"
        self.gpu_pool = gpu_pool
        self._runs: dict[str, TrainingRun] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[str, str], None]] = []  # (event, job key): "metrics" | "ended"

    # ------------------------------------------------------------------ API
    def create(
        self,
        params: dict[str, Any],
        *,
        tuning_job_arn: str | None = None,
        tuned: dict[str, str] | None = None,
    ) -> str:
        """Start a training job; its ARN."""
        check_create_training_job(params)
        if tuning_job_arn is None:  # a tuning job's trials were checked when it was created
            self.locations.check_channels(params.get("InputDataConfig") or [])
        name = params["TrainingJobName"]
        job = self._new_record(params, tuning_job_arn, tuned)
        if not self.records.create(name, job):
            raise common.resource_in_use(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({job.arn})"
            )
        job_dir = Path(job.dir)
        if job_dir.exists():  # left over from a deleted state db: start clean
            shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True, exist_ok=True)
        self._start_run(name)
        return job.arn

    def _new_record(
        self, params: dict[str, Any], tuning_job_arn: str | None, tuned: dict[str, str] | None
    ) -> TrainingJob:
        name = params["TrainingJobName"]
        ts = common.now()
        job = TrainingJob(
            description=defaults.training_spec({k: v for k, v in params.items() if k != "Tags"}),
            tags=params.get("Tags") or [],
            dir=str(self.root / name),
        )
        job.set(
            TrainingJobArn=self.settings.arn("sagemaker", f"training-job/{name.lower()}"),
            TrainingJobStatus="InProgress",
            SecondaryStatus="Starting",
            CreationTime=ts,
            LastModifiedTime=ts,
            SecondaryStatusTransitions=[
                {
                    "Status": "Starting",
                    "StartTime": ts,
                    "StatusMessage": "Preparing the instances for training",
                }
            ],
        )
        profiler = params.get("ProfilerConfig")
        job.set(ProfilingStatus="Enabled" if profiler and not profiler.get("DisableProfiler") else "Disabled")
        if tuning_job_arn:
            job.set(TuningJobArn=tuning_job_arn)
            job.tuned = tuned or {}
        job.set(**rule_statuses(job.description, Path("/nonexistent"), final=False))
        return job

    def get(self, name: str) -> TrainingJob:
        return self.records.require(name, lambda _: common.validation("Requested resource not found."))

    def descriptions(self) -> list[Doc]:
        """Every job's description (ListTrainingJobs), without reading their metric series."""
        return self.records.descriptions(omit=("series",))

    def stop(self, name: str, reason: str = "Stopped") -> None:
        status = self.get(name).status
        if status != "InProgress":
            raise common.validation(
                f"The request was rejected because the training job is in status {status}."
            )
        self.records.update(
            name, lambda job: job.set(TrainingJobStatus="Stopping", LastModifiedTime=common.now())
        )
        with self._lock:
            run = self._runs.get(common.key(name))
        if run is not None:
            run.request_stop(reason)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Reconcile jobs that were running when localcloud last stopped (see the module docstring)."""
        for job in self.records.all():
            if job.status not in ACTIVE:
                continue
            stop_groups(job.processes or [], grace=SHUTDOWN_GRACE)
            if job.status == "Stopping":
                self._start_run(job.name, finalize="Stopped")
            elif not job.launched:
                self._start_run(job.name)
            else:
                self._recover(job)

    def stop_all(self) -> None:
        """localcloud is stopping: end every job's processes, leave the jobs InProgress (resumed later)."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.shutdown.set()
        for run in runs:
            run.join(timeout=SHUTDOWN_GRACE + 10)

    def _recover(self, job: TrainingJob) -> None:
        """A launched job whose exit was never recorded: localcloud died under it (a lost host).

        With ``RetryStrategy`` the job is retried (same name, a ``Restarting`` transition) from its
        checkpoint when it has one, else from scratch, up to MaximumRetryAttempts times; then it
        fails as an internal error. Without it, it resumes from a checkpoint or fails. A script that
        exited non-zero was recorded as Failed (AlgorithmError) and never gets here.
        """
        name = job.name
        checkpoint = self._has_checkpoint(job)
        limit = (job.get("RetryStrategy") or {}).get("MaximumRetryAttempts")
        if limit is None:
            if checkpoint:
                log.info("training job %s: resuming from its checkpoint after a restart", name)
                self._start_run(name, resume=True)
            else:
                self._fail_stale(job, NO_CHECKPOINT)
            return
        attempt = int(job.retries or 0) + 1
        if attempt > int(limit):
            self._fail_stale(job, f"{RETRIES_EXHAUSTED} ({limit} retries of RetryStrategy used)")
            return
        log.info(
            "training job %s: retry %d of %s after a restart (checkpoint: %s)",
            name,
            attempt,
            limit,
            checkpoint,
        )

        def retried(record: TrainingJob) -> None:
            record.retries = attempt

        self.records.update(name, retried)
        self._start_run(name, resume=checkpoint, retry=(attempt, int(limit)))

    def _start_run(
        self,
        name: str,
        *,
        resume: bool = False,
        finalize: str | None = None,
        retry: tuple[int, int] | None = None,
    ) -> None:
        run = TrainingRun(self, name, resume=resume, finalize=finalize, retry=retry)
        with self._lock:
            self._runs[common.key(name)] = run
        run.start()

    def run_ended(self, key: str, run: TrainingRun) -> None:
        with self._lock:
            if self._runs.get(key) is run:
                del self._runs[key]

    def job_ended(self, key: str) -> None:
        self._notify("ended", key)

    def metrics_changed(self, key: str) -> None:
        self._notify("metrics", key)

    def _notify(self, event: str, key: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, key)
            except Exception:
                log.exception("training job listener failed")

    def _has_checkpoint(self, job: TrainingJob) -> bool:
        local = Path(job.dir) / "checkpoints"
        if local.is_dir() and any(p.is_file() for p in local.rglob("*")):
            return True
        checkpoint = job.get("CheckpointConfig")
        return bool(checkpoint and self.locations.list_files(checkpoint["S3Uri"]))

    def _fail_stale(self, job: TrainingJob, reason: str) -> None:
        ts = common.now()

        def fail(record: TrainingJob) -> None:
            transitions = record.description.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = ts
            transitions.append({"Status": "Failed", "StartTime": ts, "EndTime": ts, "StatusMessage": reason})
            record.set(
                TrainingJobStatus="Failed",
                SecondaryStatus="Failed",
                FailureReason=reason,
                TrainingEndTime=ts,
                LastModifiedTime=ts,
            )

        self.records.update(job.name, fail)
        self.job_ended(common.key(job.name))
