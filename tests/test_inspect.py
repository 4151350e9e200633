"""``surrogate inspect`` on every shower layout: what it prints, with and without reader options."""
from __future__ import annotations

import json

import numpy as np
import pytest
import uproot
from shower_samples import run_cli, write_sample


def _summary(capsys, *args):
    code, out, err = run_cli(capsys, "inspect", "--json", *args)
    assert code == 0, err
    assert out.endswith("}\n")  # a file or a pipe gets a complete last line
    return json.loads(out)


@pytest.mark.parametrize("geometry, file_format, suffix, cells", [
    ("ds2", "calochallenge", ".h5", "45 layers x (16 angles x 9 radii)"),
    ("calogan", "calogan", ".hdf5", "3 layers: layer_0: 3x96, layer_1: 12x12, layer_2: 12x6 + overflow 3"),
    ("ds2", "root", ".root", "45 layers x (16 angles x 9 radii)"),
])
def test_summary_of_each_layout(tmp_path, capsys, geometry, file_format, suffix, cells):
    path = tmp_path / f"showers{suffix}"
    written = write_sample(path, geometry, 11, seed=4, file_format=file_format, particle="gamma")
    summary = _summary(capsys, path)
    energies = written.conditions[:, 0]
    assert summary["layout"] == file_format and summary["events"] == 11
    assert summary["values_per_event"] == written.events.shape[1] and summary["cells"] == cells
    assert summary["geometry"] == geometry and summary["particle"] == "gamma"
    assert summary["sampling_fraction"] == written.layout["sampling_fraction"]
    assert summary["incident_energy_mev"] == pytest.approx([energies.min(), energies.max()], rel=1e-6)
    assert summary["incident_energy_gev"] == pytest.approx([energies.min() / 1e3, energies.max() / 1e3], rel=1e-6)
    ratio = np.mean(written.events.sum(axis=1, dtype=np.float64) / energies)
    assert summary["mean_deposited_over_incident"] == pytest.approx(ratio, rel=1e-5)
    assert summary["file_size"].split()[1] in ("kB", "MB")


def test_plain_text_output_and_ds1_cells(tmp_path, capsys):
    path = tmp_path / "photons.h5"
    write_sample(path, "ds1-photons", 3, seed=5, particle=None)
    code, out, err = run_cli(capsys, "inspect", path)
    assert code == 0, err
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert lines["geometry"] == "ds1-photons" and lines["particle"] == "gamma"
    assert lines["cells"] == "24 layers (5 with cells): 0: 1x8, 1: 10x16, 2: 10x19, 3: 1x5, 12: 1x5"
    assert lines["values_per_event"] == "368"


def test_root_options_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "g4.root"
    energies_gev = np.array([2.0, 50.0, 8.0])
    with uproot.recreate(path) as handle:
        handle.mktree("calo", {"E": "f8", "Edep": "f8", "cells": ("f4", (6480,))})
        handle["calo"].extend({"E": energies_gev, "Edep": energies_gev, "cells": np.ones((3, 6480), np.float32)})
    summary = _summary(capsys, path, "--energy-branch", "E", "--energy-unit", "GeV")
    assert summary["incident_energy_gev"] == [2.0, 50.0]
    assert summary["tree"] == "calo (TTree)" and summary["branches"] == "energy E; cells cells (fixed-size)"
    assert summary["geometry"] == "ds2" and summary["particle"] == "e-"
    card = tmp_path / "card.toml"
    card.write_text('tree = "calo"\nenergy_branch = "Edep"\nenergy_unit = "MeV"\nparticle = "e+"\n')
    summary = _summary(capsys, path, "--card", card)
    assert summary["incident_energy_mev"] == [2.0, 50.0] and summary["particle"] == "e+"
