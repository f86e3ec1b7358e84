"""CheckStatus: where the tuning job, the retrain or the endpoint stands.

Input: ``{"kind": "tuning" | "training" | "endpoint", "state": <pipeline state>}``. Output: the
state with ``tuning.status`` / ``retrain.status`` / ``endpoint.status`` updated; the state
machine's Choice moves on at ``Completed`` / ``InService`` and waits ``pollSeconds`` otherwise.
A job that ended Failed or Stopped raises ``JobFailed`` with SageMaker's FailureReason (and, for
a tuning job, one failed trial's reason); an endpoint that failed or rolled back raises
``DeploymentFailed``. When the retrain completes, its model artifact, final metrics and the
profiler report (location + ``profiler-report/rules.json`` read from output.tar.gz) and the test
evaluation (``evaluation.json`` from the same archive, in one pass) are recorded;
when the endpoint is in service, the execution output is assembled.
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from .aws import (
    OnFirstUse,
    first_failed_trial,
    is_not_found,
    s3_client,
    sagemaker_client,
    throttling_as_retryable,
)
from .errors import DeploymentFailed, JobFailed
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .requests import PROFILER_REPORT_DIR, decode_hyperparameter, training_output_uri
from .state import (
    EvaluationSummary,
    ExecutionOutput,
    PipelineState,
    ProfilerReport,
    RetrainState,
    RuleResult,
    TuningState,
)

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()

RULES_FILE = f"{PROFILER_REPORT_DIR}rules.json"
EVALUATION_FILE = "evaluation.json"  # train.py writes it to SM_OUTPUT_DATA_DIR (and the model dir)
EVALUATION_REPORT = "evaluation.html"
MAX_RULES_JSON_BYTES = 64 * 1024
ENDPOINT_BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


class CheckStatusEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["tuning", "training", "endpoint"]
    state: PipelineState


def check_tuning(sagemaker: Any, state: PipelineState) -> PipelineState:
    name = state.names.tuningJob
    job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    status = job["HyperParameterTuningJobStatus"]
    counters = {k: int(v) for k, v in job.get("TrainingJobStatusCounters", {}).items()}
    if status in ("Failed", "Stopped", "Deleting", "DeleteFailed"):
        reason = job.get("FailureReason") or "no reason given"
        trial = first_failed_trial(sagemaker, name)
        detail = f" (e.g. training job {trial})" if trial else ""
        raise JobFailed(f"Tuning job {name} {status.lower()}: {reason}{detail}")
    state.tuning = TuningState(
        name=name,
        arn=job.get("HyperParameterTuningJobArn"),
        status="Completed" if status == "Completed" else "InProgress",
        trainingJobs=counters,
    )
    return state


def _rules(statuses: list[dict[str, Any]]) -> list[RuleResult]:
    return [
        RuleResult(
            name=s["RuleConfigurationName"],
            status=s.get("RuleEvaluationStatus", "Unknown"),
            details=s.get("StatusDetails"),
        )
        for s in statuses
    ]


class ArchiveUnreadable(ValueError):
    """A tar.gz that is not one (tarfile's TarError, as a ValueError its readers already handle)."""


def read_archive_files(s3: Any, archive_uri: str, wanted: frozenset[str]) -> dict[str, bytes]:
    """The ``wanted`` small files of a tar.gz on S3, read in one streaming pass (absent ones left out)."""
    import tarfile  # only when an archive is read: not every cold start (~3 ms)

    bucket, _, key = archive_uri.removeprefix("s3://").partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=body, mode="r|gz") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if name not in wanted or not member.isfile():
                    continue
                if member.size > MAX_RULES_JSON_BYTES:
                    raise ValueError(f"{name} is {member.size} bytes, more than {MAX_RULES_JSON_BYTES}")
                handle = archive.extractfile(member)
                if handle is not None:
                    found[name] = handle.read()
                if len(found) == len(wanted):
                    break
    except tarfile.TarError as exc:
        raise ArchiveUnreadable(str(exc)) from exc
    return found


