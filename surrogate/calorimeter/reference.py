"""The built-in shower simulator as the benchmark's reference (see surrogate.core.benchmark)."""
from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.core.domain import ReferenceSimulator

#: Incident energies (MeV) at which the simulator's seconds per shower are measured.
TIMING_POINTS_MEV = (1_000.0, 10_000.0, 100_000.0)

#: Particle names found in layouts (CaloChallenge binning names included) -> the simulator's names.
_PARTICLES = {"e-": "e-", "electron": "e-", "e+": "e+", "positron": "e+", "gamma": "gamma", "photon": "gamma"}


def reference_simulator(layout: dict[str, Any]) -> ReferenceSimulator | None:
    """The shower Monte Carlo for a simulated geometry (ds2, calogan) and an e.m. particle; None otherwise."""
    from surrogate.calorimeter.geometry import GEOMETRIES
    from surrogate.calorimeter.shower import simulate_showers

    geometry = GEOMETRIES.get(layout.get("geometry") or "")
    particle = _PARTICLES.get(layout.get("particle") or "e-")
    if geometry is None or particle is None:
        return None

    def simulate(conditions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return simulate_showers(geometry, particle, conditions[:, 0], rng)

    points = [(f"{energy / 1000:g} GeV", np.array([energy])) for energy in TIMING_POINTS_MEV]
    return ReferenceSimulator(f"surrogate shower Monte Carlo ({geometry.name}, {particle}, numpy, 1 process)",
                              simulate, points)
