"""Per-material lookup tables built once per simulation: attenuation, stopping power, pair sampling.

Transport needs these quantities for millions of particles per batch, so they are tabulated on a
logarithmic energy grid and interpolated linearly in ln E (a gather and a multiply-add per value).
Lengths in mm, energies in MeV.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from surrogate.calorimeter.materials import Material
from surrogate.calorimeter.shower import crosssections as xs

_LN_E_MIN = math.log(1e-3)  # 1 keV
#: Upper end of every table, so the highest energy the simulator is valid at (10 TeV).
MAX_ENERGY_MEV = 1e7
_LN_E_MAX = math.log(MAX_ENERGY_MEV)
_POINTS_PER_DECADE = 40
_PAIR_ENERGIES = 96  # photon energies of the pair-sampling table
_PAIR_QUANTILES = 129  # quantiles per energy
_NORMALISATION_MEV = 1e5  # energy at which pair production is tied to 7 / (9 X0)

PHOTO, COMPTON, PAIR = 0, 1, 2


@dataclass(frozen=True)
class LogGrid:
    """A uniform grid in ln(E); ``locate`` gives the lower node and the weight of the upper one."""

    ln_min: float
    ln_max: float
    size: int

    @property
    def energies_mev(self) -> np.ndarray:
        return np.exp(np.linspace(self.ln_min, self.ln_max, self.size))

    def locate(self, energy_mev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = (self.ln_max - self.ln_min) / (self.size - 1)
        position = (np.log(np.maximum(energy_mev, 1e-300)) - self.ln_min) / step
        position = np.clip(position, 0.0, self.size - 1.000001)
        index = position.astype(np.intp)
        return index, position - index


def _default_grid() -> LogGrid:
    decades = (_LN_E_MAX - _LN_E_MIN) / math.log(10)
    return LogGrid(_LN_E_MIN, _LN_E_MAX, round(decades * _POINTS_PER_DECADE) + 1)


@dataclass(frozen=True)
class MaterialTables:
    """Everything transport looks up, for the materials of one stack (indexed as in ``materials``).

    photon_mu_per_mm: (n_materials, 3, n_grid) photoelectric, Compton, pair attenuation.
    dedx_mev_per_mm: (n_materials, 2, n_grid) collision stopping power of electrons [0] and positrons [1].
    range_mm: (n_materials, 2, n_grid) path length to stop by collision loss alone (an upper bound).
    annihilation_mm2: (n_grid,) Heitler cross section per electron (positron kinetic energy grid).
    pair_quantiles: (n_materials, _PAIR_ENERGIES, _PAIR_QUANTILES) of (eps - eps0) / (1/2 - eps0).
    """

    materials: tuple[Material, ...]
    grid: LogGrid
    photon_mu_per_mm: np.ndarray
    dedx_mev_per_mm: np.ndarray
    range_mm: np.ndarray
    annihilation_mm2: np.ndarray
    electrons_per_mm3: np.ndarray
    x0_mm: np.ndarray
    pair_grid: LogGrid
    pair_quantiles: np.ndarray

    def interpolate(self, table: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Linear interpolation along the last axis of ``table`` (leading axes broadcast)."""
        return table[..., index] * (1 - weight) + table[..., index + 1] * weight


def _photon_coefficients(material: Material, energies_mev: np.ndarray) -> np.ndarray:
    """(3, n) attenuation in 1/mm: photoelectric, Compton (free electrons), pairs (tied to X0)."""
    per_cm_per_density = np.zeros((3, energies_mev.size))
    pair_at_norm = 0.0
    for element, fraction in material.composition:
        atoms = fraction * xs.atoms_per_gram(element)
        per_cm_per_density[PHOTO] += fraction * xs.photoelectric_mass_coefficient(element, energies_mev)
        per_cm_per_density[COMPTON] += atoms * element.z * xs.klein_nishina_per_electron(energies_mev)
        per_cm_per_density[PAIR] += atoms * np.array([xs.pair_per_atom(element, e) for e in energies_mev])
        pair_at_norm += atoms * xs.pair_per_atom(element, _NORMALISATION_MEV)
    per_cm_per_density[PAIR] *= (7.0 / 9.0 / material.x0_g_cm2) / pair_at_norm
    return per_cm_per_density * material.density_g_cm3 / 10.0


def _pair_quantiles(material: Material, grid: LogGrid) -> np.ndarray:
    """Inverse CDF of the electron's energy fraction on [eps0, 1/2], normalised to [0, 1]."""
    u = np.linspace(0.0, 1.0, _PAIR_QUANTILES)
    x = np.linspace(0.0, 1.0, 513)
    out = np.empty((grid.size, u.size))
    for i, photon_mev in enumerate(grid.energies_mev):
        eps0 = xs.ELECTRON_MASS_MEV / photon_mev
        eps = eps0 + x * (0.5 - eps0)
        density = sum(fraction / element.a_g_mol * xs.pair_dsigma_deps(element, photon_mev, eps)
                      for element, fraction in material.composition)
        if not np.any(density > 0):
            density = np.ones_like(eps)  # at threshold the split is flat
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
        cdf /= cdf[-1]
        out[i] = np.interp(u, cdf, x)
    return out


def _ranges(energies_mev: np.ndarray, dedx_mev_per_mm: np.ndarray) -> np.ndarray:
    """Integral of dT / (dE/dx) from zero (taking the first node's range as T / (dE/dx)) to each node."""
    inverse = 1.0 / dedx_mev_per_mm
    first = energies_mev[0] * inverse[..., :1]
    steps = 0.5 * (inverse[..., 1:] + inverse[..., :-1]) * np.diff(energies_mev)
    return np.concatenate([first, first + np.cumsum(steps, axis=-1)], axis=-1)


@lru_cache(maxsize=8)
def build_tables(materials: tuple[Material, ...]) -> MaterialTables:
    """Tabulate the stack's materials (cached: the same stack is built once per process)."""
    grid = _default_grid()
    energies = grid.energies_mev
    pair_grid = LogGrid(math.log(2.0 * xs.ELECTRON_MASS_MEV * 1.001), _LN_E_MAX, _PAIR_ENERGIES)
    photon = np.stack([_photon_coefficients(m, energies) for m in materials])
    dedx = np.stack([
        np.stack([xs.collision_stopping_power(m, energies, positron=p) for p in (False, True)])
        * m.density_g_cm3 / 10.0
        for m in materials
    ])
    electrons = np.array([m.z_over_a * xs.AVOGADRO * m.density_g_cm3 * 1e-3 for m in materials])
    return MaterialTables(
        materials=materials, grid=grid, photon_mu_per_mm=photon, dedx_mev_per_mm=dedx,
        range_mm=_ranges(energies, dedx),
        annihilation_mm2=xs.annihilation_per_electron(energies) * 100.0,
        electrons_per_mm3=electrons, x0_mm=np.array([m.x0_mm for m in materials]),
        pair_grid=pair_grid, pair_quantiles=np.stack([_pair_quantiles(m, pair_grid) for m in materials]),
    )
