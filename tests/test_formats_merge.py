"""Merging shower files chunk by chunk (shards of one production), HDF5 and ROOT, from Python and the CLI."""
from __future__ import annotations

import numpy as np
import pytest
from shower_samples import run_cli, write_sample

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats import showers
from surrogate.errors import SurrogateError


@pytest.mark.parametrize("geometry, file_format, suffix", [
    ("ds2", "calochallenge", ".h5"), ("calogan", "calogan", ".h5"), ("ds2", "root", ".root")])
def test_merge_concatenates_in_order(tmp_path, monkeypatch, geometry, file_format, suffix):
    monkeypatch.setattr(showers, "BLOCK_BYTES", 4 * 507 * 3)  # force many small blocks
    parts = [write_sample(tmp_path / f"part{i}{suffix}", geometry, n, seed=i, file_format=file_format)
             for i, n in enumerate([5, 0, 7])]
    output = tmp_path / f"merged{suffix}"
    assert showers.merge([tmp_path / f"part{i}{suffix}" for i in range(3)], output) == 12
    merged = DOMAIN.read(output)
    np.testing.assert_array_equal(merged.events, np.concatenate([p.events for p in parts]))
    np.testing.assert_array_equal(merged.conditions, np.concatenate([p.conditions for p in parts]))
    assert merged.layout == DOMAIN.read(tmp_path / f"part0{suffix}").layout


def test_merge_refuses_different_geometries_and_particles(tmp_path):
    write_sample(tmp_path / "a.h5", "ds2", 3, seed=1)
    write_sample(tmp_path / "b.h5", "ds1-photons", 3, seed=2)
    write_sample(tmp_path / "c.h5", "ds2", 3, seed=3, particle="gamma")
    with pytest.raises(SurrogateError, match="geometry differs"):
        DOMAIN.merge([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "out.h5")
    with pytest.raises(SurrogateError, match="particle gamma differs from e-"):
        DOMAIN.merge([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "out.h5")
    with pytest.raises(SurrogateError, match="also one of its inputs"):
        DOMAIN.merge([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "a.h5")
    assert not (tmp_path / "out.h5").exists()


def test_merge_command(tmp_path, capsys):
    first = write_sample(tmp_path / "s1.h5", "ds2", 4, seed=1)
    second = write_sample(tmp_path / "s2.h5", "ds2", 2, seed=2)
    code, out, err = run_cli(capsys, "merge", tmp_path / "all.h5", tmp_path / "s1.h5", tmp_path / "s2.h5")
    assert code == 0, err
    merged = DOMAIN.read(tmp_path / "all.h5")
    np.testing.assert_array_equal(merged.events, np.concatenate([first.events, second.events]))
    code, out, err = run_cli(capsys, "merge", tmp_path / "bad.h5", tmp_path / "s1.h5", tmp_path / "missing.h5")
    assert code != 0 and "missing.h5: no such file" in err and len(err.strip().splitlines()) == 1
