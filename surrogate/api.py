"""The public Python API, re-exported by the package: ``surrogate.read(path)``, ``surrogate.train(...)``, ...

One function per step of the user's path (docs/api.md has an example of each); the CLI commands
call these same functions. Units are in the keyword names (``energy_gev``, ``box_mpc_h``) and follow
the CLI: incident energies in GeV as arguments, MeV inside files and events. Heavy modules (torch,
h5py, pandas) are imported inside the functions, so ``import surrogate`` stays light.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import pandas

    from surrogate.core.config import TrainConfig
    from surrogate.core.domain import EventSet
    from surrogate.core.model import Surrogate
    from surrogate.core.training import TrainResult

__all__ = ["load", "read", "read_log", "simulate_showers", "simulate_nbody", "train", "generate", "validate",
           "ValidationResult", "benchmark", "export_onnx"]


def load(run_dir: str | os.PathLike, *, which: str = "best", device: str = "cpu") -> "Surrogate":
    """A trained surrogate from a run directory or export file; ``load(run).sample(energies_mev)``.

    which: ``best`` (best quick validation during training) or ``last``. See
    :class:`surrogate.core.model.Surrogate`.
    """
    from surrogate.core.model import load as load_model

    return load_model(run_dir, which=which, device=device)


def read(path: str | os.PathLike, *, start: int = 0, stop: int | None = None, **reader_options: Any) -> "EventSet":
    """Events ``start:stop`` of a data file in any layout surrogate knows, as an EventSet
    (conditions (N, C) and events (N, ...) in the file's physical units: MeV for showers).

    reader_options: as the CLI's reader options, e.g. ``tree="showers"``, ``card="dataset.toml"``.
    """
    from surrogate.core.domain import domain_for_file, read_options

    return domain_for_file(path).read(Path(path), start=start, stop=stop, **read_options(reader_options))


def read_log(run_dir: str | os.PathLike) -> "pandas.DataFrame":
    """A run's training log (``log.csv``: step, kimg, seconds, losses, quick validations) as a DataFrame."""
    import pandas

    from surrogate.core.checkpoint import LOG_FILE
    from surrogate.errors import SurrogateError

    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        raise SurrogateError(f"no {LOG_FILE} here: not a run directory", run_dir)
    return pandas.read_csv(path)


def simulate_showers(out: str | os.PathLike, *, geometry: str, particle: str, events: int, seed: int,
                     energy_gev: float | None = None, energy_range_gev: tuple[float, float] | None = None,
                     file_format: str = "hdf5", shard: str | None = None, workers: int = 1) -> Path:
    """Simulate ``events`` showers with the built-in Monte Carlo into ``out``; returns ``out``.

    geometry: ds2 or calogan; particle: e-, e+ or gamma. Give ``energy_gev`` (one energy) or
    ``energy_range_gev`` (low, high), sampled log-uniformly. file_format: hdf5 or root. ``shard``
    "I/N" writes only the I-th (from 1) of N parts, as ``surrogate simulate calorimeter --shard``.
    """
    from surrogate.calorimeter.production import parse_energies, simulate_production

    energy_range = None if energy_range_gev is None else ":".join(str(value) for value in energy_range_gev)
    energies = parse_energies(energy_gev, energy_range)
    simulate_production(Path(out), geometry, particle, energies, events, seed, file_format=file_format,
                        shard=shard, workers=workers)
    return Path(out)


def simulate_nbody(out: str | os.PathLike, *, box_mpc_h: float = 256.0, grid: int = 64, steps: int = 10,
                   omega_m: float | tuple[float, float] = 0.3175, sigma8: float | tuple[float, float] = 0.834,
                   redshift: float = 0.0, seed: int = 0, maps: int = 12, map_size: int | None = None,
                   runs: int = 1, shard: str | None = None, device: str = "cpu", z_init: float = 19.0,
                   mesh_factor: int = 2, lpt_order: int = 2, transfer: str = "eisenstein-hu",
                   omega_b: float = 0.049, hubble: float = 0.6711, n_s: float = 0.9624,
                   density: bool = True) -> str:
    """Run particle-mesh boxes into ``out`` (density cubes, slab maps, parameters); returns a timing summary.

    omega_m, sigma8: a value, or a (low, high) range sampled by Latin hypercube over ``runs`` boxes.
    The other keywords are those of ``surrogate simulate nbody`` (lengths in Mpc/h).
    """
    from surrogate.cosmology.production import simulate_production
    from surrogate.cosmology.simulation import RunSettings

    settings = RunSettings(box_mpc_h=box_mpc_h, grid=grid, steps=steps, redshift=redshift, z_init=z_init,
                           mesh_factor=mesh_factor, lpt_order=int(lpt_order), n_maps=maps, map_size=map_size,
                           transfer=transfer, keep_density=density)
    ranges = {name: (value, value) if isinstance(value, (int, float)) else tuple(value)
              for name, value in (("omega_m", omega_m), ("sigma8", sigma8))}
    fixed = {"omega_b": omega_b, "h": hubble, "n_s": n_s}
    return simulate_production(Path(out), settings, ranges, runs=runs, seed=seed, shard=shard, fixed=fixed,
                               device=device)


def train(data: str | os.PathLike | None = None, out: str | os.PathLike = "run", *,
          config: "TrainConfig | str | os.PathLike | None" = None, resume: bool = False, allow_new_data: bool = False,
          progress: bool = False, **settings: Any) -> "TrainResult":
    """Train a conditional GAN on ``data`` into the run directory ``out``; returns step, seconds, validation.

    config: a TrainConfig, a TOML/JSON config file, or None (the defaults). ``settings`` override it:
    top-level keys (``steps=2000``, ``batch_size=128``, ``device="cpu"``, ``seed=0``, ...) and the
    sections as dicts (``model={"latent_dim": 16}``, ``optim={"lr_generator": 1e-4}``); ``loss`` may be
    a name (``loss="r1"``). Keys are those of docs/training.md; an unknown key is an error.
    allow_new_data: with ``resume``, continue on changed data (as ``train --allow-new-data``).
    """
    from surrogate.core.config import TrainConfig, from_dict, read_config_file, to_dict
    from surrogate.core.training import train as run_training

    if config is None:
        config = TrainConfig()
    elif not isinstance(config, TrainConfig):
        config = read_config_file(config)
    if isinstance(settings.get("loss"), str):
        settings["loss"] = {"name": settings["loss"]}
    if data is not None:
        settings["data"] = str(data)
    values = to_dict(config)
    for key, value in settings.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) and isinstance(values.get(key), dict) \
            else value
    return run_training(from_dict(TrainConfig, values), out, resume=resume, allow_new_data=allow_new_data,
                        progress=progress)


