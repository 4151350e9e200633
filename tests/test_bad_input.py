"""Every kind of bad shower file gives one line naming the file and the problem, and a non-zero exit."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
import uproot
from shower_samples import run_cli, write_sample

from surrogate.calorimeter.formats import showers


def _hdf5(path, **datasets):
    with h5py.File(path, "w") as handle:
        for name, values in datasets.items():
            handle.create_dataset(name, data=values)
    return path


def _good(n=4, voxels=368):
    rng = np.random.default_rng(0)
    return {"incident_energies": rng.uniform(1e3, 1e5, (n, 1)),
            "showers": rng.exponential(1.0, (n, voxels)).astype(np.float32)}


def _with(**changes):
    data = _good()
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def _nan_showers():
    data = _good()["showers"]
    data[2, 7] = np.nan
    return data


def _negative_showers():
    data = _good()["showers"]
    data[3, 100] = -0.25
    return data


def _truncated_hdf5(path):
    write_sample(path.with_suffix(".full"), "ds2", 20, seed=1)
    content = path.with_suffix(".full").read_bytes()
    path.write_bytes(content[: len(content) // 2])


def _damaged_hdf5(path):
    write_sample(path, "ds2", 200, seed=1)
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle:middle + 20000] = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(content))


def _truncated_root(path):
    write_sample(path.with_suffix(".full"), "ds2", 20, seed=1, file_format="root")
    content = path.with_suffix(".full").read_bytes()
    path.write_bytes(content[: len(content) // 2])


def _root_without_energy(path):
    with uproot.recreate(path) as handle:
        handle.mktree("t", {"x": "i4", "showers": ("f4", (368,))})
        handle["t"].extend({"x": np.arange(3, dtype=np.int32), "showers": np.ones((3, 368), np.float32)})


CASES = {
    "missing dataset": (lambda p: _hdf5(p, **_with(incident_energies=None)), "missing dataset 'incident_energies'"),
    "N mismatch": (lambda p: _hdf5(p, **_with(incident_energies=np.ones((3, 1)) * 1e3)),
                   "disagree on the number of events: 'incident_energies' has 3, 'showers' has 4"),
    "showers not 2D": (lambda p: _hdf5(p, **_with(showers=np.ones((4, 8, 46), np.float32))),
                       r"'showers' has shape \(4, 8, 46\)"),
    "energies not a column": (lambda p: _hdf5(p, **_with(incident_energies=np.ones((4, 2)))),
                              r"'incident_energies' has shape \(4, 2\)"),
    "unknown voxel count": (lambda p: _hdf5(p, **_with(showers=np.ones((4, 100), np.float32))),
                            "100 values per event match no known geometry"),
    "NaN in showers": (lambda p: _hdf5(p, **_with(showers=_nan_showers())), "'showers' row 2 holds nan"),
    "inf incident energy": (lambda p: _hdf5(p, **_with(incident_energies=np.array([[1e3], [np.inf], [1], [1]]))),
                            "'incident_energies' row 1 is inf"),
    "negative cell energy": (lambda p: _hdf5(p, **_with(showers=_negative_showers())),
                             r"'showers' row 3 holds a negative energy \(-0.25 MeV\)"),
    "zero incident energy": (lambda p: _hdf5(p, **_with(incident_energies=np.array([[1e3], [1e3], [0.0], [1]]))),
                             "'incident_energies' row 2 is 0 MeV; incident energies must be positive"),
    "truncated HDF5": (_truncated_hdf5, "truncated HDF5 file"),
    "damaged HDF5 data": (_damaged_hdf5, "the file is damaged|cannot open as HDF5"),
    "truncated ROOT": (_truncated_root, "truncated ROOT file"),
    "missing branch": (_root_without_energy, "cannot tell which branch holds the incident energy"),
    "not HDF5": (lambda p: p.write_text("incident_energies,showers\n1,2\n"), "not an HDF5 file"),
    "unknown layout": (lambda p: _hdf5(p, density=np.ones((4, 4, 4))), "not in any layout surrogate knows"),
    "empty file": (lambda p: p.write_bytes(b""), r"empty file \(0 bytes\)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inspect_reports_bad_file_in_one_line(tmp_path, capsys, case):
    make, message = CASES[case]
    path = tmp_path / ("bad.root" if "ROOT" in case or "branch" in case else "bad.h5")
    make(path)
    code, out, err = run_cli(capsys, "inspect", path)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]


def test_missing_branch_named_by_option(tmp_path, capsys):
    path = tmp_path / "t.root"
    write_sample(path, "ds2", 3, seed=1, file_format="root")
    code, _, err = run_cli(capsys, "inspect", path, "--energy-branch", "Ebeam")
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert f"{path}: missing branch 'Ebeam' in tree 'showers' (branches: incident_energy, showers)" in err


def test_binning_that_does_not_fit(tmp_path, capsys):
    path = _hdf5(tmp_path / "ds1.h5", **_good())
    xml = tmp_path / "binning.xml"
    xml.write_text('<Bins><Bin name="photon"><Layer id="0" r_edges="0,1,2" n_bin_alpha="3"/></Bin></Bins>')
    code, _, err = run_cli(capsys, "inspect", path, "--binning", xml)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert f"368 values per event, but binning {xml} has 6" in err


def test_nan_deep_in_a_large_file_is_found_block_by_block(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(showers, "BLOCK_BYTES", 368 * 4 * 10)  # ten events per block
    data = _good(n=95)
    data["showers"][93, 5] = np.inf
    path = _hdf5(tmp_path / "big.h5", **data)
    code, _, err = run_cli(capsys, "inspect", path)
    assert code != 0 and "'showers' row 93 holds inf" in err


def test_bad_card_and_missing_file(tmp_path, capsys):
    path = _hdf5(tmp_path / "ok.h5", **_good())
    card = tmp_path / "card.toml"
    card.write_text("tree = 3\n")
    code, _, err = run_cli(capsys, "inspect", path, "--card", card)
    assert code != 0 and err.strip() == f"surrogate: error: {card}: dataset card key 'tree' has the wrong type (int)"
    code, _, err = run_cli(capsys, "inspect", tmp_path / "nope.h5")
    assert code != 0 and err.strip() == f"surrogate: error: {tmp_path / 'nope.h5'}: no such file"


def test_console_script_prints_no_traceback(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "surrogate", "inspect", str(path)], capture_output=True,
                            text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip() == f"surrogate: error: {path}: empty file (0 bytes)"
