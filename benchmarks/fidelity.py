"""Fixed-budget fidelity benchmark: train, generate at an independent reference's conditions, validate.

The protocol is fixed and seeded so that numbers from different configurations, commits and machines
can be put side by side (docs/training.md keeps the showers' table, docs/cosmology.md the maps'):

- data from the built-in simulator: a training file and an independent reference of 2000 showers
  (another seed), simulated once and cached on disk under a key made of the data recipe and the
  simulator's source code (a changed simulator makes new files);
- a budget: ``quick`` (the quickstart's network and steps, a few minutes on a 2-core CPU) or ``long``
  (the same network for 20 times the steps, about an hour on an idle 2-core CPU; a GPU runs the same
  steps far faster);
- training with the library's ``train``, generation at every reference energy, and ``validate``
  (W1 / noise floor for every observable, classifier AUC).

Map datasets (``maps-64``, ``maps-128``; ``--domain maps`` is ``maps-64``) follow the same steps with
particle-mesh boxes: training maps from a Latin hypercube of (Omega_m, sigma_8) boxes; a reference of
independent boxes at three training points and at one held-out point inside the hull; generation at
every reference map's parameters; validation that resamples whole boxes. They report, per reference
point and for all maps, P_gen/P_ref in bands from the fundamental mode to half the Nyquist frequency
with its box-resampled error, the W1/floor ratios, the AUC, and the issue's targets.

It prints a summary and a Markdown row for the table, and writes ``fidelity.json`` (ratios of every
observable, the summary, AUC, wall time of each step, configuration, device, commit).

    python benchmarks/fidelity.py --dataset ds2-electron --budget quick [--config changes.toml]
        [--label NAME] [--out DIR] [--cache DIR] [--threads N] [--device auto]
    python benchmarks/fidelity.py --dataset ds2-electron --model ds2-electron --reference-seed 3
    python benchmarks/fidelity.py --dataset maps-64 --budget long [--model RUN_OR_NAME] [--ship]

``--config`` takes a TOML/JSON file in the format of ``surrogate train --config``; its entries replace
the budget's. ``--model`` validates an existing model (a run directory, an export or a shipped model's
name) instead of training one; ``--reference-seed`` draws a fresh reference.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import surrogate
from surrogate.core.config import TrainConfig, from_dict, read_config_values, to_dict

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DataRecipe:
    """What the simulator makes for one benchmark dataset (energies in GeV, as on the command line)."""

    geometry: str
    particle: str
    energy_range_gev: tuple[float, float]
    train_events: int = 3000
    train_seed: int = 1
    reference_events: int = 2000
    reference_seed: int = 2


@dataclass(frozen=True)
class MapRecipe:
    """What the particle-mesh simulator makes for one map dataset (lengths in Mpc/h, as on the command line).

    Training: ``surrogate simulate nbody --box BOX --grid GRID --steps STEPS --omega-m 0.2:0.4 --sigma8 0.7:0.9
    --runs TRAIN_RUNS --maps MAPS_PER_RUN --map-size MAP_SIZE --seed TRAIN_SEED --no-density``. Reference:
    ``reference_boxes`` boxes of other seeds at each training run nearest to an anchor (in units of the
    ranges) and at the ``held_out`` point, which no training run sits on.
    """

    grid: int
    map_size: int
    box_mpc_h: float = 256.0
    steps: int = 10
    omega_m_range: tuple[float, float] = (0.2, 0.4)
    sigma8_range: tuple[float, float] = (0.7, 0.9)
    train_runs: int = 40
    maps_per_run: int = 12
    train_seed: int = 1
    reference_boxes: int = 10
    reference_seed: int = 2
    anchors: tuple[tuple[float, float], ...] = ((0.25, 0.75), (0.35, 0.85), (0.25, 0.85))
    held_out: tuple[float, float] = (0.30, 0.80)
    #: Bands of the P(k) ratio, log-spaced from the fundamental mode to half the Nyquist frequency.
    power_bands: int = 6


DATASETS: dict[str, DataRecipe | MapRecipe] = {
    "ds2-electron": DataRecipe("ds2", "e-", (1.0, 100.0)),
    "calogan-photon": DataRecipe("calogan", "gamma", (1.0, 100.0)),
    "maps-64": MapRecipe(grid=64, map_size=64),
    "maps-128": MapRecipe(grid=128, map_size=128),
}
#: ``--domain`` names the default dataset of a domain.
DOMAIN_DATASETS = {"maps": "maps-64"}

#: Settings shared by every budget; the budgets below change sizes and steps only. The model options are the
#: library's defaults (the best found here); benchmarks/fidelity-configs/ holds the earlier configurations.
_COMMON = dict(seed=1, batch_size=64, ema_halflife_kimg=2.0, log_every=50,
               model={"arch": "dense", "latent_dim": 32, "generator_width": 64, "critic_width": 64, "depth": 2})

#: TrainConfig entries of each budget, before ``--config`` changes them.
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {**_COMMON, "steps": 600, "validate_every": 150, "checkpoint_every": 150},
    "long": {**_COMMON, "steps": 12000, "validate_every": 500, "checkpoint_every": 500},
}

#: The map budgets: ``surrogate train --loss r1 --batch-size 32 --width 64 --depth 1 --latent-dim 64 --seed 1``.
_MAP_COMMON = dict(seed=1, batch_size=32, loss={"name": "r1"},
                   model={"latent_dim": 64, "generator_width": 64, "critic_width": 64, "depth": 1})
MAP_BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {**_MAP_COMMON, "steps": 250, "validate_every": 125, "checkpoint_every": 125},
    "long": {**_MAP_COMMON, "steps": 3000, "validate_every": 250, "checkpoint_every": 250},
}

#: Targets of the map fidelity work: |P_gen/P_ref - 1| in every band at the training points and at the
#: held-out point, the worst W1/floor ratio, the classifier AUC.
MAP_TARGETS = {"power_training_points": 0.03, "power_held_out": 0.05, "worst_ratio": 2.0, "classifier_auc": 0.70}

#: Targets of the calorimeter fidelity work, checked on the reference.
TARGETS = {
    "quick": {"median_ratio": 2.0, "worst_ratio": 15.0, "classifier_auc": 0.98},
    "long": {"median_ratio": 1.5, "worst_ratio": 5.0, "classifier_auc": 0.92},
}

#: Sources whose content decides what the simulator produces: a change to any of them refreshes the cache.
_SIMULATOR_SOURCES = ("surrogate/calorimeter/shower", "surrogate/calorimeter/geometry.py",
                      "surrogate/calorimeter/materials.py")
_NBODY_SOURCES = tuple(f"surrogate/cosmology/{name}.py" for name in (
    "initial_conditions", "particle_mesh", "power_spectrum", "simulation", "maps"))


def _sources_digest(entries: tuple[str, ...], *extra: str) -> str:
    digest = hashlib.sha256()
    package = Path(surrogate.__file__).resolve().parent.parent
    for entry in entries:
        path = package / entry
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(package).as_posix().encode())
            digest.update(source.read_bytes())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def simulator_fingerprint() -> str:
    """A hash of the simulator's physics sources and of how a production seeds its blocks (the rest of
    the simulate command, such as its options and file writing, does not change the showers)."""
    import inspect

    from surrogate.calorimeter import production

    return _sources_digest(_SIMULATOR_SOURCES, inspect.getsource(production.simulate_block),
                           str(production.BLOCK_EVENTS))


def nbody_fingerprint() -> str:
    """A hash of the particle-mesh code and of how a sweep seeds and places its runs."""
    import inspect

    from surrogate.cosmology import production

    return _sources_digest(_NBODY_SOURCES, inspect.getsource(production.simulate_production),
                           inspect.getsource(production._simulate_runs))


def simulated(cache: Path, recipe: DataRecipe, role: str, events: int, seed: int, workers: int) -> Path:
    """The cached file of ``role`` ("train"/"reference"), simulated first if the cache lacks it."""
    from surrogate.calorimeter.production import simulate_production

    key = json.dumps({**asdict(recipe), "events": events, "seed": seed, "simulator": simulator_fingerprint()},
                     sort_keys=True)
    path = cache / f"{recipe.geometry}-{recipe.particle}-{role}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.h5"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"simulating {events} {recipe.particle} showers ({role}, seed {seed}) into {path}", flush=True)
        simulate_production(path, recipe.geometry, recipe.particle, recipe.energy_range_gev, events, seed,
                            workers=workers)
    return path


def _nbody(path: Path, recipe: MapRecipe, omega_m, sigma8, runs: int, seed: int) -> None:
    """``surrogate simulate nbody`` of the recipe's boxes and maps at ``omega_m``/``sigma8`` (values or ranges)."""
    from surrogate.api import simulate_nbody

    simulate_nbody(path, box_mpc_h=recipe.box_mpc_h, grid=recipe.grid, steps=recipe.steps, omega_m=omega_m,
                   sigma8=sigma8, maps=recipe.maps_per_run, map_size=recipe.map_size, runs=runs, seed=seed,
                   density=False)


