"""Fast generation: conditions in, a file of events out, with the device and the disk busy at once.

One pipeline serves ``surrogate generate``, and its batch function is what ``surrogate benchmark`` times:

- A *batch function* turns a batch of physical conditions and its noise into physical events on the
  device: condition transform, generator (optionally under bf16 autocast), inverse preprocessing, all
  in ``torch.inference_mode``. It runs eagerly, compiled with ``torch.compile``, or (CUDA only)
  replayed from a CUDA graph captured once for the batch size, with static input and output buffers.
- The noise is drawn outside the batch function, batch by batch, with a seeded ``torch.Generator``
  exactly as :meth:`Surrogate.sample` draws it: the same seed and batch size give the same events on
  every path (bit for bit when eager, to rounding when compiled).
- Conditions stream in blocks (:class:`surrogate.core.conditions.ConditionStream`), from an array or
  straight from a file, so neither the events nor their conditions are ever all in memory.
- Results reach the host through pinned buffers filled by non-blocking copies (on CUDA), and a writer
  thread appends batch k to the file while the device computes batch k+1. At most a few batches exist
  at any moment, whatever the number of events, and the file appears only once every batch is in it.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from surrogate.core.conditions import ConditionStream, stream_of
from surrogate.core.domain import EventSet
from surrogate.core.model import PRECISIONS, Surrogate
from surrogate.core.provenance import stamp_training_data
from surrogate.errors import SurrogateError

#: torch.compile modes: autotuned kernels on a GPU (no CUDA graphs inside, as we capture our own);
#: the default mode on the CPU, where autotuning costs minutes and gains little.
COMPILE_MODES = {"cuda": "max-autotune-no-cudagraphs", "cpu": "default"}
#: Untimed calls before a CUDA graph is captured (cuBLAS workspaces, compiled kernels, allocator).
GRAPH_WARMUP_CALLS = 3

#: (physical conditions (n, C) float64, noise (n, latent_dim)) -> physical events (n, *event_shape).
BatchFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FastPath:
    """How the batch function runs: eager (both off), compiled, replayed from a CUDA graph, or both.

    compile_mode: a ``torch.compile`` mode; None picks :data:`COMPILE_MODES` for the device.
    """

    compile: bool = False
    cuda_graphs: bool = False
    compile_mode: str | None = None

    @property
    def name(self) -> str:
        """``eager``, ``compiled``, ``cuda-graph`` or ``compiled+cuda-graph`` (the benchmark's "path")."""
        parts = (["compiled"] if self.compile else []) + (["cuda-graph"] if self.cuda_graphs else [])
        return "+".join(parts) or "eager"

    def check(self, device: torch.device) -> None:
        """A one-line SurrogateError when this path cannot run on ``device``."""
        if self.cuda_graphs and torch.device(device).type != "cuda":
            raise SurrogateError(f"CUDA graphs (--cuda-graphs) need a CUDA device; this runs on {device}")


EAGER = FastPath()


@dataclass(frozen=True)
class GenerationReport:
    """What one production did: events written, wall seconds from the first batch to the file in place
    (compilation or graph capture and writing included), the device and the path taken."""

    events: int
    seconds: float
    device: str
    path: str

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def make_batch_function(model: Surrogate, batch_size: int, *, precision: str = "fp32",
                        fast_path: FastPath = EAGER) -> BatchFunction:
    """The function producing up to ``batch_size`` events per call on the model's device.

    Compiled and graph paths always run at ``batch_size`` (a shorter last batch is padded, and only
    its own rows are returned), so one compilation or one capture serves a whole production. A graph path's result lives in the
    graph's static output buffer: copy it (or finish using it) before the next call. Building a
    compiled path clears torch.compile's caches first (``torch.compiler.reset``), so repeated builds
    in one process never reach the recompile limit, past which PyTorch silently runs eagerly.
    """
    if precision not in PRECISIONS:
        raise SurrogateError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    if batch_size < 1:
        raise SurrogateError("batch size must be at least 1")
    device = model.device
    fast_path.check(device)
    forward = _physical_events(model, precision)
    if fast_path.compile:
        torch.compiler.reset()
        forward = torch.compile(forward, mode=fast_path.compile_mode or COMPILE_MODES.get(device.type, "default"),
                                dynamic=False)
    if fast_path.cuda_graphs:
        return _CudaGraphBatch(forward, batch_size, len(model.condition_names), model.latent_dim, device)
    if fast_path.compile:
        return _padded(forward, batch_size)
    return forward


def draw_noise(model: Surrogate, n_events: int, rng: torch.Generator) -> torch.Tensor:
    """Generator noise for ``n_events`` on the model's device, drawn as :meth:`Surrogate.sample` draws it."""
    return torch.randn(n_events, model.latent_dim, device=model.device, generator=rng)


def generate_to_file(model: Surrogate, conditions, path: str | os.PathLike, *, batch_size: int = 10_000,
                     seed: int = 0, precision: str = "fp32", fast_path: FastPath = EAGER, queue_batches: int = 2,
                     progress: Callable[[int], object] | None = None) -> GenerationReport:
    """Generate one event per condition row and write them to ``path`` in the model's layout.

    conditions: (N, C) array-like in the units of ``model.condition_names`` (1-D when C is 1), or a
        :class:`ConditionStream` (e.g. :func:`surrogate.core.conditions.open_conditions` of a file).
    queue_batches: batches computed ahead of the writer; memory holds at most about
        ``queue_batches + 2`` batches, whatever N.
    progress: called from the writer thread with the number of events of each batch written.

    The output has the events :meth:`Surrogate.sample` returns for the same seed and batch size. On
    any error (in the device work or in the writer) the exception propagates and no file is left.
    """
    if queue_batches < 1:
        raise SurrogateError("queue_batches must be at least 1")
    if batch_size < 1:
        raise SurrogateError("batch size must be at least 1")
    stream = stream_of(conditions, model.condition_names)
    model.warn_outside_range(stream)
    batch_size = max(1, min(batch_size, len(stream)))  # same batches; no buffers larger than the production
    started = time.perf_counter()
    with torch.inference_mode():
        batch = make_batch_function(model, batch_size, precision=precision, fast_path=fast_path)
        staging = _HostStaging(model.device, queue_batches + 1, (batch_size, *model.event_shape))
        with model.domain.open_writer(Path(path), dict(model.layout)) as writer:
            handoff = _WriterThread(writer, staging, model.condition_names, dict(model.layout), queue_batches,
                                    progress)
            try:
                _produce(model, stream, batch, batch_size, seed, staging, handoff)
            except BaseException:
                handoff.finish(cancel=True)
                raise
            failure = handoff.finish(cancel=False)
            if failure is not None:
                raise failure
    stamp_training_data(path, model.config.data)
    return GenerationReport(len(stream), time.perf_counter() - started, str(model.device), fast_path.name)


def _produce(model: Surrogate, stream: ConditionStream, batch: BatchFunction, batch_size: int, seed: int,
             staging: _HostStaging, handoff: _WriterThread) -> None:
    """Compute batch after batch on the device and hand each to the writer; stop early when it failed."""
    device = model.device
    rng = torch.Generator(device=device).manual_seed(int(seed))
    for rows in stream.blocks(batch_size):
        if handoff.failure is not None:
            return
        events = batch(_to_device(rows, device), draw_noise(model, len(rows), rng))
        handoff.put(staging.stage(rows, events))


def _to_device(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Conditions to the device; on CUDA through pinned memory, so the host does not wait for the device."""
    conditions = torch.from_numpy(np.ascontiguousarray(rows))
    if device.type != "cuda":
        return conditions
    return conditions.pin_memory().to(device, non_blocking=True)


def _physical_events(model: Surrogate, precision: str) -> BatchFunction:
    """The eager batch function: the same operations, in the same order, as :meth:`Surrogate.sample`."""
    preprocessor, generator, event_shape = model.preprocessor, model.generator, model.event_shape
    network_dtype = PRECISIONS[precision]

    def physical_events(conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        conditions = conditions.float()
        c = preprocessor.transform_conditions(conditions)
        # No autocast cache: cached casts must not outlive a CUDA graph capture.
        with torch.autocast(noise.device.type, dtype=network_dtype or torch.bfloat16, enabled=network_dtype is not None,
                            cache_enabled=False):
            x = generator(noise, c)
        return preprocessor.inverse(x.float(), conditions).reshape(len(noise), *event_shape)

    return physical_events


def _padded(forward: BatchFunction, batch_size: int) -> BatchFunction:
    """``forward`` always called with ``batch_size`` rows: a short batch is padded and the padding cut off.

    Events do not interact within a batch, so the padding (the last row repeated, zero noise) changes nothing.
    """

    def padded(conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        n_events = len(conditions)
        if n_events == batch_size:
            return forward(conditions, noise)
        missing = batch_size - n_events
        conditions = torch.cat([conditions, conditions[-1:].expand(missing, -1)])
        noise = torch.cat([noise, noise.new_zeros(missing, noise.shape[1])])
        return forward(conditions, noise)[:n_events]

    return padded


class _CudaGraphBatch:
    """``forward`` captured in a CUDA graph at a fixed batch size, replayed on static buffers.

    A call copies its inputs into the static buffers, replays, and returns a view of the static
    output: the next replay overwrites it, so callers copy it out first (stream order makes a copy
    queued before the next call safe).
    """

    def __init__(self, forward: BatchFunction, batch_size: int, n_conditions: int, latent_dim: int,
                 device: torch.device):
        self._conditions = torch.ones(batch_size, n_conditions, dtype=torch.float64, device=device)
        self._noise = torch.zeros(batch_size, latent_dim, device=device)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_CALLS):
                forward(self._conditions, self._noise)
        torch.cuda.current_stream(device).wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._events = forward(self._conditions, self._noise)
        self._forward = forward  # keeps compiled kernels the graph launches alive

    def __call__(self, conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        n_events = len(conditions)
        self._conditions[:n_events].copy_(conditions)
        self._noise[:n_events].copy_(noise)
        self._graph.replay()
        return self._events[:n_events]


@dataclass
class _HostBatch:
    """One batch on its way to the file: its conditions, its events on the host, and how to wait for them."""

    conditions: np.ndarray
    events: torch.Tensor
    ready: Any = None  # a torch.cuda.Event recorded after the copy to the host
    buffer: torch.Tensor | None = None  # the pinned buffer to give back once written


class _HostStaging:
    """Device results to host memory. On the CPU the result already is there; on CUDA it is copied,
    without blocking, into one of a fixed set of pinned buffers (recycled once written), so the copy
    overlaps the device work and the number of batches in flight cannot grow."""

    def __init__(self, device: torch.device, n_buffers: int, shape: tuple[int, ...]):
        self._free: queue.SimpleQueue | None = None
        if device.type == "cuda":
            self._free = queue.SimpleQueue()
            for _ in range(n_buffers):
                self._free.put(torch.empty(shape, dtype=torch.float32, pin_memory=True))

    def stage(self, conditions: np.ndarray, events: torch.Tensor) -> _HostBatch:
        if self._free is None:
            return _HostBatch(conditions, events)
        buffer = self._free.get()
        host = buffer[:len(events)]
        host.copy_(events, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record(torch.cuda.current_stream(events.device))
        return _HostBatch(conditions, host, ready, buffer)

    def release(self, batch: _HostBatch) -> None:
        if self._free is not None and batch.buffer is not None:
            self._free.put(batch.buffer)


class _WriterThread:
    """Appends handed-over batches to ``writer`` in a thread of its own, through a bounded queue.

    The first failure is kept (see :attr:`failure`) and later batches are dropped, but every batch is
    still taken off the queue and its buffer given back, so the producer never waits forever.
    """

    def __init__(self, writer, staging: _HostStaging, condition_names: tuple[str, ...], layout: dict[str, Any],
                 queue_batches: int, progress: Callable[[int], object] | None):
        self._writer, self._staging = writer, staging
        self._condition_names, self._layout, self._progress = condition_names, layout, progress
        self._queue: queue.Queue = queue.Queue(maxsize=queue_batches)
        self._cancelled = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="surrogate-writer", daemon=True)
        self._thread.start()

    def put(self, batch: _HostBatch) -> None:
        self._queue.put(batch)

    def finish(self, *, cancel: bool) -> BaseException | None:
        """Write what is queued (or drop it with ``cancel``), stop the thread; the failure, if any."""
        self._cancelled = cancel
        self._queue.put(None)
        self._thread.join()
        return self.failure

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                if self.failure is None and not self._cancelled:
                    self._write(batch)
            except BaseException as error:  # handed to the producer, which re-raises it
                self.failure = error
            finally:
                self._staging.release(batch)

    def _write(self, batch: _HostBatch) -> None:
        if batch.ready is not None:
            batch.ready.synchronize()
        self._writer.append(EventSet(batch.conditions, batch.events.numpy(), self._condition_names, self._layout))
        if self._progress is not None:
            self._progress(len(batch.conditions))
