"""Runs training/train.py the way SageMaker's training toolkit does, for the profiling tests.

SageMaker starts ``python train.py --name value ...`` in the source_dir with the SM_* environment
(channels, model and output dirs, hosts, hyperparameters as SM_HPS JSON). This helper does the
same with every path under a temporary directory, and returns the completed process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TRAINING_DIR = REPO / "training"
TRAIN_SCRIPT = TRAINING_DIR / "train.py"
RULES_TRIGGERED = re.compile(r"^rules_triggered=(\d+)$", re.MULTILINE)


@dataclass
class TrainingRun:
    process: subprocess.CompletedProcess[str]
    model_dir: Path
    output_data_dir: Path

    @property
    def report_dir(self) -> Path:
        return self.output_data_dir / "profiler-report"

    def rules(self) -> dict[str, dict]:
        entries = json.loads((self.report_dir / "rules.json").read_text())
        return {entry["RuleConfigurationName"]: entry for entry in entries}

    def rules_triggered(self) -> int:
        match = RULES_TRIGGERED.search(self.process.stdout)
        assert match, f"no rules_triggered=N line in stdout:\n{self.process.stdout[-3000:]}"
        return int(match.group(1))


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def run_train_py(
    data_root: Path, work: Path, hyperparameters: dict[str, str], *, timeout: float = 600
) -> TrainingRun:
    """Run train.py with SageMaker's environment; fail with its output if it exits non-zero."""
    model_dir, output_data_dir = work / "model", work / "output" / "data"
    for path in (model_dir, output_data_dir, work / "checkpoints", work / "torch_home"):
        path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "SM_CHANNEL_TRAIN": str(data_root / "train"),
            "SM_CHANNEL_VALID": str(data_root / "valid"),
            "SM_CHANNEL_TEST": str(data_root / "test"),
            "SM_MODEL_DIR": str(model_dir),
            "SM_OUTPUT_DATA_DIR": str(output_data_dir),
            "SM_OUTPUT_DIR": str(work / "output"),
            "SM_CHECKPOINT_DIR": str(work / "checkpoints"),
            "SM_NUM_GPUS": str(_gpu_count()),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_HPS": json.dumps(hyperparameters),
            "TORCH_HOME": str(work / "torch_home"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    args = [sys.executable, TRAIN_SCRIPT.name]
    for name, value in hyperparameters.items():
        args += [f"--{name}", value]
    process = subprocess.run(
        args, cwd=TRAINING_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert process.returncode == 0, (
        f"train.py exited {process.returncode}\n"
        f"stdout:\n{process.stdout[-4000:]}\nstderr:\n{process.stderr[-4000:]}"
    )
    return TrainingRun(process, model_dir, output_data_dir)
