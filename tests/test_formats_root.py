"""ROOT files through uproot: fixed-size and jagged branches, RNTuple, names from options and cards."""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from shower_samples import sample_events, write_sample

from surrogate.calorimeter.domain import DOMAIN
from surrogate.errors import SurrogateError

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


def test_round_trip_writes_a_fixed_size_ttree(tmp_path):
    path = tmp_path / "ds2.root"
    written = write_sample(path, "ds2", 30, seed=1, file_format="root")
    with uproot.open(path) as handle:
        assert handle.classnames()["showers;1"] == "TTree"  # not an RNTuple
        tree = handle["showers"]
        assert tree["showers"].interpretation.inner_shape == (6480,)
        np.testing.assert_array_equal(tree["incident_energy"].array(library="np"), written.conditions[:, 0])
    back = DOMAIN.read(path)
    np.testing.assert_array_equal(back.events, written.events)
    assert back.layout == written.layout | {"tree": "showers", "energy_branch": "incident_energy",
                                            "showers_branch": "showers"}
    chunks = list(DOMAIN.iter_read(path, chunk_events=8))
    assert [len(chunk) for chunk in chunks] == [8, 8, 8, 6]
    np.testing.assert_array_equal(np.concatenate([c.events for c in chunks]), written.events)


def test_names_of_a_foreign_tree_come_from_options(tmp_path):
    rng = np.random.default_rng(2)
    showers = rng.exponential(1.0, (9, 507)).astype(np.float32)
    energies_gev = rng.uniform(1, 100, 9)
    path = tmp_path / "g4.root"
    with uproot.recreate(path) as handle:
        handle.mktree("calo", {"Ebeam": "f8", "run": "i4", "cells": ("f4", (507,)), "weights": ("f4", (3,))})
        handle["calo"].extend({"Ebeam": energies_gev, "run": np.arange(9, dtype=np.int32), "cells": showers,
                               "weights": np.ones((9, 3), np.float32)})
        handle.mktree("other", {"x": "f8"})
    with pytest.raises(SurrogateError, match="several trees"):
        DOMAIN.read(path)
    with pytest.raises(SurrogateError, match="which branches hold the cell energies"):
        DOMAIN.read(path, tree="calo")
    events = DOMAIN.read(path, tree="calo", showers_branch="cells", energy_unit="GeV")
    np.testing.assert_allclose(events.conditions[:, 0], energies_gev * 1000.0)
    np.testing.assert_array_equal(events.events, showers)
    assert events.layout["geometry"] == "calogan"  # recognised by its 507 values
    assert events.layout["tree"] == "calo" and events.layout["showers_branch"] == "cells"
    copy = tmp_path / "copy.root"
    DOMAIN.write(copy, events)  # written back with the same names, energies now in MeV
    with uproot.open(copy) as handle:
        np.testing.assert_allclose(handle["calo"]["Ebeam"].array(library="np"), energies_gev * 1000.0)


def _write_jagged(path, energies_gev, hits):
    index = ak.Array([[cell for cell, _ in event] for event in hits])
    energy = ak.Array([[edep for _, edep in event] for event in hits])
    with uproot.recreate(path) as handle:
        handle.mktree("hits", {"primary_energy": "f8", "cell_id": index.type.content, "edep": energy.type.content})
        handle["hits"].extend({"primary_energy": np.asarray(energies_gev), "cell_id": index, "edep": energy})


def test_jagged_hits_are_summed_per_cell_with_the_example_card(tmp_path):
    hits = [[(0, 1.5), (6479, 2.0), (0, 0.5)], [], [(100, 3.0)]]
    path = tmp_path / "hits.root"
    _write_jagged(path, [10.0, 20.0, 30.0], hits)
    card = tmp_path / "card.toml"
    example = (DATASETS / "example_geant4_root.toml").read_text()
    card.write_text(example.replace('"binning_ds2.xml"', f'"{DATASETS / "binning_ds2.xml"}"'))
    events = DOMAIN.read(path, card=card)
    assert events.events.shape == (3, 6480)
    assert events.events[0, 0] == pytest.approx(2.0) and events.events[0, 6479] == pytest.approx(2.0)
    assert events.events[1].sum() == 0 and events.events[2, 100] == pytest.approx(3.0)
    assert events.events.sum() == pytest.approx(7.0)
    np.testing.assert_allclose(events.conditions[:, 0], [1e4, 2e4, 3e4])
    assert events.layout["geometry"] == "ds2" and events.layout["particle"] == "e-"
    # explicit options beat the card; without a geometry the jagged form cannot be read
    with pytest.raises(SurrogateError, match="unknown number of values per event"):
        DOMAIN.read(path, tree="hits", energy_branch="primary_energy", cell_index_branch="cell_id",
                    cell_energy_branch="edep")
    chunks = list(DOMAIN.iter_read(path, chunk_events=2, card=card))
    np.testing.assert_array_equal(np.concatenate([c.events for c in chunks]), events.events)


def test_jagged_cell_index_out_of_range_is_reported(tmp_path):
    path = tmp_path / "hits.root"
    _write_jagged(path, [10.0, 20.0], [[(1, 1.0)], [(6480, 1.0)]])
    with pytest.raises(SurrogateError, match="'cell_id' row 1 holds cell 6480, outside 0..6479"):
        DOMAIN.read(path, geometry="ds2", energy_unit="GeV")


def test_rntuple_is_read_like_a_ttree(tmp_path):
    events = sample_events("calogan", 6, seed=3)
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as handle:
        handle["showers"] = {"incident_energy": events.conditions[:, 0], "showers": events.events}
    with uproot.open(path) as handle:
        assert handle.classnames() == {"showers;1": "ROOT::RNTuple"}
    back = DOMAIN.read(path)
    np.testing.assert_array_equal(back.events, events.events)
    np.testing.assert_array_equal(back.conditions, events.conditions)
    assert "RNTuple" in DOMAIN.inspect(path)["tree"]



def test_the_output_suffix_chooses_hdf5_or_root(tmp_path):
    from_root = sample_events("calogan", 4, seed=4, file_format="root")
    DOMAIN.write(tmp_path / "generated.h5", from_root)
    back = DOMAIN.read(tmp_path / "generated.h5")
    assert back.layout["format"] == "calogan"
    np.testing.assert_array_equal(back.events, from_root.events)
    from_hdf5 = sample_events("ds2", 4, seed=5)
    DOMAIN.write(tmp_path / "generated.root", from_hdf5)
    back = DOMAIN.read(tmp_path / "generated.root")
    assert back.layout["format"] == "root"
    np.testing.assert_array_equal(back.events, from_hdf5.events)
