"""The main job on an embedded default: simulate, train, generate, validate and benchmark, in minutes on a CPU.

Everything comes from the library itself (the reference shower simulator makes the data, the pretrained
model ships inside the package), so it runs on a fresh machine with no download. Two surrogates are
validated against the same freshly simulated reference: the shipped pretrained model (the library at its
best, trained for about an hour) and a short training of its own (the training path at work, minutes on a
2-core CPU: a demonstration, not a production-quality surrogate). The benchmark times the shipped model.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


_TRAIN_STEP = "train a conditional WGAN-GP of your own (short)"


@dataclass(frozen=True)
class QuickstartPlan:
    """Sizes of the embedded default (energies in GeV, as on the command line)."""

    geometry: str = "ds2"
    particle: str = "e-"
    energy_range_gev: tuple[float, float] = (1.0, 20.0)
    train_events: int = 1500
    reference_events: int = 500
    steps: int = 600
    batch_size: int = 64
    seed: int = 1
    simulator_events: int = 3
    batch_sizes: tuple[int, ...] = (1, 100, 1000)
    shipped_model: str = "ds2-electron"


def simulate_file(path: Path, plan: QuickstartPlan, events: int, seed: int, workers: int) -> Path:
    """Showers from the built-in simulator in the CaloChallenge layout of ``plan.geometry``: the file
    ``surrogate simulate calorimeter`` writes with the plan's geometry, particle and energy range."""
    from surrogate.calorimeter.production import simulate_production

    simulate_production(path, plan.geometry, plan.particle, plan.energy_range_gev, events, seed, workers=workers)
    return path


def train_config(plan: QuickstartPlan, data: Path):
    """A small WGAN-GP configuration that learns the gross shower shape within a few CPU minutes; its model
    options are the library's defaults, the best the fidelity benchmark found (docs/training.md)."""
    from surrogate.core.config import ModelConfig, TrainConfig

    return TrainConfig(data=str(data), steps=plan.steps, batch_size=plan.batch_size, seed=plan.seed, device="cpu",
                       validate_every=plan.steps // 4, checkpoint_every=plan.steps // 4, log_every=25,
                       ema_halflife_kimg=2.0,
                       model=ModelConfig(arch="dense", latent_dim=32, generator_width=64, critic_width=64, depth=2))


def run_quickstart(out_dir: Path, plan: QuickstartPlan = QuickstartPlan(), *, workers: int = 2,
                   say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole chain into ``out_dir`` and return the numbers the summary prints."""
    from surrogate.core.benchmark import BenchmarkPlan, run_benchmark
    from surrogate.core.conditions import read_conditions
    from surrogate.core.generation import generate_to_file
    from surrogate.core.model import load
    from surrogate.core.training import train
    from surrogate.core.validation import validate

    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def step(name: str, action: Callable[[], Any]) -> Any:
        say(f"[{len(timings) + 1}/5] {name}")
        started = time.perf_counter()
        result = action()
        timings[name] = time.perf_counter() - started
        say(f"      {timings[name]:.0f} s")
        return result

    training_file, reference_file = out_dir / "showers.h5", out_dir / "reference.h5"
    run_dir = out_dir / "run"
    models = {"shipped": plan.shipped_model, "own": run_dir}

    def simulate():
        simulate_file(training_file, plan, plan.train_events, plan.seed, workers)
        simulate_file(reference_file, plan, plan.reference_events, plan.seed + 1, workers)

    reference_conditions = {}  # per model, in its condition names; the benchmark times the same energies

    def generate():
        for which, source in models.items():
            model = load(source)
            reference_conditions[which] = read_conditions(reference_file, model.condition_names)
            generate_to_file(model, reference_conditions[which], out_dir / f"generated-{which}.h5", seed=plan.seed)

    def validate_both():
        return {which: validate(reference_file, out_dir / f"generated-{which}.h5", out_dir / f"report-{which}",
                                seed=plan.seed) for which in models}

    step("simulate showers with the reference Monte Carlo", simulate)
    step(_TRAIN_STEP, lambda: train(train_config(plan, training_file), run_dir))
    step(f"generate showers at the reference's energies (shipped {plan.shipped_model} and yours)", generate)
    metrics = step("validate both against an independent simulated sample", validate_both)
    bench_plan = BenchmarkPlan(batch_sizes=plan.batch_sizes, simulator_events=plan.simulator_events, repeats=3)
    benchmark = step(f"benchmark the shipped {plan.shipped_model} against the simulator",
                     lambda: run_benchmark(plan.shipped_model, out_dir / "benchmark.json", device="cpu",
                                           plan=bench_plan, conditions=reference_conditions["shipped"]))
    return {"metrics": metrics, "benchmark": benchmark, "seconds": timings, "out_dir": out_dir,
            "shipped_model": plan.shipped_model, "steps": plan.steps}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The short summary printed at the end of ``surrogate quickstart``: both models, labelled."""
    from surrogate.core.benchmark import format_speedup

    out_dir = result["out_dir"]
    titles = {"shipped": f"shipped pretrained model {result['shipped_model']} (surrogate.load("
                         f"\"{result['shipped_model']}\")):",
              "own": f"your own short training ({result['steps']} steps, {result['seconds'].get(_TRAIN_STEP, 0):.0f} s;"
                     " a demonstration of the training path):"}
    lines = []
    for which, title in titles.items():
        metrics = result["metrics"][which]
        summary, auc = metrics["summary"], metrics["classifier_auc"]
        lines += [
            title,
            f"  worst observable: {summary['worst']} at {summary['worst_ratio']:.3g} x the noise floor "
            f"(median ratio {summary['median_ratio']:.3g}; 1 = as good as more simulation)",
            f"  classifier AUC: {'skipped' if auc is None else f'{auc:.3f}'} (0.5 = indistinguishable)",
            f"  report: {out_dir / f'report-{which}' / 'report.html'}",
        ]
    benchmark = result["benchmark"]
    lines += [f"speedup of the shipped model over the simulator: {format_speedup(benchmark['speedup'])} on "
              f"{benchmark['device']}",
              f"total time: {sum(result['seconds'].values()):.0f} s"]
    return lines


def plan_with(**changes: Any) -> QuickstartPlan:
    """The default plan with some sizes changed (used by the CLI's options and the tests)."""
    return dataclasses.replace(QuickstartPlan(), **{k: v for k, v in changes.items() if v is not None})