def _cached(cache: Path, stem: str, key: dict[str, Any], make) -> Path:
    """``cache/STEM-HASH.h5`` for the recipe ``key``, made by ``make(path)`` when the cache lacks it."""
    digest = hashlib.sha256(json.dumps({**key, "simulator": nbody_fingerprint()}, sort_keys=True).encode())
    path = cache / f"{stem}-{digest.hexdigest()[:12]}.h5"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        make(path)
    return path


def map_training_file(cache: Path, name: str, recipe: MapRecipe) -> Path:
    """The cached training maps of ``recipe`` (a Latin hypercube of ``train_runs`` boxes)."""
    def make(path: Path) -> None:
        print(f"simulating {recipe.train_runs} training boxes (seed {recipe.train_seed}) into {path}", flush=True)
        _nbody(path, recipe, recipe.omega_m_range, recipe.sigma8_range, recipe.train_runs, recipe.train_seed)

    training = {key: value for key, value in asdict(recipe).items()
                if key not in ("reference_boxes", "reference_seed", "anchors", "held_out", "power_bands")}
    return _cached(cache, f"{name}-train", training, make)


def reference_points(recipe: MapRecipe, training_file: Path) -> list[dict[str, Any]]:
    """The reference's parameter points: for each anchor the nearest training run not yet taken (distance in
    units of the parameter ranges), then the held-out point."""
    from surrogate.core.conditions import read_conditions

    runs = np.unique(read_conditions(training_file, ("omega_m", "sigma8")), axis=0)
    scale = np.array([high - low for low, high in (recipe.omega_m_range, recipe.sigma8_range)])
    points, free = [], np.ones(len(runs), bool)
    for index, anchor in enumerate(recipe.anchors):
        distance = np.where(free, (((runs - np.asarray(anchor)) / scale) ** 2).sum(axis=1), np.inf)
        nearest = int(np.argmin(distance))
        free[nearest] = False
        points.append({"name": f"training-{index + 1}", "omega_m": float(runs[nearest, 0]),
                       "sigma8": float(runs[nearest, 1]), "held_out": False})
    points.append({"name": "held-out", "omega_m": float(recipe.held_out[0]), "sigma8": float(recipe.held_out[1]),
                   "held_out": True})
    return points


