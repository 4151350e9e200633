"""Vectorised random samplers of the secondary energies and angles of each process.

Each sampler draws for a whole array of particles at once; rejection loops redraw only the rejected
entries. Energies in MeV, ``k`` = photon energy / electron mass.
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.calorimeter.shower.crosssections import ELECTRON_MASS_MEV
from surrogate.calorimeter.shower.tables import MaterialTables

HIGHLAND_MEV = 13.6


def rotate(u: np.ndarray, v: np.ndarray, w: np.ndarray, cos_t: np.ndarray, sin_t: np.ndarray,
           phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn unit vectors (u, v, w) by polar angle t about themselves, at azimuth ``phi``."""
    cos_p, sin_p = np.cos(phi), np.sin(phi)
    perp = np.sqrt(np.maximum(1.0 - w * w, 0.0))
    along_z = perp < 1e-10
    safe = np.where(along_z, 1.0, perp)
    u2 = u * cos_t + sin_t * (u * w * cos_p - v * sin_p) / safe
    v2 = v * cos_t + sin_t * (v * w * cos_p + u * sin_p) / safe
    w2 = w * cos_t - sin_t * cos_p * perp
    u2 = np.where(along_z, sin_t * cos_p, u2)
    v2 = np.where(along_z, sin_t * sin_p, v2)
    w2 = np.where(along_z, cos_t * np.where(w < 0, -1.0, 1.0), w2)
    norm = np.sqrt(u2 * u2 + v2 * v2 + w2 * w2)
    return u2 / norm, v2 / norm, w2 / norm


def isotropic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniformly distributed unit vectors."""
    w = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * math.pi, n)
    s = np.sqrt(1 - w * w)
    return s * np.cos(phi), s * np.sin(phi), w


def klein_nishina(rng: np.random.Generator, k: np.ndarray) -> np.ndarray:
    """Scattered-photon energy fraction eps = E'/E from the Klein-Nishina formula.

    Butcher-Messel: eps is drawn from 1/eps or eps (in proportion to their integrals over
    [1/(1+2k), 1]), then accepted with 1 - eps sin^2(theta) / (1 + eps^2).
    """
    eps0 = 1.0 / (1.0 + 2.0 * k)
    alpha1 = -np.log(eps0)
    alpha2 = 0.5 * (1.0 - eps0**2)
    out = np.empty_like(k)
    pending = np.arange(k.size)
    while pending.size:
        e0, a1, a2, kk = eps0[pending], alpha1[pending], alpha2[pending], k[pending]
        r = rng.random((3, pending.size))
        eps = np.where(r[0] * (a1 + a2) < a1, np.exp(-a1 * r[1]), np.sqrt(e0**2 + (1 - e0**2) * r[1]))
        t = (1 - eps) / (kk * eps)
        sin2 = np.maximum(t * (2 - t), 0.0)
        accept = r[2] <= 1 - eps * sin2 / (1 + eps**2)
        out[pending[accept]] = eps[accept]
        pending = pending[~accept]
    return out


def brems_fraction(rng: np.random.Generator, y_cut: np.ndarray, y_max: np.ndarray) -> np.ndarray:
    """Photon energy / electron total energy from the complete-screening Bethe-Heitler spectrum.

    dN/dy ~ (4/3 - 4/3 y + y^2) / y on [y_cut, y_max]: y from 1/y, accepted with 1 - y + 3/4 y^2.
    """
    out = np.empty_like(y_cut)
    pending = np.arange(y_cut.size)
    log_ratio = np.log(y_max / y_cut)
    while pending.size:
        r = rng.random((2, pending.size))
        y = y_cut[pending] * np.exp(r[0] * log_ratio[pending])
        accept = r[1] <= 1 - y + 0.75 * y * y
        out[pending[accept]] = y[accept]
        pending = pending[~accept]
    return out


def pair_fraction(rng: np.random.Generator, tables: MaterialTables, material: np.ndarray,
                  photon_mev: np.ndarray) -> np.ndarray:
    """Electron total energy / photon energy in a Bethe-Heitler pair, from the tabulated inverse CDF."""
    index, weight = tables.pair_grid.locate(photon_mev)
    u = rng.random(photon_mev.size) * (tables.pair_quantiles.shape[2] - 1)
    q = np.minimum(u.astype(np.intp), tables.pair_quantiles.shape[2] - 2)
    fq = u - q
    table = tables.pair_quantiles

    def at(e_index):
        return table[material, e_index, q] * (1 - fq) + table[material, e_index, q + 1] * fq

    x = at(index) * (1 - weight) + at(index + 1) * weight
    eps0 = ELECTRON_MASS_MEV / photon_mev
    eps = eps0 + x * (0.5 - eps0)
    return np.where(rng.random(photon_mev.size) < 0.5, eps, 1.0 - eps)


def annihilation_fraction(rng: np.random.Generator, gamma: np.ndarray) -> np.ndarray:
    """Energy share of the first photon of a positron annihilating in flight (Heitler's spectrum).

    eps from 1/eps on [eps_min, 1 - eps_min], accepted with 1 - eps + (2 gamma eps - 1) / (eps (gamma+1)^2).
    """
    eps_min = 0.5 * (1 - np.sqrt((gamma - 1) / (gamma + 1)))
    log_ratio = np.log((1 - eps_min) / eps_min)
    out = np.empty_like(gamma)
    pending = np.arange(gamma.size)
    while pending.size:
        r = rng.random((2, pending.size))
        g = gamma[pending]
        eps = eps_min[pending] * np.exp(r[0] * log_ratio[pending])
        accept = r[1] <= 1 - eps + (2 * g * eps - 1) / (eps * (g + 1) ** 2)
        out[pending[accept]] = eps[accept]
        pending = pending[~accept]
    return out


def highland_theta0(kinetic_mev: np.ndarray, path_over_x0: np.ndarray) -> np.ndarray:
    """Width of the projected multiple-scattering angle (rad), Highland's formula for unit charge.

    The logarithmic term is evaluated no lower than 1e-3 X0, the bottom of the formula's range.
    """
    total = kinetic_mev + ELECTRON_MASS_MEV
    p = np.sqrt(kinetic_mev * (kinetic_mev + 2 * ELECTRON_MASS_MEV))
    beta = p / total
    x = np.maximum(path_over_x0, 1e-3)
    return HIGHLAND_MEV / (beta * p) * np.sqrt(path_over_x0) * (1 + 0.038 * np.log(x / beta**2))
