"""The 11 built-in rules, as pure functions over a recorded :class:`ProfileData`.

Each rule keeps the name, meaning and default thresholds SageMaker Debugger documents for it
(ProfilerRule: StepOutlier, GPUMemoryIncrease, IOBottleneck, Dataloader, BatchSize,
CPUBottleneck, LoadBalancing, MaxInitializationTime, LowGPUUtilization; Rule: LossNotDecreasing,
Overfit), adapted to what a job can measure about itself. The adaptations every rule shares:

- *patience* (SageMaker: skip the first N datapoints because the GPU idles while the job
  initialises) becomes "skip what was sampled before the first training step ended": we know
  exactly when training began, so no fixed sample count is needed and short jobs are evaluated;
- system samples are judged only while the loop is training (at least half the 500 ms tick
  inside recorded steps), so validation and checkpointing do not dilute the figures;
- on a CPU-only job the training compute runs on the CPU: "the accelerator is idle" (GPU
  utilisation below ``gpu_threshold``) becomes "the loop spent more than 100 - gpu_threshold % of
  the tick waiting for data", measured from the per-step data-wait marks;
- LossNotDecreasing and Overfit read the per-epoch metrics train.py reports (SageMaker reads
  loss tensors saved every 500 steps), so "steps" in their parameters become epochs.

Each rule's own difference from SageMaker is in :data:`RULES` (``difference``) and is written to
rules.json and the report. A rule that cannot apply to this hardware returns NoIssuesFound with
details saying why (as SageMaker does); :func:`evaluate_rules` turns an exception into Error.
Written by hand (no library implements these rules outside SageMaker's closed rule container);
relies on numpy.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from classifier.profiling.series import FloatArray, ProfileData

Status = Literal["NoIssuesFound", "IssuesFound", "Error"]
MIN_SAMPLES = 4  # system samples (2 s) needed before a utilisation rule judges anything


@dataclass(frozen=True)
class Outcome:
    """What a rule function found."""

    issues: bool
    details: str
    observed: dict[str, Any] = field(default_factory=dict)
    applicable: bool = True


@dataclass(frozen=True)
class RuleResult:
    """One rule's evaluation, as written to rules.json."""

    name: str
    status: Status
    details: str
    observed: dict[str, Any]
    parameters: dict[str, float]
    recommendation: str
    applicable: bool
    difference: str
    description: str
    evaluated_at: float

    def to_json(self) -> dict[str, Any]:
        """The rules.json entry: ProfilerRuleEvaluationStatuses shape plus Details/Recommendation."""
        return {
            "RuleConfigurationName": self.name,
            "RuleEvaluationStatus": self.status,
            "StatusDetails": self.details,
            "LastModifiedTime": self.evaluated_at,
            "Details": {
                "Description": self.description,
                "Applicable": self.applicable,
                "Parameters": self.parameters,
                "Observed": self.observed,
                "DifferenceFromSageMaker": self.difference,
            },
            "Recommendation": self.recommendation,
        }


RuleFunction = Callable[[ProfileData, Mapping[str, float]], Outcome]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    defaults: dict[str, float]
    evaluate: RuleFunction
    recommendation: str
    difference: str


def not_applicable(why: str, **observed: Any) -> Outcome:
    return Outcome(False, f"Does not apply: {why}", dict(observed), applicable=False)


