"""The SageMaker training environment (``SM_*`` variables) with the ``/opt/ml`` defaults.

The same variables are set by SageMaker, by localcloud and by a user running train.py by hand,
so nothing else in the package reads ``os.environ`` for job layout. Relies on the standard library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TrainingEnvironment"]

_OPT_ML = Path("/opt/ml")


def _json_env(environ: Mapping[str, str], name: str, default: object) -> object:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return default


@dataclass(frozen=True)
class TrainingEnvironment:
    """Paths and cluster layout of one training job."""

    model_dir: Path
    output_data_dir: Path
    output_dir: Path
    channels: dict[str, Path]
    checkpoint_dir: Path | None
    num_gpus: int
    hosts: list[str]
    current_host: str
    hyperparameters: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TrainingEnvironment:
        """Read the job layout from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        channels: dict[str, Path] = {}
        input_data = Path(env.get("SM_INPUT_DIR", str(_OPT_ML / "input"))) / "data"
        for name in ("train", "valid", "test", "weights", "training"):
            value = env.get(f"SM_CHANNEL_{name.upper()}")
            if value:
                channels[name] = Path(value)
            elif (input_data / name).is_dir():
                channels[name] = input_data / name
        hosts = _json_env(env, "SM_HOSTS", [])
        hps = _json_env(env, "SM_HPS", {})
        checkpoint = env.get("SM_CHECKPOINT_DIR")
        return cls(
            model_dir=Path(env.get("SM_MODEL_DIR", str(_OPT_ML / "model"))),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR", str(_OPT_ML / "output" / "data"))),
            output_dir=Path(env.get("SM_OUTPUT_DIR", str(_OPT_ML / "output"))),
            channels=channels,
            checkpoint_dir=Path(checkpoint) if checkpoint else None,
            num_gpus=int(env.get("SM_NUM_GPUS", "0") or 0),
            hosts=[str(h) for h in hosts] if isinstance(hosts, list) else [],
            current_host=env.get("SM_CURRENT_HOST", "algo-1"),
            hyperparameters=dict(hps) if isinstance(hps, dict) else {},
        )

    def resolve_checkpoint_dir(self) -> Path:
        """``SM_CHECKPOINT_DIR``, else /opt/ml/checkpoints if writable, else ``<model_dir>/../checkpoints``.

        /opt/ml/checkpoints is used only when it already exists (SageMaker creates it for jobs
        with a CheckpointConfig), so a local run never creates or resumes from it by accident.
        """
        if self.checkpoint_dir is not None:
            return self.checkpoint_dir
        default = _OPT_ML / "checkpoints"
        if _writable(default):
            return default
        return self.model_dir.parent / "checkpoints"


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK)
