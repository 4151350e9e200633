"""Shower-shape diagnostics on synthetic showers with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import gamma

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.materials import effective
from surrogate.calorimeter.shower import shape
from surrogate.errors import SurrogateError

DS2 = get_geometry("ds2")


def _showers_from(layer_energy: np.ndarray, radial_energy: np.ndarray) -> np.ndarray:
    """Two identical showers whose cells factorise into a layer profile times a radial profile."""
    n_alpha, _n_radius = DS2.layers[0].shape
    per_layer = np.outer(layer_energy, np.tile(radial_energy / n_alpha, n_alpha)).ravel()
    return np.stack([per_layer, per_layer])


def test_shower_maximum_recovers_the_mode_of_a_gamma_profile():
    depth, _ = shape.longitudinal_profile(DS2, np.zeros((1, DS2.n_values)))
    a, b = 5.0, 0.6  # mode (a - 1) / b = 6.67 X0
    cells = _showers_from(gamma.pdf(depth, a, scale=1 / b), np.full(9, 1.0))
    assert shape.shower_maximum_x0(DS2, cells) == pytest.approx((a - 1) / b, rel=1e-3)


def test_containment_interpolates_an_exponential_tail_exactly():
    edges = np.asarray(DS2.layers[0].r_edges_mm)
    scale_mm = 5.0  # C(r) = 1 - exp(-r / scale)
    radial = np.diff(1 - np.exp(-edges / scale_mm))
    cells = _showers_from(np.full(45, 1.0), radial)
    total = np.full(2, 45.0)  # the energy beyond the last radial bin counts in the total
    radius = effective(DS2).moliere_radius_mm
    assert shape.containment(DS2, cells, total) == pytest.approx(1 - math.exp(-radius / scale_mm), rel=1e-9)


def test_shape_diagnostics_need_polar_layers():
    with pytest.raises(SurrogateError, match="polar"):
        shape.longitudinal_profile(get_geometry("calogan"), np.zeros((1, 507)))
