"""Reference electromagnetic-shower Monte Carlo, standing in for Geant4 (see docs/simulator.md).

``simulate_showers`` splits the requested showers into batches of bounded total energy, transports
each batch with :class:`~surrogate.calorimeter.shower.transport.ShowerTransport`, optionally in worker
processes, and applies the geometry's readout. Each batch draws from its own generator seeded from
``rng``, so the output depends only on the seed and the energies, not on the number of workers.
"""
from __future__ import annotations

import numpy as np

from surrogate.calorimeter.geometry import Geometry
from surrogate.calorimeter.shower.cuts import TrackingCuts
from surrogate.calorimeter.shower.deposits import read_out
from surrogate.calorimeter.shower.medium import SlabMedium
from surrogate.calorimeter.shower.tables import build_tables
from surrogate.calorimeter.shower.transport import PARTICLES, ShowerTransport
from surrogate.errors import SurrogateError

__all__ = ["PARTICLES", "TrackingCuts", "simulate_showers"]

_BATCH_ENERGY_MEV = 2.0e6  # showers per batch are added until their energies reach this sum...
_BATCH_MAX_SHOWERS = 256  # ...or this count


def simulate_showers(geometry: Geometry, particle: str, energies_mev: np.ndarray,
                     rng: np.random.Generator, progress: bool = False, *, workers: int = 1,
                     cuts: TrackingCuts | None = None) -> np.ndarray:
    """(N, geometry.n_values) float32 cell energies in MeV, one shower per incident energy.

    particle: "e-", "e+" or "gamma", entering at x = y = 0, z = 0 along +z with the given kinetic
    energy (MeV). Geometries with a sampling fraction record active-layer energy, zeroed per cell
    below ``voxel_threshold_mev`` and divided by the sampling fraction; the others record the total
    deposit. workers: processes to spread the batches over (the result does not depend on it).
    cuts: tracking cuts and step limits (defaults: :class:`TrackingCuts`).
    """
    energies = _check(geometry, particle, energies_mev, workers)
    cuts = cuts or TrackingCuts()
    batches = _batches(energies)
    seeds = rng.integers(0, 2**63 - 1, size=len(batches))
    raw = np.zeros((energies.size, geometry.n_values))
    from tqdm.auto import tqdm

    with tqdm(total=energies.size, unit="shower", disable=not progress, desc=f"{geometry.name} {particle}") as bar:
        for batch, cells in _run_all(geometry, particle, cuts, energies, batches, seeds, workers):
            raw[batch] = cells
            bar.update(len(batch))
    return read_out(geometry, raw)


def _check(geometry: Geometry, particle: str, energies_mev: np.ndarray, workers: int) -> np.ndarray:
    if particle not in PARTICLES:
        raise SurrogateError(f"unknown particle {particle!r}; the simulator knows {', '.join(PARTICLES)}")
    energies = np.asarray(energies_mev, dtype=np.float64)
    if energies.ndim != 1:
        raise SurrogateError(f"incident energies must be a 1-D array, got shape {energies.shape}")
    if not np.all(np.isfinite(energies)) or np.any(energies <= 0):
        raise SurrogateError("incident energies must be finite and positive (MeV)")
    if int(workers) < 1:
        raise SurrogateError(f"workers must be at least 1, got {workers}")
    if not geometry.stack or geometry.n_periods < 1:
        raise SurrogateError(f"geometry {geometry.name!r} has no material stack to simulate")
    return energies


def _batches(energies: np.ndarray) -> list[np.ndarray]:
    """Consecutive index ranges whose summed energy stays near ``_BATCH_ENERGY_MEV``."""
    batches, start, total = [], 0, 0.0
    for i, energy in enumerate(energies):
        if i > start and (total + energy > _BATCH_ENERGY_MEV or i - start >= _BATCH_MAX_SHOWERS):
            batches.append(np.arange(start, i))
            start, total = i, 0.0
        total += energy
    if start < energies.size:
        batches.append(np.arange(start, energies.size))
    return batches


def _transport_batch(geometry: Geometry, particle: str, cuts: TrackingCuts, energies: np.ndarray,
                     seed: int) -> np.ndarray:
    """Raw active-slab cell energies of one batch (runs in a worker process when workers > 1)."""
    tally = ShowerTransport(geometry, cuts).run(particle, energies, np.random.default_rng(seed))
    return tally.cells


def _run_all(geometry, particle, cuts, energies, batches, seeds, workers):
    """Yield (indices, raw cells) per batch, in completion order."""
    if workers == 1 or len(batches) == 1:
        for batch, seed in zip(batches, seeds):
            yield batch, _transport_batch(geometry, particle, cuts, energies[batch], int(seed))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork where available: workers inherit the built tables and never re-run the caller's __main__
    # (spawn would, e.g. the whole CLI under ``python -m surrogate``); spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    build_tables(SlabMedium.from_geometry(geometry).materials)
    with ProcessPoolExecutor(max_workers=int(workers), mp_context=context) as pool:
        futures = {pool.submit(_transport_batch, geometry, particle, cuts, energies[batch], int(seed)): batch
                   for batch, seed in zip(batches, seeds)}
        for future in as_completed(futures):
            yield futures[future], future.result()
