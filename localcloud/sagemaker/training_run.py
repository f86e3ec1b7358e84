"""One training job's life on this machine: prepare ``/opt/ml``, run ``train.py``, watch it, publish.

A :class:`TrainingRun` thread per job:

1. Downloading: unpack ``sagemaker_submit_directory`` into ``code/``, materialise each channel per
   host (hard links from S3, or the file:// folder in place), restore checkpoints from
   CheckpointConfig.S3Uri.
2. Training: one process per instance (InstanceCount > 1 = a torch.distributed job on this
   machine, torchrun's variables set, each process ``cores // processes`` OpenMP threads unless
   ``OMP_NUM_THREADS`` is set), each in its own session (OpenMP's idle threads spinning
   briefly: :mod:`.openmp`; ``TMPDIR`` the instance's own ``tmp/``, unless the job's Environment
   sets it), stdout+stderr appended to the CloudWatch-named log file;
   MetricDefinitions parsed live from algo-1's log; checkpoints mirrored every couple of seconds;
   MaxRuntimeInSeconds and StopTrainingJob enforced with SIGTERM then SIGKILL after the grace
   period (120 s as on AWS; LOCALCLOUD_STOP_GRACE_SECONDS).
3. Uploading: ``model.tar.gz`` and ``output.tar.gz`` to ``<S3OutputPath>/<job>/output/``; rule
   statuses read from ``output/data/profiler-report/rules.json``; the FailureReason of a failed
   job; the local copies removed (:mod:`.training_outcome`).

When localcloud itself stops, runs end without a verdict (the job stays InProgress) and the next
``localcloud up`` resumes them from their checkpoint (see :mod:`localcloud.sagemaker.training`).
Relies on the standard library, psutil (via processes.py) and the modules next to it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .. import environment
from ..config import Settings
from ..errors import AwsError
from ..logs import TRAINING_JOBS, log_path
from ..store import Doc
from . import common, container_mode, script_mode
from .checkpoints import CheckpointSync
from .locations import Locations
from .metrics import MetricParser, add_points, final_metrics
from .openmp import brief_openmp_spin
from .processes import GpuPool, identity, instance_gpus, signal_group
from .records import ProcessIdentity, Records, Series, TrainingJob
from .training_outcome import (
    discard_local_copies,
    failure_reason,
    remove,
    rule_statuses,
    upload_artifacts,
)

log = logging.getLogger("localcloud.sagemaker.training")


class RunOwner(Protocol):
    """What a run uses of the training jobs that own it (``training.TrainingJobs``), named here
    so that this module does not import its owner."""

    settings: Settings
    records: Records[TrainingJob]
    locations: Locations
    gpu_pool: GpuPool

    def run_ended(self, key: str, run: TrainingRun) -> None: ...

    def job_ended(self, key: str) -> None: ...

    def metrics_changed(self, key: str) -> None: ...


POLL_SECONDS = 0.2
SYNC_SECONDS = 2.0
SHUTDOWN_GRACE = 5.0
MAX_REASON = 1024


def stop_grace() -> float:
    return environment.current().stop_grace_seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def job_environment(doc: Doc, aws: dict[str, str]) -> dict[str, str]:
    """The environment every process of a job starts from, before its host's SM_* variables:
    localcloud's own, ``aws`` (the SDKs aimed at the edge), then the job's ``Environment``; OpenMP's
    idle threads spin briefly unless one of those chose a policy (:mod:`.openmp`: a tuning job's
    parallel trainings share the cores)."""
    env = dict(os.environ)
    env.update(aws)
    env.update(doc.get("Environment") or {})
    brief_openmp_spin(env)
    return env


class JobError(Exception):
    """A job-level failure with the FailureReason to report."""


class TrainingRun(threading.Thread):
    def __init__(
        self,
        jobs: RunOwner,
        name: str,
        *,
        resume: bool = False,
        finalize: str | None = None,
        retry: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(name=f"training-{name}", daemon=True)
        self.jobs = jobs
        self.key = common.key(name)
        self.job_name = name
        self.resume = resume
        self.finalize = finalize
        self.retry = retry  # (attempt, MaximumRetryAttempts) when RetryStrategy retries the job
        self.stop_reason: str | None = None
        self.stop_event = threading.Event()
        self.shutdown = threading.Event()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.gpus: list[list[int]] = []

    # ------------------------------------------------------------------ record helpers
    def job(self) -> TrainingJob:
        job = self.jobs.records.get(self.key)
        assert job is not None
        return job

    def update(self, change: Callable[[TrainingJob], None] | None = None, **fields: Any) -> TrainingJob:
        """Set description ``fields`` and apply ``change`` (localcloud's state), LastModifiedTime now."""

        def apply(job: TrainingJob) -> None:
            job.description.update(fields)
            if change is not None:
                change(job)
            job.set(LastModifiedTime=common.now())

        return self.jobs.records.update(self.key, apply)

    def transition(self, status: str, message: str, *, launched: bool = False, **fields: Any) -> None:
        ts = common.now()

        def change(job: TrainingJob) -> None:
            transitions = job.description.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = ts
            transitions.append({"Status": status, "StartTime": ts, "StatusMessage": message})
            job.set(SecondaryStatus=status, LastModifiedTime=ts)
            job.description.update(fields)
            if launched:
                job.launched = True

        self.jobs.records.update(self.key, change)

    def _record_metrics(self, series: Series, offset: int, runtime: float | None = None) -> None:
        def change(job: TrainingJob) -> None:
            job.series, job.log_offset = series, offset
            if runtime is not None:
                job.runtime = runtime

        self.update(change, FinalMetricDataList=final_metrics(series))

    def _record_progress(self, runtime: float, offset: int, has_checkpoint: bool) -> None:
        def change(job: TrainingJob) -> None:
            job.runtime, job.log_offset, job.has_checkpoint = runtime, offset, has_checkpoint

        self.update(change)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_event.set()

    # ------------------------------------------------------------------ the run
    def run(self) -> None:
        try:
            if self.finalize:
                self.stop_reason = self.finalize
                self._finish([], stopped=True)
            else:
                self._run()
        except JobError as exc:
            self._fail(str(exc))
        except AwsError as exc:
            self._fail(f"ClientError: {exc.message}")
        except Exception as exc:
            log.exception("training job %s: localcloud error", self.job_name)
            self._fail(f"InternalServerError: localcloud could not run the job: {type(exc).__name__}: {exc}")
        finally:
            for gpus in self.gpus:
                self.jobs.gpu_pool.release(gpus)
            self.jobs.run_ended(self.key, self)

    def _run(self) -> None:
        job = self.job()
        doc = job.description
        job_dir = Path(job.dir)
        count = int(doc["ResourceConfig"]["InstanceCount"])
        hosts = [f"algo-{i + 1}" for i in range(count)]
        layouts = [
            script_mode.HostLayout(job_dir / h, job_dir / "code", job_dir / "checkpoints") for h in hosts
        ]
        sync = None
        if doc.get("CheckpointConfig"):
            sync = CheckpointSync(
                self.jobs.locations, layouts[0].checkpoint_dir, doc["CheckpointConfig"]["S3Uri"]
            )
        if self.resume or self.retry:
            files = sum(1 for p in layouts[0].checkpoint_dir.rglob("*") if p.is_file())
            where = f"from its checkpoint ({files} files)" if self.resume else "from scratch (no checkpoint)"
            if self.retry:
                message = (
                    f"Retrying the training job after an internal error (localcloud restarted while it "
                    f"ran): attempt {self.retry[0] + 1} of {self.retry[1] + 1}, {where}"
                )
            else:
                message = f"localcloud restarted: resuming the job {where}"
            self.transition("Restarting", message)
            if not self.resume:  # a fresh start: nothing from the lost attempt is published
                for layout in layouts:
                    for folder in (layout.model_dir, layout.output_data_dir.parent):
                        remove(folder)
        else:
            self.transition("Downloading", "Downloading input data")
        self._prepare(doc, layouts, hosts)
        if sync is not None:
            sync.restore()
        if self.shutdown.is_set():
            return
        if self.stop_event.is_set():  # stopped while downloading
            self._finish([], stopped=True, layouts=layouts)
            return
        self.transition(
            "Training",
            "Training image download completed. Training in progress.",
            TrainingStartTime=doc.get("TrainingStartTime") or common.now(),
            launched=True,
        )
        self._launch(self.job().description, layouts, hosts)
        codes = self._monitor(self.job(), layouts, sync)
        if self.shutdown.is_set():
            return  # localcloud is stopping: no verdict; the next start resumes the job
        self._finish(codes, stopped=self.stop_reason is not None, layouts=layouts)

    def _prepare(self, doc: Doc, layouts: list[script_mode.HostLayout], hosts: list[str]) -> None:
        code_dir = layouts[0].code_dir
        if code_dir.exists():
            shutil.rmtree(code_dir)
        for layout in layouts:
            layout.create()
        if container_mode.uses_container_entrypoint(doc):
            reason = container_mode.unavailable_reason()
            if reason is not None:
                raise JobError(
                    "ClientError: ContainerEntrypoint needs the job's folder at /opt/ml, which "
                    f"localcloud presents through a private mount namespace; {reason}"
                )
        else:
            self._fetch_script(doc, code_dir)
        for index, layout in enumerate(layouts):
            script_mode.write_config(layout, doc, hosts[index], hosts)
        for channel in doc.get("InputDataConfig") or []:
            s3 = channel["DataSource"]["S3DataSource"]
            try:
                self._fetch_channel(channel["ChannelName"], s3, layouts)
            except AwsError as exc:
                raise JobError(
                    f"ClientError: Data download failed for channel '{channel['ChannelName']}' "
                    f"({s3['S3Uri']}): {exc.message}"
                ) from None

    def _fetch_channel(self, name: str, s3: Doc, layouts: list[script_mode.HostLayout]) -> None:
        """One channel on every host: algo-1's copy (each host's shard when ShardedByS3Key), linked."""
        sharded = s3.get("S3DataDistributionType") == "ShardedByS3Key" and len(layouts) > 1
        for index, layout in enumerate(layouts):
            target = layout.data_dir / name
            if index > 0 and not sharded:
                if target.is_symlink() or target.exists():
                    remove(target)
                target.symlink_to(layouts[0].data_dir / name, target_is_directory=True)
                continue
            if target.is_symlink():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            files = self.jobs.locations.fetch_tree(
                s3["S3Uri"], target, shard=(index, len(layouts)) if sharded else None
            )
            if files == 0 and not s3["S3Uri"].startswith("file://"):
                raise AwsError(
                    "ValidationException",
                    f"No S3 objects found under S3 URL "
                    f'"{s3["S3Uri"]}" given in input data source. Please ensure that the '
                    "bucket exists in the selected region (us-east-1), that objects exist "
                    "under that S3 prefix, and that the role has access to them.",
                )

    def _fetch_script(self, doc: Doc, code_dir: Path) -> None:
        framework = script_mode.framework_parameters(doc.get("HyperParameters") or {})
        try:
            self.jobs.locations.fetch_code(str(framework["sagemaker_submit_directory"]), code_dir)
        except AwsError as exc:
            raise JobError(f"ClientError: Could not download the training code: {exc.message}") from None
        program = str(framework["sagemaker_program"])
        if not (code_dir / program).is_file():
            raise JobError(
                f"ClientError: sagemaker_program {program} is not in sagemaker_submit_directory "
                f"{framework['sagemaker_submit_directory']}"
            )

    def _launch(self, doc: Doc, layouts: list[script_mode.HostLayout], hosts: list[str]) -> None:
        resources = doc["ResourceConfig"]
        wanted = instance_gpus(resources["InstanceType"])
        hps = script_mode.framework_parameters(doc.get("HyperParameters") or {})
        distributed = str(hps.get("sagemaker_torch_distributed_enabled", "")).lower() == "true"
        self.gpus = [self.jobs.gpu_pool.acquire(wanted) for _ in layouts]
        container = container_mode.uses_container_entrypoint(doc)
        # a container's command starts its own processes (torchrun and the like): one per host
        per_host = [len(g) if distributed and len(g) > 1 and not container else 1 for g in self.gpus]
        world = sum(per_host)
        port = free_port()
        num_cpus = os.cpu_count() or 1
        base = job_environment(doc, self.jobs.settings.child_env())
        if world > 1 and "OMP_NUM_THREADS" not in base:
            # the job's processes share this machine's cores (on SageMaker each instance has its
            # own): each takes its share, as torchrun gives each of its processes one thread
            base["OMP_NUM_THREADS"] = str(max(1, num_cpus // world))
        logs: list[str] = []
        idents: list[ProcessIdentity] = []
        rank = 0
        created = int(doc["CreationTime"])
        for index, layout in enumerate(layouts):
            for local_rank in range(per_host[index]):
                gpus = self.gpus[index]
                if per_host[index] > 1:
                    gpus = [gpus[local_rank]]
                place = script_mode.Rank(
                    host_index=index,
                    hosts=hosts,
                    rank=rank,
                    local_rank=local_rank,
                    world_size=world,
                    local_world_size=per_host[index],
                    master_port=port,
                    gpus=gpus,
                )
                env = dict(base)
                env.update(script_mode.environment(layout, doc, place, num_cpus=num_cpus))
                if "TMPDIR" not in (doc.get("Environment") or {}):  # the instance's own /tmp
                    env["TMPDIR"] = str(layout.tmp_dir)
                if container:
                    env.update(container_mode.environment(sys.executable))
                    argv = container_mode.command(layout, doc)
                    cwd = layout.root
                else:
                    env["PYTHONPATH"] = script_mode.python_path(layout.code_dir)
                    argv = script_mode.command(layout, doc, sys.executable)
                    cwd = layout.code_dir
                stream = f"{doc['TrainingJobName']}/{hosts[index]}-{created}"
                if local_rank:
                    stream += f"-rank{local_rank}"
                path = log_path(self.jobs.settings.state_dir, TRAINING_JOBS, stream)
                logs.append(str(path))
                with path.open("ab") as out:
                    proc = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                self.procs.append(proc)
                idents.append(identity(proc.pid))
                rank += 1
        log.info(
            "training job %s: started %d process(es) %s",
            doc["TrainingJobName"],
            len(self.procs),
            [p.pid for p in self.procs],
        )
        commands = [
            " ".join(str(a) for a in p.args) if isinstance(p.args, list) else str(p.args) for p in self.procs
        ]

        def launched(job: TrainingJob) -> None:
            job.processes, job.logs, job.commands = idents, logs, commands

        self.update(launched)

    def _monitor(
        self, job: TrainingJob, layouts: list[script_mode.HostLayout], sync: CheckpointSync | None
    ) -> list[int]:
        doc = job.description
        parser = MetricParser((doc.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [])
        series: Series = job.series or {}
        log_file = Path((job.logs or [])[0])
        offset = int(job.log_offset or 0)
        runtime_before = float(job.runtime or 0.0)
        limit = (doc.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        started = time.monotonic()
        last_sync = started
        kill_at: float | None = None
        local_checkpoints = layouts[0].checkpoint_dir
        while True:
            codes = [p.poll() for p in self.procs]
            offset, points = self._read_metrics(parser, log_file, offset)
            if points:
                add_points(series, points, common.now())
                self._record_metrics(series, offset)
                self.jobs.metrics_changed(self.key)
            if all(c is not None for c in codes):
                break
            elapsed = runtime_before + time.monotonic() - started
            kill_at = self._enforce(codes, elapsed, limit, kill_at)
            if time.monotonic() - last_sync > SYNC_SECONDS:
                last_sync = time.monotonic()
                if sync is not None:
                    sync.sync()
                self._record_progress(elapsed, offset, any(p.is_file() for p in local_checkpoints.rglob("*")))
            time.sleep(POLL_SECONDS)
        offset, points = self._read_metrics(parser, log_file, offset)
        points += parser.flush()
        if points:
            add_points(series, points, common.now())
        self._record_metrics(series, offset, runtime_before + time.monotonic() - started)
        if points:  # listeners read the record: tell them once the points are in it
            self.jobs.metrics_changed(self.key)
        if sync is not None:
            sync.sync(final=True)
        return [int(c) for c in codes if c is not None]

    def _enforce(
        self, codes: list[int | None], elapsed: float, limit: float | None, kill_at: float | None
    ) -> float | None:
        """End the processes when one rank failed, MaxRuntimeInSeconds passed or a stop was asked
        (SIGTERM, then SIGKILL at the returned deadline); the kill deadline, if any."""
        failed = [c for c in codes if c not in (None, 0)]
        if failed and kill_at is None:  # one rank died: end the others, like torchrun
            kill_at = self._terminate(stop_grace())
        if limit and elapsed > limit and self.stop_reason is None:
            self.request_stop("MaxRuntimeExceeded")
        if (self.stop_event.is_set() or self.shutdown.is_set()) and kill_at is None:
            if not self.shutdown.is_set():
                self.update(TrainingJobStatus="Stopping")
                self.transition("Stopping", "Stopping the training job")
            kill_at = self._terminate(SHUTDOWN_GRACE if self.shutdown.is_set() else stop_grace())
        if kill_at is not None and time.monotonic() > kill_at:
            for proc in self.procs:
                signal_group(proc.pid, signal.SIGKILL)
        return kill_at

    @staticmethod
    def _read_metrics(
        parser: MetricParser, log_file: Path, offset: int
    ) -> tuple[int, list[tuple[str, float]]]:
        try:
            with log_file.open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except OSError:
            return offset, []
        if not data:
            return offset, []
        return offset + len(data), parser.feed(data.decode("utf-8", errors="replace"))

    def _terminate(self, grace: float) -> float:
        for proc in self.procs:
            if proc.poll() is None:
                signal_group(proc.pid, signal.SIGTERM)
        return time.monotonic() + grace

    # ------------------------------------------------------------------ endings
    def _finish(
        self, codes: list[int], *, stopped: bool, layouts: list[script_mode.HostLayout] | None = None
    ) -> None:
        job = self.job()
        doc = job.description
        job_dir = Path(job.dir)
        host = (
            layouts[0]
            if layouts
            else script_mode.HostLayout(job_dir / "algo-1", job_dir / "code", job_dir / "checkpoints")
        )
        success = stopped or (bool(codes) and all(c == 0 for c in codes))
        if not success:
            reason = failure_reason(job, host, codes)
            upload_artifacts(self.jobs.locations, job, host, model=False)
            self._fail(reason, rules=self._rule_statuses(doc, host, final=True))
            return
        self.transition("Uploading", "Uploading generated training model")
        artifacts = upload_artifacts(self.jobs.locations, job, host, model=True)
        end = common.now()
        start = doc.get("TrainingStartTime") or end
        rules = self._rule_statuses(doc, host, final=True)
        if stopped:
            secondary = "MaxRuntimeExceeded" if self.stop_reason == "MaxRuntimeExceeded" else "Stopped"
            message = (
                "Training job stopped because it exceeded MaxRuntimeInSeconds"
                if secondary == "MaxRuntimeExceeded"
                else "Training job stopped"
            )
            status = "Stopped"
        else:
            secondary, message, status = "Completed", "Training job completed", "Completed"
        self.transition(
            secondary,
            message,
            TrainingJobStatus=status,
            TrainingEndTime=end,
            TrainingTimeInSeconds=int(end - start),
            BillableTimeInSeconds=max(1, int(end - start)),
            ModelArtifacts=artifacts,
            **rules,
        )
        self._close_transitions()
        discard_local_copies(job_dir)  # the verdict is recorded and the artifacts are in S3
        self.jobs.job_ended(self.key)

    def _close_transitions(self) -> None:
        def close(job: TrainingJob) -> None:
            transitions = job.get("SecondaryStatusTransitions") or []
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = transitions[-1]["StartTime"]

        self.jobs.records.update(self.key, close)

    def _fail(self, reason: str, rules: dict[str, Any] | None = None) -> None:
        end = common.now()
        job = self.job()
        start = job.get("TrainingStartTime") or end
        self.transition(
            "Failed",
            reason[:MAX_REASON],
            TrainingJobStatus="Failed",
            FailureReason=reason[:MAX_REASON],
            TrainingEndTime=end,
            TrainingTimeInSeconds=int(end - start),
            BillableTimeInSeconds=max(1, int(end - start)),
            **(rules or {}),
        )
        self._close_transitions()
        discard_local_copies(Path(job.dir))  # output.tar.gz (if any) is in S3 already
        self.jobs.job_ended(self.key)

    def _rule_statuses(self, doc: Doc, host: script_mode.HostLayout, *, final: bool) -> dict[str, Any]:
        return rule_statuses(doc, host.output_data_dir / "profiler-report" / "rules.json", final=final)