def map_reference_file(cache: Path, name: str, recipe: MapRecipe, points: list[dict[str, Any]],
                       reference_seed: int) -> Path:
    """The cached reference: ``reference_boxes`` boxes at each point (seeds 1000 * reference_seed + point),
    merged into one file whose ``map_run`` tells the boxes apart."""
    import tempfile

    from surrogate.cosmology.formats import merge

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            parts = []
            for index, point in enumerate(points):
                part = Path(scratch) / f"point-{index}.h5"
                print(f"simulating {recipe.reference_boxes} reference boxes at omega_m={point['omega_m']:.4f}, "
                      f"sigma8={point['sigma8']:.4f}", flush=True)
                _nbody(part, recipe, point["omega_m"], point["sigma8"], recipe.reference_boxes,
                       1000 * reference_seed + index)
                parts.append(part)
            merge(parts, path)

    return _cached(cache, f"{name}-reference", {**asdict(recipe), "points": points, "seed": reference_seed}, make)


def power_band_edges(recipe: MapRecipe) -> np.ndarray:
    """Edges in h/Mpc of ``power_bands`` log-spaced bands from the fundamental mode (the first band starts
    at half of it, so that rounding cannot drop it) to half the Nyquist frequency."""
    fundamental = 2 * np.pi / recipe.box_mpc_h
    edges = np.geomspace(fundamental, 0.5 * np.pi * recipe.map_size / recipe.box_mpc_h, recipe.power_bands + 1)
    edges[0] = 0.5 * fundamental
    return edges


