"""CaloGAN HDF5 layout: GeV <-> MeV, the flattening order, files as the CaloGAN authors wrote them."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from shower_samples import write_sample

from surrogate.calorimeter.domain import DOMAIN
from surrogate.errors import SurrogateError


def _write_original(path, n_events=5, seed=0):
    """A file in the CaloGAN paper's layout: float32, no attributes."""
    rng = np.random.default_rng(seed)
    data = {
        "energy": rng.uniform(1, 100, (n_events, 1)).astype(np.float32),
        "layer_0": rng.exponential(1.0, (n_events, 3, 96)).astype(np.float32),
        "layer_1": rng.exponential(1.0, (n_events, 12, 12)).astype(np.float32),
        "layer_2": rng.exponential(1.0, (n_events, 12, 6)).astype(np.float32),
        "overflow": rng.exponential(1.0, (n_events, 3)).astype(np.float32),
    }
    with h5py.File(path, "w") as handle:
        for name, values in data.items():
            handle.create_dataset(name, data=values)
    return data


def test_original_file_flattens_layer_by_layer_and_converts_gev(tmp_path):
    path = tmp_path / "eplus.hdf5"
    data = _write_original(path)
    events = DOMAIN.read(path)
    assert events.layout["format"] == "calogan" and events.layout["geometry"] == "calogan"
    assert events.layout["sampling_fraction"] is None
    assert events.events.shape == (5, 507)
    np.testing.assert_allclose(events.conditions[:, 0], data["energy"][:, 0].astype(np.float64) * 1000.0)
    np.testing.assert_array_equal(events.events[:, :288], data["layer_0"].reshape(5, 288))
    np.testing.assert_array_equal(events.events[:, 288:432], data["layer_1"].reshape(5, 144))
    np.testing.assert_array_equal(events.events[:, 432:504], data["layer_2"].reshape(5, 72))
    np.testing.assert_array_equal(events.events[:, 504:], data["overflow"])
    # one cell by hand: layer_1 row 2, column 5 sits at 288 + 2 * 12 + 5
    assert events.events[3, 288 + 2 * 12 + 5] == data["layer_1"][3, 2, 5]


def test_round_trip_writes_gev_and_layer_datasets(tmp_path):
    path = tmp_path / "gamma.h5"
    written = write_sample(path, "calogan", 12, seed=1, file_format="calogan", particle="gamma")
    with h5py.File(path) as handle:
        np.testing.assert_allclose(handle["energy"][:, 0], written.conditions[:, 0] / 1000.0)
        assert handle["layer_0"].shape == (12, 3, 96) and handle["overflow"].shape == (12, 3)
        np.testing.assert_array_equal(handle["layer_2"][:], written.events[:, 432:504].reshape(12, 12, 6))
        assert handle.attrs["particle"] == "gamma"
    back = DOMAIN.read(path)
    np.testing.assert_array_equal(back.events, written.events)
    np.testing.assert_allclose(back.conditions, written.conditions, rtol=1e-15)
    assert back.layout == written.layout


def test_wrong_layer_shape_is_reported(tmp_path):
    path = tmp_path / "odd.h5"
    _write_original(path)
    with h5py.File(path, "a") as handle:
        del handle["layer_2"]
        handle.create_dataset("layer_2", data=np.zeros((5, 12, 7), np.float32))
    with pytest.raises(SurrogateError, match=r"layer_2 \(12, 7\).*calogan"):
        DOMAIN.read(path)


def test_missing_overflow_is_reported(tmp_path):
    path = tmp_path / "no_overflow.h5"
    _write_original(path)
    with h5py.File(path, "a") as handle:
        del handle["overflow"]
    with pytest.raises(SurrogateError, match="missing dataset 'overflow'"):
        DOMAIN.read(path, geometry="calogan")


def test_nan_is_located_in_its_layer_dataset(tmp_path):
    path = tmp_path / "nan.h5"
    _write_original(path)
    with h5py.File(path, "a") as handle:
        handle["layer_1"][4, 0, 0] = np.nan
    with pytest.raises(SurrogateError, match="'layer_1' row 4"):
        DOMAIN.read(path)
