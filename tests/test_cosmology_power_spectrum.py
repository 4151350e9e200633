"""Linear theory: growth factors against their integral solution, sigma_8 normalisation, EH98 shape."""
import importlib.util
import math

import numpy as np
import pytest
from scipy.integrate import quad

from surrogate.cosmology.power_spectrum import Cosmology, GrowthHistory, LinearPower, sigma_r
from surrogate.errors import SurrogateError


def growth_integral(cosmology: Cosmology, a: float) -> float:
    """D1 for flat LCDM without radiation: (5/2) Om E(a) int_0^a da' / (a' E(a'))^3, up to normalisation."""
    def e(x):
        return math.sqrt(cosmology.omega_m / x**3 + 1.0 - cosmology.omega_m)

    return 2.5 * cosmology.omega_m * e(a) * quad(lambda x: 1.0 / (x * e(x)) ** 3, 0.0, a, epsabs=0, epsrel=1e-11)[0]


@pytest.mark.parametrize("omega_m", [0.2, 0.3175, 0.45])
def test_linear_growth_matches_the_integral_solution(omega_m):
    cosmology = Cosmology(omega_m=omega_m)
    growth = GrowthHistory(cosmology)
    today = growth_integral(cosmology, 1.0)
    for a in (0.02, 0.1, 0.33, 0.7):
        assert growth.d1(a) == pytest.approx(growth_integral(cosmology, a) / today, rel=1e-6)
    assert growth.d1(1.0) == pytest.approx(1.0, rel=1e-12)
    # f = dlnD/dlna of the integral solution: -3/2 Omega_m(a) + 1 / (a^2 E^3 int_0^a da'/(a'E)^3)
    e_today = math.sqrt(omega_m / 0.5**3 + 1.0 - omega_m)
    exact_rate = -1.5 * omega_m / 0.5**3 / e_today**2 + 2.5 * omega_m / (
        0.5**2 * e_today**2 * growth_integral(cosmology, 0.5))
    assert growth.f1(0.5) == pytest.approx(exact_rate, rel=1e-6)


def test_second_order_growth_is_minus_three_sevenths_early_and_close_to_it_today():
    growth = GrowthHistory(Cosmology())
    early = 0.01
    assert growth.d2(early) / growth.d1(early) ** 2 == pytest.approx(-3.0 / 7.0, rel=1e-4)
    # Bouchet et al. 1995: D2 ~ -3/7 D1^2 Omega_m^(-1/143)
    assert growth.d2(1.0) == pytest.approx(-3.0 / 7.0 * 0.3175 ** (-1.0 / 143.0), rel=5e-3)
    assert growth.f2(0.05) == pytest.approx(2.0, rel=1e-3)


def test_power_spectrum_is_normalised_to_sigma8_by_an_independent_integral():
    for sigma8 in (0.6, 0.834):
        power = LinearPower(Cosmology(sigma8=sigma8))

        def integrand(ln_k, power=power):
            k = math.exp(ln_k)
            x = 8.0 * k
            window = 3.0 * (math.sin(x) - x * math.cos(x)) / x**3
            return k**3 * float(power(np.array([k]))[0]) * window**2 / (2.0 * math.pi**2)

        variance = quad(integrand, math.log(1e-4), math.log(50.0), limit=400, epsrel=1e-7)[0]
        assert math.sqrt(variance) == pytest.approx(sigma8, rel=1e-3)


def test_power_scales_with_growth_squared_and_vanishes_at_k_zero():
    power = LinearPower(Cosmology())
    k = np.array([0.0, 0.01, 0.1, 1.0])
    ratio = power(k[1:], redshift=1.0) / power(k[1:])
    assert np.allclose(ratio, float(power.growth.d1(0.5)) ** 2, rtol=1e-12)
    assert power(k)[0] == 0.0
    assert sigma_r(power, 8.0) == pytest.approx(0.834, rel=1e-6)


def test_eisenstein_hu_has_baryon_wiggles():
    """ln P minus a smooth fit oscillates around zero between 0.03 and 0.4 h/Mpc (the BAO)."""
    power = LinearPower(Cosmology())
    k = np.geomspace(0.03, 0.4, 400)
    ln_p = np.log(power(k))
    smooth = np.polyval(np.polyfit(np.log(k), ln_p, 5), np.log(k))
    wiggle = ln_p - smooth
    crossings = np.count_nonzero(np.diff(np.sign(wiggle)) != 0)
    assert crossings >= 5
    assert 0.01 < np.abs(wiggle).max() < 0.1


@pytest.mark.skipif(importlib.util.find_spec("camb") is None, reason="camb not installed")
def test_eisenstein_hu_agrees_with_camb_within_the_published_accuracy():
    cosmology = Cosmology()
    k = np.geomspace(1e-3, 5.0, 60)
    ratio = LinearPower(cosmology)(k) / LinearPower(cosmology, transfer="camb")(k)
    assert np.all(ratio > 0.96) and np.all(ratio < 1.045)


def test_bad_cosmology_and_transfer_are_user_errors():
    with pytest.raises(SurrogateError):
        Cosmology(omega_m=0.03, omega_b=0.049)
    with pytest.raises(SurrogateError):
        LinearPower(Cosmology(), transfer="bbks")