def power_table(reference: Path, generated: Path, points: list[dict[str, Any]], edges: np.ndarray,
                seed: int) -> dict[str, dict[str, Any]]:
    """P_gen/P_ref per band with its box-resampled 1-sigma error, for all maps and for each point; the
    largest |ratio - 1| over the bands, and the largest in units of its error (the pull: whether what is
    left is more than the reference's own noise)."""
    from surrogate.cosmology.domain import DOMAIN
    from surrogate.cosmology.observables import power_spectrum
    from surrogate.cosmology.validation import density_ratio, grouped_power_ratio

    def band_powers(path: Path):
        events = DOMAIN.read(path)
        power = power_spectrum(density_ratio(events) - 1.0, float(events.layout["box_mpc_h"]), k_edges=edges).power
        return power, events.conditions, events.groups

    reference_power, reference_conditions, reference_groups = band_powers(reference)
    generated_power, generated_conditions, _ = band_powers(generated)
    selections = [("all", np.ones(len(reference_power), bool), np.ones(len(generated_power), bool))]
    for point in points:
        where = np.array([point["omega_m"], point["sigma8"]])
        selections.append((point["name"], np.isclose(reference_conditions, where, rtol=1e-9, atol=0).all(axis=1),
                           np.isclose(generated_conditions, where, rtol=1e-9, atol=0).all(axis=1)))
    table = {}
    for name, in_reference, in_generated in selections:
        ratio, error = grouped_power_ratio(reference_power[in_reference], generated_power[in_generated], seed=seed,
                                           reference_groups=reference_groups[in_reference])
        table[name] = {"n_reference": int(in_reference.sum()), "n_candidate": int(in_generated.sum()),
                       "n_boxes": int(len(np.unique(reference_groups[in_reference]))),
                       "power_ratio": ratio.tolist(), "power_error": error.tolist(),
                       "max_power_deviation": float(np.max(np.abs(ratio - 1.0))),
                       "max_power_pull": float(np.max(np.abs(ratio - 1.0) / np.maximum(error, 1e-12)))}
    return table


def map_fidelity(metrics: dict[str, Any], points: list[dict[str, Any]], table: dict[str, dict[str, Any]],
                 edges: np.ndarray) -> dict[str, Any]:
    """The maps' part of fidelity.json: P(k) ratios, per-point W1/floor summaries and the issue's targets."""
    bins = {entry["label"]: entry for entry in metrics["condition_bins"]}
    per_point = []
    for point in points:
        entry = bins.get(f"omega_m={point['omega_m']:.4g} sigma8={point['sigma8']:.4g}", {})
        ratios = {name: value["ratio"] for name, value in entry.get("observables", {}).items()}
        per_point.append({**point, **table[point["name"]], "ratios": ratios, **entry.get("summary", {})})
    training = max(point["max_power_deviation"] for point in per_point if not point["held_out"])
    held_out = max(point["max_power_deviation"] for point in per_point if point["held_out"])
    values = {"power_training_points": training, "power_held_out": held_out,
              "worst_ratio": metrics["summary"]["worst_ratio"], "classifier_auc": metrics["classifier_auc"]}
    return {"power_bands_h_mpc": edges.tolist(), "all": table["all"], "points": per_point,
            "classifier_auc_floor": metrics["classifier_auc_floor"],
            "targets": {key: {"target": limit, "value": values[key],
                              "met": values[key] is not None and values[key] <= limit}
                        for key, limit in MAP_TARGETS.items()}}


