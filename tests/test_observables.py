"""Calorimeter observables on hand-made showers whose answers can be written down."""
import math

import numpy as np
import pytest

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.observables import (
    CELL_SPECTRUM_EDGES, cell_energy_spectrum, energy_bins, shower_observables, shower_profiles,
)

DS2 = get_geometry("ds2")
CALOGAN = get_geometry("calogan")
READOUT_MM = 3.4  # ds2 readout layer thickness
R_BIN_MM = 4.65


def ds2_cell(layer: int, alpha_bin: int, r_bin: int) -> int:
    return layer * 144 + alpha_bin * 9 + r_bin


def alpha_center(alpha_bin: int) -> float:
    return -math.pi + (alpha_bin + 0.5) * 2 * math.pi / 16


def ds2_shower(deposits: dict[int, float]) -> np.ndarray:
    shower = np.zeros((1, DS2.n_values), np.float32)
    for cell, energy in deposits.items():
        shower[0, cell] = energy
    return shower


def test_single_cell_gives_exact_centroids_and_zero_widths():
    shower = ds2_shower({ds2_cell(10, 3, 3): 5000.0})
    out = shower_observables(shower, np.array([10000.0]), DS2)
    r = 3.5 * R_BIN_MM
    assert out["etot_over_einc"][0] == pytest.approx(0.5)
    assert out["depth_centroid_layer"][0] == pytest.approx(10.0)
    assert out["depth_width_layer"][0] == 0.0
    assert out["depth_centroid_mm"][0] == pytest.approx(10.5 * READOUT_MM)
    assert out["depth_width_mm"][0] == 0.0
    assert out["layer10_energy_mev"][0] == pytest.approx(5000.0)
    assert out["layer10_fraction"][0] == pytest.approx(1.0)
    assert out["layer10_r_centroid_mm"][0] == pytest.approx(r)
    assert out["layer10_x_centroid_mm"][0] == pytest.approx(r * math.cos(alpha_center(3)))
    assert out["layer10_y_centroid_mm"][0] == pytest.approx(r * math.sin(alpha_center(3)))
    for width in ("r", "x", "y"):
        assert out[f"layer10_{width}_width_mm"][0] == 0.0  # exactly, not rounding noise
    assert out["layer10_sparsity"][0] == pytest.approx(1 / 144)
    assert out["layer11_energy_mev"][0] == 0.0
    assert out["layer11_r_centroid_mm"][0] == 0.0
    assert out["layer11_sparsity"][0] == 0.0
    assert "overflow_fraction" not in out and "layer10_eratio" not in out


def test_two_layers_give_mean_and_half_distance_as_width():
    shower = ds2_shower({ds2_cell(2, 0, 0): 100.0, ds2_cell(6, 5, 1): 100.0})
    out = shower_observables(shower, np.array([200.0]), DS2)
    assert out["depth_centroid_layer"][0] == pytest.approx(4.0)
    assert out["depth_width_layer"][0] == pytest.approx(2.0)
    assert out["depth_centroid_mm"][0] == pytest.approx(0.5 * (2.5 + 6.5) * READOUT_MM)
    assert out["depth_width_mm"][0] == pytest.approx(2.0 * READOUT_MM)
    assert out["layer02_fraction"][0] == pytest.approx(0.5)


def test_lateral_centroid_and_width_within_a_layer():
    # same angle, radial bins 0 and 2 with energies 1 : 3
    shower = ds2_shower({ds2_cell(0, 4, 0): 1.0, ds2_cell(0, 4, 2): 3.0})
    out = shower_observables(shower, np.array([4.0]), DS2)
    r0, r2 = 0.5 * R_BIN_MM, 2.5 * R_BIN_MM
    mean = 0.25 * r0 + 0.75 * r2
    assert out["layer00_r_centroid_mm"][0] == pytest.approx(mean)
    assert out["layer00_r_width_mm"][0] == pytest.approx(math.sqrt(0.25 * 0.75) * (r2 - r0))
    # opposite angles at one radius: x/y centroids cancel, x width is |x| of either cell
    shower = ds2_shower({ds2_cell(0, 1, 4): 2.0, ds2_cell(0, 9, 4): 2.0})
    out = shower_observables(shower, np.array([4.0]), DS2)
    r = 4.5 * R_BIN_MM
    assert out["layer00_x_centroid_mm"][0] == pytest.approx(0.0, abs=1e-9)
    assert out["layer00_y_centroid_mm"][0] == pytest.approx(0.0, abs=1e-9)
    assert out["layer00_x_width_mm"][0] == pytest.approx(abs(r * math.cos(alpha_center(1))))
    assert out["layer00_y_width_mm"][0] == pytest.approx(abs(r * math.sin(alpha_center(1))))
    assert out["layer00_r_width_mm"][0] == 0.0


def calogan_shower() -> np.ndarray:
    """layer_0 row 1 columns 50 and 51 (100 and 60 MeV), layer_1 one cell (300 MeV), 50 MeV overflow."""
    shower = np.zeros((1, CALOGAN.n_values), np.float32)
    shower[0, 1 * 96 + 50] = 100.0
    shower[0, 1 * 96 + 51] = 60.0
    shower[0, 288 + 5 * 12 + 7] = 300.0
    shower[0, CALOGAN.n_cells + 0] = 50.0
    return shower


