"""Cross sections and samplers of the shower simulator against analytic values and reference data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from surrogate.calorimeter.materials import Element, Material, get_material
from surrogate.calorimeter.shower import crosssections as xs
from surrogate.calorimeter.shower import samplers
from surrogate.calorimeter.shower.tables import PAIR, build_tables

ME = xs.ELECTRON_MASS_MEV


def _klein_nishina_shape(eps: float, k: float) -> float:
    """dsigma/d(eps) of Compton scattering up to a constant, eps = E'/E."""
    t = (1 - eps) / (k * eps)
    return (1 / eps + eps) * (1 - eps * t * (2 - t) / (1 + eps**2))


@pytest.mark.parametrize("k", [0.2, 1.0, 10.0])
def test_klein_nishina_total_matches_integral_over_angles(k):
    def dsigma_dcos(c):
        p = 1 / (1 + k * (1 - c))
        return math.pi * xs.CLASSICAL_RADIUS_CM**2 * p**2 * (p + 1 / p - (1 - c * c))

    expected = quad(dsigma_dcos, -1, 1)[0]
    assert xs.klein_nishina_per_electron(np.array([k * ME]))[0] == pytest.approx(expected, rel=1e-6)


def test_klein_nishina_tends_to_thomson():
    assert xs.klein_nishina_per_electron(np.array([1e-4]))[0] == pytest.approx(xs.THOMSON_CM2, rel=1e-3)


@pytest.mark.parametrize("k", [0.3, 2.0, 20.0])
def test_klein_nishina_sampler_mean_energy(k):
    lo = 1 / (1 + 2 * k)
    norm = quad(_klein_nishina_shape, lo, 1, args=(k,))[0]
    mean = quad(lambda e: e * _klein_nishina_shape(e, k), lo, 1)[0] / norm
    eps = samplers.klein_nishina(np.random.default_rng(1), np.full(200_000, k))
    assert eps.min() >= lo and eps.max() <= 1
    assert eps.mean() == pytest.approx(mean, abs=0.003)


def test_bremsstrahlung_spectrum_shape():
    y_cut, y_max = 0.01, 0.98
    shape = lambda y: (4 / 3 - 4 / 3 * y + y * y) / y
    norm = quad(shape, y_cut, y_max)[0]
    y = samplers.brems_fraction(np.random.default_rng(2), np.full(200_000, y_cut), np.full(200_000, y_max))
    assert y.min() >= y_cut and y.max() <= y_max
    assert y.mean() == pytest.approx(quad(lambda v: v * shape(v), y_cut, y_max)[0] / norm, rel=0.01)
    # probability above y = 0.5 (the hard tail that drives the shower)
    assert (y > 0.5).mean() == pytest.approx(quad(shape, 0.5, y_max)[0] / norm, abs=0.003)


def test_pair_split_at_high_energy_follows_complete_screening():
    tables = build_tables((get_material("W"),))
    eps = samplers.pair_fraction(np.random.default_rng(3), tables, np.zeros(100_000, dtype=np.intp),
                                 np.full(100_000, 1e5))
    # complete screening: dsigma/deps ~ 1 - 4/3 eps (1 - eps), so E[eps (1 - eps)] = 11/70
    assert (eps * (1 - eps)).mean() == pytest.approx(11 / 70, abs=0.004)
    assert eps.mean() == pytest.approx(0.5, abs=0.005)


def test_pair_split_near_threshold_stays_physical():
    tables = build_tables((get_material("Pb"),))
    photon = np.full(50_000, 3.0)
    eps = samplers.pair_fraction(np.random.default_rng(4), tables, np.zeros(photon.size, dtype=np.intp), photon)
    assert eps.min() >= ME / 3.0 - 1e-12 and eps.max() <= 1 - ME / 3.0 + 1e-12