def _round(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---------------------------------------------------------------------------------------------
# Shared helpers over the recorded series
# ---------------------------------------------------------------------------------------------


def _covered_length(starts: FloatArray, lengths: FloatArray, t: FloatArray) -> FloatArray:
    """For sorted, non-overlapping intervals [start, start+length): total length before each t."""
    if starts.size == 0:
        return np.zeros_like(t)
    lengths = np.clip(lengths, 0.0, None)
    cumulative = np.concatenate(([0.0], np.cumsum(lengths)))
    k = np.searchsorted(starts, t, side="right") - 1
    inside = np.where(
        k >= 0, np.clip(t - starts[np.clip(k, 0, None)], 0.0, lengths[np.clip(k, 0, None)]), 0.0
    )
    return np.where(k >= 0, cumulative[np.clip(k, 0, None)] + inside, 0.0)


def _sample_windows(data: ProfileData) -> tuple[FloatArray, FloatArray]:
    """The [begin, end] interval each system sample covers."""
    t = data.system.time
    if t.size == 0:
        return t, t
    begin = np.empty_like(t)
    begin[1:] = t[:-1]
    begin[0] = t[0] - data.system.interval
    return begin, t


def training_sample_mask(data: ProfileData, min_coverage: float = 0.5) -> np.ndarray:
    """Samples taken while training (>= ``min_coverage`` of the tick inside steps), after warm-up."""
    steps = data.steps
    begin, end = _sample_windows(data)
    if end.size == 0 or len(steps) == 0:
        return np.zeros(end.shape, dtype=bool)
    order = np.argsort(steps.start)
    starts, totals = steps.start[order], steps.total[order]
    covered = _covered_length(starts, totals, end) - _covered_length(starts, totals, begin)
    span = np.maximum(end - begin, 1e-9)
    warm_up_end = float(steps.start[0] + steps.total[0])
    return np.asarray((covered / span >= min_coverage) & (begin >= warm_up_end), dtype=bool)


def data_wait_fraction(data: ProfileData) -> FloatArray:
    """Per system sample, the share of the tick the training loop spent waiting for data (0-1)."""
    steps = data.steps
    begin, end = _sample_windows(data)
    if end.size == 0 or len(steps) == 0:
        return np.zeros(end.shape)
    order = np.argsort(steps.start)
    starts, waits = steps.start[order], steps.data[order]
    waited = _covered_length(starts, waits, end) - _covered_length(starts, waits, begin)
    return np.asarray(np.clip(waited / np.maximum(end - begin, 1e-9), 0.0, 1.0), dtype=np.float64)


def _has_gpus(data: ProfileData) -> bool:
    return data.job.device_type == "cuda" and data.system.gpu_count > 0


def _gpu_missing_reason(data: ProfileData) -> str:
    if data.job.device_type != "cuda":
        return f"the job trained on {data.job.device_type.upper()}, not on a GPU"
    return "no GPU metrics were sampled (NVML / nvidia-ml-py unavailable)"


def _accelerator_idle(data: ProfileData, mask: np.ndarray, gpu_threshold: float) -> tuple[np.ndarray, str]:
    """Per training sample: is the accelerator idle? (GPU util below threshold, or CPU data wait)."""
    if _has_gpus(data):
        util = data.system.gpu_util[mask]
        busiest = np.nanmax(util, axis=1) if util.size else np.zeros(0)
        return busiest < gpu_threshold, f"every GPU's utilisation below {gpu_threshold:g}%"
    waiting = data_wait_fraction(data)[mask]
    limit = (100.0 - gpu_threshold) / 100.0
    return (
        waiting > limit,
        f"the training loop waiting for data more than {100 - gpu_threshold:g}% of the tick",
    )


def _training_steps(data: ProfileData) -> np.ndarray:
    """Step indices excluding the first step of each epoch (DataLoader start-up), if any remain."""
    epochs = data.steps.epoch
    if epochs.size == 0:
        return np.zeros(0, dtype=int)
    first = np.ones(epochs.shape, dtype=bool)
    first[1:] = epochs[1:] != epochs[:-1]
    rest = np.flatnonzero(~first)
    return rest if rest.size else np.arange(epochs.size)


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


def step_outlier(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    total = data.steps.total
    if total.size < 3:
        return Outcome(
            False,
            f"Only {total.size} training steps were recorded; at least 3 are needed.",
            {"steps": int(total.size)},
        )
    mean, std = float(total.mean()), float(total.std())
    limit = mean + p["stddev"] * std
    outliers = np.flatnonzero(total > limit) if std > 0 else np.zeros(0, dtype=int)
    observed = {
        "steps": int(total.size),
        "mean_step_seconds": _round(mean),
        "stddev_step_seconds": _round(std),
        "median_step_seconds": _round(float(np.median(total))),
        "max_step_seconds": _round(float(total.max())),
        "outlier_limit_seconds": _round(limit),
        "outliers": int(outliers.size),
        "outlier_steps": [int(i) for i in outliers[:50]],
    }
    found = outliers.size > p["n_outliers"]
    details = (
        f"{outliers.size} of {total.size} steps took longer than mean + {p['stddev']:g} sigma "
        f"({limit:.3f} s; mean {mean:.3f} s, max {total.max():.3f} s); "
        f"{'more than' if found else 'at most'} the {p['n_outliers']:g} outliers allowed."
    )
    return Outcome(bool(found), details, observed)


def gpu_memory_increase(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    if not _has_gpus(data):
        return not_applicable(_gpu_missing_reason(data) + "; there is no GPU memory to watch.")
    window = max(1, int(p["window"]))
    if len(data.steps) == 0:
        return Outcome(False, "No training step was recorded.", {})
    after = data.system.time >= data.steps.start[0] + data.steps.total[0]
    memory = data.system.gpu_memory_percent[after]
    if memory.shape[0] < 2 * window:
        return Outcome(
            False,
            f"Only {memory.shape[0]} GPU memory samples after warm-up; {2 * window} needed "
            f"for two moving-average windows of {window}.",
            {"samples": int(memory.shape[0])},
        )
    per_gpu = []
    kernel = np.ones(window) / window
    for g in range(memory.shape[1]):
        averages = np.convolve(np.nan_to_num(memory[:, g]), kernel, mode="valid")
        increases = averages[window:] - averages[:-window]
        per_gpu.append(float(increases.max()) if increases.size else 0.0)
    worst = int(np.argmax(per_gpu))
    found = per_gpu[worst] > p["increase"]
    observed = {
        "samples": int(memory.shape[0]),
        "max_increase_percent_points": {
            data.system.gpu_names[g] if g < len(data.system.gpu_names) else f"gpu{g}": _round(v, 2)
            for g, v in enumerate(per_gpu)
        },
        "final_memory_percent": [_round(float(v), 1) for v in memory[-1]],
    }
    details = (
        f"Largest rise of the {window}-sample moving average of GPU memory over the previous window: "
        f"{per_gpu[worst]:.2f} percentage points on GPU {worst} (limit {p['increase']:g})."
    )
    return Outcome(bool(found), details, observed)


def _idle_while_high(
    data: ProfileData,
    p: Mapping[str, float],
    *,
    rule: str,
    label: str,
    series: np.ndarray,
    limit: float,
    summarize: Callable[[np.ndarray], tuple[dict[str, Any], str]],
) -> Outcome:
    """IOBottleneck and CPUBottleneck: the share of training samples in which the accelerator idled
    while ``series`` (IO wait, total CPU) was above ``limit``; ``summarize`` adds the rule's own
    statistics of the series (observed numbers and a closing sentence)."""
    mask = training_sample_mask(data)
    n = int(mask.sum())
    if n < MIN_SAMPLES:
        return Outcome(
            False, f"Only {n} system samples during training; {MIN_SAMPLES} needed.", {"samples": n}
        )
    idle, idle_text = _accelerator_idle(data, mask, p["gpu_threshold"])
    values = series[mask]
    bottleneck = idle & (values > limit)
    percent = 100.0 * float(bottleneck.mean())
    extra, summary = summarize(values)
    observed = {
        "samples": n,
        "bottleneck_samples": int(bottleneck.sum()),
        "bottleneck_percent": _round(percent, 2),
        **extra,
        "accelerator_idle_percent": _round(100.0 * float(idle.mean()), 2),
    }
    details = (
        f"{rule} bottleneck ({label} above {limit:g}% with {idle_text}) in {percent:.1f}% of "
        f"{n} training samples (limit {p['threshold']:g}%); {summary}."
    )
    return Outcome(percent > p["threshold"], details, observed)


def io_bottleneck(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    def summarize(iowait: np.ndarray) -> tuple[dict[str, Any], str]:
        p95 = _round(float(np.percentile(iowait, 95)), 2)
        return {"iowait_p95_percent": p95}, f"IO wait p95 {p95}%"

    return _idle_while_high(
        data,
        p,
        rule="IO",
        label="IO wait",
        series=data.system.iowait,
        limit=p["io_threshold"],
        summarize=summarize,
    )


def dataloader(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    job = data.job
    cores = max(1, job.cpu_count)
    local_processes = max(1, _local_processes(job.world_size))
    workers = job.num_workers * local_processes
    ratio = 100.0 * workers / cores
    steps = _training_steps(data)
    total = float(data.steps.total[steps].sum()) if steps.size else 0.0
    wait = float(data.steps.data[steps].sum()) if steps.size else 0.0
    share = 100.0 * wait / total if total > 0 else 0.0
    observed = {
        "num_workers_per_process": job.num_workers,
        "training_processes_on_host": local_processes,
        "cpu_cores": cores,
        "workers_percent_of_cores": _round(ratio, 1),
        "data_wait_percent_of_step_time": _round(share, 2),
        "median_data_wait_seconds": _round(float(np.median(data.steps.data[steps]))) if steps.size else None,
        "max_data_wait_seconds": _round(float(data.steps.data.max())) if len(data.steps) else None,
    }
    base = (
        f"{workers} DataLoader worker(s) for {cores} CPU core(s) ({ratio:.0f}% of cores; "
        f"allowed {p['min_threshold']:g}-{p['max_threshold']:g}%); the loop waited for data "
        f"{share:.1f}% of step time"
    )
    if ratio > p["max_threshold"]:
        return Outcome(True, base + ": too many workers compete with training for the CPU.", observed)
    if ratio < p["min_threshold"]:
        if share >= p["data_wait_threshold"]:
            return Outcome(
                True,
                base + f" (at or above {p['data_wait_threshold']:g}%): too few workers to keep up.",
                observed,
            )
        return Outcome(
            False,
            base + f", below {p['data_wait_threshold']:g}%, so the low worker count does not slow training.",
            observed,
        )
    return Outcome(False, base + ".", observed)


def batch_size(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    if not _has_gpus(data):
        return not_applicable(_gpu_missing_reason(data) + "; the rule weighs GPU utilisation and memory.")
    mask = training_sample_mask(data)
    n = int(mask.sum())
    if n < MIN_SAMPLES:
        return Outcome(
            False, f"Only {n} system samples during training; {MIN_SAMPLES} needed.", {"samples": n}
        )
    cpu95 = float(np.percentile(data.system.cpu_total[mask], 95))
    low_gpus = []
    per_gpu = {}
    for g in range(data.system.gpu_count):
        util95 = float(np.nanpercentile(data.system.gpu_util[mask, g], 95))
        mem95 = float(np.nanpercentile(data.system.gpu_memory_percent[mask, g], 95))
        per_gpu[f"gpu{g}"] = {"utilization_p95": _round(util95, 1), "memory_p95": _round(mem95, 1)}
        if (
            cpu95 < p["cpu_threshold_p95"]
            and util95 < p["gpu_threshold_p95"]
            and mem95 < p["gpu_memory_threshold_p95"]
        ):
            low_gpus.append(g)
    observed = {
        "samples": n,
        "cpu_p95": _round(cpu95, 1),
        "gpus": per_gpu,
        "underused_gpus": low_gpus,
        "batch_size": data.job.batch_size,
    }
    if low_gpus:
        details = (
            f"CPU p95 {cpu95:.0f}% and, on GPU(s) {low_gpus}, utilisation and memory p95 all below "
            f"{p['gpu_threshold_p95']:g}%/{p['gpu_memory_threshold_p95']:g}%: the batch size "
            f"({data.job.batch_size}) leaves the hardware underused."
        )
        return Outcome(True, details, observed)
    return Outcome(
        False, f"CPU p95 {cpu95:.0f}%; no GPU had utilisation, memory and CPU p95 all low.", observed
    )


def cpu_bottleneck(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    def summarize(cpu: np.ndarray) -> tuple[dict[str, Any], str]:
        p50 = _round(float(np.percentile(cpu, 50)), 1)
        stats = {"cpu_p50_percent": p50, "cpu_p95_percent": _round(float(np.percentile(cpu, 95)), 1)}
        return stats, f"CPU median {p50}%"

    return _idle_while_high(
        data,
        p,
        rule="CPU",
        label="total CPU",
        series=data.system.cpu_total,
        limit=p["cpu_threshold"],
        summarize=summarize,
    )


def load_balancing(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    if not _has_gpus(data):
        return not_applicable(_gpu_missing_reason(data) + "; load balancing compares GPUs.")
    if data.system.gpu_count < 2:
        return not_applicable(
            "a single GPU was used, so there is no workload to balance.", gpus=data.system.gpu_count
        )
    mask = training_sample_mask(data)
    n = int(mask.sum())
    if n < MIN_SAMPLES:
        return Outcome(
            False, f"Only {n} system samples during training; {MIN_SAMPLES} needed.", {"samples": n}
        )
    bins = np.linspace(0.0, 100.0, 11)
    hists = []
    for g in range(data.system.gpu_count):
        values = np.nan_to_num(data.system.gpu_util[mask, g])
        h, _ = np.histogram(np.clip(values, 0, 100), bins=bins)
        hists.append(h / max(1, h.sum()))
    worst, pair = 0.0, (0, 1)
    for i in range(len(hists)):
        for j in range(i + 1, len(hists)):
            distance = 0.5 * float(np.abs(hists[i] - hists[j]).sum())
            if distance > worst:
                worst, pair = distance, (i, j)
    means = [float(np.nanmean(data.system.gpu_util[mask, g])) for g in range(data.system.gpu_count)]
    observed = {
        "samples": n,
        "max_histogram_distance": _round(worst, 3),
        "most_different_pair": list(pair),
        "mean_utilization_per_gpu": [_round(m, 1) for m in means],
    }
    details = (
        f"Largest distance between two GPUs' utilisation histograms: {worst:.2f} (GPUs {pair[0]} and "
        f"{pair[1]}; limit {p['threshold']:g}); mean utilisation per GPU "
        f"{', '.join(f'{m:.0f}%' for m in means)}."
    )
    return Outcome(worst > p["threshold"], details, observed)


def max_initialization_time(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    limit = 60.0 * p["threshold"]
    first = data.first_step_start
    if first is None:
        waited = data.job.finish_time - data.job.process_start
        observed = {"seconds_without_step": _round(waited, 2), "limit_seconds": limit}
        if waited > limit:
            return Outcome(
                True,
                f"No training step started within {waited / 60:.1f} minutes (limit {p['threshold']:g}).",
                observed,
            )
        return Outcome(False, "No training step was recorded.", observed)
    seconds = first - data.job.process_start
    observed = {
        "initialization_seconds": _round(seconds, 2),
        "limit_seconds": limit,
        "first_step_seconds": _round(float(data.steps.total[0]), 3),
    }
    details = (
        f"The first training step started {seconds:.1f} s after the script started "
        f"(limit {p['threshold']:g} minutes)."
    )
    return Outcome(seconds > limit, details, observed)


def low_gpu_utilization(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    if not _has_gpus(data):
        return not_applicable(_gpu_missing_reason(data) + "; there is no GPU utilisation to judge.")
    mask = training_sample_mask(data)
    n = int(mask.sum())
    if n < MIN_SAMPLES:
        return Outcome(
            False, f"Only {n} system samples during training; {MIN_SAMPLES} needed.", {"samples": n}
        )
    window = max(MIN_SAMPLES, int(p["window"]))
    util = data.system.gpu_util[mask]
    chunks = [util[i : i + window] for i in range(0, n, window)]
    if len(chunks) > 1 and chunks[-1].shape[0] < window:
        chunks[-2] = np.concatenate([chunks[-2], chunks[-1]])
        chunks.pop()
    findings: list[str] = []
    per_gpu: dict[str, dict[str, float | None]] = {}
    for g in range(util.shape[1]):
        p95s = [float(np.nanpercentile(c[:, g], 95)) for c in chunks]
        p5s = [float(np.nanpercentile(c[:, g], 5)) for c in chunks]
        per_gpu[f"gpu{g}"] = {
            "p95_min": _round(min(p95s), 1),
            "p5_min": _round(min(p5s), 1),
            "mean": _round(float(np.nanmean(util[:, g])), 1),
        }
        for p95, p5 in zip(p95s, p5s, strict=True):
            if p95 < p["threshold_p95"]:
                findings.append(f"GPU {g} underutilised (p95 {p95:.0f}% < {p['threshold_p95']:g}%)")
                break
            if p5 < p["threshold_p5"]:
                findings.append(
                    f"GPU {g} utilisation fluctuates (p95 {p95:.0f}%, p5 {p5:.0f}% < {p['threshold_p5']:g}%)"
                )
                break
    observed = {"samples": n, "windows": len(chunks), "gpus": per_gpu}
    if findings:
        return Outcome(True, "; ".join(findings) + ".", observed)
    return Outcome(
        False,
        f"GPU utilisation p95 at or above {p['threshold_p95']:g}% and p5 at or above "
        f"{p['threshold_p5']:g}% on every GPU over {n} training samples.",
        observed,
    )


def loss_not_decreasing(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    losses = [(e.epoch, e.get("train_loss")) for e in data.epochs if math.isfinite(e.get("train_loss"))]
    lag = max(1, int(p["num_epochs"]))
    if len(losses) <= lag:
        return not_applicable(
            f"{len(losses)} epoch(s) with a training loss were recorded; the rule compares "
            f"epochs {lag} apart, so it needs at least {lag + 1}.",
            epochs=len(losses),
        )
    problems = []
    best = losses[0][1]
    for i in range(lag, len(losses)):
        epoch, loss = losses[i]
        previous = losses[i - lag][1]
        decrease = 100.0 * (previous - loss) / abs(previous) if previous else 0.0
        if loss > best * (1.0 + p["increase_threshold_percent"] / 100.0):
            problems.append(
                f"epoch {epoch}: train loss {loss:.4f} rose more than "
                f"{p['increase_threshold_percent']:g}% above the best so far ({best:.4f})"
            )
        elif decrease < p["diff_percent"]:
            problems.append(
                f"epoch {epoch}: train loss {loss:.4f} decreased {decrease:.3f}% from {previous:.4f} "
                f"(less than {p['diff_percent']:g}%)"
            )
        best = min(best, loss)
    observed = {"train_loss_per_epoch": {str(e): _round(v) for e, v in losses}, "problems": problems}
    if problems:
        return Outcome(True, "; ".join(problems) + ".", observed)
    return Outcome(
        False,
        f"Train loss fell from {losses[0][1]:.4f} to {losses[-1][1]:.4f} over {len(losses)} "
        f"epochs, by at least {p['diff_percent']:g}% per {lag} epoch(s).",
        observed,
    )


def overfit(data: ProfileData, p: Mapping[str, float]) -> Outcome:
    """The generalisation gap must *grow*: one wide epoch is not a trend.

    A model trained from scratch often validates worse than it trains after its first epoch
    (BatchNorm statistics still settling, the epoch's mean train loss includes its last, better
    batches), and the gap then closes. So an epoch counts only when its gap ratio exceeds
    ``ratio_threshold`` *and* has grown by more than ``ratio_threshold`` since the narrowest gap of
    an earlier epoch; the first judged epoch only sets the baseline.
    """
    pairs = [
        (e.epoch, e.get("train_loss"), e.get("valid_loss"))
        for e in data.epochs
        if e.epoch >= p["start_epoch"]
        and math.isfinite(e.get("train_loss"))
        and math.isfinite(e.get("valid_loss"))
    ]
    if len(pairs) < 2:
        return not_applicable(
            f"{len(pairs)} epoch(s) reported both train_loss and valid_loss; the rule looks for a gap "
            "that widens from one epoch to a later one, so it needs at least 2.",
            epochs=len(pairs),
        )
    threshold = p["ratio_threshold"]
    run = longest = 0
    ratios: dict[str, float | None] = {}
    flagged = []
    narrowest = math.inf
    for epoch, train, valid in pairs:
        ratio = (valid - train) / train if train > 0 else math.inf
        ratios[str(epoch)] = _round(ratio)
        if narrowest < math.inf and ratio > threshold and ratio - narrowest > threshold:
            run += 1
            flagged.append(epoch)
        else:
            run = 0
        narrowest = min(narrowest, ratio)
        longest = max(longest, run)
    observed = {
        "ratio_per_epoch": ratios,
        "epochs_over_threshold": flagged,
        "longest_run_over_threshold": longest,
    }
    last_epoch, last_train, last_valid = pairs[-1]
    summary = (
        f"(valid_loss - train_loss) / train_loss exceeded {threshold:g} while widening by more than "
        f"{threshold:g} from its narrowest earlier value in {len(flagged)} of {len(pairs) - 1} epochs "
        f"after the first (longest run {longest}, patience {p['patience']:g}); ratio per epoch "
        f"{', '.join(f'{v:g}' if v is not None else 'n/a' for v in ratios.values())}; last epoch "
        f"{last_epoch}: train {last_train:.4f}, valid {last_valid:.4f}."
    )
    return Outcome(longest >= p["patience"], summary, observed)


def _local_processes(world_size: int) -> int:
    """Training processes on this host (torchrun sets LOCAL_WORLD_SIZE); 1 when unknown."""
    value = os.environ.get("LOCAL_WORLD_SIZE")
    if value and value.isdigit():
        return int(value)
    return 1 if world_size <= 1 else min(world_size, int(os.environ.get("SM_NUM_GPUS", "1") or 1))


_SKIP_WARMUP = (
    "'patience' (skip the first 1000 samples) is replaced by skipping what was sampled before the "
    "first training step ended; only samples taken during training steps are judged."
)

RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "StepOutlier",
            "Detects outliers in step duration: steps slower than mean + stddev * sigma.",
            {"stddev": 3.0, "n_outliers": 10.0},
            step_outlier,
            "Look at the step timeline for what coincides with the slow steps (first step of each epoch: "
            "DataLoader workers restarting - use persistent_workers; periodic: checkpointing, validation, "
            "other processes).",
            "Computed on exact per-step wall times of training steps recorded in the loop (SageMaker reads "
            "the framework timeline and also includes EVAL steps); only slow outliers count.",
        ),
        Rule(
            "GPUMemoryIncrease",
            "Detects a large increase in GPU memory usage (moving average vs previous window).",
            {"increase": 5.0, "window": 10.0},
            gpu_memory_increase,
            "Check for tensors kept alive across steps (e.g. accumulating loss tensors instead of "
            "loss.item()), growing caches or varying input shapes; consider torch.cuda.empty_cache().",
            "GPU memory used % from NVML per 500 ms sample. " + _SKIP_WARMUP,
        ),
        Rule(
            "IOBottleneck",
            "Detects an idle accelerator while the system waits on IO.",
            {"threshold": 50.0, "gpu_threshold": 10.0, "io_threshold": 50.0},
            io_bottleneck,
            "Stage the dataset on local disk (SageMaker: File mode / FastFile), use more DataLoader "
            "workers and prefetching, or store images smaller / pre-decoded.",
            "On CPU-only jobs 'GPU utilisation below gpu_threshold' is replaced by 'the loop waited for "
            "data more than 100 - gpu_threshold % of the tick' (from the data-wait marks). " + _SKIP_WARMUP,
        ),
        Rule(
            "Dataloader",
            "Checks the number of DataLoader worker processes against the CPU cores.",
            {"min_threshold": 70.0, "max_threshold": 200.0, "data_wait_threshold": 20.0},
            dataloader,
            "Set num-workers close to the number of CPU cores per training process; use pin_memory and "
            "persistent_workers on GPU.",
            "Too many workers (> max_threshold % of cores) triggers as in SageMaker. Too few (< "
            "min_threshold %) triggers only when the loop measurably waits for data: at least "
            "data_wait_threshold % of step time (a parameter SageMaker does not have; it cannot measure "
            "data wait per step).",
        ),
        Rule(
            "BatchSize",
            "Detects a batch size too small to use the GPU: CPU, GPU and GPU memory p95 all low.",
            {"cpu_threshold_p95": 70.0, "gpu_threshold_p95": 70.0, "gpu_memory_threshold_p95": 70.0},
            batch_size,
            "Increase the batch size (and scale the learning rate), or pick a smaller instance type.",
            "Percentiles over all training samples instead of a rolling 500-sample window. " + _SKIP_WARMUP,
        ),
        Rule(
            "CPUBottleneck",
            "Detects an idle accelerator while the CPU is saturated.",
            {"threshold": 50.0, "gpu_threshold": 10.0, "cpu_threshold": 90.0},
            cpu_bottleneck,
            "Move preprocessing off the critical path: fewer/cheaper CPU transforms, smaller stored images, "
            "GPU-side augmentation, or an instance with more CPU cores per GPU.",
            "On CPU-only jobs 'GPU utilisation below gpu_threshold' is replaced by 'the loop waited for "
            "data more than 100 - gpu_threshold % of the tick'. CPU is the mean over all cores. "
            + _SKIP_WARMUP,
        ),
        Rule(
            "LoadBalancing",
            "Detects workload imbalance between GPUs by comparing utilisation histograms.",
            {"threshold": 0.5},
            load_balancing,
            "Check that every GPU gets the same share of data (DistributedSampler) and that no GPU also "
            "serves other work.",
            "Compares the GPUs of rank 0's host sampled through NVML (10-bin histograms, total variation "
            "distance 0-1); other hosts are not gathered. " + _SKIP_WARMUP,
        ),
        Rule(
            "MaxInitializationTime",
            "Detects a training initialisation (time to first step) that is too long.",
            {"threshold": 20.0},
            max_initialization_time,
            "Reduce start-up work: stage data ahead of time, cache dataset indexes and pretrained weights.",
            "Measured from the top of train.py (not from container start) to the first step's data fetch.",
        ),
        Rule(
            "LowGPUUtilization",
            "Detects low (p95 < threshold_p95) or fluctuating (p5 < threshold_p5) GPU utilisation.",
            {"threshold_p95": 70.0, "threshold_p5": 10.0, "window": 500.0},
            low_gpu_utilization,
            "Increase the batch size, use more DataLoader workers, or a smaller GPU instance.",
            "Quantiles per GPU over consecutive windows of `window` training samples (a shorter tail is "
            "merged into the previous window). " + _SKIP_WARMUP,
        ),
        Rule(
            "LossNotDecreasing",
            "Detects a training loss that stops decreasing.",
            {"diff_percent": 0.1, "increase_threshold_percent": 5.0, "num_epochs": 1.0},
            loss_not_decreasing,
            "Lower or schedule the learning rate, check the data and labels, or stop training earlier.",
            "Uses the per-epoch train_loss (SageMaker: loss tensors every num_steps=10 saved steps, TRAIN "
            "mode): each epoch is compared with the one num_epochs before it and must be at least "
            "diff_percent % lower; a loss more than increase_threshold_percent % above the best so far is "
            "reported as an increase.",
        ),
        Rule(
            "Overfit",
            "Detects overfitting: validation loss pulling away from the training loss.",
            {"start_epoch": 0.0, "patience": 1.0, "ratio_threshold": 0.1},
            overfit,
            "Add regularisation or augmentation, use early stopping (early-stop-patience), or more data.",
            "Per epoch instead of per saved step: ratio = (valid_loss - train_loss) / train_loss using the "
            "epoch's mean train loss; start_step becomes start_epoch and patience counts epochs. An epoch "
            "counts only when the ratio exceeds ratio_threshold and has also grown by more than "
            "ratio_threshold since the narrowest earlier epoch (a trend, not one epoch): the first "
            "epochs of training from scratch often validate worse than they train, then catch up.",
        ),
    )
}


def _recommendation(rule: Rule, outcome: Outcome) -> str:
    if outcome.issues:
        return rule.recommendation
    if not outcome.applicable:
        return "None: the rule does not apply to this job."
    return "No action needed."


def evaluate_rules(
    data: ProfileData,
    parameters: Mapping[str, Mapping[str, float]] | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> list[RuleResult]:
    """Evaluate every rule; a rule that raises becomes an Error result, never an exception."""
    overrides = dict(parameters or {})
    unknown = set(overrides) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rule(s) in parameters: {sorted(unknown)}; known: {sorted(RULES)}")
    results = []
    for name, rule in RULES.items():
        params = dict(rule.defaults)
        bad = set(overrides.get(name, {})) - set(params)
        if bad:
            raise ValueError(f"unknown parameter(s) for {name}: {sorted(bad)}; known: {sorted(params)}")
        params.update({k: float(v) for k, v in overrides.get(name, {}).items()})
        try:
            outcome = rule.evaluate(data, params)
            status: Status = "IssuesFound" if outcome.issues else "NoIssuesFound"
            result = RuleResult(
                name=name,
                status=status,
                details=outcome.details,
                observed=outcome.observed,
                parameters=params,
                recommendation=_recommendation(rule, outcome),
                applicable=outcome.applicable,
                difference=rule.difference,
                description=rule.description,
                evaluated_at=now(),
            )
        except Exception as exc:
            result = RuleResult(
                name=name,
                status="Error",
                details=f"Rule evaluation failed: {type(exc).__name__}: {exc}",
                observed={},
                parameters=params,
                recommendation="Report this error; the job itself was not affected.",
                applicable=True,
                difference=rule.difference,
                description=rule.description,
                evaluated_at=now(),
            )
        results.append(result)
    return results
