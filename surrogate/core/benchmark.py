"""``surrogate benchmark``: the reference simulator and the surrogate, timed in one process.

Both are timed on the same machine in the same run (these machines are noisy, so only side-by-side ratios
mean something). The surrogate is timed end to end on the device: condition transform, noise, generator,
inverse preprocessing to physical units; the copy to the host is excluded, as a pipeline keeps the events
on the device or overlaps the copy with the next batch. Every setting is timed on the eager path and, when
the plan names one, on a fast path (compiled, CUDA graph or both) through the same batch function that
``surrogate generate`` uses (:mod:`surrogate.core.generation`).
"""
from __future__ import annotations

import contextlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from surrogate._atomic import atomic_path
from surrogate.core.timing import Timing, flops_per_call, peak_flops, synchronizer, time_callable, time_command
from surrogate.errors import SurrogateError

if TYPE_CHECKING:
    from surrogate.core.generation import FastPath


@dataclass(frozen=True)
class BenchmarkPlan:
    """What to time. ``simulator_command`` replaces the built-in simulator when given; ``fast_path`` (a
    :class:`surrogate.core.generation.FastPath`) is timed beside the eager path when given."""

    batch_sizes: tuple[int, ...] = (1, 100, 10_000)
    precisions: tuple[str, ...] | None = None  # None: fp32 (+ bf16 and tf32 on a GPU)
    simulator_events: int = 10
    simulator_command: str | None = None
    repeats: int = 5
    warmup: int = 2
    seed: int = 0
    fast_path: FastPath | None = None


def device_name(device) -> str:
    """A readable device name: the GPU model, or the CPU's architecture and core count."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    import os

    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


def default_precisions(device) -> tuple[str, ...]:
    import torch

    return ("fp32", "tf32", "bf16") if torch.device(device).type == "cuda" else ("fp32", "bf16")


@contextlib.contextmanager
def fp32_arithmetic(precision: str):
    """TF32 tensor cores for "tf32"; full fp32 otherwise (bf16 goes through autocast), for matmuls and
    for cuDNN convolutions alike: PyTorch lets convolutions use TF32 by default, which would make the
    "fp32" rows of a convolutional generator TF32 rows."""
    import torch

    convolutions = torch.backends.cudnn.conv
    previous = torch.get_float32_matmul_precision(), convolutions.fp32_precision
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    convolutions.fp32_precision = "tf32" if precision == "tf32" else "ieee"
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous[0])
        convolutions.fp32_precision = previous[1]


#: Rows of a conditions file (spread evenly over it) that the benchmark picks its timed rows from.
TIMING_CONDITION_ROWS = 1 << 20


def timing_conditions(model, given: np.ndarray | None) -> tuple[np.ndarray, str]:
    """The conditions both sides are timed at, and where they come from: the user's (``given``), the
    run's training file (the production the surrogate stands in for), or the simulator's default points."""
    if given is not None:
        return model.conditions_array(given), "--conditions"
    if model.training_condition_stream is not None:
        return (model.training_condition_stream.subsample(TIMING_CONDITION_ROWS),
                f"the training data {model.config.data}")
    reference = model.domain.reference_simulator(model.layout)
    if reference is None:
        raise SurrogateError("give --conditions FILE: the run's training file is not here and there is no "
                             "built-in simulator to take conditions from")
    points = np.stack([np.asarray(point, dtype=np.float64) for _, point in reference.points])
    return points, "the simulator's default points (the training file is not here)"


def representative_rows(conditions: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows at evenly spaced quantiles of the first condition column: the mix of a production of
    these conditions in a few events (the median one for n = 1)."""
    order = np.argsort(conditions[:, 0], kind="stable")
    return conditions[order[((np.arange(n) + 0.5) / n * len(conditions)).astype(int)]]


