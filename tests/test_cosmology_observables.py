"""Map statistics against known answers: 2D power spectrum, Minkowski functionals, peaks, cross-power,
and the slab maps themselves."""
import math

import numpy as np
import pytest
import torch

from surrogate.cosmology.maps import slab_maps
from surrogate.cosmology.observables import (
    correlation_coefficient,
    default_k_edges,
    gaussian_minkowski_expectation,
    minkowski_functionals,
    nearest_training_correlation,
    peak_counts,
    peak_mask,
    pixel_histogram,
    power_spectrum,
)


def gaussian_maps(n_maps: int, n: int, box: float, spectrum, seed: int) -> np.ndarray:
    """Real Gaussian maps with P(k) = spectrum(k) in the A / N^4 |FFT|^2 convention."""
    rng = np.random.default_rng(seed)
    k1 = np.fft.fftfreq(n, d=1.0 / n) * 2 * math.pi / box
    k = np.hypot(*np.meshgrid(k1, k1, indexing="ij"))
    amplitude = np.sqrt(np.where(k > 0, spectrum(np.where(k > 0, k, 1.0)), 0.0) * n**2 / box**2)
    noise = rng.standard_normal((n_maps, n, n))
    return np.fft.ifft2(np.fft.fft2(noise) * amplitude).real


