"""User-facing failures of a training job: one clear line on stderr and in SageMaker's failure file.

SageMaker reads ``/opt/ml/output/failure`` (``SM_OUTPUT_DIR``/failure) into the job's
FailureReason; localcloud does the same. A :class:`UserError` is a mistake the user can fix
(bad hyperparameter, mismatched splits, missing weights): it is reported without a traceback.
Relies on the standard library only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["UserError", "failure_file", "report_failure"]

_MAX_REASON_CHARS = 1024  # SageMaker truncates FailureReason at 1024 characters.


class UserError(Exception):
    """A mistake in the job's input; its message is shown to the user as is (one line)."""


def failure_file() -> Path:
    """Where SageMaker expects the failure reason: ``$SM_OUTPUT_DIR/failure`` (default /opt/ml/output)."""
    return Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure"


def report_failure(message: str) -> None:
    """Print ``message`` as one line on stderr and write it to the failure file (best effort)."""
    line = " ".join(message.split())
    print(f"error: {line}", file=sys.stderr, flush=True)
    path = failure_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line[:_MAX_REASON_CHARS] + "\n", encoding="utf-8")
    except OSError as error:
        print(f"warning: could not write the failure file {path}: {error}", file=sys.stderr)