def time_simulator(model, plan: BenchmarkPlan, conditions: np.ndarray) -> dict[str, Any]:
    """Seconds per event of the reference at ``conditions``: the domain's built-in simulator (a warm-up
    call, then the median of ``plan.repeats`` timed runs over whole units of its work), or the user's command."""
    if plan.simulator_command:
        timing = time_command(plan.simulator_command)
        return {"name": plan.simulator_command, "events": plan.simulator_events,
                "seconds_per_event": timing.median_s / plan.simulator_events}
    reference = model.domain.reference_simulator(model.layout)
    if reference is None:
        raise SurrogateError(f"the {model.domain.name} domain has no built-in simulator for this layout; "
                             "time your own with --simulator-command")
    unit = reference.events_per_call
    events = -(-plan.simulator_events // unit) * unit
    rows = representative_rows(conditions, events)
    rng = np.random.default_rng(plan.seed)
    reference.simulate(rows[:unit], rng)  # warm-up: tables, caches, device start-up
    timing = time_callable(lambda: reference.simulate(rows, rng), warmup=0, repeats=plan.repeats)
    return {"name": reference.name, "events": events, "events_per_call": unit, "repeats": plan.repeats,
            "seconds": list(timing.seconds), "seconds_per_event": timing.median_s / events,
            "conditions": {name: [float(rows[:, i].min()), float(rows[:, i].max())]
                           for i, name in enumerate(model.condition_names)}}


def time_surrogate(model, device, batch_size: int, precision: str, plan: BenchmarkPlan,
                   conditions: np.ndarray, fast_path: FastPath | None = None) -> dict[str, Any]:
    """Events per second generating ``batch_size`` events at a time on ``device`` in ``precision``,
    on ``fast_path`` (eager when None). ``first_call_seconds`` is the first batch alone, compilation or
    graph capture included: what a production pays once."""
    import torch

    from surrogate.core.generation import EAGER, draw_noise, make_batch_function

    fast_path = fast_path or EAGER
    network_precision = "bf16" if precision == "bf16" else "fp32"
    c = torch.as_tensor(representative_rows(conditions, batch_size), device=device)
    rng = torch.Generator(device=device).manual_seed(plan.seed)
    sync = synchronizer(device)

    with fp32_arithmetic(precision), torch.inference_mode():
        started = time.perf_counter()
        batch = make_batch_function(model, batch_size, precision=network_precision, fast_path=fast_path)
        batch(c, draw_noise(model, batch_size, rng))
        sync()
        first_call_seconds = time.perf_counter() - started
        timing: Timing = time_callable(lambda: batch(c, draw_noise(model, batch_size, rng)), warmup=plan.warmup,
                                       repeats=plan.repeats, sync=sync)
        flops = flops_per_call(lambda: model.generate_preprocessed(c, generator=rng, precision=network_precision))
    entry = {"batch_size": batch_size, "precision": precision, "path": fast_path.name, "device": device_name(device),
             "events_per_second": batch_size / timing.median_s, "seconds_per_batch": timing.median_s,
             "first_call_seconds": first_call_seconds, "flop_per_event": flops / batch_size}
    achieved = flops / timing.median_s
    peak = peak_flops(device, precision)
    entry["achieved_flop_per_second"] = achieved
    entry["fraction_of_peak"] = achieved / peak if peak else None
    return entry


def run_benchmark(run_dir: Path, out: Path, *, device: str | None = None, plan: BenchmarkPlan = BenchmarkPlan(),
                  conditions: np.ndarray | None = None, progress=None) -> dict[str, Any]:
    """Time simulator and surrogate, write the benchmark JSON atomically, and return it.

    conditions: (N, C) physical conditions both sides are timed at (:func:`representative_rows` of them);
        by default the run's training conditions (see :func:`timing_conditions`).
    """
    import torch

    from surrogate.core.model import load

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SurrogateError("--device cuda asked for, but PyTorch sees no CUDA device")
    if plan.fast_path is not None:
        plan.fast_path.check(torch.device(device))
    model = load(run_dir, device=device)
    conditions, source = timing_conditions(model, conditions)
    simulator = time_simulator(model, plan, conditions)
    if not plan.simulator_command:  # the user's command runs at whatever conditions it was given
        simulator["conditions_from"] = source
    surrogate_rows = []
    paths = [None] if plan.fast_path is None else [None, plan.fast_path]
    for precision in plan.precisions or default_precisions(device):
        for batch_size in plan.batch_sizes:
            for fast_path in paths:
                row = time_surrogate(model, device, batch_size, precision, plan, conditions, fast_path)
                row["speedup"] = simulator["seconds_per_event"] * row["events_per_second"]
                surrogate_rows.append(row)
                if progress is not None:
                    progress()
    best = max(surrogate_rows, key=lambda row: row["events_per_second"])
    result = {
        "device": device_name(device),
        "simulator": simulator,
        "surrogate": surrogate_rows,
        "speedup": best["speedup"],
        "best": {key: best[key] for key in ("batch_size", "precision", "path")},
        "run_dir": str(run_dir),
        "torch": torch.__version__,
    }
    with atomic_path(out) as temporary:
        temporary.write_text(json.dumps(result, indent=2) + "\n")
    return result


def format_speedup(speedup: float) -> str:
    """A speedup as people write it: ``1083x``, ``7.2x``, ``0.35x``."""
    return f"{speedup:.0f}x" if speedup >= 100 else f"{speedup:.2g}x"


def format_table(result: dict[str, Any]) -> str:
    """The printed summary: one line per surrogate setting with its speedup, then the simulator and the
    best setting's speedup."""
    lines = [f"device: {result['device']}",
             f"{'batch':>8} {'precision':>9} {'path':>19} {'events/s':>12} {'fraction of peak':>17} {'speedup':>9}"]
    for row in result["surrogate"]:
        peak = "n/a" if row["fraction_of_peak"] is None else f"{row['fraction_of_peak']:.1%}"
        lines.append(f"{row['batch_size']:>8} {row['precision']:>9} {row['path']:>19} "
                     f"{row['events_per_second']:>12.4g} {peak:>17} {format_speedup(row['speedup']):>9}")
    simulator = result["simulator"]
    where = f" at {simulator['conditions_from']}" if "conditions_from" in simulator else ""
    lines.append(f"simulator ({simulator['name']}): {simulator['seconds_per_event']:.4g} s/event{where}")
    best = result["best"]
    lines.append(f"speedup at the best setting (batch {best['batch_size']}, {best['precision']}, {best['path']}): "
                 f"{format_speedup(result['speedup'])}")
    return "\n".join(lines)
