"""When a single process re-executes itself under torchrun, and the single-process context."""

import pytest
import torch

from classifier.distributed import all_gather_strings, all_reduce_sums, setup_distributed, torchrun_command
from classifier.env import TrainingEnvironment


def _env(**values: str) -> TrainingEnvironment:
    return TrainingEnvironment.from_environ(values)


@pytest.fixture
def no_launcher(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_single_cpu_host_runs_as_is(no_launcher):
    assert torchrun_command(_env(SM_HOSTS='["algo-1"]'), "train.py", ["--epochs", "1"]) is None


def test_multi_host_job_relaunches_with_static_rendezvous(no_launcher, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = _env(SM_HOSTS='["algo-1", "algo-2"]', SM_CURRENT_HOST="algo-2", SM_NUM_GPUS="0")
    command = torchrun_command(env, "train.py", ["--epochs", "1"])
    assert command[1:3] == ["-m", "torch.distributed.run"]
    assert "--nnodes=2" in command and "--node_rank=1" in command and "--master_addr=algo-1" in command
    assert command[-3:] == ["train.py", "--epochs", "1"]


def test_several_gpus_on_one_host_use_standalone(no_launcher, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    command = torchrun_command(_env(SM_NUM_GPUS="4", SM_HOSTS='["algo-1"]'), "train.py", [])
    assert "--nproc_per_node=4" in command and "--standalone" in command


def test_a_process_started_by_a_launcher_is_never_relaunched(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert torchrun_command(_env(SM_HOSTS='["algo-1", "algo-2"]'), "train.py", []) is None


def test_single_process_context_and_collectives(no_launcher):
    ctx = setup_distributed()
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    assert all_reduce_sums([1, 2.5], ctx) == [1.0, 2.5]
    assert all_gather_strings(["a"], ctx) == ["a"]
