"""Flat LCDM background, linear growth and the linear matter power spectrum.

Units: wavenumbers k in h/Mpc, power in (Mpc/h)^3, time in 1/H0. The transfer function is the
Eisenstein & Hu (1998) fit with baryon acoustic oscillations, or CAMB's when the ``camb`` package
is installed and asked for. Both are normalised to the cosmology's sigma_8 at z = 0 by the same
top-hat integral, so the two choices differ only in shape. Radiation is neglected in the background
(the simulator starts at z ~ 10-50, where it is below 1%).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from surrogate.errors import SurrogateError

#: Parameters a map data set may vary; their order is the column order of ``parameters`` in files.
VARIED_PARAMETERS = ("omega_m", "sigma8")

_SIGMA8_RADIUS_MPC_H = 8.0


@dataclass(frozen=True)
class Cosmology:
    """A flat LCDM cosmology (Omega_Lambda = 1 - Omega_m); defaults are the Quijote/CAMELS fiducials."""

    omega_m: float = 0.3175
    sigma8: float = 0.834
    omega_b: float = 0.049
    h: float = 0.6711
    n_s: float = 0.9624
    t_cmb_k: float = 2.7255

    def __post_init__(self) -> None:
        if not 0.0 < self.omega_b < self.omega_m <= 1.0:
            raise SurrogateError(f"need 0 < omega_b ({self.omega_b}) < omega_m ({self.omega_m}) <= 1")
        if self.sigma8 <= 0.0 or self.h <= 0.0:
            raise SurrogateError(f"sigma8 ({self.sigma8}) and h ({self.h}) must be positive")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def hubble_e(self, a):
        """E(a) = H(a)/H0."""
        a = np.asarray(a, dtype=np.float64)
        return np.sqrt(self.omega_m / a**3 + 1.0 - self.omega_m)

    def omega_m_at(self, a):
        """Omega_m(a), the matter fraction of the critical density at scale factor a."""
        a = np.asarray(a, dtype=np.float64)
        return self.omega_m / a**3 / self.hubble_e(a) ** 2


class GrowthHistory:
    """First- and second-order growth factors D1, D2 and rates f = dlnD/dlna of a flat LCDM model.

    Solved from the growth ODEs in ln a from deep matter domination (D1 = a, D2 = -3/7 a^2), then
    normalised so that D1(a=1) = 1 and D2 keeps its relation to D1 (D2 ~ -3/7 D1^2). D2 is the
    second-order Lagrangian growth factor used by 2LPT.
    """

    _A_START = 1e-4
    _A_STOP = 1.5

    def __init__(self, cosmology: Cosmology, n_table: int = 2048):
        from scipy.integrate import solve_ivp
        from scipy.interpolate import CubicSpline

        self.cosmology = cosmology
        ln_a = np.linspace(math.log(self._A_START), math.log(self._A_STOP), n_table)

        def rhs(ln_a_now, y):
            a = math.exp(ln_a_now)
            om_a = float(cosmology.omega_m_at(a))
            dlne_dlna = -1.5 * om_a
            d1, d1p, d2, d2p = y
            return [
                d1p,
                -(2.0 + dlne_dlna) * d1p + 1.5 * om_a * d1,
                d2p,
                -(2.0 + dlne_dlna) * d2p + 1.5 * om_a * (d2 - d1 * d1),
            ]

        a0 = self._A_START
        start = [a0, a0, -3.0 / 7.0 * a0**2, -6.0 / 7.0 * a0**2]
        solution = solve_ivp(rhs, (ln_a[0], ln_a[-1]), start, t_eval=ln_a, rtol=1e-10, atol=1e-14,
                             method="DOP853")
        d1, d1p, d2, d2p = solution.y
        norm = CubicSpline(ln_a, d1)(0.0)
        self._d1 = CubicSpline(ln_a, d1 / norm)
        self._f1 = CubicSpline(ln_a, d1p / d1)
        self._d2 = CubicSpline(ln_a, d2 / norm**2)
        self._f2 = CubicSpline(ln_a, d2p / d2)

    def _check(self, a) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        if np.any(a < self._A_START) or np.any(a > self._A_STOP):
            raise SurrogateError(f"scale factor outside [{self._A_START}, {self._A_STOP}]")
        return np.log(a)

    def d1(self, a):
        """Linear growth factor, 1 today."""
        return self._d1(self._check(a))

    def d2(self, a):
        """Second-order growth factor (negative, about -3/7 D1^2)."""
        return self._d2(self._check(a))

    def f1(self, a):
        """dlnD1/dlna."""
        return self._f1(self._check(a))

    def f2(self, a):
        """dlnD2/dlna."""
        return self._f2(self._check(a))

    def momentum_growth(self, a):
        """G_p(a) = a^3 E(a) dD1/da = a^2 E f1 D1: the momentum p = a^2 dx/dt of a linear mode per unit s1."""
        a = np.asarray(a, dtype=np.float64)
        return a**2 * self.cosmology.hubble_e(a) * self.f1(a) * self.d1(a)


def _eisenstein_hu_transfer(k_h_mpc: np.ndarray, cosmology: Cosmology) -> np.ndarray:
    """The EH98 matter transfer function with baryon wiggles (their eqs. 2-24), k in h/Mpc."""
    k = np.asarray(k_h_mpc, dtype=np.float64) * cosmology.h  # 1/Mpc from here on
    h2 = cosmology.h**2
    om_h2 = cosmology.omega_m * h2
    ob_h2 = cosmology.omega_b * h2
    f_b = cosmology.omega_b / cosmology.omega_m
    f_c = 1.0 - f_b
    theta = cosmology.t_cmb_k / 2.7

    z_eq = 2.50e4 * om_h2 * theta**-4
    k_eq = 7.46e-2 * om_h2 * theta**-2
    b1 = 0.313 * om_h2**-0.419 * (1.0 + 0.607 * om_h2**0.674)
    b2 = 0.238 * om_h2**0.223
    z_drag = 1291.0 * om_h2**0.251 / (1.0 + 0.659 * om_h2**0.828) * (1.0 + b1 * ob_h2**b2)
    r_drag = 31.5 * ob_h2 * theta**-4 * (1000.0 / z_drag)
    r_eq = 31.5 * ob_h2 * theta**-4 * (1000.0 / z_eq)
    sound_horizon = (2.0 / (3.0 * k_eq) * math.sqrt(6.0 / r_eq)
                     * math.log((math.sqrt(1.0 + r_drag) + math.sqrt(r_drag + r_eq)) / (1.0 + math.sqrt(r_eq))))
    k_silk = 1.6 * ob_h2**0.52 * om_h2**0.73 * (1.0 + (10.4 * om_h2) ** -0.95)

    a1 = (46.9 * om_h2) ** 0.670 * (1.0 + (32.1 * om_h2) ** -0.532)
    a2 = (12.0 * om_h2) ** 0.424 * (1.0 + (45.0 * om_h2) ** -0.582)
    alpha_c = a1**-f_b * a2 ** (-(f_b**3))
    bb1 = 0.944 / (1.0 + (458.0 * om_h2) ** -0.708)
    bb2 = (0.395 * om_h2) ** -0.0266
    beta_c = 1.0 / (1.0 + bb1 * (f_c**bb2 - 1.0))

    q = k / (13.41 * k_eq)
    ks = k * sound_horizon

    def t_tilde(alpha: float, beta: float) -> np.ndarray:
        log_term = np.log(math.e + 1.8 * beta * q)
        c = 14.2 / alpha + 386.0 / (1.0 + 69.9 * q**1.08)
        return log_term / (log_term + c * q * q)

    interpolation = 1.0 / (1.0 + (ks / 5.4) ** 4)
    t_cdm = interpolation * t_tilde(1.0, beta_c) + (1.0 - interpolation) * t_tilde(alpha_c, beta_c)

    y = (1.0 + z_eq) / (1.0 + z_drag)
    sqrt_1y = math.sqrt(1.0 + y)
    g_y = y * (-6.0 * sqrt_1y + (2.0 + 3.0 * y) * math.log((sqrt_1y + 1.0) / (sqrt_1y - 1.0)))
    alpha_b = 2.07 * k_eq * sound_horizon * (1.0 + r_drag) ** -0.75 * g_y
    beta_node = 8.41 * om_h2**0.435
    beta_b = 0.5 + f_b + (3.0 - 2.0 * f_b) * math.sqrt((17.2 * om_h2) ** 2 + 1.0)
    with np.errstate(divide="ignore"):
        s_tilde = sound_horizon / np.cbrt(1.0 + (beta_node / ks) ** 3)
        t_baryon = (t_tilde(1.0, 1.0) / (1.0 + (ks / 5.2) ** 2)
                    + alpha_b / (1.0 + (beta_b / ks) ** 3) * np.exp(-((k / k_silk) ** 1.4)))
    t_baryon = t_baryon * np.sinc(k * s_tilde / math.pi)
    return f_b * t_baryon + f_c * t_cdm


def _camb_shape(cosmology: Cosmology):
    """A function k -> unnormalised linear P(k) at z=0 from CAMB (power-law extrapolated outside)."""
    try:
        import camb
    except ImportError as error:
        raise SurrogateError("the camb transfer function needs `pip install camb`") from error
    h = cosmology.h
    params = camb.set_params(
        H0=100.0 * h, ombh2=cosmology.omega_b * h * h, omch2=(cosmology.omega_m - cosmology.omega_b) * h * h,
        ns=cosmology.n_s, As=2e-9, mnu=0.0, TCMB=cosmology.t_cmb_k, WantTransfer=True, kmax=60.0,
        redshifts=[0.0],
    )
    k_table, _, power_table = camb.get_results(params).get_matter_power_spectrum(
        minkh=1e-4, maxkh=50.0, npoints=800)
    ln_k, ln_p = np.log(k_table), np.log(power_table[0])
    slope_low = (ln_p[1] - ln_p[0]) / (ln_k[1] - ln_k[0])
    slope_high = (ln_p[-1] - ln_p[-2]) / (ln_k[-1] - ln_k[-2])

    def shape(k_h_mpc: np.ndarray) -> np.ndarray:
        ln_q = np.log(k_h_mpc)
        inside = np.interp(ln_q, ln_k, ln_p)
        below = ln_p[0] + slope_low * (ln_q - ln_k[0])
        above = ln_p[-1] + slope_high * (ln_q - ln_k[-1])
        return np.exp(np.where(ln_q < ln_k[0], below, np.where(ln_q > ln_k[-1], above, inside)))

    return shape


TRANSFER_CHOICES = ("eisenstein-hu", "camb")


class LinearPower:
    """The linear matter power spectrum P(k, z) in (Mpc/h)^3, normalised to ``cosmology.sigma8`` at z=0.

    ``transfer`` is ``"eisenstein-hu"`` (built in) or ``"camb"`` (needs the optional ``camb`` package).
    """

    def __init__(self, cosmology: Cosmology, transfer: str = "eisenstein-hu"):
        if transfer not in TRANSFER_CHOICES:
            raise SurrogateError(f"unknown transfer function {transfer!r}; choose from {TRANSFER_CHOICES}")
        self.cosmology = cosmology
        self.transfer = transfer
        if transfer == "camb":
            self._shape = _camb_shape(cosmology)
        else:
            self._shape = lambda k: k**cosmology.n_s * _eisenstein_hu_transfer(k, cosmology) ** 2
        self._amplitude = cosmology.sigma8**2 / sigma_r(self._shape, _SIGMA8_RADIUS_MPC_H) ** 2

    @cached_property
    def growth(self) -> GrowthHistory:
        return GrowthHistory(self.cosmology)

    def __call__(self, k_h_mpc, redshift: float = 0.0) -> np.ndarray:
        """P(k) at ``redshift``; zero at k = 0."""
        k = np.asarray(k_h_mpc, dtype=np.float64)
        power = np.zeros_like(k)
        positive = k > 0
        power[positive] = self._amplitude * self._shape(k[positive])
        if redshift != 0.0:
            power *= float(self.growth.d1(1.0 / (1.0 + redshift))) ** 2
        return power


def sigma_r(power, radius_mpc_h: float) -> float:
    """rms of the linear field smoothed by a top hat of radius R (Mpc/h), for a function k -> P(k)."""
    ln_k = np.linspace(math.log(1e-5), math.log(1e3), 40_001)
    k = np.exp(ln_k)
    x = k * radius_mpc_h
    with np.errstate(invalid="ignore", divide="ignore"):
        window = np.where(x < 1e-3, 1.0 - x * x / 10.0, 3.0 * (np.sin(x) - x * np.cos(x)) / x**3)
    integrand = k**3 * power(k) * window**2 / (2.0 * math.pi**2)
    return math.sqrt(float(np.trapezoid(integrand, ln_k)))
