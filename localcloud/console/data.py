"""Every read (and the one write) the console makes, through the services' AWS-shaped operations.

This is the console's single point of contact with localcloud's services: Step Functions,
SageMaker, CloudWatch and CloudWatch Logs through ``service.dispatch(operation, params)`` (the same
calls, parameters and answers as the AWS API: AWS response dicts), S3 through its own REST API on
the edge (a botocore client aimed at this localcloud: S3 has no JSON dispatch), so the services'
stored documents can change shape without the console noticing. Every list is bounded (one page,
``PAGE`` items); the caller runs these methods in a worker thread (they block on the store).

Relies on the LocalCloud container (``cloud.stepfunctions``, ``cloud.sagemaker``, ...) and boto3.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from ..errors import AwsError
from ..sagemaker.metrics import MAX_POINTS, MetricParser

if TYPE_CHECKING:
    from ..cloud import LocalCloud

PAGE = 50
HISTORY_PAGES = 10  # GetExecutionHistory pages of 1000 events
TRIALS_PAGE = 100
LOG_LINES = 200
METRIC_READS = 32  # training log streams whose metric points the console keeps (most recent)
REPORT_LIMIT = 20 * 1024 * 1024  # the largest output.tar.gz the console opens for its report
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_NAMESPACE = "AWS/SageMaker"


def epoch(value: Any) -> float | None:
    """A timestamp from a service answer (epoch seconds or datetime) as epoch seconds."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


@dataclass
class _MetricRead:
    """How far the console has read one training log stream, and the metric points found so far."""

    parser: MetricParser
    token: str | None = None
    series: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)  # MAX_POINTS each
    lock: threading.Lock = field(default_factory=threading.Lock)


