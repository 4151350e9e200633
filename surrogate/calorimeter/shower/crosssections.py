"""Cross sections and stopping powers of the electromagnetic processes, as plain functions of energy.

Energies in MeV; cross sections per atom or per electron in cm^2; mass coefficients in cm^2/g.
Formulas: Klein-Nishina (Compton); Bethe-Heitler with the Butcher-Messel screening functions and the
Davies-Bethe-Maximon Coulomb correction phased in above 5 MeV (pairs); Heitler (positron annihilation in
flight); Bethe's collision stopping power for electrons and positrons (Rohrlich-Carlson terms) with the
Sternheimer-Peierls density effect. Photoelectric absorption comes from the Elam tables of ``xraydb``.
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.calorimeter.materials import Element, Material

ELECTRON_MASS_MEV = 0.51099895
CLASSICAL_RADIUS_CM = 2.8179403262e-13
AVOGADRO = 6.02214076e23
FINE_STRUCTURE = 1.0 / 137.035999084
THOMSON_CM2 = 8.0 * math.pi / 3.0 * CLASSICAL_RADIUS_CM**2
_LN2 = math.log(2.0)
_PHOTOELECTRIC_TABLE_MAX_MEV = 0.8  # the Elam tables are not trusted above 800 keV


def klein_nishina_per_electron(energy_mev: np.ndarray) -> np.ndarray:
    """Total Compton cross section on a free electron (cm^2)."""
    k = np.asarray(energy_mev, dtype=float) / ELECTRON_MASS_MEV
    log_term = np.log1p(2 * k)
    sigma = 2 * math.pi * CLASSICAL_RADIUS_CM**2 * (
        (1 + k) / k**2 * (2 * (1 + k) / (1 + 2 * k) - log_term / k)
        + log_term / (2 * k) - (1 + 3 * k) / (1 + 2 * k) ** 2
    )
    # below k ~ 1e-3 the closed form loses digits; its low-energy series is exact enough there
    series = THOMSON_CM2 * (1 - 2 * k + 5.2 * k**2)
    return np.where(k < 1e-3, series, sigma)


def coulomb_correction(z: int) -> float:
    """Davies-Bethe-Maximon Coulomb correction f(Z) for pair production and bremsstrahlung."""
    a2 = (FINE_STRUCTURE * z) ** 2
    return a2 * (1 / (1 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)


def _screening(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Butcher-Messel fits to the Thomas-Fermi screening functions Phi1, Phi2 of Bethe-Heitler."""
    small = delta <= 1.0
    far = 21.12 - 4.184 * np.log(delta + 0.952)
    phi1 = np.where(small, 20.867 - 4.209 * delta + 0.952 * delta**2, far)
    phi2 = np.where(small, 20.209 - 1.930 * delta - 0.086 * delta**2, far)
    return phi1, phi2


def _coulomb_weight(photon_mev: float) -> float:
    """Share of the Coulomb correction applied: none at 5 MeV and below, all from 100 MeV, log-linear.

    The Born-approximation correction lowers the cross section for high Z, right at high energy but
    too much near threshold, where the uncorrected Bethe-Heitler formula is the better one.
    """
    return min(max(math.log(photon_mev / 5.0) / math.log(20.0), 0.0), 1.0)


def pair_dsigma_deps(element: Element, photon_mev: float, eps: np.ndarray) -> np.ndarray:
    """Bethe-Heitler dsigma/d(eps) per atom (cm^2), eps = electron total energy / photon energy.

    Includes pair production in the field of the atomic electrons through Z(Z + xi) and is clipped at
    zero where the screening fits turn negative near threshold.
    """
    z = element.z
    fc = coulomb_correction(z) * _coulomb_weight(photon_mev)
    z13 = z ** (1.0 / 3.0)
    xi = math.log(1440.0 / z13**2) / (math.log(183.0 / z13) - fc)
    f_z = 8.0 / 3.0 * math.log(z) + 8.0 * fc
    delta = 136.0 * ELECTRON_MASS_MEV / (z13 * photon_mev * eps * (1 - eps))
    phi1, phi2 = _screening(delta)
    shape = (eps**2 + (1 - eps) ** 2) * (phi1 - f_z / 2) + 2.0 / 3.0 * eps * (1 - eps) * (phi2 - f_z / 2)
    return FINE_STRUCTURE * CLASSICAL_RADIUS_CM**2 * z * (z + xi) * np.clip(shape, 0.0, None)


