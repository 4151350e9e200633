"""Timing primitives for honest throughput numbers: warm-up, device synchronisation, repeats, median.

Kept free of any model or domain: the benchmark command combines them.
"""
from __future__ import annotations

import shlex
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from surrogate.errors import SurrogateError

# Dense peak throughput in FLOP/s from the vendors' data sheets (no sparsity), by precision.
_PEAK_FLOPS = {
    "H100 80GB HBM3": {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12},  # SXM5
    "H100 PCIe": {"fp32": 51e12, "tf32": 378e12, "bf16": 756e12},
    "H200": {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12},
    "A100": {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12},
}


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each timed repeat; ``median_s`` is the number to quote."""

    seconds: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


def synchronizer(device) -> Callable[[], None]:
    """A function that waits for all queued work on ``device`` (a no-op on the CPU)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_callable(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 5,
                  sync: Callable[[], None] = lambda: None) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then time ``repeats`` calls, synchronising around each."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        fn()
    sync()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def time_command(command: str, *, repeats: int = 1) -> Timing:
    """Wall-clock seconds of an outside command run as a whole process (e.g. the user's Geant4 job)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            completed = subprocess.run(shlex.split(command), capture_output=True, text=True)
        except OSError as error:
            raise SurrogateError(f"cannot run simulator command: {error.strerror}", shlex.split(command)[0]) from None
        seconds.append(time.perf_counter() - start)
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise SurrogateError(f"simulator command exited with status {completed.returncode}: {last}", command)
    return Timing(tuple(seconds))


def peak_flops(device, precision: str) -> float | None:
    """The device's dense peak FLOP/s for ``precision`` (fp32, tf32, bf16), None when not known."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in _PEAK_FLOPS.items():
        if key in name:
            return peaks.get(precision)
    return None


def flops_per_call(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call, counted by PyTorch's FlopCounterMode (matmuls, convs)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())
