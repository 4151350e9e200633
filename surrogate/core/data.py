"""Training batches from an EventSet: a held-out split, preprocessing, and sharded, resumable sampling.

Batch ``k`` of a rank is a pure function of (seed, rank, world size, k): each epoch is a seeded
permutation of the training events split between the ranks as torch's DistributedSampler does, and
the ranks walk through their shards in order. Resuming therefore needs only the batch counter.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from surrogate.core.domain import EventSet
from surrogate.errors import SurrogateError


def split_holdout(n_events: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of the training and held-out events (a seeded random ``fraction`` held out)."""
    n_holdout = int(round(n_events * fraction))
    if n_events - n_holdout < 2:
        raise SurrogateError(f"{n_events} events leave too few for training after holding out {fraction:.0%}")
    order = np.random.default_rng([seed, 0x401D]).permutation(n_events)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


@torch.no_grad()
def preprocess(preprocessor: torch.nn.Module, events: EventSet, *, chunk_events: int = 4096,
               device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Network-space tensors ``(x, c)`` of all ``events``, computed chunk by chunk, kept on the CPU."""
    xs, cs = [], []
    for start in range(0, len(events), chunk_events):
        part = slice(start, start + chunk_events)
        x, c = preprocessor(torch.as_tensor(events.events[part], device=device),
                            torch.as_tensor(events.conditions[part], device=device))
        xs.append(x.float().cpu())
        cs.append(c.float().cpu())
    return torch.cat(xs), torch.cat(cs)


class ShardedBatches:
    """Index batches of ``batch_size`` for one rank, over an endless sequence of seeded epochs."""

    def __init__(self, n_events: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1):
        self.n_events = n_events
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shard_size = math.ceil(n_events / world_size)
        self._shards: dict[int, np.ndarray] = {}

    def _shard(self, epoch: int) -> np.ndarray:
        if epoch not in self._shards:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n_events)
            padded = np.resize(order, self.shard_size * self.world_size)  # repeats the start, as DistributedSampler
            self._shards = {epoch: padded[self.rank::self.world_size]}
        return self._shards[epoch]

    def indices(self, batch_number: int) -> np.ndarray:
        """Event indices of this rank's batch number ``batch_number`` (0, 1, 2, ...)."""
        start = batch_number * self.batch_size
        parts = []
        while start < (batch_number + 1) * self.batch_size:
            epoch, offset = divmod(start, self.shard_size)
            take = min(self.shard_size - offset, (batch_number + 1) * self.batch_size - start)
            parts.append(self._shard(epoch)[offset:offset + take])
            start += take
        return np.concatenate(parts)


class TensorBatches:
    """Preprocessed training tensors and the sampler that picks this rank's batches from them."""

    def __init__(self, x: torch.Tensor, c: torch.Tensor, sampler: ShardedBatches, device: torch.device):
        self.device = device
        self.x, self.c = x, c
        if device.type == "cuda" and x.numel() * 4 < 0.25 * torch.cuda.get_device_properties(device).total_memory:
            self.x, self.c = x.to(device), c.to(device)  # small enough: no host-to-device copy per batch
        self.sampler = sampler

    def batch(self, batch_number: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(self.sampler.indices(batch_number), device=self.x.device)
        return (self.x[index].to(self.device, non_blocking=True),
                self.c[index].to(self.device, non_blocking=True))
