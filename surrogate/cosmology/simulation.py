"""One N-body run from its settings to the products stored in files, and parameter sweeps.

A run: linear power spectrum -> Gaussian field (phases from the seed) -> 2LPT particles at
``z_init`` -> particle-mesh steps to ``redshift`` -> the CIC overdensity on the particle grid and
projected slab maps. Sweeps draw parameter points by Latin hypercube from a seeded generator.
"""
from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field

import numpy as np

from surrogate.cosmology.power_spectrum import VARIED_PARAMETERS, Cosmology, LinearPower
from surrogate.errors import SurrogateError

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
    """Everything but the cosmology and seed that fixes a run; lengths in Mpc/h."""

    box_mpc_h: float = 256.0
    grid: int = 64
    steps: int = 10
    redshift: float = 0.0
    z_init: float = 19.0
    mesh_factor: int = 2
    lpt_order: int = 2
    n_maps: int = 12
    map_size: int | None = None  # None: the particle grid
    transfer: str = "eisenstein-hu"
    keep_density: bool = True

    def __post_init__(self) -> None:
        if self.box_mpc_h <= 0 or self.grid < 4 or self.steps < 1 or self.mesh_factor < 1:
            raise SurrogateError("need box > 0, grid >= 4, steps >= 1 and mesh factor >= 1")
        if not -1.0 < self.redshift < self.z_init:
            raise SurrogateError(f"the output redshift {self.redshift} must lie above -1 (an infinite scale "
                                 f"factor) and below z_init = {self.z_init}")
        if self.lpt_order not in (1, 2):
            raise SurrogateError(f"LPT order must be 1 or 2, not {self.lpt_order}")
        if self.n_maps < 1 or (self.map_size is not None and self.map_size < 2):
            raise SurrogateError("need at least one map of at least 2x2 pixels")

    @property
    def pixels(self) -> int:
        return self.map_size or self.grid


@dataclass
class RunProducts:
    """What one run leaves: overdensity cube (or None), maps, timing and peak memory."""

    cosmology: Cosmology
    seed: int
    density: np.ndarray | None
    maps: np.ndarray
    seconds: float
    peak_memory_bytes: int
    timings_s: dict[str, float] = field(default_factory=dict)


def peak_memory_bytes(device) -> int:
    """Peak memory of this process so far: allocated GPU memory on CUDA, resident size on the CPU."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def initial_particles(cosmology: Cosmology, settings: RunSettings, seed: int, device="cpu", a=None):
    """2LPT (or Zel'dovich) particles at ``a`` (default: z_init) and the power spectrum used."""
    from surrogate.cosmology.initial_conditions import linear_density_k, lpt_particles

    power = LinearPower(cosmology, settings.transfer)
    delta_k = linear_density_k(settings.grid, settings.box_mpc_h, power, seed, device)
    a = 1.0 / (1.0 + settings.z_init) if a is None else a
    offset = 0.5 / settings.mesh_factor
    return lpt_particles(delta_k, settings.box_mpc_h, power.growth, a, settings.lpt_order, offset), power


def run_nbody(cosmology: Cosmology, settings: RunSettings, seed: int, device="cpu") -> RunProducts:
    """Run one box and return its products (see module doc)."""
    import torch

    from surrogate.cosmology.maps import slab_maps
    from surrogate.cosmology.particle_mesh import ParticleMesh, evolve

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timings = {}
    start = time.perf_counter()
    state, power = initial_particles(cosmology, settings, seed, device)
    timings["initial_conditions_s"] = time.perf_counter() - start
    mesh = ParticleMesh(settings.box_mpc_h, settings.mesh_factor * settings.grid, device)
    state = evolve(state, power.growth, mesh, 1.0 / (1.0 + settings.redshift), settings.steps)
    del mesh
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    timings["particle_mesh_s"] = time.perf_counter() - start - timings["initial_conditions_s"]
    density = None
    if settings.keep_density:
        density = ParticleMesh(settings.box_mpc_h, settings.grid, device).density_contrast(state.positions_mpc_h)
        density = density.cpu().numpy()
    maps = slab_maps(state.positions_mpc_h, settings.box_mpc_h, settings.pixels, settings.n_maps)
    seconds = time.perf_counter() - start
    _LOG.info("run seed %d: %.1f s (%s)", seed, seconds, ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return RunProducts(cosmology, seed, density, maps, seconds, peak_memory_bytes(device), timings)


def latin_hypercube(ranges: dict[str, tuple[float, float]], runs: int, seed: int) -> dict[str, np.ndarray]:
    """``runs`` points, one per stratum of every range, strata paired at random (seeded).

    A degenerate range (lo == hi) gives that constant. Returns name -> (runs,) values.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A7]))
    points = {}
    for name, (low, high) in ranges.items():
        unit = (rng.permutation(runs) + rng.random(runs)) / runs
        points[name] = low + (high - low) * unit
    return points


def run_seed(seed: int, run_index: int) -> int:
    """The phase seed of run ``run_index`` of a sweep started with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, run_index]).generate_state(1, dtype=np.uint32)[0])


def reference_simulator(layout: dict):
    """The particle-mesh simulator that made maps of ``layout``, for ``surrogate benchmark``; None when
    the layout does not come from it (snapshots, CAMELS stacks) or lacks its settings.

    simulate(conditions, rng) runs one box per ``maps_per_run`` rows (each box at the parameters of its
    first row, phases from ``rng``) and returns the first len(conditions) maps: the work a production
    of that many maps costs, on the GPU when there is one (the code runs on both). The benchmark times
    whole boxes (``events_per_call``); its fallback point is the fiducial cosmology.
    """
    import torch

    from surrogate.core.domain import ReferenceSimulator
    from surrogate.cosmology.formats import NBODY

    needed = ("box_mpc_h", "grid", "steps", "redshift", "map_size", "maps_per_run")
    names = tuple(layout.get("condition_names") or ())
    if layout.get("format") != NBODY or any(layout.get(key) is None for key in needed) or names != VARIED_PARAMETERS:
        return None
    settings = RunSettings(box_mpc_h=float(layout["box_mpc_h"]), grid=int(layout["grid"]), steps=int(layout["steps"]),
                           redshift=float(layout["redshift"]), z_init=float(layout.get("z_init", 19.0)),
                           mesh_factor=int(layout.get("mesh_factor", 2)), lpt_order=int(layout.get("lpt_order", 2)),
                           n_maps=int(layout["maps_per_run"]), map_size=int(layout["map_size"]),
                           transfer=str(layout.get("transfer", "eisenstein-hu")), keep_density=False)
    fixed = {key: float(layout[key]) for key in ("omega_b", "h", "n_s") if layout.get(key) is not None}
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def simulate(conditions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        conditions = np.atleast_2d(np.asarray(conditions, dtype=np.float64))
        maps = []
        for start in range(0, len(conditions), settings.n_maps):
            cosmology = Cosmology(**dict(zip(VARIED_PARAMETERS, conditions[start])), **fixed)
            seed = int(rng.integers(0, 2**31 - 1))
            maps.append(run_nbody(cosmology, settings, seed, device).maps)
        return np.concatenate(maps)[:len(conditions)]

    fiducial = Cosmology()
    name = (f"particle-mesh N-body, {settings.grid}^3 particles, {settings.steps} steps, "
            f"{settings.n_maps} maps of {settings.pixels}^2 per box, on {device}")
    return ReferenceSimulator(name, simulate, [("fiducial", np.array([fiducial.omega_m, fiducial.sigma8]))],
                              events_per_call=settings.n_maps)
