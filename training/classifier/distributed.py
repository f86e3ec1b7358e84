"""torch.distributed set-up for train.py: torchrun / SageMaker torch_distributed, gloo on CPU, nccl on CUDA.

A process launched by torchrun (or SageMaker's ``torch_distributed`` launcher, which runs
torchrun) sees RANK / WORLD_SIZE / LOCAL_RANK and joins the process group. A job started as a
single process on a host with several GPUs or in a multi-host cluster re-executes itself under
torchrun (:func:`torchrun_command`) so every GPU and host takes part, as SageMaker's launcher
would. Relies on torch.distributed and the standard library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from classifier.env import TrainingEnvironment

__all__ = [
    "DistributedContext",
    "all_gather_strings",
    "all_reduce_sums",
    "setup_distributed",
    "teardown_distributed",
    "torchrun_command",
]

_MASTER_PORT = "29500"


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 prints the metric lines, writes checkpoints and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1


def setup_distributed() -> DistributedContext:
    """Read the launcher's environment, pick the device and join the process group when needed."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return DistributedContext(rank, world_size, local_rank, local_world_size, device)


def teardown_distributed() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sums(values: Sequence[float], ctx: DistributedContext) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (identity with one process)."""
    if not ctx.distributed:
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.tolist()]


def all_gather_strings(items: list[str], ctx: DistributedContext) -> list[str]:
    """The concatenation of every rank's ``items`` (identity with one process)."""
    if not ctx.distributed:
        return list(items)
    gathered: list[list[str] | None] = [None] * ctx.world_size
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in (part or [])]


def torchrun_command(env: TrainingEnvironment, script: str, argv: Sequence[str]) -> list[str] | None:
    """The torchrun command this single process should become, or ``None`` to run as is.

    Only when no launcher set WORLD_SIZE and there is more than one GPU or more than one host.
    """
    if "WORLD_SIZE" in os.environ:
        return None
    gpus = env.num_gpus if torch.cuda.is_available() else 0
    hosts = env.hosts or [env.current_host]
    if gpus <= 1 and len(hosts) <= 1:
        return None
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={max(1, gpus)}"]
    if len(hosts) == 1:
        command.append("--standalone")
    else:
        node_rank = hosts.index(env.current_host) if env.current_host in hosts else 0
        command += [
            f"--nnodes={len(hosts)}",
            f"--node_rank={node_rank}",
            f"--master_addr={hosts[0]}",
            f"--master_port={_MASTER_PORT}",
        ]
    return [*command, script, *argv]
