"""Two-process DDP (gloo on CPU) under torchrun: one set of metric lines, one export, shared checkpoint."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

HYPERPARAMETERS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "32",
    "epochs": "2",
    "batch-size": "16",
    "max-steps-per-epoch": "3",
    "num-workers": "0",
}


def test_torchrun_two_processes_train_and_only_rank_zero_reports(job, tmp_path):
    command = job.command(HYPERPARAMETERS)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *command[1:],
    ]
    env = job.env(HYPERPARAMETERS, OMP_NUM_THREADS="1")
    completed = subprocess.run(
        torchrun, env=env, cwd=job.root, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    stdout = completed.stdout
    assert "processes=2" in stdout
    epoch_lines = [line for line in stdout.splitlines() if line.startswith("epoch=")]
    assert [line.split()[0] for line in epoch_lines] == ["epoch=1", "epoch=2"]
    assert len([line for line in stdout.splitlines() if line.startswith("test_loss=")]) == 1
    assert stdout.count("model saved to") == 1
    assert (job.model_dir / "model.pt").is_file()
    assert (job.checkpoint_dir / "checkpoint.pt").is_file()