def test_pair_attenuation_is_tied_to_the_radiation_length():
    for name in ("W", "Si", "Pb", "LAr"):
        material = get_material(name)
        tables = build_tables((material,))
        index, weight = tables.grid.locate(np.array([1e5]))
        mu = tables.interpolate(tables.photon_mu_per_mm[0, PAIR], index, weight)[0]
        assert mu == pytest.approx(7 / 9 / material.x0_mm, rel=0.01)
        # and falls towards threshold
        index, weight = tables.grid.locate(np.array([5.0]))
        assert tables.interpolate(tables.photon_mu_per_mm[0, PAIR], index, weight)[0] < 0.5 * mu


def test_photoelectric_dominates_in_tungsten_only_at_low_energy():
    tungsten = get_material("W")
    element = tungsten.composition[0][0]
    energies = np.array([0.1, 2.0])
    photo = xs.photoelectric_mass_coefficient(element, energies)
    compton = xs.atoms_per_gram(element) * element.z * xs.klein_nishina_per_electron(energies)
    assert photo[0] > 10 * compton[0]
    assert photo[1] < 0.1 * compton[1]


def test_annihilation_sampler_matches_heitler_spectrum():
    gamma = 1 + 20.0 / ME
    eps_min = 0.5 * (1 - math.sqrt((gamma - 1) / (gamma + 1)))

    def heitler(e):
        return (gamma + 1) ** 2 / e * (1 - e + (2 * gamma * e - 1) / (e * (gamma + 1) ** 2))

    acceptance = np.linspace(eps_min, 1 - eps_min, 10_001)
    g = 1 - acceptance + (2 * gamma * acceptance - 1) / (acceptance * (gamma + 1) ** 2)
    assert g.max() <= 1.0 and g.min() >= 0.0  # a valid rejection function
    norm = quad(heitler, eps_min, 1 - eps_min, limit=200)[0]
    mean = quad(lambda e: e * (1 - e) * heitler(e), eps_min, 1 - eps_min, limit=200)[0] / norm
    eps = samplers.annihilation_fraction(np.random.default_rng(5), np.full(100_000, gamma))
    assert (eps * (1 - eps)).mean() == pytest.approx(mean, rel=0.02)


def test_collision_stopping_power_of_water_matches_estar():
    water = Material("water", ((Element("H", 1, 1.008), 0.111894), (Element("O", 8, 15.999), 0.888106)),
                     density_g_cm3=1.0, x0_g_cm2=36.08, critical_energy_mev=78.33, dedx_min_mev_cm2_g=1.992,
                     moliere_radius_g_cm2=9.77, mean_excitation_ev=75.0)
    computed = xs.collision_stopping_power(water, np.array([0.01, 0.1, 1.0]), positron=False)
    assert computed == pytest.approx([22.56, 4.115, 1.849], rel=0.01)  # NIST ESTAR, MeV cm^2/g


@pytest.mark.parametrize("name", ["W", "Si", "Pb", "LAr"])
def test_electron_stopping_minimum_sits_just_below_the_muon_value(name):
    material = get_material(name)
    minimum = xs.collision_stopping_power(material, np.logspace(-1, 2, 300), positron=False).min()
    # electrons share energy with identical particles, so their minimum is ~10% below the PDG (muon) value
    assert 0.85 < minimum / material.dedx_min_mev_cm2_g < 0.95


def test_highland_width_known_value():
    theta0 = samplers.highland_theta0(np.array([1000.0 - ME]), np.array([0.1]))[0]
    expected = 13.6 / 1000.0 * math.sqrt(0.1) * (1 + 0.038 * math.log(0.1))
    assert theta0 == pytest.approx(expected, rel=1e-3)


def test_rotate_turns_by_the_requested_angle():
    rng = np.random.default_rng(6)
    u, v, w = samplers.isotropic(rng, 1000)
    w[:3] = [1.0, -1.0, 0.0]  # along and against z, and in the plane
    u[:3], v[:3] = [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]
    theta = rng.uniform(0, math.pi, 1000)
    u2, v2, w2 = samplers.rotate(u, v, w, np.cos(theta), np.sin(theta), rng.uniform(0, 2 * math.pi, 1000))
    assert np.allclose(u2**2 + v2**2 + w2**2, 1.0)
    assert np.allclose(u * u2 + v * v2 + w * w2, np.cos(theta), atol=1e-9)