def pair_per_atom(element: Element, photon_mev: float, n_points: int = 400) -> float:
    """Bethe-Heitler total pair cross section per atom (cm^2), by integrating over the energy split."""
    eps0 = ELECTRON_MASS_MEV / photon_mev
    if eps0 >= 0.5:
        return 0.0
    eps = np.linspace(eps0, 0.5, n_points)
    return 2.0 * float(np.trapezoid(pair_dsigma_deps(element, photon_mev, eps), eps))


def photoelectric_mass_coefficient(element: Element, energy_mev: np.ndarray) -> np.ndarray:
    """Photoelectric mass attenuation (cm^2/g) from the Elam tables; a power law above 800 keV.

    The power law continues the log-log slope between 500 and 800 keV, where absorption is already a
    small part of the total.
    """
    import warnings

    import xraydb

    energy_mev = np.asarray(energy_mev, dtype=float)
    low = np.minimum(energy_mev, _PHOTOELECTRIC_TABLE_MAX_MEV)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu = np.asarray(xraydb.mu_elam(element.symbol, low * 1e6, kind="photo"), dtype=float)
        mu_500, mu_800 = xraydb.mu_elam(element.symbol, np.array([0.5e6, 0.8e6]), kind="photo")
    slope = math.log(mu_800 / mu_500) / math.log(0.8 / 0.5)
    high = energy_mev > _PHOTOELECTRIC_TABLE_MAX_MEV
    return np.where(high, mu_800 * (np.maximum(energy_mev, 1e-30) / _PHOTOELECTRIC_TABLE_MAX_MEV) ** slope, mu)


def annihilation_per_electron(positron_kinetic_mev: np.ndarray) -> np.ndarray:
    """Heitler's cross section for two-photon annihilation of a positron in flight on a free electron (cm^2)."""
    gamma = 1.0 + np.asarray(positron_kinetic_mev, dtype=float) / ELECTRON_MASS_MEV
    root = np.sqrt(np.maximum(gamma**2 - 1, 1e-300))
    return math.pi * CLASSICAL_RADIUS_CM**2 / (gamma + 1) * (
        (gamma**2 + 4 * gamma + 1) / (gamma**2 - 1) * np.log(gamma + root) - (gamma + 3) / root
    )


def density_effect(material: Material, beta_gamma: np.ndarray) -> np.ndarray:
    """Sternheimer-Peierls density-effect correction delta from I and the plasma energy alone."""
    plasma_ev = 28.816 * math.sqrt(material.density_g_cm3 * material.z_over_a)
    c_bar = 2 * math.log(material.mean_excitation_ev / plasma_ev) + 1
    if material.mean_excitation_ev < 100:
        x1, x0 = 2.0, (0.2 if c_bar < 3.681 else 0.326 * c_bar - 1.0)
    else:
        x1, x0 = 3.0, (0.2 if c_bar < 5.215 else 0.326 * c_bar - 1.5)
    a = (c_bar - 2 * math.log(10) * x0) / (x1 - x0) ** 3
    x = np.log10(np.maximum(beta_gamma, 1e-30))
    asymptote = 2 * math.log(10) * x - c_bar
    return np.where(x < x0, 0.0, np.where(x < x1, asymptote + a * (x1 - x) ** 3, asymptote))


def collision_stopping_power(material: Material, kinetic_mev: np.ndarray, positron: bool) -> np.ndarray:
    """Mean collision energy loss of an electron or positron (MeV cm^2/g), delta rays included."""
    tau = np.asarray(kinetic_mev, dtype=float) / ELECTRON_MASS_MEV
    gamma = tau + 1
    beta2 = 1 - 1 / gamma**2
    if positron:
        y = 1 / (tau + 2)
        f = 2 * _LN2 - beta2 / 12 * (23 + 14 * y + 10 * y**2 + 4 * y**3)
    else:
        f = 1 - beta2 + (tau**2 / 8 - (2 * tau + 1) * _LN2) / gamma**2
    i_over_m = material.mean_excitation_ev * 1e-6 / ELECTRON_MASS_MEV
    log_term = np.log(tau**2 * (tau + 2) / (2 * i_over_m**2))
    delta = density_effect(material, np.sqrt(beta2) * gamma)
    k_half = 2 * math.pi * CLASSICAL_RADIUS_CM**2 * ELECTRON_MASS_MEV * AVOGADRO
    return np.maximum(k_half * material.z_over_a / beta2 * (log_term + f - delta), 0.0)


def atoms_per_gram(element: Element) -> float:
    return AVOGADRO / element.a_g_mol