class ConsoleData:
    """The console's view of one LocalCloud (see the module docstring)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._s3: Any = None
        self._lock = threading.Lock()
        self._metric_reads: dict[tuple[str, str], _MetricRead] = {}

    # ------------------------------------------------------------------ plumbing
    def _sfn(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.cloud.stepfunctions.dispatch(operation, params)

    def _sm(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.cloud.sagemaker.dispatch(operation, params)

    def _cw(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.cloud.cloudwatch.dispatch(operation, params)

    def _logs(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.cloud.logs.dispatch(operation, params)

    @property
    def s3(self) -> Any:
        """A botocore S3 client for this localcloud's edge (path-style, no retries)."""
        with self._lock:
            if self._s3 is None:
                settings = self.cloud.settings
                self._s3 = boto3.session.Session().client(
                    "s3",
                    endpoint_url=settings.edge_url,
                    region_name=settings.region,
                    aws_access_key_id="console",
                    aws_secret_access_key="console",
                    config=Config(
                        s3={"addressing_style": "path"},
                        retries={"max_attempts": 1},
                        connect_timeout=5,
                        read_timeout=30,
                    ),
                )
            return self._s3

    # ------------------------------------------------------------------ Step Functions
    def executions(self, limit: int = PAGE) -> list[dict[str, Any]]:
        """The newest ``limit`` executions of every state machine (ListStateMachines + ListExecutions)."""
        machines = self._sfn("ListStateMachines", {"maxResults": 1000}).get("stateMachines", [])
        found: list[dict[str, Any]] = []
        for machine in machines:
            page = self._sfn(
                "ListExecutions", {"stateMachineArn": machine["stateMachineArn"], "maxResults": limit}
            )
            for item in page.get("executions", []):
                found.append({**item, "stateMachineName": machine["name"]})
        found.sort(key=lambda e: epoch(e.get("startDate")) or 0.0, reverse=True)
        return found[:limit]

    def execution(self, arn: str) -> dict[str, Any]:
        """DescribeExecution, its state machine's definition and its history (bounded)."""
        described = self._sfn("DescribeExecution", {"executionArn": arn})
        machine = self._sfn("DescribeStateMachineForExecution", {"executionArn": arn})
        events = _pages(
            lambda params: self._sfn("GetExecutionHistory", params),
            {"executionArn": arn, "maxResults": 1000},
            items="events",
            token_key="nextToken",
            pages=HISTORY_PAGES,
        )
        return {"execution": described, "definition": machine["definition"], "events": events}

    # ------------------------------------------------------------------ SageMaker
    def tuning_jobs(self, limit: int = PAGE) -> list[dict[str, Any]]:
        answer = self._sm(
            "ListHyperParameterTuningJobs",
            {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": limit},
        )
        return list(answer.get("HyperParameterTuningJobSummaries", []))

    def tuning_job(self, name: str) -> dict[str, Any]:
        described = self._sm("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        trials = _pages(
            lambda params: self._sm("ListTrainingJobsForHyperParameterTuningJob", params),
            {"HyperParameterTuningJobName": name, "MaxResults": TRIALS_PAGE},
            items="TrainingJobSummaries",
            token_key="NextToken",
            pages=5,  # up to 500 trials (SageMaker's own limit is 750 per tuning job)
        )
        return {"job": described, "trials": trials}

    def training_jobs(self, limit: int = PAGE, token: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": limit}
        if token:
            params["NextToken"] = token
        return self._sm("ListTrainingJobs", params)

    def training_job(self, name: str) -> dict[str, Any]:
        return self._sm("DescribeTrainingJob", {"TrainingJobName": name})

    def training_metrics(
        self, job: dict[str, Any], stream: str | None
    ) -> dict[str, list[tuple[float, float]]]:
        """Each of the job's metric series as (epoch seconds, value), one point per metric line the
        job printed, oldest first.

        Read the way SageMaker derives them: the job's MetricDefinitions applied to each event of
        its first host's log stream (CloudWatch Logs GetLogEvents, forward from the last event
        read, so a poll reads only new lines). Not GetMetricData: CloudWatch averages the points
        within a period, and its shortest, 1 second, can hold several epochs of a small job.
        ``stream``: the job's :meth:`training_stream`."""
        definitions = (job.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        if stream is None or not any(d.get("Name") and d.get("Regex") for d in definitions):
            return {}
        key = (stream, json.dumps(definitions, sort_keys=True))
        with self._lock:
            read = self._metric_reads.pop(key, None) or _MetricRead(MetricParser(definitions))
            self._metric_reads[key] = read  # most recently used last
            while len(self._metric_reads) > METRIC_READS:
                del self._metric_reads[next(iter(self._metric_reads))]
        with read.lock:
            while True:
                params: dict[str, Any] = {"logGroupName": TRAINING_LOG_GROUP, "logStreamName": stream}
                params.update({"nextToken": read.token} if read.token else {"startFromHead": True})
                answer = self._logs("GetLogEvents", params)
                events = answer.get("events", [])
                read.token = answer.get("nextForwardToken") or read.token
                for event in events:
                    at = event["timestamp"] / 1000
                    for name, value in read.parser.parse_line(str(event["message"])):
                        read.series.setdefault(name, deque(maxlen=MAX_POINTS)).append((at, value))
                if not events:
                    return {name: list(points) for name, points in read.series.items()}

    def training_stream(self, name: str) -> str | None:
        """The log stream of the job's first host (``<job>/algo-1-<created>``), if it has logged."""
        try:
            streams = self._logs(
                "DescribeLogStreams",
                {"logGroupName": TRAINING_LOG_GROUP, "logStreamNamePrefix": f"{name}/", "limit": 50},
            ).get("logStreams", [])
        except AwsError:  # no group yet: no job has logged
            return None
        return str(streams[0]["logStreamName"]) if streams else None

    def training_log_tail(self, stream: str | None, lines: int = LOG_LINES) -> list[dict[str, Any]]:
        """The last ``lines`` events of a job's :meth:`training_stream` (CloudWatch Logs)."""
        if stream is None:
            return []
        answer = self._logs(
            "GetLogEvents",
            {
                "logGroupName": TRAINING_LOG_GROUP,
                "logStreamName": stream,
                "limit": lines,
                "startFromHead": False,
            },
        )
        return list(answer.get("events", []))

    def profiler_output(self, job: dict[str, Any]) -> dict[str, Any]:
        """``profiler-report/`` from the job's ``output/output.tar.gz`` in S3 (a Completed job
        trained with ``profile=true``): ``report`` (report.html's bytes or None) and ``rules``
        (rules.json: entries shaped like ProfilerRuleEvaluationStatuses; [] without one)."""
        found: dict[str, Any] = {"report": None, "rules": []}
        output = (job.get("OutputDataConfig") or {}).get("S3OutputPath", "")
        if not output.startswith("s3://") or job.get("TrainingJobStatus") != "Completed":
            return found
        bucket, _, prefix = output[5:].partition("/")
        parts = (prefix.strip("/"), job["TrainingJobName"], "output", "output.tar.gz")
        key = "/".join(p for p in parts if p)
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
            if int(head["ContentLength"]) > REPORT_LIMIT:
                return found
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.ClientError:
            return found
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is None:
                    continue
                if name == "profiler-report/report.html":
                    found["report"] = extracted.read()
                elif name == "profiler-report/rules.json":
                    rules = json.loads(extracted.read() or b"[]")
                    found["rules"] = (
                        [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
                    )
        return found

    def endpoints(self, limit: int = PAGE) -> list[dict[str, Any]]:
        answer = self._sm(
            "ListEndpoints", {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": limit}
        )
        return list(answer.get("Endpoints", []))

    def endpoint(self, name: str) -> dict[str, Any]:
        """DescribeEndpoint plus its config's variants (model, instance type) merged per variant."""
        described = self._sm("DescribeEndpoint", {"EndpointName": name})
        try:
            config = self._sm(
                "DescribeEndpointConfig", {"EndpointConfigName": described["EndpointConfigName"]}
            )
        except AwsError:  # the config may be deleted while the endpoint runs (SageMaker allows it)
            config = {"ProductionVariants": []}
        configured = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
        variants = []
        for variant in described.get("ProductionVariants") or configured.values():
            merged = {**configured.get(variant["VariantName"], {}), **variant}
            variants.append(merged)
        return {"endpoint": described, "variants": variants}

    def endpoint_metrics(self, name: str, variant: str, since: float) -> dict[str, float | None]:
        """Invocations, 4XX/5XX errors (sums) and ModelLatency p50/p99 (microseconds) since ``since``,
        from CloudWatch's AWS/SageMaker namespace, one period covering the whole window."""
        end = time.time() + 60
        start = math.floor(since / 60) * 60 - 60
        period = max(60, math.ceil((end - start) / 60) * 60)
        dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": variant}]
        window = {
            "Namespace": ENDPOINT_NAMESPACE,
            "Dimensions": dims,
            "StartTime": dt.datetime.fromtimestamp(start, dt.UTC),
            "EndTime": dt.datetime.fromtimestamp(end, dt.UTC),
            "Period": period,
        }
        out: dict[str, float | None] = {}
        for metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors"):
            points = self._cw("GetMetricStatistics", {**window, "MetricName": metric, "Statistics": ["Sum"]})
            out[metric] = sum(float(p["Sum"]) for p in points.get("Datapoints", []))
        latency = self._cw(
            "GetMetricStatistics",
            {**window, "MetricName": "ModelLatency", "ExtendedStatistics": ["p50", "p99"]},
        ).get("Datapoints", [])
        stats = latency[0].get("ExtendedStatistics", {}) if latency else {}
        out["p50"] = stats.get("p50")
        out["p99"] = stats.get("p99")
        return out

    # ------------------------------------------------------------------ S3
    def buckets(self) -> list[dict[str, Any]]:
        return list(self.s3.list_buckets().get("Buckets", []))[:1000]

    def objects(self, bucket: str, prefix: str = "", token: str | None = None) -> dict[str, Any]:
        """One ListObjectsV2 page (``PAGE`` keys and common prefixes) under ``prefix``, rolled up at ``/``."""
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": PAGE}
        if token:
            params["ContinuationToken"] = token
        answer = self.s3.list_objects_v2(**params)
        return {
            "prefixes": [p["Prefix"] for p in answer.get("CommonPrefixes", [])],
            "objects": answer.get("Contents", []),
            "next": answer.get("NextContinuationToken"),
        }


def _pages(
    call: Callable[[dict[str, Any]], dict[str, Any]],
    params: dict[str, Any],
    *,
    items: str,
    token_key: str,
    pages: int,
) -> list[dict[str, Any]]:
    """The items of up to ``pages`` pages of a paged AWS operation, following its token."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(pages):
        page = call({**params, token_key: token} if token else params)
        found.extend(page.get(items, []))
        token = page.get(token_key)
        if not token:
            break
    return found