def test_2d_power_spectrum_recovers_a_known_spectrum():
    box, n = 200.0, 128

    def spectrum(k):
        return 50.0 * (k / 0.1) ** -1.5

    maps = gaussian_maps(24, n, box, spectrum, seed=3)
    measured = power_spectrum(maps, box)
    # the spectrum averaged over each bin's modes, as the estimator sees it
    k1 = np.fft.fftfreq(n, d=1.0 / n) * 2 * math.pi / box
    k = np.hypot(*np.meshgrid(k1, k1, indexing="ij")).ravel()
    which = np.searchsorted(default_k_edges(n, box), k, side="right") - 1
    expected = np.array([spectrum(k[(which == b) & (k > 0)]).mean() for b in range(n // 2)])
    mean = measured.power.mean(axis=0)
    for start in range(4, n // 2, 6):  # bands of 6 bins: hundreds of modes x 24 maps, ~2% scatter
        band = slice(start, start + 6)
        weights = measured.n_modes[band]
        assert (mean[band] * weights).sum() / (expected[band] * weights).sum() == pytest.approx(1.0, abs=0.05)
    assert np.all(np.abs(mean[4:] / expected[4:] - 1.0) < 0.15)
    assert measured.power.shape == (24, n // 2)
    assert measured.k_h_mpc[0] == pytest.approx((1 + math.sqrt(2)) / 2 * 2 * math.pi / box)  # (1,0) and (1,1) modes
    edges = default_k_edges(n, box)
    assert np.all((measured.k_h_mpc >= edges[:-1]) & (measured.k_h_mpc < edges[1:]))


def test_power_normalisation_is_area_over_n4_times_fft_squared():
    """A single cosine delta = cos(2 pi 5 x / L): all its power is in the two modes (+-5, 0)."""
    box, n = 100.0, 64
    x = np.arange(n) * box / n
    single = np.cos(2 * math.pi * 5 * x / box)[:, None] * np.ones((1, n))
    measured = power_spectrum(single, box)
    # |FFT|^2 = (N^2 / 2)^2 at each of the two modes -> P = A / 4 there, shared among the bin's modes
    assert measured.power[4] * measured.n_modes[4] == pytest.approx(2 * box**2 / 4, rel=1e-9)
    assert np.allclose(np.delete(measured.power, 4), 0.0, atol=1e-20)


def test_minkowski_functionals_of_a_gaussian_field_match_the_analytic_expectation():
    n, smoothing = 256, 6.0
    k1 = np.fft.fftfreq(n) * 2 * math.pi
    k2 = np.add.outer(k1**2, k1**2)
    spectrum = np.exp(-k2 * smoothing**2 / 2)
    maps = gaussian_maps(16, n, n, lambda k: np.exp(-k * k * smoothing**2 / 2), seed=8)
    maps = (maps - maps.mean(axis=(1, 2), keepdims=True)) / maps.std(axis=(1, 2), keepdims=True)
    sigma1 = math.sqrt((k2 * spectrum).sum() / spectrum.sum())  # <|grad u|^2> / <u^2> of the field
    nu = np.linspace(-2.5, 2.5, 11)
    v0, v1, v2 = minkowski_functionals(maps, nu)
    e0, e1, e2 = gaussian_minkowski_expectation(nu, 1.0, sigma1)
    assert np.abs(v0.mean(axis=0) - e0).max() < 0.01
    assert np.abs(v1.mean(axis=0) - e1).max() < 0.03 * e1.max()
    assert np.abs(v2.mean(axis=0) - e2).max() < 0.15 * np.abs(e2).max()
    assert np.all(np.diff(v0.mean(axis=0)) < 0)


def test_minkowski_functionals_count_a_disk_and_a_ring_exactly():
    grid = np.arange(128) - 64.0
    x, y = np.meshgrid(grid, grid, indexing="ij")
    radius = np.hypot(x, y)
    disk, ring = (radius < 20).astype(float), (np.abs(radius - 30) < 5).astype(float)
    for shape, euler, perimeter in ((disk, 1, 2 * math.pi * 20), (ring, 0, 2 * math.pi * 60)):
        v0, v1, v2 = minkowski_functionals(shape, [0.5], pixel_size=0.5)
        area = (128 * 0.5) ** 2
        assert v2[0, 0] * area == pytest.approx(euler, abs=1e-9)
        assert v1[0, 0] * 4 * area == pytest.approx(perimeter * 0.5, rel=0.05)
        assert v0[0, 0] == pytest.approx(shape.mean(), rel=1e-12)


def test_peaks_on_a_hand_made_map():
    field = np.zeros((32, 32))
    field[5, 5], field[20, 10], field[0, 31] = 1.0, 2.0, 3.0  # the last one wraps around both edges
    field[10, 20] = field[10, 21] = 1.5  # a plateau of two equal pixels is no strict maximum
    field[0, 0] = 0.5  # neighbour of the wrapped peak at (0, 31): not a maximum
    mask = peak_mask(field[None])[0]
    assert set(zip(*np.nonzero(mask))) == {(5, 5), (20, 10), (0, 31)}
    counts = peak_counts(field[None], np.array([0.0, 1.5, 2.5, 3.5]))
    assert counts.tolist() == [[1, 1, 1]]


def test_pixel_histogram_counts_every_pixel_once():
    maps = np.random.default_rng(0).normal(size=(3, 16, 16)) * 3
    counts = pixel_histogram(maps, np.linspace(-2, 2, 9))
    assert counts.shape == (3, 8) and np.all(counts.sum(axis=1) == 256)


def test_cross_power_flags_copies_of_training_maps():
    box, n = 100.0, 64
    training = gaussian_maps(40, n, box, lambda k: k**-2.0, seed=1)
    fresh = gaussian_maps(10, n, box, lambda k: k**-2.0, seed=2)
    copies = training[[3, 17, 29]] * 1.7 + 0.2  # rescaled copies still correlate perfectly
    best, index = nearest_training_correlation(np.concatenate([fresh, copies]), training, chunk=16)
    assert np.all(best[-3:] > 0.999) and index[-3:].tolist() == [3, 17, 29]
    assert np.all(best[:10] < 0.6)
    r_same = correlation_coefficient(training[:5], training[:5] * 2.0, box)
    r_fresh = correlation_coefficient(training[:10], fresh, box)
    assert np.allclose(r_same, 1.0)
    assert np.abs(r_fresh.mean(axis=0)).max() < 0.5


def test_slab_maps_of_a_uniform_lattice_are_empty_and_one_particle_lands_in_its_slab():
    box, grid = 60.0, 12
    axis = (torch.arange(grid, dtype=torch.float32) + 0.5) * box / grid
    lattice = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1).T
    maps = slab_maps(lattice, box, map_size=grid, n_maps=6)
    assert maps.shape == (6, grid, grid)
    assert np.allclose(maps, 0.0, atol=1e-5)
    # map 4 projects along y (4 % 3 == 1), slab 1 of 2 (y in [30, 60)); pixels over (x, z)
    extra = torch.tensor([[10.0, 45.0, 25.0]])
    maps = slab_maps(torch.cat([lattice, extra]), box, map_size=grid, n_maps=6)
    mean_count = (grid**3 + 1) / (2 * grid * grid)
    excess = (maps[4] + 1.0) * mean_count - (maps[1] + 1.0) * mean_count
    assert excess.sum() == pytest.approx(1.0, abs=1e-4)
    assert excess[2, 5] == pytest.approx(1.0, abs=1e-4)  # x = 10 -> node 2, z = 25 -> node 5
