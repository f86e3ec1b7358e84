"""Typed records of SageMaker's resources (training jobs, tuning jobs and their trials, models,
endpoint configs, endpoints) and how each is kept in the store.

A record has two parts:

- ``description``: the fields AWS describes the resource with (``TrainingJobStatus``,
  ``HyperParameterTuningJobConfig``, ``ProductionVariants`` ...), in the order they were set.
  They are the request's own structures with AWS's defaults applied, and botocore's service model
  is their schema (every request is checked against it on the way in, see ``api.py``); the
  fields localcloud itself reads or writes have typed properties on the record.
- localcloud's own state, typed attributes: the job's folder, tags, process identities, the
  metric series, a tuning job's trials, an endpoint's server processes and pending config ...

Why dataclasses over pydantic models: the records are built by localcloud (never parsed from an
untrusted request, which botocore's model validates first), so runtime validation buys nothing;
and Describe* must answer byte-for-byte what earlier versions answered for the same stored state,
key order included, which a plain ordered ``description`` keeps and a model with declared
fields (dumped in declaration order) would not. Re-declaring AWS's shapes as classes would be a
second, drifting copy of botocore's model.

Stored format (unchanged from the dict documents of earlier versions, so existing state.db files
open as they are): one JSON document per resource, the description's fields plus localcloud's
state under ``_``-prefixed keys (``_dir``, ``_tags``, ``_series``, ``_trials``, ``_servers`` ...).
Private keys this version does not know are kept as they were. ``to_doc``/``from_doc`` are the
only place that knows those keys. CloudWatch's GetMetricData reads ``_series`` from these
documents (localcloud/cloudwatch/models.py).

Runtime-only things (threads, server processes, routers) are not here: they live on the behaviour
objects (TrainingJobs/TrainingRun, Tuner, Fleet).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from ..errors import AwsError
from ..store import Doc, Store
from . import common

Tag = dict[str, str]
ProcessIdentity = dict[str, float | int]  # {"pid": ..., "created": ...}, see processes.identity
Series = dict[str, list[list[float]]]  # metric name -> [[timestamp, value], ...]


@dataclass
class Record:
    """What every SageMaker resource has: its AWS description, its tags, unknown stored state."""

    description: Doc
    tags: list[Tag] = field(default_factory=list)
    other: Doc = field(default_factory=dict)  # private keys from other versions, kept as stored

    PRIVATE: ClassVar[tuple[str, ...]] = ()  # private keys (without "_") this record type reads and writes
    NAME: ClassVar[str] = ""  # the description's name field (TrainingJobName ...)
    ARN: ClassVar[str] = ""  # its ARN field
    STATUS: ClassVar[str] = ""  # its status field (resources that have one)

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        public = {k: v for k, v in doc.items() if not k.startswith("_")}
        private = {k[1:]: v for k, v in doc.items() if k.startswith("_")}
        known = {k: private.pop(k) for k in (*cls.PRIVATE, "tags") if k in private}
        if known.get("tags") is None:
            known.pop("tags", None)
        return cls(description=public, other=private, **cls._parse(known))

    @classmethod
    def _parse(cls, known: Doc) -> Doc:
        """The dataclass fields from the stored private values (the same, unless overridden)."""
        return known

    def _private(self) -> Doc:
        """localcloud's state as stored (``_``-prefixed keys); None values are left out."""
        return {k: getattr(self, k) for k in self.PRIVATE}

    def to_doc(self) -> Doc:
        doc = dict(self.description)
        doc["_tags"] = self.tags
        doc.update({f"_{k}": v for k, v in self._private().items() if v is not None})
        doc.update({f"_{k}": v for k, v in self.other.items()})
        return doc

    @property
    def name(self) -> str:
        return str(self.description[self.NAME])

    @property
    def arn(self) -> str:
        return str(self.description[self.ARN])

    @property
    def status(self) -> str:
        return str(self.description[self.STATUS])

    @property
    def creation_time(self) -> float:
        return float(self.description["CreationTime"])

    def get(self, name: str) -> Any:
        return self.description.get(name)

    def set(self, **fields: Any) -> None:
        """Set description fields (a None value removes the field)."""
        for name, value in fields.items():
            if value is None:
                self.description.pop(name, None)
            else:
                self.description[name] = value