def budget_config(budget: str, data: Path, changes: Path | None, device: str,
                  budgets: dict[str, dict[str, Any]] | None = None) -> TrainConfig:
    """The budget's TrainConfig (from ``budgets``, the showers' BUDGETS by default), with the entries of
    the ``changes`` config file replacing its own."""
    values = json.loads(json.dumps((BUDGETS if budgets is None else budgets)[budget]))
    if changes is not None:
        _merge(values, read_config_values(changes))
    config = from_dict(TrainConfig, values, changes)
    return replace(config, data=str(data), device=device)


def _merge(values: dict, given: dict) -> None:
    """Entries of ``given`` replace those of ``values``; tables are merged key by key."""
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            _merge(values[key], value)
        else:
            values[key] = value


def commit() -> str:
    """The repository's commit (with ``+dirty`` when files changed), or "unknown" outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole protocol; returns what fidelity.json holds."""
    from surrogate.core.conditions import read_conditions
    from surrogate.core.distributed import resolve_device
    from surrogate.core.generation import generate_to_file
    from surrogate.core.training import train
    from surrogate.core.validation import validate

    recipe = DATASETS[args.dataset]
    seconds: dict[str, float] = {}

    def timed(name: str, action):
        started = time.perf_counter()
        result = action()
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"{name}: {seconds[name]:.0f} s", flush=True)
        return result

    reference_seed = recipe.reference_seed if args.reference_seed is None else args.reference_seed
    maps = isinstance(recipe, MapRecipe)
    if maps:  # the training file is read even for --model: it decides the reference points
        def simulate_maps():
            training = map_training_file(args.cache, args.dataset, recipe)
            points = reference_points(recipe, training)
            return training, map_reference_file(args.cache, args.dataset, recipe, points, reference_seed), points
        training_file, reference, points = timed("simulate", simulate_maps)
    else:
        training_file, reference = timed("simulate", lambda: (
            None if args.model else simulated(args.cache, recipe, "train", recipe.train_events, recipe.train_seed,
                                              args.workers),
            simulated(args.cache, recipe, "reference", recipe.reference_events, reference_seed, args.workers)))
    device = str(resolve_device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    config = None
    if args.model is None:
        config = budget_config(args.budget, training_file, args.config, device, MAP_BUDGETS if maps else BUDGETS)
        run_dir = args.out / "run"
        timed("train", lambda: train(config, run_dir, progress=sys.stderr.isatty()))
        model_source: str | Path = run_dir
    else:
        model_source = args.model
    model = surrogate.load(model_source, device=device)
    generated = args.out / "generated.h5"
    timed("generate", lambda: generate_to_file(
        model, read_conditions(reference, model.condition_names), generated, seed=args.seed))
    metrics = timed("validate", lambda: validate(reference, generated, args.out / "report", seed=args.seed))
    ratios = {name: entry["ratio"] for name, entry in metrics["observables"].items()}
    summary = metrics["summary"]
    result = {
        "dataset": args.dataset, "recipe": asdict(recipe), "reference_seed": reference_seed,
        "budget": None if args.model else args.budget, "label": args.label,
        "model": str(model_source), "step": model.metadata.get("step"),
        "config": None if config is None else to_dict(config),
        "device": device, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "commit": commit(), "date": datetime.date.today().isoformat(), "seconds": seconds,
        "median_ratio": summary["median_ratio"], "worst_ratio": summary["worst_ratio"], "worst": summary["worst"],
        "classifier_auc": metrics["classifier_auc"], "ratios": ratios,
        "n_reference": metrics["n_reference"], "n_candidate": metrics["n_candidate"],
    }
    if maps:
        edges = power_band_edges(recipe)
        table = timed("power_spectra", lambda: power_table(reference, generated, points, edges, args.seed))
        result.update(map_fidelity(metrics, points, table, edges))
        return result
    budget = args.budget if args.model is None else "long"
    result["targets"] = {key: {"target": limit, "value": result[key], "met": result[key] is not None
                               and result[key] <= limit} for key, limit in TARGETS[budget].items()}
    return result


def ship(result: dict[str, Any], model: Path, argv: list[str], trained_by: str | None = None) -> Path:
    """Copy the validated export (``model``: a run directory or export file) into the package as the
    shipped model named after the dataset, with its card: the data recipe, the training configuration
    (``surrogate train --config`` reproduces it from the card alone), the commands that trained and
    validated it, and the fidelity just measured."""
    from surrogate import pretrained
    from surrogate.core import checkpoint
    from surrogate.core.model import export_path

    export = checkpoint.load(export_path(model), checkpoint.EXPORT_KIND)
    export["config"]["data"] = Path(export["config"]["data"]).name  # no local paths inside the package
    folder = pretrained.HERE / result["dataset"]
    folder.mkdir(exist_ok=True)
    checkpoint.save(export, folder / pretrained.EXPORT_FILE)
    recipe = result["recipe"]
    if "omega_m_range" in recipe:
        described = {"domain": "cosmology", "parameter_ranges": {"omega_m": recipe["omega_m_range"],
                                                                 "sigma8": recipe["sigma8_range"]},
                     "map_size": recipe["map_size"], "box_mpc_h": recipe["box_mpc_h"]}
        measured = ("power_bands_h_mpc", "all", "points", "targets", "classifier_auc_floor")
    else:
        described = {"domain": "calorimeter", "geometry": recipe["geometry"], "particle": recipe["particle"],
                     "energy_range_gev": recipe["energy_range_gev"]}
        measured = ()
    card = {
        **described, "condition_names": export["condition_names"],
        "data": recipe, "step": export["step"], "samples": export["samples"],
        "command": "python benchmarks/fidelity.py " + " ".join(argv),
        "trained_by": trained_by or "python benchmarks/fidelity.py " + " ".join(argv),
        "config": export["config"],
        "fidelity": {key: result[key] for key in (
            "median_ratio", "worst_ratio", "worst", "classifier_auc", "ratios", "reference_seed", "n_reference",
            "commit", "date", "device", "torch_threads", "seconds", *measured)},
    }
    checkpoint.write_json(card, folder / pretrained.CARD_FILE)
    return folder


def markdown_row(result: dict[str, Any]) -> str:
    """One row of docs/training.md's table of configurations."""
    ratios = result["ratios"]
    cell = next((value for name, value in ratios.items() if name.startswith("log10_cell_energy")), float("nan"))
    response = ratios.get("etot_over_einc", float("nan"))
    auc = result["classifier_auc"]
    steps = result["config"]["steps"] if result["config"] else "-"
    return (f"| {result['date']} | {result['commit']} | {result['dataset']} | {result['budget'] or 'model'} | "
            f"{result['label']} | {steps} | {result['seconds'].get('train', 0):.0f} | "
            f"{result['median_ratio']:.2f} | {result['worst_ratio']:.1f} ({result['worst']}) | {cell:.1f} | "
            f"{response:.1f} | {'-' if auc is None else f'{auc:.3f}'} |")


def map_markdown_row(result: dict[str, Any]) -> str:
    """One row of docs/cosmology.md's map fidelity table."""
    targets = result["targets"]
    auc = result["classifier_auc"]
    return (f"| {result['date']} | {result['commit']} | {result['dataset']} | {result['budget'] or 'model'} | "
            f"{result['label']} | {result['step']} | {result['seconds'].get('train', 0):.0f} | "
            f"{targets['power_training_points']['value']:.1%} | {targets['power_held_out']['value']:.1%} | "
            f"{result['median_ratio']:.2f} | {result['worst_ratio']:.1f} ({result['worst']}) | "
            f"{'-' if auc is None else f'{auc:.3f}'} |")


def print_power_table(result: dict[str, Any]) -> None:
    """P_gen/P_ref per band (with its box-resampled error) for all maps and each reference point."""
    edges = result["power_bands_h_mpc"]
    print("P_gen/P_ref per band, k in h/Mpc: " + ", ".join(f"{low:.3g}-{high:.3g}"
                                                          for low, high in zip(edges[:-1], edges[1:])))
    for point in [{"name": "all", **result["all"]}, *result["points"]]:
        bands = " ".join(f"{ratio:.3f}+-{error:.3f}" for ratio, error in zip(point["power_ratio"],
                                                                            point["power_error"]))
        where = "" if point["name"] == "all" else f" (omega_m {point['omega_m']:.4f}, sigma8 {point['sigma8']:.4f})"
        summary = f"; W1/floor median {point['median_ratio']:.2f}, worst {point['worst_ratio']:.1f}" \
            if "median_ratio" in point else ""
        print(f"  {point['name']}{where}, {point['n_boxes']} boxes: {bands} (largest pull "
              f"{point['max_power_pull']:.1f} sigma){summary}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ds2-electron")
    parser.add_argument("--domain", choices=sorted(DOMAIN_DATASETS),
                        help="the domain's default dataset (maps: maps-64), instead of --dataset")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    parser.add_argument("--config", type=Path, help="TOML/JSON config whose entries replace the budget's")
    parser.add_argument("--model", help="validate this run directory, export or shipped model instead of training")
    parser.add_argument("--reference-seed", type=int, help="seed of the reference (default: the protocol's)")
    parser.add_argument("--label", default="default", help="name of this configuration in the table")
    parser.add_argument("--out", type=Path, help="output folder (default fidelity-results/DATASET-BUDGET-LABEL)")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "SURROGATE_FIDELITY_CACHE", Path.home() / ".cache" / "surrogate" / "fidelity")),
        help="where simulated files are kept (env SURROGATE_FIDELITY_CACHE)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=2, help="simulator processes")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--seed", type=int, default=1, help="seed of generation and validation")
    parser.add_argument("--trained-by", help="with --ship --model: the command that trained the model (for its card)")
    parser.add_argument("--ship", action="store_true",
                        help="store the validated model (trained here, or --model RUN) in the package as the "
                             "shipped model of --dataset, with its card")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.ship and args.model and not Path(args.model).exists():
        parser.error("--ship takes a model trained here or a run directory / export file (--model PATH)")
    if args.domain:
        args.dataset = DOMAIN_DATASETS[args.domain]
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out is None:
        name = f"{args.dataset}-{'model' if args.model else args.budget}-{args.label}"
        args.out = Path("fidelity-results") / name
    result = run(args)
    path = args.out / "fidelity.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median ratio {result['median_ratio']:.2f}, worst {result['worst_ratio']:.1f} ({result['worst']}), "
          f"AUC {result['classifier_auc']}")
    if "power_bands_h_mpc" in result:
        print_power_table(result)
    for key, target in result["targets"].items():
        print(f"  {key}: {target['value']:.3g} (target <= {target['target']}: {'met' if target['met'] else 'not met'})")
    print(map_markdown_row(result) if "power_bands_h_mpc" in result else markdown_row(result))
    print(f"wrote {path}")
    if args.ship:
        model = Path(args.model) if args.model else args.out / "run"
        print(f"shipped as {ship(result, model, argv, args.trained_by)}")


if __name__ == "__main__":
    main()
