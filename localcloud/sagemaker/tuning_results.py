"""What a tuning job reports about its training jobs: each trial's HyperParameterTrainingJobSummary,
the status and objective counters, BestTrainingJob, how many jobs have not improved on the best,
and why the tuning job should launch no more training jobs.

Pure functions over records (records.py) and the tuning plan (tuning_plan.py); relies on nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..store import Doc
from .records import TrainingJob, TuningJob
from .tuning_plan import TuningPlan

FAIL_FAST_JOBS = 3  # the first jobs all failing fails the tuning job (the definition is broken)


def trial_summary(training: TrainingJob, tuning_name: str, metric: str, objective_type: str) -> Doc:
    """A HyperParameterTrainingJobSummary (ListTrainingJobsForHyperParameterTuningJob, BestTrainingJob)."""
    status = training.status
    summary: Doc = {
        "TrainingJobName": training.name,
        "TrainingJobArn": training.arn,
        "TuningJobName": tuning_name,
        "CreationTime": training.get("CreationTime"),
        "TrainingJobStatus": status,
        "TunedHyperParameters": training.tuned or {},
    }
    for name in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if training.get(name) is not None:
            summary[name] = training.get(name)
    value = training.objective_value(metric)
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


def status_counters(trainings: Iterable[TrainingJob]) -> dict[str, int]:
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    for training in trainings:
        status = training.status
        if status in ("InProgress", "Stopping"):
            counters["InProgress"] += 1
        elif status == "Failed":
            retryable = str(training.failure_reason or "").startswith("InternalServerError")
            counters["RetryableError" if retryable else "NonRetryableError"] += 1
        else:
            counters[status] += 1
    return counters


def objective_counters(summaries: Iterable[Doc]) -> dict[str, int]:
    counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for summary in summaries:
        counters[summary["ObjectiveStatus"]] += 1
    return counters


def best(summaries: list[Doc], plan: TuningPlan) -> Doc | None:
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


def not_improving(summaries: list[Doc], plan: TuningPlan) -> int:
    """Training jobs completed since the best objective last improved, in completion order."""
    done = sorted(
        (s for s in summaries if s["ObjectiveStatus"] == "Succeeded"),
        key=lambda s: s.get("TrainingEndTime", 0),
    )
    best_value: float | None = None
    since = 0
    for summary in done:
        value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        if best_value is None or (value > best_value if plan.maximize else value < best_value):
            best_value, since = value, 0
        else:
            since += 1
    return since


def failure_summary(job: TuningJob, trainings: dict[str, TrainingJob]) -> str:
    """The tuning job's FailureReason when its training jobs all failed (the last one's reason)."""
    reasons = []
    for trial in job.trials:
        training = trainings.get(trial.training_job_name)
        if training is not None and training.failure_reason:
            reasons.append(f"{trial.training_job_name}: {training.failure_reason}")
    detail = reasons[-1] if reasons else "no training job reported the objective metric"
    return f"All training jobs failed. Last failure: {detail}"[:1024]


def finished_reason(
    job: TuningJob, plan: TuningPlan, trainings: Callable[[], dict[str, TrainingJob]]
) -> str | None:
    """Why the tuning job should launch no more training jobs (None: keep going).

    ``failed:<reason>`` when it fails, else ``target``, ``not-improving`` or ``max-jobs``.
    ``trainings`` reads the trials' training jobs (only when the reason needs them).
    """
    trials = job.trials
    failures = [t for t in trials if t.launch_error]
    if failures:
        return (
            f"failed:ClientError: could not start training job {failures[0].training_job_name}: "
            f"{failures[0].launch_error}"
        )
    first = trials[:FAIL_FAST_JOBS]
    if (
        len(first) == min(FAIL_FAST_JOBS, plan.max_jobs)
        and all(t.done for t in first)
        and all(t.objective is None for t in first)
    ):
        return "failed:" + failure_summary(job, trainings())
    if _target_reached(job.get("BestTrainingJob"), plan):
        return "target"
    since = (job.get("TuningJobCompletionDetails") or {}).get("NumberOfTrainingJobsObjectiveNotImproving", 0)
    if plan.not_improving is not None and since >= plan.not_improving:
        return "not-improving"
    if len(trials) >= plan.max_jobs:
        return "max-jobs"
    return None


def _target_reached(best_job: Doc | None, plan: TuningPlan) -> bool:
    if plan.target is None or best_job is None:
        return False
    value = best_job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return bool((value >= plan.target) if plan.maximize else (value <= plan.target))