def test_calogan_shower_shapes():
    out = shower_observables(calogan_shower(), np.array([1000.0]), CALOGAN)
    cells = 460.0
    assert out["etot_over_einc"][0] == pytest.approx(0.51)
    assert out["overflow_fraction"][0] == pytest.approx(50 / 510)
    assert out["layer0_fraction"][0] == pytest.approx(160 / cells)
    assert out["depth_weighted_energy_mev"][0] == pytest.approx(300.0)  # sum_i i * E_i
    depth = 300 / cells
    assert out["depth_centroid_layer"][0] == pytest.approx(depth)  # the paper's shower depth
    assert out["depth_width_layer"][0] == pytest.approx(math.sqrt(300 / cells - depth**2))
    x50, x51 = -240 + 5 * 50.5, -240 + 5 * 51.5
    mean_x = (100 * x50 + 60 * x51) / 160
    assert out["layer0_x_centroid_mm"][0] == pytest.approx(mean_x)
    assert out["layer0_x_width_mm"][0] == pytest.approx(math.sqrt((100 * 60) / 160**2) * 5.0)
    assert out["layer0_y_centroid_mm"][0] == pytest.approx(0.0)  # middle of three 160 mm rows
    assert out["layer0_y_width_mm"][0] == 0.0  # the paper's eta width
    assert out["layer1_x_centroid_mm"][0] == pytest.approx(-240 + 40 * 7.5)
    assert out["layer1_y_centroid_mm"][0] == pytest.approx(-240 + 40 * 5.5)
    assert out["layer0_eratio"][0] == pytest.approx(40 / 160)
    assert out["layer1_eratio"][0] == pytest.approx(1.0)
    assert out["layer2_eratio"][0] == 0.0
    assert out["layer0_sparsity"][0] == pytest.approx(2 / 288)
    assert out["depth_centroid_mm"][0] == pytest.approx((160 * 45 + 300 * 263.5) / cells)


def test_empty_shower_is_finite_and_zero():
    out = shower_observables(np.zeros((2, CALOGAN.n_values), np.float32), np.array([1000.0, 2000.0]), CALOGAN)
    for name, values in out.items():
        assert np.all(values == 0.0), name


def test_cell_energy_spectrum_counts_non_zero_cells_per_event():
    shower = np.zeros((2, DS2.n_values), np.float32)
    center = 0.5 * (CELL_SPECTRUM_EDGES[:-1] + CELL_SPECTRUM_EDGES[1:])
    shower[0, [0, 1, 2]] = 10 ** center[[80, 80, 120]]
    shower[1, 7] = 1e9  # above the last edge: counted in the last bin
    spectrum = cell_energy_spectrum(shower, DS2)["log10_cell_energy_mev"]
    assert spectrum.counts.shape == (2, len(CELL_SPECTRUM_EDGES) - 1)
    assert spectrum.counts[0, 80] == 2 and spectrum.counts[0, 120] == 1 and spectrum.counts[0].sum() == 3
    assert spectrum.counts[1, -1] == 1 and spectrum.counts[1].sum() == 1


def test_profiles_hold_energy_per_layer_and_per_radius():
    shower = ds2_shower({ds2_cell(3, 0, 2): 7.0, ds2_cell(40, 15, 2): 1.0, ds2_cell(40, 2, 8): 2.0})
    profiles = shower_profiles(shower, DS2)
    longitudinal = profiles["longitudinal_profile"]
    assert longitudinal.values[0, 3] == 7.0 and longitudinal.values[0, 40] == 3.0
    assert longitudinal.x[3] == pytest.approx(3.5 * READOUT_MM)
    radial = profiles["radial_profile"]
    assert radial.values[0, 2] == 8.0 and radial.values[0, 8] == 2.0 and radial.values.sum() == 10.0
    calogan = shower_profiles(calogan_shower(), CALOGAN)
    assert calogan["layer0_x_profile"].values[0, 50] == 100.0
    assert calogan["layer0_y_profile"].values[0, 1] == 160.0
    assert calogan["longitudinal_profile"].values[0].tolist() == [160.0, 300.0, 0.0]


def test_energy_bins():
    assert energy_bins(np.full(10, 5000.0), np.full(4, 5000.0)) == []
    ladder = np.repeat([256.0, 512.0, 1024.0], 4)
    bins = energy_bins(ladder, np.array([512.0, 512.0, 99.0]))
    assert [label for label, _, _ in bins] == ["E = 0.256 GeV", "E = 0.512 GeV", "E = 1.024 GeV"]
    assert bins[1][1].sum() == 4 and bins[1][2].sum() == 2
    continuous = np.geomspace(1000.0, 100000.0, 500)
    bins = energy_bins(continuous, continuous[::2])
    assert len(bins) == 5
    assert sum(ref.sum() for _, ref, _ in bins) == 500  # every reference event in exactly one bin
    assert sum(cand.sum() for _, _, cand in bins) == 250
