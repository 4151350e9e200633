"""Slab medium, energy bookkeeping and the public ``simulate_showers`` API (small, fast showers)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from surrogate.calorimeter.geometry import Geometry, Slab, get_geometry
from surrogate.calorimeter.shower import TrackingCuts, simulate_showers
from surrogate.calorimeter.shower.crosssections import ELECTRON_MASS_MEV
from surrogate.calorimeter.shower.medium import SlabMedium
from surrogate.calorimeter.shower.transport import ShowerTransport
from surrogate.errors import SurrogateError

DS2 = get_geometry("ds2")
CALOGAN = get_geometry("calogan")


def _walk_one(medium: SlabMedium, z: float, w: float, tau: float, mu: np.ndarray) -> tuple[float, bool]:
    """Reference photon flight: slab by slab, in plain Python. Returns (path, escaped)."""
    path = 0.0
    while 0.0 <= z <= medium.depth_mm:
        slab, lo, hi = (a[0] for a in medium.locate(np.array([z]), np.array([w])))
        if z <= 0.0 and w < 0 or z >= medium.depth_mm and w > 0:
            return path, True
        m = mu[medium.material_index[slab]]
        distance = (hi - z) / w if w > 0 else (lo - z) / w
        if tau < m * distance:
            return path + tau / m, False
        tau -= m * distance
        path += distance
        z = hi if w > 0 else lo
    return path, True


def test_photon_flight_matches_a_slab_by_slab_walk():
    medium = SlabMedium.from_geometry(DS2)
    rng = np.random.default_rng(0)
    n = 400
    z = rng.uniform(0, medium.depth_mm, n)
    z[:20] = np.round(z[:20] / medium.period_mm) * medium.period_mm  # starts on boundaries
    w = rng.uniform(-1, 1, n)
    tau = rng.exponential(size=n) * 3
    mu = rng.uniform(0.005, 0.5, (len(medium.materials), n))
    path, _ = medium.photon_flight(z, w, tau, mu)
    for i in range(n):
        expected, escaped = _walk_one(medium, z[i], w[i], tau[i], mu[:, i])
        end = z[i] + path[i] * w[i]
        if escaped:
            assert end < 0 or end > medium.depth_mm
        else:
            assert path[i] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_locate_puts_boundary_points_in_the_slab_ahead():
    medium = SlabMedium.from_geometry(DS2)
    z = np.array([1.4, 1.4, 1.7, 0.0])
    slab, lo, hi = medium.locate(z, np.array([1.0, -1.0, 1.0, 1.0]))
    assert slab.tolist() == [1, 0, 0, 0]
    assert lo == pytest.approx([1.4, 0.0, 1.7, 0.0])
    assert hi == pytest.approx([1.7, 1.4, 3.1, 1.4])


def _all_active(geometry: Geometry) -> Geometry:
    stack = tuple(Slab(s.material, s.thickness_mm, True) for s in geometry.stack)
    return dataclasses.replace(geometry, stack=stack, sampling_fraction=None, voxel_threshold_mev=0.0)


@pytest.mark.parametrize("particle", ["e-", "e+", "gamma"])
def test_energy_is_conserved_when_every_slab_is_read_out(particle):
    geometry = _all_active(DS2)
    energies = np.array([500.0, 2000.0, 5000.0])
    tally = ShowerTransport(geometry, TrackingCuts()).run(particle, energies, np.random.default_rng(1))
    extra = 2 * ELECTRON_MASS_MEV if particle == "e+" else 0.0  # the positron's annihilation
    assert tally.deposited + tally.escaped == pytest.approx(energies + extra, rel=1e-9)
    assert tally.visible == pytest.approx(tally.deposited, rel=1e-12)
    assert np.all(tally.escaped < 0.05 * energies)
    # the cells hold what is deposited within the readout radius (ds2 has no overflow entries)
    assert np.all(tally.cells.sum(axis=1) <= tally.visible * (1 + 1e-12))
    assert np.all(tally.cells.sum(axis=1) > 0.95 * tally.visible)


def test_calogan_records_the_total_deposit_with_overflow():
    energies = np.array([3000.0, 8000.0])
    showers = simulate_showers(CALOGAN, "gamma", energies, np.random.default_rng(2))
    assert showers.shape == (2, CALOGAN.n_values)
    assert showers.sum(axis=1) == pytest.approx(energies, rel=0.03)
    assert np.all(showers >= 0)


def test_output_layout_threshold_and_scale_for_ds2():
    energies = np.array([1000.0, 4000.0])
    showers = simulate_showers(DS2, "e-", energies, np.random.default_rng(3))
    assert showers.shape == (2, DS2.n_values) and showers.dtype == np.float32
    visible = showers * DS2.sampling_fraction
    nonzero = visible[visible > 0]
    assert nonzero.min() >= DS2.voxel_threshold_mev * (1 - 1e-6)
    assert showers.sum(axis=1) == pytest.approx(energies, rel=0.15)


def test_same_seed_same_showers_and_workers_do_not_matter():
    energies = np.array([800.0, 1500.0, 1200.0])
    first = simulate_showers(DS2, "gamma", energies, np.random.default_rng(7))
    again = simulate_showers(DS2, "gamma", energies, np.random.default_rng(7))
    other = simulate_showers(DS2, "gamma", energies, np.random.default_rng(8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_parallel_workers_give_the_same_result(monkeypatch):
    from surrogate.calorimeter import shower

    monkeypatch.setattr(shower, "_BATCH_ENERGY_MEV", 1000.0)  # one batch per shower
    energies = np.array([600.0, 900.0, 700.0])
    serial = simulate_showers(DS2, "e-", energies, np.random.default_rng(9))
    parallel = simulate_showers(DS2, "e-", energies, np.random.default_rng(9), workers=2)
    assert np.array_equal(serial, parallel)


@pytest.mark.parametrize("particle, energies, message", [
    ("mu-", [1000.0], "unknown particle"),
    ("e-", [1000.0, -5.0], "finite and positive"),
    ("e-", [np.nan], "finite and positive"),
    ("e-", [[1000.0]], "1-D"),
])
def test_bad_requests_are_user_errors(particle, energies, message):
    with pytest.raises(SurrogateError, match=message):
        simulate_showers(DS2, particle, np.array(energies), np.random.default_rng(0))


def test_geometry_without_material_cannot_be_simulated():
    bare = dataclasses.replace(DS2, stack=(), n_periods=0)
    with pytest.raises(SurrogateError, match="no material stack"):
        simulate_showers(bare, "e-", np.array([1000.0]), np.random.default_rng(0))


def test_cuts_are_validated():
    with pytest.raises(SurrogateError):
        TrackingCuts(electron_cut_mev=0.0)
    with pytest.raises(SurrogateError):
        TrackingCuts(max_loss_fraction=1.5)
