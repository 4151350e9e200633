"""CaloChallenge HDF5 layout: round trips, real-file conventions, binning XML files, chunked reading."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from shower_samples import sample_events, write_sample

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.binning import binning_to_xml, read_binning, same_cells, write_binning
from surrogate.calorimeter.formats.known_geometries import geometry_named, known_geometries
from surrogate.calorimeter.geometry import Geometry, PolarLayer, get_geometry
from surrogate.errors import SurrogateError

DATASETS = Path(__file__).resolve().parents[1] / "datasets"

#: What our simulator divides ds2 silicon energy by (measured; Geant4 files used 0.033).
DS2_SAMPLING_FRACTION = get_geometry("ds2").sampling_fraction


def _write_plain(path, showers, energies_mev):
    """A file as the CaloChallenge distributed them: two datasets, no attributes."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("incident_energies", data=energies_mev.reshape(-1, 1))
        handle.create_dataset("showers", data=showers)


def test_round_trip_is_exact_and_records_the_layout(tmp_path):
    path = tmp_path / "ds2.h5"
    written = write_sample(path, "ds2", 37, seed=1)
    back = DOMAIN.read(path)
    np.testing.assert_array_equal(back.events, written.events)
    np.testing.assert_array_equal(back.conditions, written.conditions)
    assert back.condition_names == ("incident_energy_mev",)
    assert back.events.dtype == np.float32 and back.conditions.dtype == np.float64
    assert back.layout == {"domain": "calorimeter", "format": "calochallenge", "geometry": "ds2",
                           "particle": "e-", "sampling_fraction": DS2_SAMPLING_FRACTION}
    with h5py.File(path) as handle:
        assert handle["incident_energies"].shape == (37, 1)
        assert handle["showers"].shape == (37, 6480)
        assert handle["showers"].compression == "gzip"
        assert handle["showers"].chunks[1] == 6480
        assert handle.attrs["units"] == "MeV" and handle.attrs["geometry"] == "ds2"
        assert handle.attrs["sampling_fraction"] == pytest.approx(DS2_SAMPLING_FRACTION)


def test_start_stop_and_chunked_iteration_match_the_whole_file(tmp_path):
    path = tmp_path / "ds2.h5"
    written = write_sample(path, "ds2", 25, seed=2)
    part = DOMAIN.read(path, start=5, stop=12)
    np.testing.assert_array_equal(part.events, written.events[5:12])
    chunks = list(DOMAIN.iter_read(path, chunk_events=7))
    assert [len(chunk) for chunk in chunks] == [7, 7, 7, 4]
    np.testing.assert_array_equal(np.concatenate([c.events for c in chunks]), written.events)
    np.testing.assert_array_equal(np.concatenate([c.conditions for c in chunks]), written.conditions)


@pytest.mark.parametrize("name, voxels, particle", [
    ("ds1-photons", 368, "gamma"), ("ds1-pions", 533, "pi+"), ("ds2", 6480, "e-"), ("ds3", 40500, "e-")])
def test_real_calochallenge_files_are_recognised_by_voxel_count(tmp_path, name, voxels, particle):
    rng = np.random.default_rng(3)
    showers = rng.exponential(1.0, (4, voxels))
    energies = np.array([256.0, 1024.0, 65536.0, 4.2e6])
    path = tmp_path / "real.hdf5"
    _write_plain(path, showers, energies)
    back = DOMAIN.read(path)
    assert back.layout["geometry"] == name and back.layout["particle"] == particle
    assert back.events.shape == (4, voxels)
    np.testing.assert_allclose(back.events, showers.astype(np.float32))
    np.testing.assert_array_equal(back.conditions[:, 0], energies)
    assert DOMAIN.geometry_of(back.layout).n_values == voxels


def test_ds1_layer_structure():
    photons, pions = geometry_named("ds1-photons"), geometry_named("ds1-pions")
    assert len(photons.layers) == len(pions.layers) == 24
    assert [layer.size for layer in photons.layers if layer.size] == [8, 160, 190, 5, 5]
    assert [layer.size for layer in pions.layers if layer.size] == [8, 100, 100, 5, 150, 160, 10]
    assert geometry_named("ds3").layers[0].shape == (50, 18)


