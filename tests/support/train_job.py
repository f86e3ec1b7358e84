"""Runs training/train.py the way SageMaker's training toolkit does, for the training and profiling tests.

SageMaker starts ``python train.py --name value ...`` with the SM_* environment (channels, model,
output and checkpoint dirs, hosts, hyperparameters as SM_HPS JSON) and ``classifier`` next to
train.py (no PYTHONPATH). :class:`Job` does the same with every path under one temporary
directory; :class:`TrainingRun` is a finished run with its profiler report.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRAIN_PY = REPO / "training" / "train.py"
RULES_TRIGGERED = re.compile(r"^rules_triggered=(\d+)$", re.MULTILINE)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Job:
    """Paths of one SageMaker-style job under a temporary directory."""

    root: Path
    data: Path
    gpus: int = 0  # SM_NUM_GPUS: more than one makes train.py relaunch itself under torchrun

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def env(self, hyperparameters: dict[str, str], **extra: str) -> dict[str, str]:
        """The environment SageMaker gives a single-host CPU training job (plus ``extra``)."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "WORLD_SIZE", "RANK"}}
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "SM_MODEL_DIR": str(self.model_dir),
                "SM_OUTPUT_DIR": str(self.output_dir),
                "SM_OUTPUT_DATA_DIR": str(self.output_data_dir),
                "SM_CHECKPOINT_DIR": str(self.checkpoint_dir),
                "SM_INPUT_DIR": str(self.root / "input"),
                "SM_NUM_GPUS": str(self.gpus),
                "SM_HOSTS": '["algo-1"]',
                "SM_CURRENT_HOST": "algo-1",
                "SM_HPS": json.dumps(hyperparameters),
                "TORCH_HOME": str(self.root / "torch-home"),
                "TMPDIR": str(self.tmp_dir),  # torchrun's torchelastic_* folders, the job's temp files
                # Any download attempt fails at once instead of waiting on the network.
                "HTTPS_PROXY": f"http://127.0.0.1:{_closed_port()}",
                "HTTP_PROXY": f"http://127.0.0.1:{_closed_port()}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for split in ("train", "valid", "test"):
            if (self.data / split).is_dir():
                env[f"SM_CHANNEL_{split.upper()}"] = str(self.data / split)
        env.update(extra)
        return env

    def command(self, hyperparameters: dict[str, str]) -> list[str]:
        """``python train.py --name value ...`` as the SageMaker training toolkit builds it."""
        args = [part for name, value in hyperparameters.items() for part in (f"--{name}", value)]
        return [sys.executable, str(TRAIN_PY), *args]

    def run(
        self, hyperparameters: dict[str, str], timeout: float = 600, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(hyperparameters),
            env=self.env(hyperparameters, **extra),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@dataclass
class TrainingRun:
    """A finished train.py run: its job's paths, its output, and the profiler's verdicts."""

    job: Job
    result: subprocess.CompletedProcess[str]

    @property
    def report_dir(self) -> Path:
        return self.job.output_data_dir / "profiler-report"

    def rules(self) -> dict[str, dict[str, Any]]:
        entries = json.loads((self.report_dir / "rules.json").read_text())
        return {entry["RuleConfigurationName"]: entry for entry in entries}

    def rules_triggered(self) -> int:
        match = RULES_TRIGGERED.search(self.result.stdout)
        assert match, f"no rules_triggered=N line in stdout:\n{self.result.stdout[-3000:]}"
        return int(match.group(1))


def run_to_completion(
    job: Job, hyperparameters: dict[str, str], timeout: float = 600, **extra: str
) -> TrainingRun:
    """Run train.py for ``job``; fail with its output if it exits non-zero."""
    result = job.run(hyperparameters, timeout, **extra)
    assert result.returncode == 0, (
        f"train.py exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )
    return TrainingRun(job, result)
