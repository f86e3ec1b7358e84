"""Where localcloud writes the logs a user would read in CloudWatch Logs.

One file per log stream, under ``<state_dir>/logs/<log group>/<stream>.log``, with AWS's log
group names: ``/aws/sagemaker/TrainingJobs`` (stream = job name), ``/aws/sagemaker/Endpoints/<name>``
(stream = variant/instance), ``/aws/lambda/<function>`` (stream = worker), ``/aws/states/<machine>``.
Stream names may hold ``/`` (training: ``<job>/algo-1-<epoch>``), so each group's folder carries a
``.group`` marker naming the group; the CloudWatch Logs emulation (``localcloud/cwlogs``) reads it.
"""

from __future__ import annotations

from pathlib import Path

TRAINING_JOBS = "/aws/sagemaker/TrainingJobs"
GROUP_MARKER = ".group"


def log_path(state_dir: Path, group: str, stream: str) -> Path:
    group_dir = state_dir / "logs" / group.strip("/")
    path = group_dir / f"{stream}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = group_dir / GROUP_MARKER
    if not marker.exists():
        marker.write_text(group)
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
