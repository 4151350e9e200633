"""Summary statistics of density fields and maps: power spectra, pixel PDF, peaks, Minkowski functionals.

Power spectrum convention (the one Pylians, powerbox and nbodykit share): for a field delta on N^d
points in a box of side L (area A = L^2 for maps, volume V = L^3 for cubes),
P(k) = L^d / N^(2d) |FFT(delta)(k)|^2 with numpy's unnormalised FFT, k = 2 pi n / L in h/Mpc.
Default bins are linear, one fundamental k_f = 2 pi / L wide and centred on multiples of it:
bin i (i = 1 .. N/2) holds the modes with (i - 1/2) k_f <= |k| < (i + 1/2) k_f; the reported k is the
mean |k| of the modes in the bin, the power their mean. Corner modes beyond (N/2 + 1/2) k_f and the
k = 0 mode are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class BinnedPower:
    """k_h_mpc (B,) mean |k| per bin, power (..., B) in (Mpc/h)^d, n_modes (B,) modes per bin."""

    k_h_mpc: np.ndarray
    power: np.ndarray
    n_modes: np.ndarray


def default_k_edges(n: int, box_mpc_h: float) -> np.ndarray:
    """Edges (i - 1/2) k_f for i = 1 .. N/2 + 1: one bin per multiple of the fundamental up to Nyquist."""
    return (np.arange(1, n // 2 + 2) - 0.5) * (2.0 * math.pi / box_mpc_h)


def _mode_table(n: int, dims: int, box_mpc_h: float):
    """|k| and multiplicity of each real-FFT mode (conjugate pairs counted twice)."""
    k_full = np.fft.fftfreq(n, d=1.0 / n) * (2.0 * math.pi / box_mpc_h)
    k_half = np.fft.rfftfreq(n, d=1.0 / n) * (2.0 * math.pi / box_mpc_h)
    axes = [k_full] * (dims - 1) + [k_half]
    grids = np.meshgrid(*axes, indexing="ij")
    k_mag = np.sqrt(sum(g * g for g in grids))
    weight = np.full(k_half.shape, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    return k_mag.ravel(), np.broadcast_to(weight, k_mag.shape).ravel()


def cross_power_spectrum(field_a, field_b, box_mpc_h: float, k_edges=None, dims: int = 2) -> BinnedPower:
    """Binned Re<a_k b_k*> L^d / N^(2d) for paired fields of shape (..., N, N) or (..., N, N, N).

    Pairs are taken element by element over the leading axes; see the module doc for the binning.
    """
    return _binned(np.asarray(field_a, np.float64), np.asarray(field_b, np.float64), box_mpc_h, k_edges, dims)


def power_spectrum(fields, box_mpc_h: float, k_edges=None, dims: int = 2) -> BinnedPower:
    """Auto power spectrum of maps (dims=2, shape (..., N, N)) or cubes (dims=3, shape (..., N, N, N)).

    ``fields`` are density contrasts (mean zero or not: the k = 0 mode is never binned).
    """
    return _binned(np.asarray(fields, dtype=np.float64), None, box_mpc_h, k_edges, dims)


def _binned(field_a, field_b, box_mpc_h, k_edges, dims) -> BinnedPower:
    import scipy.sparse

    n = field_a.shape[-1]
    if field_a.shape[-dims:] != (n,) * dims:
        raise ValueError(f"expected {dims} trailing axes of equal size, got shape {field_a.shape}")
    axes = tuple(range(-dims, 0))
    transform_a = np.fft.rfftn(field_a, axes=axes)
    if field_b is None:
        modes = transform_a.real**2 + transform_a.imag**2
    else:
        modes = (transform_a * np.conj(np.fft.rfftn(field_b, axes=axes))).real
    modes *= box_mpc_h**dims / float(n) ** (2 * dims)
    k_edges = default_k_edges(n, box_mpc_h) if k_edges is None else np.asarray(k_edges, dtype=np.float64)
    k_mag, weight = _mode_table(n, dims, box_mpc_h)
    which = np.searchsorted(k_edges, k_mag, side="right") - 1
    inside = (which >= 0) & (which < len(k_edges) - 1) & (k_mag > 0)
    n_bins = len(k_edges) - 1
    binning = scipy.sparse.csr_matrix(
        (weight[inside], (np.flatnonzero(inside), which[inside])), shape=(k_mag.size, n_bins))
    n_modes = np.asarray(binning.sum(axis=0)).ravel()
    k_sum = binning.T @ k_mag
    leading = modes.shape[:-dims]
    power_sum = (modes.reshape(-1, k_mag.size) @ binning).reshape(*leading, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return BinnedPower(k_sum / n_modes, power_sum / n_modes, n_modes)


def correlation_coefficient(field_a, field_b, box_mpc_h: float, k_edges=None, dims: int = 2) -> np.ndarray:
    """r(k) = P_ab / sqrt(P_aa P_bb) per bin, for paired fields; 1 means identical up to scale."""
    cross = cross_power_spectrum(field_a, field_b, box_mpc_h, k_edges, dims)
    auto_a = power_spectrum(field_a, box_mpc_h, k_edges, dims).power
    auto_b = power_spectrum(field_b, box_mpc_h, k_edges, dims).power
    return cross.power / np.sqrt(auto_a * auto_b)


def nearest_training_correlation(generated, training, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """For each generated map, the highest pixel correlation with any training map, and that map's index.

    A memorisation check: independent maps of a random field give values near 0; a generator that
    copies its training maps gives values near 1. Correlation is the Pearson coefficient over pixels
    (equal to the cross-power summed over all k divided by the auto-powers).
    """
    def standardise(maps):
        flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
        flat = flat - flat.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(flat, axis=1, keepdims=True)
        return flat / np.where(norm > 0, norm, 1.0)

    gen = standardise(generated)
    best = np.full(len(gen), -np.inf)
    best_index = np.zeros(len(gen), dtype=np.int64)
    for start in range(0, len(training), chunk):
        block = standardise(training[start:start + chunk])
        scores = gen @ block.T
        column = scores.argmax(axis=1)
        value = scores[np.arange(len(gen)), column]
        better = value > best
        best[better] = value[better]
        best_index[better] = column[better] + start
    return best, best_index


def pixel_histogram(maps, edges) -> np.ndarray:
    """(M, B) pixel counts per map in the bins ``edges``; values outside are clipped into the end bins."""
    maps = np.asarray(maps, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    flat = maps.reshape(len(maps), -1)
    which = np.clip(np.searchsorted(edges, flat, side="right") - 1, 0, len(edges) - 2)
    offsets = which + (len(edges) - 1) * np.arange(len(maps))[:, None]
    return np.bincount(offsets.ravel(), minlength=len(maps) * (len(edges) - 1)).reshape(len(maps), -1)


def peak_mask(maps) -> np.ndarray:
    """True where a pixel is higher than all 8 neighbours (periodic boundaries), shape of ``maps``."""
    maps = np.asarray(maps)
    mask = np.ones(maps.shape, dtype=bool)
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            if du or dv:
                mask &= maps > np.roll(maps, (du, dv), axis=(-2, -1))
    return mask


def peak_counts(maps, edges) -> np.ndarray:
    """(M, B) number of local maxima per map whose height falls in each bin of ``edges`` (dropped outside)."""
    maps = np.asarray(maps, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    mask = peak_mask(maps)
    counts = np.zeros((len(maps), len(edges) - 1), dtype=np.int64)
    for index in range(len(maps)):
        counts[index] = np.histogram(maps[index][mask[index]], bins=edges)[0]
    return counts


def minkowski_functionals(maps, thresholds, pixel_size: float = 1.0):
    """The three 2D Minkowski functionals of the excursion sets {u > t} for each threshold t.

    Returns (v0, v1, v2), each (M, T): v0 the area fraction, v1 a quarter of the boundary length per
    unit area, v2 the Euler characteristic per unit area (lengths in the unit of ``pixel_size``).
    Computed by counting on the periodic pixel grid, which needs no derivatives and suits noisy maps:
    v0 from the pixels above t; v2 from vertices - edges + squares of the pixels above t (4-connected);
    v1 by Crofton's formula, boundary length = (pi / 4) x (neighbour pairs straddling t) x pixel size.
    For a Gaussian field of variance s0^2 and s1^2 = <|grad u|^2>, with nu = t / s0:
    v0 = erfc(nu/sqrt 2)/2, v1 = s1/(8 sqrt 2 s0) exp(-nu^2/2), v2 = s1^2/(2 s0^2 (2 pi)^1.5) nu exp(-nu^2/2).
    """
    u = np.asarray(maps, dtype=np.float64)
    if u.ndim == 2:
        u = u[None]
    thresholds = np.asarray(thresholds, dtype=np.float64)
    area = u.shape[-1] * u.shape[-2] * pixel_size**2
    v0 = np.empty((len(u), len(thresholds)))
    v1 = np.empty_like(v0)
    v2 = np.empty_like(v0)
    axes = (-2, -1)
    for column, threshold in enumerate(thresholds):
        above = u > threshold
        right = np.roll(above, -1, axis=-1)
        down = np.roll(above, -1, axis=-2)
        corner = np.roll(right, -1, axis=-2)
        vertices = above.sum(axis=axes)
        edges = (above & right).sum(axis=axes) + (above & down).sum(axis=axes)
        squares = (above & right & down & corner).sum(axis=axes)
        crossings = (above ^ right).sum(axis=axes) + (above ^ down).sum(axis=axes)
        v0[:, column] = vertices * pixel_size**2 / area
        v1[:, column] = 0.25 * (math.pi / 4.0) * crossings * pixel_size / area
        v2[:, column] = (vertices - edges + squares) / area
    return v0, v1, v2


def gaussian_minkowski_expectation(thresholds_sigma, sigma0: float, sigma1: float):
    """Analytic (v0, v1, v2) of a Gaussian random field at thresholds nu = t / sigma0 (see above)."""
    from scipy.special import erfc

    nu = np.asarray(thresholds_sigma, dtype=np.float64)
    gauss = np.exp(-0.5 * nu * nu)
    v0 = 0.5 * erfc(nu / math.sqrt(2.0))
    v1 = sigma1 / (8.0 * math.sqrt(2.0) * sigma0) * gauss
    v2 = sigma1**2 / (2.0 * sigma0**2 * (2.0 * math.pi) ** 1.5) * nu * gauss
    return v0, v1, v2
