"""What a finished training job leaves behind: its artifacts in S3, its FailureReason, its rule
statuses, and no local copies.

Called by :class:`.training_run.TrainingRun` once a job's processes have exited (or it failed
before they started): ``upload_artifacts`` publishes ``output.tar.gz`` and the model where
SageMaker puts them, ``failure_reason`` words a failure as SageMaker does (AlgorithmError with
the script's failure file or its exit code and log tail), ``rule_statuses`` turns the rules.json
the job wrote into ProfilerRuleEvaluationStatuses / DebugRuleEvaluationStatuses, and
``discard_local_copies`` removes the job's instance folders once its verdict is recorded.
Relies on the standard library, locations.py and records.py.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

from ..store import Doc
from . import common
from .locations import Locations, join, make_tarball
from .records import TrainingJob
from .script_mode import HostLayout


def upload_artifacts(
    locations: Locations, job: TrainingJob, host: HostLayout, *, model: bool
) -> dict[str, str] | None:
    """``output.tar.gz`` (when the job wrote output data) and, with ``model``, the model (``model.tar.gz``,
    or the files under ``model/`` with CompressionType NONE) to ``<S3OutputPath>/<job>/output/``;
    returns ModelArtifacts."""
    doc = job.description
    output = join(doc["OutputDataConfig"]["S3OutputPath"], doc["TrainingJobName"], "output")
    staging = Path(job.dir) / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    if host.output_data_dir.is_dir():
        locations.publish_file(
            make_tarball(host.output_data_dir, staging / "output.tar.gz"),
            join(output, "output.tar.gz"),
            move=True,
        )
    if not model:
        return None
    if doc["OutputDataConfig"].get("CompressionType") == "NONE":
        prefix = join(output, "model") + "/"
        for path in sorted(host.model_dir.rglob("*")):
            if path.is_file():
                locations.put_relative(path, prefix, str(path.relative_to(host.model_dir)))
        return {"S3ModelArtifacts": prefix}
    uri = join(output, "model.tar.gz")
    locations.publish_file(make_tarball(host.model_dir, staging / "model.tar.gz"), uri, move=True)
    return {"S3ModelArtifacts": uri}


def failure_reason(job: TrainingJob, host: HostLayout, codes: list[int]) -> str:
    """The FailureReason of a job whose processes exited with ``codes``, as SageMaker words it: the
    script's ``/opt/ml/output/failure`` when it wrote one, else its exit code and its log's tail."""
    code = next((c for c in codes if c != 0), codes[0] if codes else -1)
    if code < 0:
        try:
            cause = f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            cause = f"killed by signal {-code}"
        if -code == signal.SIGKILL:
            cause += " (out of memory?)"
    else:
        cause = ""
    if host.failure_file.is_file():
        text = host.failure_file.read_text(errors="replace").strip()
        return f"AlgorithmError: {text}, exit code: {code}"
    tail = _log_tail(Path(job.logs[0])) if job.logs else ""
    command = (job.commands or [""])[0]
    message = cause or tail or "no output"
    return (
        f'AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"\n'
        f'Command "{command}", exit code: {code}'
    )


def rule_statuses(doc: Doc, rules_file: Path, *, final: bool) -> dict[str, Any]:
    """ProfilerRuleEvaluationStatuses / DebugRuleEvaluationStatuses for the configured rules.

    The rules run inside the training job (docs/profiling.md) and land in ``profiler-report/rules.json``;
    a configured rule takes the status of the entry with its name, ``ProfilerReport`` the
    aggregate of all entries (IssuesFound when any rule found issues).
    """
    entries: list[dict[str, Any]] = []
    if final and rules_file.is_file():
        try:
            loaded = json.loads(rules_file.read_text())
            entries = [e for e in loaded if isinstance(e, dict) and "RuleConfigurationName" in e]
        except (OSError, ValueError):
            entries = []
    by_name = {e["RuleConfigurationName"]: e for e in entries}
    out: dict[str, Any] = {}
    for field, statuses in (
        ("ProfilerRuleConfigurations", "ProfilerRuleEvaluationStatuses"),
        ("DebugRuleConfigurations", "DebugRuleEvaluationStatuses"),
    ):
        configured = doc.get(field) or []
        if not configured:
            continue
        result = []
        for rule in configured:
            name = rule["RuleConfigurationName"]
            status: dict[str, Any] = {
                "RuleConfigurationName": name,
                "RuleEvaluationJobArn": doc["TrainingJobArn"].replace(":training-job/", ":processing-job/")
                + f"-{name.lower()}"[:40],
                "LastModifiedTime": common.now(),
            }
            if not final:
                status["RuleEvaluationStatus"] = "InProgress"
            elif name in by_name:
                status["RuleEvaluationStatus"] = by_name[name].get("RuleEvaluationStatus", "Error")
                if by_name[name].get("StatusDetails"):
                    status["StatusDetails"] = str(by_name[name]["StatusDetails"])[:1024]
            elif name == "ProfilerReport" and entries:
                issues = [
                    e["RuleConfigurationName"]
                    for e in entries
                    if e.get("RuleEvaluationStatus") == "IssuesFound"
                ]
                status["RuleEvaluationStatus"] = "IssuesFound" if issues else "NoIssuesFound"
                status["StatusDetails"] = (
                    f"Rules with issues: {', '.join(issues)}"
                    if issues
                    else f"{len(entries)} rules evaluated, no issues found"
                )
            else:
                status["RuleEvaluationStatus"] = "Error"
                status["StatusDetails"] = (
                    f"The training job did not evaluate rule {name} (no entry in "
                    "profiler-report/rules.json; localcloud runs rules inside the job)"
                )
            result.append(status)
        out[statuses] = result
    return out


def discard_local_copies(job_dir: Path) -> None:
    """Remove a finished job's instance folders, code, checkpoints and staging area.

    Called once the job's artifacts (model.tar.gz, output.tar.gz) are in S3 and its verdict is
    final, as SageMaker tears down the instance: a finished job never runs again, so its local
    checkpoints (the restart reconcile only resumes jobs still InProgress) and extracted copies
    only cost disk (about 200 MB per small trial). Checkpoints mirrored to CheckpointConfig.S3Uri
    stay there, as on AWS. Logs live elsewhere (``<state>/logs``) and are kept.
    """
    for child in ("checkpoints", "code", "staging"):
        remove(job_dir / child)
    for host in job_dir.glob("algo-*"):
        remove(host)


def _log_tail(path: Path, limit: int = 700) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 8192))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    tail = "\n".join(lines[-6:])
    return tail[-limit:]


def remove(path: Path) -> None:
    """Delete a file, a link or a folder (and what is in it), if it is there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