def read_rules_json(s3: Any, output_uri: str) -> list[RuleResult]:
    """The rules train.py evaluated, from ``profiler-report/rules.json`` inside output.tar.gz."""
    found = read_archive_files(s3, output_uri, frozenset({RULES_FILE}))
    if RULES_FILE not in found:
        raise FileNotFoundError(f"{RULES_FILE} is not in {output_uri}")
    return _rules_from_report(json.loads(found[RULES_FILE]))


def evaluation_summary(document: Any, report_uri: str | None) -> EvaluationSummary:
    """The gate's and the output's digest of train.py's evaluation.json (docs/evaluation.md)."""
    if not isinstance(document, dict) or "top1Accuracy" not in document:
        raise ValueError(f"{EVALUATION_FILE} lacks top1Accuracy")
    return EvaluationSummary(
        top1Accuracy=float(document["top1Accuracy"]),
        top5Accuracy=document.get("top5Accuracy"),
        macroF1=(document.get("macroAvg") or {}).get("f1"),
        ece=(document.get("calibration") or {}).get("ece"),
        images=document.get("images"),
        testSet=(document.get("testSet") or {}).get("fingerprint"),
        reportUri=report_uri,
        reportPath=EVALUATION_REPORT if report_uri else None,
    )


def _rules_from_report(report: Any) -> list[RuleResult]:
    """rules.json is a list shaped like ``ProfilerRuleEvaluationStatuses`` plus ``Recommendation``."""
    if not isinstance(report, list):
        raise ValueError(f"{RULES_FILE} should hold a list of rules, got {type(report).__name__}")
    entries = [entry for entry in report if isinstance(entry, dict) and "RuleConfigurationName" in entry]
    results = _rules(entries)
    for result, entry in zip(results, entries, strict=True):
        recommendation = entry.get("Recommendation")
        result.recommendation = str(recommendation) if recommendation else None
    return results


def check_training(sagemaker: Any, s3: Any, state: PipelineState) -> PipelineState:
    name = state.names.retrainJob
    job = sagemaker.describe_training_job(TrainingJobName=name)
    status = job["TrainingJobStatus"]
    if status in ("Failed", "Stopped"):
        reason = job.get("FailureReason") or "no reason given"
        raise JobFailed(f"Training job {name} {status.lower()}: {reason}")
    retrain = RetrainState(
        name=name,
        arn=job.get("TrainingJobArn"),
        status=status if status == "Completed" else "InProgress",
        secondaryStatus=job.get("SecondaryStatus"),
    )
    if status == "Completed":
        retrain.modelArtifact = job["ModelArtifacts"]["S3ModelArtifacts"]
        retrain.outputUri = training_output_uri(job["OutputDataConfig"]["S3OutputPath"], name)
        metrics = job.get("FinalMetricDataList", [])
        retrain.finalMetrics = {m["MetricName"]: float(m["Value"]) for m in metrics}
        report = ProfilerReport(
            reportUri=retrain.outputUri,
            reportPath=PROFILER_REPORT_DIR,
            rules=_rules(job.get("ProfilerRuleEvaluationStatuses", [])),
            debuggerRules=_rules(job.get("DebugRuleEvaluationStatuses", [])),
        )
        files: dict[str, bytes] = {}
        try:
            files = read_archive_files(s3, retrain.outputUri, frozenset({RULES_FILE, EVALUATION_FILE}))
            if RULES_FILE not in files:
                raise FileNotFoundError(f"{RULES_FILE} is not in {retrain.outputUri}")
            report.rules += _rules_from_report(json.loads(files[RULES_FILE]))
        except (ClientError, OSError, ValueError) as exc:  # ValueError: ArchiveUnreadable too
            # The report is informative; its absence must not fail a trained model.
            logger.warning("profiler rules not readable", extra={"uri": retrain.outputUri, "error": str(exc)})
            report.rules.append(RuleResult(name="profiler-report", status="Unavailable", details=str(exc)))
        retrain.profiler = report
        if EVALUATION_FILE in files:
            try:
                retrain.evaluation = evaluation_summary(json.loads(files[EVALUATION_FILE]), retrain.outputUri)
            except ValueError as exc:  # the gate then says the model has no usable evaluation
                logger.warning("evaluation not readable", extra={"uri": retrain.outputUri, "error": str(exc)})
    state.retrain = retrain
    return state


