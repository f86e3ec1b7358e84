"""Training jobs: Create/Describe/List/Stop, and what happens to running jobs across restarts.

State is one document per job in the store (``sagemaker/training-job``); the job's files live in
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
from typing import TYPE_CHECKING, Any

from ..store import Doc
from . import common, defaults
from .locations import Locations
from .processes import GpuPool, stop_groups
from .training_checks import check_create_training_job
from .training_run import SHUTDOWN_GRACE, TrainingRun, rule_statuses

if TYPE_CHECKING:
    from ..cloud import LocalCloud

log = logging.getLogger("localcloud.sagemaker.training")

ACTIVE = ("InProgress", "Stopping")
NO_CHECKPOINT = (
    "InternalServerError: localcloud restarted while this job was running and the job has no "
    "checkpoint to resume from (write checkpoints to SM_CHECKPOINT_DIR or set CheckpointConfig "
    "to make a job resumable, or set RetryStrategy to retry it from scratch)"
)
RETRIES_EXHAUSTED = "InternalServerError: localcloud restarted while this job was running, again"
_SUMMARY_FIELDS = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)


class TrainingJobs:
    def __init__(self, cloud: LocalCloud, locations: Locations) -> None:
        self.cloud = cloud
        self.store = cloud.store
        self.locations = locations
        self.root = cloud.settings.state_dir / "sagemaker" / "training-jobs"
        self.gpu_pool = GpuPool()
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
    ) -> dict[str, str]:
        check_create_training_job(params)
        if tuning_job_arn is None:  # a tuning job's trials were checked when it was created
            self.locations.check_channels(params.get("InputDataConfig") or [])
        name = params["TrainingJobName"]
        arn = self.cloud.settings.arn("sagemaker", f"training-job/{name.lower()}")
        ts = common.now()
        doc: Doc = defaults.training_spec({k: v for k, v in params.items() if k != "Tags"})
        doc.update(
            {
                "TrainingJobArn": arn,
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Starting",
                "CreationTime": ts,
                "LastModifiedTime": ts,
                "SecondaryStatusTransitions": [
                    {
                        "Status": "Starting",
                        "StartTime": ts,
                        "StatusMessage": "Preparing the instances for training",
                    }
                ],
                "_dir": str(self.root / name),
                "_tags": params.get("Tags") or [],
            }
        )
        profiler = params.get("ProfilerConfig")
        doc["ProfilingStatus"] = "Enabled" if profiler and not profiler.get("DisableProfiler") else "Disabled"
        if tuning_job_arn:
            doc["TuningJobArn"] = tuning_job_arn
            doc["_tuned"] = tuned or {}
        doc.update(rule_statuses(doc, Path("/nonexistent"), final=False))
        if not self.store.create(common.TRAINING_JOB, common.key(name), doc):
            raise common.resource_in_use(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn})"
            )
        job_dir = Path(doc["_dir"])
        if job_dir.exists():  # left over from a deleted state db: start clean
            shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True, exist_ok=True)
        self._start_run(name)
        return {"TrainingJobArn": arn}

    def get(self, name: str) -> Doc:
        doc = self.store.get(common.TRAINING_JOB, common.key(name))
        if doc is None:
            raise common.validation("Requested resource not found.")
        return doc

    def describe(self, name: str) -> Doc:
        return defaults.training_spec(common.public(self.get(name)))

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = common.list_filters(self.store.list(common.TRAINING_JOB), params, name_field="TrainingJobName")
        if params.get("StatusEquals"):
            docs = [d for d in docs if d["TrainingJobStatus"] == params["StatusEquals"]]
        if params.get("WarmPoolStatusEquals"):
            docs = []
        page, token = common.paginate(
            docs,
            params,
            sort_fields={
                "Name": lambda d: d["TrainingJobName"],
                "CreationTime": lambda d: d["CreationTime"],
                "Status": lambda d: d["TrainingJobStatus"],
            },
            default_sort="CreationTime",
            default_order="Ascending",
        )
        out: dict[str, Any] = {
            "TrainingJobSummaries": [{k: d[k] for k in _SUMMARY_FIELDS if k in d} for d in page]
        }
        if token:
            out["NextToken"] = token
        return out

    def stop(self, name: str, reason: str = "Stopped") -> None:
        doc = self.get(name)
        status = doc["TrainingJobStatus"]
        if status != "InProgress":
            raise common.validation(
                f"The request was rejected because the training job is in status {status}."
            )

        def stopping(d: Doc) -> None:
            d["TrainingJobStatus"] = "Stopping"
            d["LastModifiedTime"] = common.now()

        self.store.update(common.TRAINING_JOB, common.key(name), stopping)
        with self._lock:
            run = self._runs.get(common.key(name))
        if run is not None:
            run.request_stop(reason)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Reconcile jobs that were running when localcloud last stopped (see the module docstring)."""
        for doc in self.store.list(common.TRAINING_JOB):
            if doc["TrainingJobStatus"] not in ACTIVE:
                continue
            name = doc["TrainingJobName"]
            stop_groups(doc.get("_processes") or [], grace=SHUTDOWN_GRACE)
            if doc["TrainingJobStatus"] == "Stopping":
                self._start_run(name, finalize="Stopped")
            elif not doc.get("_launched"):
                self._start_run(name)
            else:
                self._recover(doc)

    def stop_all(self) -> None:
        """localcloud is stopping: end every job's processes, leave the jobs InProgress (resumed later)."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.shutdown.set()
        for run in runs:
            run.join(timeout=SHUTDOWN_GRACE + 10)

    def _recover(self, doc: Doc) -> None:
        """A launched job whose exit was never recorded: localcloud died under it (a lost host).

        With ``RetryStrategy`` the job is retried (same name, a ``Restarting`` transition) from its
        checkpoint when it has one, else from scratch, up to MaximumRetryAttempts times; then it
        fails as an internal error. Without it, it resumes from a checkpoint or fails. A script that
        exited non-zero was recorded as Failed (AlgorithmError) and never gets here.
        """
        name = doc["TrainingJobName"]
        checkpoint = self._has_checkpoint(doc)
        limit = (doc.get("RetryStrategy") or {}).get("MaximumRetryAttempts")
        if limit is None:
            if checkpoint:
                log.info("training job %s: resuming from its checkpoint after a restart", name)
                self._start_run(name, resume=True)
            else:
                self._fail_stale(doc, NO_CHECKPOINT)
            return
        attempt = int(doc.get("_retries") or 0) + 1
        if attempt > int(limit):
            self._fail_stale(doc, f"{RETRIES_EXHAUSTED} ({limit} retries of RetryStrategy used)")
            return
        log.info(
            "training job %s: retry %d of %s after a restart (checkpoint: %s)",
            name,
            attempt,
            limit,
            checkpoint,
        )
        self.store.update(common.TRAINING_JOB, common.key(name), lambda d: d.update(_retries=attempt))
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

    def _has_checkpoint(self, doc: Doc) -> bool:
        local = Path(doc["_dir"]) / "checkpoints"
        if local.is_dir() and any(p.is_file() for p in local.rglob("*")):
            return True
        checkpoint = doc.get("CheckpointConfig")
        return bool(checkpoint and self.locations.list_files(checkpoint["S3Uri"]))

    def _fail_stale(self, doc: Doc, reason: str) -> None:
        ts = common.now()

        def fail(d: Doc) -> None:
            transitions = d.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = ts
            transitions.append({"Status": "Failed", "StartTime": ts, "EndTime": ts, "StatusMessage": reason})
            d.update(
                TrainingJobStatus="Failed",
                SecondaryStatus="Failed",
                FailureReason=reason,
                TrainingEndTime=ts,
                LastModifiedTime=ts,
            )

        self.store.update(common.TRAINING_JOB, common.key(doc["TrainingJobName"]), fail)
        self.job_ended(common.key(doc["TrainingJobName"]))