@dataclass
class TrainingJob(Record):
    dir: str = ""
    tuned: dict[str, str] | None = None  # the trial's tuned hyperparameters (tuning jobs' trials)
    launched: bool | None = None  # its processes were started (a restart resumes, not restarts)
    processes: list[ProcessIdentity] | None = None
    logs: list[str] | None = None  # one log file per process, algo-1's first
    commands: list[str] | None = None
    series: Series | None = None
    log_offset: int | None = None  # how far algo-1's log has been parsed for metrics
    runtime: float | None = None  # seconds run before the last restart
    has_checkpoint: bool | None = None
    retries: int | None = None  # RetryStrategy attempts used

    PRIVATE = (
        "dir",
        "tuned",
        "launched",
        "processes",
        "logs",
        "commands",
        "series",
        "log_offset",
        "runtime",
        "has_checkpoint",
        "retries",
    )
    NAME, ARN, STATUS = "TrainingJobName", "TrainingJobArn", "TrainingJobStatus"

    @property
    def tuning_job_arn(self) -> str | None:
        arn = self.description.get("TuningJobArn")
        return str(arn) if arn else None

    @property
    def failure_reason(self) -> str | None:
        reason = self.description.get("FailureReason")
        return None if reason is None else str(reason)

    def objective_series(self, metric: str) -> list[float]:
        return [float(p[1]) for p in (self.series or {}).get(metric) or []]

    def objective_value(self, metric: str) -> float | None:
        values = self.objective_series(metric)
        return values[-1] if values else None