def generate(run_dir: str | os.PathLike, out: str | os.PathLike, conditions, *, seed: int = 0,
             batch_size: int = 10_000, device: str = "auto", which: str = "best", precision: str = "fp32",
             **reader_options: Any) -> Path:
    """Generate one event per condition row with the surrogate in ``run_dir`` into ``out`` (the training
    data's layout); returns ``out``.

    conditions: an (N, C) array in the units of the model's condition names (1-D when C is 1, e.g.
    incident energies in MeV), or a file: a data file (its events' conditions, read with
    ``reader_options``) or a .npy/.txt/.csv table. As ``surrogate generate``.
    """
    from surrogate.core.conditions import open_conditions
    from surrogate.core.distributed import resolve_device
    from surrogate.core.generation import generate_to_file

    model = load(run_dir, which=which, device=resolve_device(device))
    if isinstance(conditions, (str, os.PathLike)):
        conditions = open_conditions(Path(conditions), model.condition_names, reader_options)
    generate_to_file(model, conditions, out, batch_size=batch_size, seed=seed, precision=precision)
    return Path(out)


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate` found; ``metrics`` is metrics.json's content (docs/validation.md)."""

    metrics: dict[str, Any]

    @property
    def summary(self) -> dict[str, Any]:
        """The worst observable, its W1 / noise-floor ratio, and the median ratio."""
        return self.metrics["summary"]

    @property
    def auc(self) -> float | None:
        """The classifier two-sample test's AUC (0.5: indistinguishable), None when skipped."""
        return self.metrics["classifier_auc"]

    @property
    def auc_floor(self) -> float | None:
        """The classifier test between two halves of the reference: the AUC that noise alone gives."""
        return self.metrics.get("classifier_auc_floor")

    def to_dict(self) -> dict[str, Any]:
        """metrics.json's content as a plain dict."""
        return self.metrics

    def to_frame(self) -> "pandas.DataFrame":
        """One row per condition bin and observable: bin ("all" for every event), observable, w1,
        error, floor, ratio, n_reference, n_candidate. Compared bins only."""
        import pandas

        scopes = [{"label": "all", "n_reference": self.metrics["n_reference"],
                   "n_candidate": self.metrics["n_candidate"], "observables": self.metrics["observables"]}]
        scopes += [entry for entry in self.metrics.get("condition_bins", []) if "observables" in entry]
        rows = [{"bin": scope["label"], "observable": name, "w1": entry["w1"], "error": entry["w1_err"],
                 "floor": entry["noise_floor"], "ratio": entry["ratio"], "n_reference": scope["n_reference"],
                 "n_candidate": scope["n_candidate"]}
                for scope in scopes for name, entry in scope["observables"].items()]
        return pandas.DataFrame(rows, columns=["bin", "observable", "w1", "error", "floor", "ratio",
                                               "n_reference", "n_candidate"])


def validate(reference: str | os.PathLike, candidate: str | os.PathLike, out_dir: str | os.PathLike, *,
             seed: int = 0, max_events: int | None = None, classifier: bool = True, n_resamples: int = 50,
             report: bool = True, reference_options: dict[str, Any] | None = None) -> ValidationResult:
    """Compare ``candidate`` with ``reference`` observable by observable against the reference's noise.

    Writes ``out_dir/metrics.json``, ``out_dir/metrics.csv`` (:meth:`ValidationResult.to_frame`) and,
    with ``report``, ``out_dir/report.html`` with its plots. See ``surrogate validate --help``.
    """
    from surrogate._atomic import atomic_path
    from surrogate.core.validation import validate as run_validation

    metrics = run_validation(reference, candidate, out_dir, seed=seed, max_events=max_events,
                             classifier=classifier, n_resamples=n_resamples, report=report,
                             reference_options=reference_options)
    result = ValidationResult(metrics)
    with atomic_path(Path(out_dir) / "metrics.csv") as temporary:
        result.to_frame().to_csv(temporary, index=False)
    return result


def benchmark(run_dir: str | os.PathLike, out: str | os.PathLike, *, device: str | None = None,
              batch_sizes: Sequence[int] = (1, 100, 10_000), precisions: Sequence[str] | None = None,
              simulator_events: int = 10, simulator_command: str | None = None, conditions=None,
              repeats: int = 5, seed: int = 0, compile: bool = False, cuda_graphs: bool = False,
              progress=None) -> dict[str, Any]:
    """Time the surrogate against the reference simulator; writes and returns the benchmark JSON.

    conditions: (N, C) physical conditions to generate at (default: the simulator's timing points).
    compile / cuda_graphs: also time those fast paths. See ``surrogate benchmark --help``.
    """
    from surrogate.core.benchmark import BenchmarkPlan, run_benchmark
    from surrogate.core.generation import FastPath

    fast_path = FastPath(compile=compile, cuda_graphs=cuda_graphs) if compile or cuda_graphs else None
    plan = BenchmarkPlan(batch_sizes=tuple(batch_sizes), precisions=tuple(precisions) if precisions else None,
                         simulator_events=simulator_events, simulator_command=simulator_command,
                         repeats=repeats, seed=seed, fast_path=fast_path)
    return run_benchmark(Path(run_dir), Path(out), device=device, plan=plan, conditions=conditions,
                         progress=progress)


def export_onnx(run_dir: "str | os.PathLike | Surrogate", out: str | os.PathLike, *, which: str = "best",
                conditions=None) -> float:
    """Write a surrogate as one ONNX graph: conditions (N, C) physical + noise (N, latent_dim) -> events.

    run_dir: a run directory, export file or loaded Surrogate. The graph is checked in ONNX Runtime
    against torch at ``conditions`` (default: see :mod:`surrogate.core.onnx_export`); returns the
    largest relative difference found. Needs the ``onnx`` extra. See docs/export.md.
    """
    from surrogate.core.model import Surrogate
    from surrogate.core.onnx_export import export_onnx as export

    model = run_dir if isinstance(run_dir, Surrogate) else load(run_dir, which=which)
    return export(model, out, conditions=conditions)
