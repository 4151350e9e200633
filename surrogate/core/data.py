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


#: Training tensors move to a CUDA device when they take at most this share of its memory.
DEVICE_MEMORY_SHARE = 0.25


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
    """Index batches of ``batch_size`` for one rank, over an endless sequence of seeded epochs.

    device: where the index tensors live. Each epoch's permutation is drawn once on the host (numpy,
    so the order is the same on every device) and uploaded once; a batch is then a slice of it, with
    no host work or upload per batch.
    """

    def __init__(self, n_events: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 device: torch.device | str = "cpu"):
        self.n_events = n_events
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.device = torch.device(device)
        self.shard_size = math.ceil(n_events / world_size)
        self._shards: dict[int, torch.Tensor] = {}

    def _shard(self, epoch: int) -> torch.Tensor:
        if epoch not in self._shards:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n_events)
            padded = np.resize(order, self.shard_size * self.world_size)  # repeats the start, as DistributedSampler
            shard = torch.from_numpy(np.ascontiguousarray(padded[self.rank::self.world_size]))
            self._shards = {key: value for key, value in self._shards.items() if key == epoch - 1}
            self._shards[epoch] = shard.to(self.device)
        return self._shards[epoch]

    def indices(self, batch_number: int) -> torch.Tensor:
        """Event indices of this rank's batch number ``batch_number`` (0, 1, 2, ...), int64 on ``device``."""
        start = batch_number * self.batch_size
        parts = []
        while start < (batch_number + 1) * self.batch_size:
            epoch, offset = divmod(start, self.shard_size)
            take = min(self.shard_size - offset, (batch_number + 1) * self.batch_size - start)
            parts.append(self._shard(epoch)[offset:offset + take])
            start += take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


class TensorBatches:
    """Preprocessed training tensors and this rank's batches of ``batch_size`` from them (see ShardedBatches).

    On a CUDA device the tensors move to the device when they take at most DEVICE_MEMORY_SHARE of its memory;
    otherwise they stay in pinned host memory, each batch is gathered there and copied on a side
    stream while the previous batch is being used (one batch ahead, for consecutive batch numbers).
    """

    def __init__(self, x: torch.Tensor, c: torch.Tensor, batch_size: int, device: torch.device, *, seed: int,
                 rank: int = 0, world_size: int = 1):
        self.x, self.c = x, c
        self._prefetch = None
        if device.type == "cuda":
            memory = torch.cuda.get_device_properties(device).total_memory
            if (x.numel() + c.numel()) * 4 < DEVICE_MEMORY_SHARE * memory:
                self.x, self.c = x.to(device), c.to(device)  # small enough: no host-to-device copy per batch
        self.sampler = ShardedBatches(len(x), batch_size, seed=seed, rank=rank, world_size=world_size,
                                      device=self.x.device)
        if self.x.device.type != device.type:
            self._prefetch = _PinnedPrefetch(self.x, self.c, self.sampler, device)

    def batch(self, batch_number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``batch_number``'s ``(x, c)`` on the training device."""
        if self._prefetch is not None:
            return self._prefetch.batch(batch_number)
        index = self.sampler.indices(batch_number)
        return self.x[index], self.c[index]


class _PinnedPrefetch:
    """Batches gathered in pinned host memory and copied to a CUDA device on a side stream, one ahead.

    Two pinned buffers alternate: the copy of batch k+1 is queued right after batch k is handed out,
    and a buffer is refilled only once the copy that last read it has finished (its event).
    """

    def __init__(self, x: torch.Tensor, c: torch.Tensor, sampler: ShardedBatches, device: torch.device):
        self.x, self.c = x.pin_memory(), c.pin_memory()
        self.sampler = sampler
        self.device = device
        self.stream = torch.cuda.Stream(device)
        size = sampler.batch_size
        self.buffers = [(torch.empty((size, *x.shape[1:]), dtype=x.dtype).pin_memory(),
                         torch.empty((size, *c.shape[1:]), dtype=c.dtype).pin_memory()) for _ in range(2)]
        self.copied = [None, None]  # the event after the last copy out of each buffer
        self.pending: tuple[int, tuple[torch.Tensor, torch.Tensor], torch.cuda.Event] | None = None
        self.turn = 0

    def _start(self, batch_number: int):
        buffer_x, buffer_c = self.buffers[self.turn]
        if self.copied[self.turn] is not None:
            self.copied[self.turn].synchronize()
        index = self.sampler.indices(batch_number)
        torch.index_select(self.x, 0, index, out=buffer_x)
        torch.index_select(self.c, 0, index, out=buffer_c)
        with torch.cuda.stream(self.stream):
            on_device = (buffer_x.to(self.device, non_blocking=True), buffer_c.to(self.device, non_blocking=True))
            done = torch.cuda.Event()
            done.record(self.stream)
        self.copied[self.turn] = done
        self.turn = 1 - self.turn
        return batch_number, on_device, done

    def batch(self, batch_number: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pending is None or self.pending[0] != batch_number:
            self.pending = self._start(batch_number)
        _, (x, c), done = self.pending
        current = torch.cuda.current_stream(self.device)
        current.wait_event(done)
        x.record_stream(current)  # allocated on the side stream, used on the main one
        c.record_stream(current)
        self.pending = self._start(batch_number + 1)
        return x, c
