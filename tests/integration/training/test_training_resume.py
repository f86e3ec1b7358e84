"""Interrupted training: SIGKILL mid-epoch then a rerun resumes from the checkpoint; SIGTERM stops cleanly."""

import os
import signal
import subprocess
import time

import pytest
import torch

pytestmark = pytest.mark.slow

HYPERPARAMETERS = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "48",
    "epochs": "2",
    "batch-size": "32",
    "num-workers": "0",
}


def _start(job):
    return subprocess.Popen(
        job.command(HYPERPARAMETERS),
        env=job.env(HYPERPARAMETERS),
        cwd=job.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_first_checkpoint(job, process, timeout=240.0):
    """Wait until epoch 1's checkpoint exists (epoch 2 starts right after it is written)."""
    checkpoint = job.checkpoint_dir / "checkpoint.pt"
    deadline = time.monotonic() + timeout
    while not checkpoint.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    time.sleep(0.3)  # well inside epoch 2 (an epoch takes seconds)
    return checkpoint


def _completed_epochs(checkpoint):
    return torch.load(checkpoint, weights_only=True)["progress"]["completed_epochs"]


def _interrupt_after_first_checkpoint(job, interrupt, timeout):
    """Start train.py, ``interrupt(pid)`` inside epoch 2, wait for it to end (SIGKILL if it does not).

    Returns the process, the checkpoint path, stdout and stderr.
    """
    process = _start(job)
    try:
        checkpoint = _wait_for_first_checkpoint(job, process)
        interrupt(process.pid)
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process, checkpoint, stdout, stderr


def test_killed_run_resumes_from_the_last_checkpoint(job):
    process, checkpoint, stdout, _ = _interrupt_after_first_checkpoint(
        job, lambda pid: os.killpg(pid, signal.SIGKILL), timeout=60
    )
    assert process.returncode == -signal.SIGKILL
    assert "epoch=1 " in stdout and "epoch=2 " not in stdout
    assert _completed_epochs(checkpoint) == 1
    assert not (job.model_dir / "model.pt").exists()

    rerun = job.run(HYPERPARAMETERS)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resumed from checkpoint epoch=1" in rerun.stdout
    epochs = [line.split()[0] for line in rerun.stdout.splitlines() if line.startswith("epoch=")]
    assert epochs == ["epoch=2"]
    assert "test_accuracy=" in rerun.stdout
    assert _completed_epochs(checkpoint) == 2
    assert (job.model_dir / "model.pt").is_file()


def test_sigterm_stops_after_the_current_step_and_keeps_the_checkpoint(job):
    process, checkpoint, stdout, stderr = _interrupt_after_first_checkpoint(
        job, lambda pid: os.kill(pid, signal.SIGTERM), timeout=120
    )
    assert process.returncode == 143, stderr[-3000:]
    assert "training interrupted (stopped by SIGTERM)" in stdout
    assert "Traceback" not in stderr
    assert _completed_epochs(checkpoint) == 1
    assert not (job.output_dir / "failure").exists()
