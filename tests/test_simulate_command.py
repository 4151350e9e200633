"""``surrogate simulate calorimeter``: layouts, energies, reproducibility, and shards that merge exactly."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import uproot
from shower_samples import run_cli

from surrogate.calorimeter import production
from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.production import parse_energies, shard_blocks, shard_events
from surrogate.core.shards import parse_shard
from surrogate.errors import SurrogateError

#: What our simulator divides ds2 silicon energy by (measured; Geant4 files used 0.033).
DS2_SAMPLING_FRACTION = get_geometry("ds2").sampling_fraction


def _simulate(capsys, out, *extra, geometry="ds2", particle="e-", events=5, seed=7, energy=("--energy", "1")):
    code, stdout, err = run_cli(capsys, "simulate", "calorimeter", "--geometry", geometry, "--particle", particle,
                                *energy, "--events", events, "--seed", seed, "--out", out, *extra)
    assert code == 0, err
    return stdout


@pytest.mark.parametrize("events, shards", [(1, 1), (10, 3), (64, 4), (100, 7), (100, 25)])
def test_shards_partition_the_blocks_evenly(events, shards, monkeypatch):
    monkeypatch.setattr(production, "BLOCK_EVENTS", 4)
    parts = [list(shard_blocks(events, f"{i}/{shards}")) for i in range(1, shards + 1)]
    assert [shard_events(events, f"{i}/{shards}") for i in range(1, shards + 1)] == \
        [sum(stop - start for _, start, stop in part) for part in parts]
    flat = [block for part in parts for block in part]
    assert [block for block, _, _ in flat] == list(range(len(flat)))
    assert [start for _, start, _ in flat] == list(range(0, events, 4))
    assert flat[-1][2] == events and all(stop - start <= 4 for _, start, stop in flat)
    sizes = [len(part) for part in parts]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_more_shards_than_blocks_is_an_error_not_an_empty_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-",
                           "--energy", "1", "--events", "300", "--seed", "1", "--out", tmp_path / "x.h5",
                           "--shard", "1/10")
    assert code == 2 and err.strip() == ("surrogate: error: --shard 1/10: 10 shards for 3 blocks of 128 showers "
                                         "leaves some empty; use at most 3 shards")
    assert not (tmp_path / "x.h5").exists()


def test_option_parsing():
    assert parse_energies(None, "1:100") == (1.0, 100.0)
    assert parse_energies(2.5, None) == (2.5, 2.5)
    assert parse_shard("3/10") == (3, 10) and parse_shard(None) == (1, 1)
    for energy, energy_range in [(None, None), (1.0, "1:2"), (None, "2:1"), (None, "0:5"), (None, "a:b")]:
        with pytest.raises(SurrogateError):
            parse_energies(energy, energy_range)
    for shard in ["0/3", "4/3", "1-3", "x/y"]:
        with pytest.raises(SurrogateError):
            parse_shard(shard)


def test_ds2_file_is_in_the_calochallenge_layout(tmp_path, capsys):
    out = tmp_path / "ds2.h5"
    assert "wrote 3 showers" in _simulate(capsys, out, events=3)
    events = DOMAIN.read(out)
    assert events.layout == {"domain": "calorimeter", "format": "calochallenge", "geometry": "ds2",
                             "particle": "e-", "sampling_fraction": DS2_SAMPLING_FRACTION}
    np.testing.assert_array_equal(events.conditions[:, 0], 1000.0)
    assert events.events.shape == (3, 6480) and (events.events.sum(axis=1) > 0).all()
    with h5py.File(out) as handle:
        assert handle["showers"].compression == "gzip" and handle.attrs["units"] == "MeV"


def test_calogan_file_energy_range_and_root_format(tmp_path, capsys):
    out = tmp_path / "calogan.h5"
    _simulate(capsys, out, geometry="calogan", particle="gamma", events=4, energy=("--energy-range", "1:2"))
    events = DOMAIN.read(out)
    assert events.layout["format"] == "calogan" and events.layout["particle"] == "gamma"
    assert ((events.conditions >= 1000.0) & (events.conditions <= 2000.0)).all()
    assert len(np.unique(events.conditions)) == 4
    with h5py.File(out) as handle:
        assert handle["layer_1"].shape == (4, 12, 12)
        np.testing.assert_allclose(handle["energy"][:, 0], events.conditions[:, 0] / 1000.0)
    root_out = tmp_path / "calogan.root"
    _simulate(capsys, root_out, "--format", "root", geometry="calogan", particle="gamma", events=4,
              energy=("--energy-range", "1:2"))
    with uproot.open(root_out) as handle:
        assert handle.classnames()["showers;1"] == "TTree"
    from_root = DOMAIN.read(root_out)
    np.testing.assert_array_equal(from_root.events, events.events)  # same seed: same showers in either format


def test_same_seed_same_showers_other_seed_other_showers(tmp_path, capsys):
    _simulate(capsys, tmp_path / "a.h5", seed=11, events=3, energy=("--energy-range", "1:2"))
    _simulate(capsys, tmp_path / "b.h5", seed=11, events=3, energy=("--energy-range", "1:2"))
    _simulate(capsys, tmp_path / "c.h5", seed=12, events=3, energy=("--energy-range", "1:2"))
    a, b, c = (DOMAIN.read(tmp_path / f"{name}.h5") for name in "abc")
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_array_equal(a.conditions, b.conditions)
    assert not np.array_equal(a.conditions, c.conditions) and not np.array_equal(a.events, c.events)


def test_merged_shards_equal_the_unsharded_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(production, "BLOCK_EVENTS", 2)
    options = dict(events=7, seed=5, energy=("--energy-range", "1:2"))
    _simulate(capsys, tmp_path / "whole.h5", **options)
    for index in (1, 2, 3):
        _simulate(capsys, tmp_path / f"shard{index}.h5", "--shard", f"{index}/3", **options)
    code, _, err = run_cli(capsys, "merge", tmp_path / "merged.h5", *(tmp_path / f"shard{i}.h5" for i in (1, 2, 3)))
    assert code == 0, err
    whole, merged = DOMAIN.read(tmp_path / "whole.h5"), DOMAIN.read(tmp_path / "merged.h5")
    assert [len(DOMAIN.read(tmp_path / f"shard{i}.h5")) for i in (1, 2, 3)] == [2, 2, 3]
    np.testing.assert_array_equal(merged.conditions, whole.conditions)
    np.testing.assert_array_equal(merged.events, whole.events)
    _simulate(capsys, tmp_path / "parallel.h5", "--workers", "2", **options)  # workers do not change results
    np.testing.assert_array_equal(DOMAIN.read(tmp_path / "parallel.h5").events, whole.events)


def test_bad_options_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-",
                           "--events", "2", "--seed", "1", "--out", tmp_path / "x.h5")
    assert code != 0 and err.strip() == "surrogate: error: give exactly one of --energy GEV and --energy-range LO:HI"
    code, _, err = run_cli(capsys, "simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-",
                           "--energy", "1", "--events", "2", "--seed", "1", "--out", tmp_path / "x.h5",
                           "--shard", "4/3")
    assert code != 0 and "--shard '4/3': I must be between 1 and N" in err
    assert not (tmp_path / "x.h5").exists()