def check_endpoint(sagemaker: Any, state: PipelineState) -> PipelineState:
    if state.endpoint is None:
        raise DeploymentFailed("CheckStatus(endpoint) ran before DeployEndpoint")
    name, ours = state.endpoint.name, state.endpoint.configName
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if is_not_found(exc):
            raise DeploymentFailed(f"Endpoint {name} disappeared while it was being deployed") from exc
        raise
    status = endpoint["EndpointStatus"]
    serving = endpoint.get("EndpointConfigName")
    reason = endpoint.get("FailureReason")
    state.endpoint.status = status
    state.endpoint.failureReason = reason
    if status in ENDPOINT_BUSY:
        return state
    if status == "InService" and serving == ours:
        state.output = execution_output(state)
        return state
    if status == "InService":
        raise DeploymentFailed(
            f"Endpoint {name}: the update to {ours} was rolled back ({reason or 'no reason given'}); "
            f"it still serves {serving}"
        )
    raise DeploymentFailed(f"Endpoint {name} is {status}: {reason or 'no reason given'}")


def execution_output(state: PipelineState) -> ExecutionOutput:
    """The summary a successful execution ends with (docs/contracts.md#execution-output)."""
    if state.tuning is None or state.best is None or state.retrain is None or state.endpoint is None:
        raise DeploymentFailed("the pipeline state lacks tuning, best, retrain or endpoint")
    endpoint = {
        "name": state.endpoint.name,
        "status": state.endpoint.status,
        "config": state.endpoint.configName,
        "model": state.endpoint.modelName,
        "action": state.endpoint.action,
    }
    return summary(state, endpoint, deployed=True, reason=state.gate.reason if state.gate else None)


def summary(
    state: PipelineState, endpoint: dict[str, Any], *, deployed: bool, reason: str | None
) -> ExecutionOutput:
    """The execution output: tuning, best trial, retrain and its evaluation, plus the endpoint
    and the deployment gate's verdict (shared by a deployment and by the gate keeping the model)."""
    if state.tuning is None or state.best is None or state.retrain is None:
        raise DeploymentFailed("the pipeline state lacks tuning, best or retrain")
    hyperparameters = state.best.hyperParameters
    return ExecutionOutput(
        tuningJob=state.tuning.name,
        bestTrainingJob=state.best.trainingJob,
        bestHyperparameters={k: decode_hyperparameter(v) for k, v in sorted(hyperparameters.items())},
        objective=state.best.objective,
        retrainJob=state.retrain.name,
        modelArtifact=state.retrain.modelArtifact or "",
        finalMetrics=state.retrain.finalMetrics,
        profiler=state.retrain.profiler,
        endpoint=endpoint,
        deployed=deployed,
        reason=reason,
        evaluation=state.retrain.evaluation,
    )


def check_status(event: dict[str, Any], sagemaker: Any, s3: Any) -> dict[str, Any]:
    # The state's validator first (once per container): the event's then reuses its schema, and
    # the state's dump() finds its serializer built. Built the other way round, the state's schema
    # is generated twice, ~10 ms of a cold start.
    PipelineState.model_rebuild()
    request = CheckStatusEvent.model_validate(event)
    with throttling_as_retryable():
        if request.kind == "tuning":
            state = check_tuning(sagemaker, request.state)
        elif request.kind == "training":
            state = check_training(sagemaker, s3, request.state)
        else:
            state = check_endpoint(sagemaker, request.state)
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_status(event, sagemaker_client(), OnFirstUse(s3_client))