CUSTOM_XML = """<Bins>
   <Bin pid="22" etaMin="0" etaMax="130" name="photon">
      <Layer id="0" r_edges="0,5,10,30" n_bin_alpha="1" />
      <Layer id="1" r_edges="0" n_bin_alpha="1" />
      <Layer id="2" r_edges="0,2,4,8,16" n_bin_alpha="4"/>
   </Bin>
   <Bin pid="211" name="pion">
      <Layer id="0" r_edges="0,5,10" n_bin_alpha="1" />
   </Bin>
</Bins>
"""


def test_binning_xml_schema_is_read(tmp_path):
    xml = tmp_path / "binning_custom.xml"
    xml.write_text(CUSTOM_XML)
    photon = read_binning(xml, particle="gamma")
    assert [layer.shape for layer in photon.layers] == [(1, 3), (1, 0), (4, 4)]
    assert photon.n_values == 3 + 0 + 16 and photon.layer_offsets.tolist() == [0, 3, 3, 19]
    assert read_binning(xml, particle="pion").n_values == 2
    with pytest.raises(SurrogateError, match="name the particle"):
        read_binning(xml)


def test_custom_binning_is_needed_then_carried_in_the_file(tmp_path):
    xml = tmp_path / "binning_custom.xml"
    xml.write_text(CUSTOM_XML)
    rng = np.random.default_rng(4)
    showers = rng.exponential(1.0, (6, 19)).astype(np.float32)
    source = tmp_path / "custom.h5"
    _write_plain(source, showers, np.full(6, 5000.0))
    with pytest.raises(SurrogateError, match="19 values per event match no known geometry.*--binning"):
        DOMAIN.read(source)
    with pytest.raises(SurrogateError, match="19 values per event, but binning .* has 2"):
        DOMAIN.read(source, binning=xml, particle="pi+")
    events = DOMAIN.read(source, binning=xml, particle="gamma")
    assert events.layout["geometry"] is None and "binning_xml" in events.layout
    assert events.layout["particle"] == "gamma"
    copy = tmp_path / "copy.h5"
    DOMAIN.write(copy, events)  # from the layout alone: the binning travels inside the file
    back = DOMAIN.read(copy)
    np.testing.assert_array_equal(back.events, showers)
    assert same_cells(DOMAIN.geometry_of(back.layout), read_binning(xml, particle="gamma"))


def test_binning_xml_round_trip_for_every_known_geometry(tmp_path):
    for name, geometry in known_geometries().items():
        path = tmp_path / f"{name}.xml"
        write_binning(path, geometry, "e-")
        back = read_binning(path)
        assert same_cells(back, geometry) and back.n_values == geometry.n_values, name
        assert back.file_layout == geometry.file_layout


def test_shipped_binning_files_match_the_built_in_geometries():
    assert (DATASETS / "binning_ds2.xml").read_text() == binning_to_xml(geometry_named("ds2"), "e-")
    assert (DATASETS / "binning_calogan.xml").read_text() == binning_to_xml(geometry_named("calogan"))
    text = (DATASETS / "binning_ds2.xml").read_text()
    assert 'r_edges="0,4.65,9.3,13.95,18.6,23.25,27.9,32.55,37.2,41.85" n_bin_alpha="16"' in text


def test_a_file_matching_a_known_binning_gets_its_name(tmp_path):
    edges = tuple(4.65 * i for i in range(10))
    custom = Geometry("mine", "calochallenge", tuple(PolarLayer(edges, 16) for _ in range(45)))
    events = sample_events(custom, 3, seed=5)
    assert events.layout["geometry"] == "ds2" and "binning_xml" not in events.layout


def test_writing_refuses_events_it_could_not_read_back(tmp_path):
    events = sample_events("ds2", 4, seed=6)
    events.events[2, 10] = -1.0
    with pytest.raises(SurrogateError, match="negative"):
        DOMAIN.write(tmp_path / "bad.h5", events)
    assert not (tmp_path / "bad.h5").exists() and not list(tmp_path.iterdir())
    events.events[2, 10] = np.nan
    with pytest.raises(SurrogateError, match="NaN"):
        DOMAIN.write(tmp_path / "bad.h5", events)


def test_empty_production_reads_as_zero_events(tmp_path):
    path = tmp_path / "empty.h5"
    DOMAIN.write(path, sample_events("ds2", 0, seed=7))
    back = DOMAIN.read(path)
    assert back.events.shape == (0, 6480) and back.conditions.shape == (0, 1)
    assert DOMAIN.inspect(path)["events"] == 0
