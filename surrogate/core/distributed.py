"""Process-group setup for ``torchrun``: one process per device, found from the environment.

``torchrun --nproc_per_node N`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
without them training runs as a single process. NCCL serves CUDA devices, gloo the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from surrogate.errors import SurrogateError


@dataclass(frozen=True)
class Context:
    """Where this process sits: its rank among ``world_size`` processes and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that prints, writes files and draws progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> the local CUDA device if there is one, else the CPU; ``cuda`` -> ``cuda:LOCAL_RANK``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise SurrogateError(f"unknown device {spec!r} (use cpu, cuda, cuda:N or auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SurrogateError(f"device {spec!r} requested but this torch sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup(device_spec: str) -> Context:
    """Join the process group when launched by torchrun; otherwise a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_spec, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return Context(rank, world_size, device)


def teardown(context: Context) -> None:
    """Leave the process group (all ranks wait for each other first)."""
    if context.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def mean_over_ranks(values: torch.Tensor, context: Context) -> torch.Tensor:
    """The average of ``values`` over all ranks (itself in a single process)."""
    if context.distributed:
        values = values.clone()
        dist.all_reduce(values)
        values /= context.world_size
    return values