@dataclass
class Trial:
    """One training job a tuning job launched, and what the tuner has told its study about it."""

    index: int
    training_job_name: str
    trial_id: int
    reported: int = 0  # epochs of the objective series reported to the study
    done: bool = False  # its result was told to the study
    launch_error: str | None = None  # CreateTrainingJob refused it
    stop_reason: str | None = None  # Pruned / MaxResource / EarlyStopped
    objective: float | None = None

    _KEYS = (
        ("index", "Index"),
        ("training_job_name", "TrainingJobName"),
        ("trial_id", "TrialId"),
        ("reported", "Reported"),
        ("done", "Done"),
        ("launch_error", "LaunchError"),
        ("stop_reason", "StopReason"),
        ("objective", "Objective"),
    )

    @classmethod
    def from_doc(cls, doc: Doc) -> Trial:
        return cls(**{attr: doc[key] for attr, key in cls._KEYS if doc.get(key) is not None})

    def to_doc(self) -> Doc:
        values = {key: getattr(self, attr) for attr, key in self._KEYS}
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class TuningJob(Record):
    request: Doc = field(default_factory=dict)  # the CreateHyperParameterTuningJob request
    trials: list[Trial] = field(default_factory=list)
    dir: str = ""  # holds the Optuna journal

    PRIVATE = ("request", "trials", "dir")
    NAME, ARN = "HyperParameterTuningJobName", "HyperParameterTuningJobArn"
    STATUS = "HyperParameterTuningJobStatus"

    @classmethod
    def _parse(cls, known: Doc) -> Doc:
        return {**known, "trials": [Trial.from_doc(t) for t in known.get("trials") or []]}

    def _private(self) -> Doc:
        return {"request": self.request, "trials": [t.to_doc() for t in self.trials], "dir": self.dir}

    @property
    def objective(self) -> Doc:
        objective: Doc = self.description["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        return objective

    def trial(self, index: int) -> Trial:
        return next(t for t in self.trials if t.index == index)


@dataclass
class Model(Record):
    NAME, ARN = "ModelName", "ModelArn"

    @property
    def container(self) -> Doc:
        """The model's one container (PrimaryContainer, or the only one of Containers)."""
        containers = self.description.get("Containers") or [{}]
        container: Doc = self.description.get("PrimaryContainer") or containers[0]
        return container


@dataclass
class EndpointConfig(Record):
    NAME, ARN = "EndpointConfigName", "EndpointConfigArn"

    @property
    def variants(self) -> builtins.list[Doc]:
        variants: list[Doc] = self.description["ProductionVariants"]
        return variants


@dataclass
class Endpoint(Record):
    servers: list[ProcessIdentity] | None = None  # the model servers' processes, stopped on restart
    pending_config: str | None = None  # UpdateEndpoint's config while the update is under way

    PRIVATE = ("servers", "pending_config")
    NAME, ARN, STATUS = "EndpointName", "EndpointArn", "EndpointStatus"

    @property
    def config_name(self) -> str:
        return str(self.description["EndpointConfigName"])


R = TypeVar("R", bound=Record)


class Records(Generic[R]):
    """The records of one kind in the store, keyed by the lower-cased name (SageMaker names are
    case-insensitive; their ARNs use the lower-cased name)."""

    def __init__(self, store: Store, kind: str, record_type: type[R]) -> None:
        self.store = store
        self.kind = kind
        self.record_type = record_type

    def get(self, name: str) -> R | None:
        doc = self.store.get(self.kind, name.lower())
        return None if doc is None else self.record_type.from_doc(doc)

    def require(self, name: str, missing: Callable[[str], AwsError]) -> R:
        """The record named ``name``, or ``missing(name)`` raised."""
        record = self.get(name)
        if record is None:
            raise missing(name)
        return record

    def all(self) -> builtins.list[R]:
        """Every record, oldest first."""
        return [self.record_type.from_doc(doc) for doc in self.store.list(self.kind)]

    def descriptions(self, omit: Sequence[str] = ()) -> builtins.list[Doc]:
        """Every record's public description (its AWS-shaped fields), oldest first, for List*
        answers; the private state in ``omit`` (e.g. ``series``) is not even read."""
        docs = self.store.list(self.kind, omit=[f"_{key}" for key in omit])
        return [self.record_type.from_doc(doc).description for doc in docs]

    def create(self, name: str, record: R) -> bool:
        """Store a new record; False when the name is taken (atomic)."""
        return self.store.create(self.kind, name.lower(), record.to_doc())

    def update(self, name: str, change: Callable[[R], None]) -> R:
        """Atomically read, change and write a record; KeyError when it does not exist."""
        changed: list[R] = []

        def apply(doc: Doc) -> None:
            record = self.record_type.from_doc(doc)
            change(record)
            doc.clear()
            doc.update(record.to_doc())
            changed.append(record)

        self.store.update(self.kind, name.lower(), apply)
        return changed[0]

    def delete(self, name: str) -> bool:
        return self.store.delete(self.kind, name.lower())


class TrainingMetricsView:
    """What SageMaker tells CloudWatch of its training jobs' metrics (CloudWatch's
    ``TrainingMetrics``, wired by cloud.py): every job's FinalMetricDataList without reading a
    series, and one job's series."""

    def __init__(self, records: Records[TrainingJob]) -> None:
        self.records = records

    def final_metrics(self) -> builtins.list[tuple[str, builtins.list[Doc]]]:
        """(job name, FinalMetricDataList) of every training job, oldest first."""
        return [
            (str(d["TrainingJobName"]), d.get("FinalMetricDataList") or [])
            for d in self.records.descriptions(omit=("series",))
        ]

    def metric_series(self, job: str) -> tuple[str, Series] | None:
        """The job named ``job`` (names are case-insensitive): its name as created and its series by
        metric name (``[epoch seconds, value]`` points); None: no such job."""
        record = self.records.get(job)
        return None if record is None else (record.name, record.series or {})


@dataclass(frozen=True)
class HostingRecords:
    """The records hosting.py and deployments.py share."""

    models: Records[Model]
    configs: Records[EndpointConfig]
    endpoints: Records[Endpoint]

    @classmethod
    def of(cls, store: Store) -> HostingRecords:
        return cls(
            Records(store, common.MODEL, Model),
            Records(store, common.ENDPOINT_CONFIG, EndpointConfig),
            Records(store, common.ENDPOINT, Endpoint),
        )
