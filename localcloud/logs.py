"""Where localcloud writes the logs a user would read in CloudWatch Logs.

One file per log stream, under ``<state_dir>/logs/<log group>/<stream>.log``, with AWS's log
group names: ``/aws/sagemaker/TrainingJobs`` (stream = job name), ``/aws/sagemaker/Endpoints/<name>``
(stream = variant/instance), ``/aws/lambda/<function>`` (stream = worker), ``/aws/states/<machine>``.
"""

from __future__ import annotations

from pathlib import Path

TRAINING_JOBS = "/aws/sagemaker/TrainingJobs"


def log_path(state_dir: Path, group: str, stream: str) -> Path:
    path = state_dir / "logs" / group.strip("/") / f"{stream}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def find_streams(state_dir: Path, name: str) -> list[Path]:
    """Log files whose stream or group ends with ``name`` (for ``localcloud logs NAME``)."""
    root = state_dir / "logs"
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.rglob("*.log")
        if name in (p.stem, p.parent.name) or str(p.relative_to(root)).startswith(name.strip("/"))
    )
