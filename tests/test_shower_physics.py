"""Electromagnetic shower physics of the reference simulator in the ds2 W/Si stack (fixed seeds).

Longitudinal depths are in units of the stack's effective X0, energies scaled by its critical energy,
lateral containment by its Moliere radius (surrogate.calorimeter.materials.effective). The shower
maximum is the mode of a gamma distribution fitted to the mean visible longitudinal profile
(surrogate.calorimeter.shower.shape).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.materials import effective
from surrogate.calorimeter.shower import TrackingCuts, shape
from surrogate.calorimeter.shower.deposits import read_out
from surrogate.calorimeter.shower.transport import ShowerTransport

DS2 = get_geometry("ds2")
STACK = effective(DS2)
RUNS = {  # (particle, energy in GeV): showers
    ("e-", 10): 200, ("e-", 100): 40, ("gamma", 10): 100, ("gamma", 100): 20,
}


@pytest.fixture(scope="module")
def showers():
    transport = ShowerTransport(DS2, TrackingCuts())
    out = {}
    for seed, ((particle, energy_gev), n) in enumerate(sorted(RUNS.items())):
        energies = np.full(n, energy_gev * 1e3)
        out[particle, energy_gev] = (energies, transport.run(particle, energies, np.random.default_rng(100 + seed)))
    return out


def shower_maximum_x0(tally) -> float:
    return shape.shower_maximum_x0(DS2, tally.cells)


def containment_in_moliere_radius(tally) -> float:
    """Visible energy inside r = R_M over all visible energy (also outside the cells)."""
    return shape.containment(DS2, tally.cells, tally.visible)


def recorded_fraction(energies, tally) -> np.ndarray:
    return read_out(DS2, tally.cells).sum(axis=1, dtype=np.float64) / energies


@pytest.mark.parametrize("energy_gev", [10, 100])
def test_electron_shower_maximum_follows_rossi(showers, energy_gev):
    expected = math.log(energy_gev * 1e3 / STACK.critical_energy_mev) - 0.5
    assert shower_maximum_x0(showers["e-", energy_gev][1]) == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("energy_gev", [10, 100])
def test_photon_showers_peak_about_one_x0_deeper(showers, energy_gev):
    shift = shower_maximum_x0(showers["gamma", energy_gev][1]) - shower_maximum_x0(showers["e-", energy_gev][1])
    assert 0.5 < shift < 1.5


@pytest.mark.parametrize("particle", ["e-", "gamma"])
def test_maximum_moves_by_ln10_per_decade(showers, particle):
    shift = shower_maximum_x0(showers[particle, 100][1]) - shower_maximum_x0(showers[particle, 10][1])
    assert shift == pytest.approx(math.log(10), rel=0.25)


@pytest.mark.parametrize("energy_gev", [10, 100])
def test_about_ninety_percent_within_one_moliere_radius(showers, energy_gev):
    assert 0.80 < containment_in_moliere_radius(showers["e-", energy_gev][1]) < 0.95


def test_response_is_linear(showers):
    low, high = (recorded_fraction(*showers["e-", e]).mean() for e in (10, 100))
    assert low / high == pytest.approx(1.0, abs=0.03)
    assert high == pytest.approx(1.0, abs=0.05)  # the sampling fraction in the geometry calibrates it


def test_resolution_scales_like_inverse_square_root(showers):
    low, high = (recorded_fraction(*showers["e-", e]) for e in (10, 100))
    ratio = (low.std() / low.mean()) / (high.std() / high.mean())
    assert 2.2 < ratio < 4.0


def test_energy_leaking_out_is_small(showers):
    energies, tally = showers["e-", 100]
    assert np.mean(tally.escaped / energies) < 0.01
