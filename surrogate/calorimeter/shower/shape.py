"""Shower-shape diagnostics in the units of shower theory, for checking the simulator on polar geometries.

Depths are in radiation lengths and radii in Moliere radii of the stack smeared into one material
(:func:`surrogate.calorimeter.materials.effective`).
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.calorimeter.geometry import Geometry, PolarLayer
from surrogate.calorimeter.materials import effective
from surrogate.errors import SurrogateError


def _polar_layers(geometry: Geometry) -> tuple[PolarLayer, ...]:
    layers = geometry.layers
    if not all(isinstance(layer, PolarLayer) and layer.shape == layers[0].shape for layer in layers):
        raise SurrogateError(f"geometry {geometry.name!r} is not a stack of identical polar layers")
    return layers


def longitudinal_profile(geometry: Geometry, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Layer-centre depths (X0) and the mean energy per layer of showers ``cells`` (N, n_values)."""
    layers = _polar_layers(geometry)
    x0_mm = effective(geometry).x0_mm
    depth = np.array([0.5 * (layer.z_front_mm + layer.z_back_mm) for layer in layers]) / x0_mm
    profile = cells[:, : geometry.n_cells].reshape(len(cells), len(layers), -1).sum(axis=2).mean(axis=0)
    return depth, profile


def shower_maximum_x0(geometry: Geometry, cells: np.ndarray) -> float:
    """Depth (X0) of the maximum: the mode (a - 1) / b of a gamma distribution fitted to the mean profile."""
    from scipy.optimize import curve_fit
    from scipy.special import gammaln

    depth, profile = longitudinal_profile(geometry, cells)

    def gamma_profile(t, total, a, b):
        return total * np.exp(np.log(b) + (a - 1) * np.log(b * t) - b * t - gammaln(a))

    width = float(np.mean(np.diff(depth)))
    (_, a, b), _ = curve_fit(gamma_profile, depth, profile, p0=(profile.sum() * width, 4.0, 0.5))
    return float((a - 1) / b)


def containment(geometry: Geometry, cells: np.ndarray, total_mev: np.ndarray, radius_mm: float | None = None) -> float:
    """Share of the energy ``total_mev`` (summed over showers) inside ``radius_mm`` (default: one R_M).

    Between radial bin edges, ln(1 - C(r)) is interpolated linearly (lateral tails fall exponentially).
    """
    layers = _polar_layers(geometry)
    radius_mm = effective(geometry).moliere_radius_mm if radius_mm is None else radius_mm
    per_radius = cells[:, : geometry.n_cells].reshape(len(cells), len(layers), *layers[0].shape).sum(axis=(0, 1, 2))
    outside = np.clip(1 - np.cumsum(per_radius) / np.sum(total_mev), 1e-12, 1.0)
    edges = np.asarray(layers[0].r_edges_mm[1:])
    return 1 - math.exp(float(np.interp(radius_mm, edges, np.log(outside))))
