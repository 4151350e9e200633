"""Fixed-budget fidelity benchmark: train, generate at an independent reference's energies, validate.

The protocol is fixed and seeded so that numbers from different configurations, commits and machines
can be put side by side (docs/training.md keeps the table):

- data from the built-in simulator: a training file and an independent reference of 2000 showers
  (another seed), simulated once and cached on disk under a key made of the data recipe and the
  simulator's source code (a changed simulator makes new files);
- a budget: ``quick`` (the quickstart's network and steps, a few minutes on a 2-core CPU) or ``long``
  (the same network for 20 times the steps, about an hour on an idle 2-core CPU; a GPU runs the same
  steps far faster);
- training with the library's ``train``, generation at every reference energy, and ``validate``
  (W1 / noise floor for every observable, classifier AUC).

It prints a summary and a Markdown row for the table, and writes ``fidelity.json`` (ratios of every
observable, the summary, AUC, wall time of each step, configuration, device, commit).

    python benchmarks/fidelity.py --dataset ds2-electron --budget quick [--config changes.toml]
        [--label NAME] [--out DIR] [--cache DIR] [--threads N] [--device auto]
    python benchmarks/fidelity.py --dataset ds2-electron --model ds2-electron --reference-seed 3

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


DATASETS = {
    "ds2-electron": DataRecipe("ds2", "e-", (1.0, 100.0)),
    "calogan-photon": DataRecipe("calogan", "gamma", (1.0, 100.0)),
}

#: Settings shared by every budget; the budgets below change sizes and steps only. The model options are the
#: library's defaults (the best found here); benchmarks/fidelity-configs/ holds the earlier configurations.
_COMMON = dict(seed=1, batch_size=64, ema_halflife_kimg=2.0, log_every=50,
               model={"arch": "dense", "latent_dim": 32, "generator_width": 64, "critic_width": 64, "depth": 2})

#: TrainConfig entries of each budget, before ``--config`` changes them.
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {**_COMMON, "steps": 600, "validate_every": 150, "checkpoint_every": 150},
    "long": {**_COMMON, "steps": 12000, "validate_every": 500, "checkpoint_every": 500},
}

#: Targets of the fidelity work (issue: calorimeter fidelity), checked on the reference.
TARGETS = {
    "quick": {"median_ratio": 2.0, "worst_ratio": 15.0, "classifier_auc": 0.98},
    "long": {"median_ratio": 1.5, "worst_ratio": 5.0, "classifier_auc": 0.92},
}

#: Sources whose content decides what the simulator produces: a change to any of them refreshes the cache.
_SIMULATOR_SOURCES = ("surrogate/calorimeter/shower", "surrogate/calorimeter/geometry.py",
                      "surrogate/calorimeter/materials.py")


def simulator_fingerprint() -> str:
    """A hash of the simulator's physics sources and of how a production seeds its blocks (the rest of
    the simulate command, such as its options and file writing, does not change the showers)."""
    import inspect

    from surrogate.calorimeter import production

    digest = hashlib.sha256()
    package = Path(surrogate.__file__).resolve().parent.parent
    for entry in _SIMULATOR_SOURCES:
        path = package / entry
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(package).as_posix().encode())
            digest.update(source.read_bytes())
    digest.update(inspect.getsource(production.simulate_block).encode())
    digest.update(str(production.BLOCK_EVENTS).encode())
    return digest.hexdigest()[:16]


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


def budget_config(budget: str, data: Path, changes: Path | None, device: str) -> TrainConfig:
    """The budget's TrainConfig, with the entries of the ``changes`` config file replacing its own."""
    values = json.loads(json.dumps(BUDGETS[budget]))
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
    training_file, reference = timed("simulate", lambda: (
        None if args.model else simulated(args.cache, recipe, "train", recipe.train_events, recipe.train_seed,
                                          args.workers),
        simulated(args.cache, recipe, "reference", recipe.reference_events, reference_seed, args.workers)))
    device = str(resolve_device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    config = None
    if args.model is None:
        config = budget_config(args.budget, training_file, args.config, device)
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
        "model": str(model_source), "config": None if config is None else to_dict(config),
        "device": device, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "commit": commit(), "date": datetime.date.today().isoformat(), "seconds": seconds,
        "median_ratio": summary["median_ratio"], "worst_ratio": summary["worst_ratio"], "worst": summary["worst"],
        "classifier_auc": metrics["classifier_auc"], "ratios": ratios,
        "n_reference": metrics["n_reference"], "n_candidate": metrics["n_candidate"],
    }
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
    card = {
        "domain": "calorimeter", "geometry": recipe["geometry"], "particle": recipe["particle"],
        "energy_range_gev": recipe["energy_range_gev"], "condition_names": export["condition_names"],
        "data": recipe, "step": export["step"], "samples": export["samples"],
        "command": "python benchmarks/fidelity.py " + " ".join(argv),
        "trained_by": trained_by or "python benchmarks/fidelity.py " + " ".join(argv),
        "config": export["config"],
        "fidelity": {key: result[key] for key in (
            "median_ratio", "worst_ratio", "worst", "classifier_auc", "ratios", "reference_seed", "n_reference",
            "commit", "date", "device", "torch_threads", "seconds")},
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ds2-electron")
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
    for key, target in result["targets"].items():
        print(f"  {key}: {target['value']:.3g} (target <= {target['target']}: {'met' if target['met'] else 'not met'})")
    print(markdown_row(result))
    print(f"wrote {path}")
    if args.ship:
        model = Path(args.model) if args.model else args.out / "run"
        print(f"shipped as {ship(result, model, argv, args.trained_by)}")


if __name__ == "__main__":
    main()
