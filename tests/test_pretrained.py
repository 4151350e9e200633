"""Shipped pretrained models: loaded by name, listed with their cards, usable from every command."""
from __future__ import annotations

import json

import numpy as np
import pytest

import surrogate
from surrogate import pretrained
from surrogate.errors import SurrogateError
from shower_samples import run_cli

SHIPPED = pretrained.names()
SHOWER_MODELS = [name for name in SHIPPED if pretrained.card(name)["domain"] == "calorimeter"]
MAP_MODELS = [name for name in SHIPPED if pretrained.card(name)["domain"] == "cosmology"]
CARD_KEYS = {"domain", "geometry", "particle", "energy_range_gev", "condition_names", "data", "step", "samples",
             "command", "trained_by", "config", "fidelity"}
MAP_CARD_KEYS = {"domain", "parameter_ranges", "map_size", "box_mpc_h", "condition_names", "data", "step",
                 "command", "trained_by", "config", "fidelity"}


def test_the_promised_models_are_shipped():
    assert {"ds2-electron", "calogan-photon", "maps-64"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_shipped_model_loads_by_name_and_its_card_describes_it(name):
    model = surrogate.load(name)
    card = model.metadata["card"]
    assert CARD_KEYS <= set(card)
    assert model.metadata["step"] == card["step"] > 0
    assert list(model.condition_names) == card["condition_names"] == ["incident_energy_mev"]
    assert card["command"].startswith("python benchmarks/fidelity.py")
    assert card["trained_by"].startswith("python benchmarks/fidelity.py") and "--budget" in card["trained_by"]
    fidelity = card["fidelity"]
    assert fidelity["n_reference"] >= 2000 and 0.5 <= fidelity["classifier_auc"] <= 1
    assert fidelity["worst_ratio"] == max(fidelity["ratios"].values())
    assert pretrained.export_file(name).stat().st_size < 12e6  # small enough to keep in git


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_shipped_model_responds_like_a_calorimeter(name):
    """Mean E_tot / E_inc at three energies inside the training range: the simulator's is ~0.9-1.0."""
    model = surrogate.load(name)
    low, high = model.metadata["card"]["energy_range_gev"]
    for energy_gev in np.geomspace(low * 1.5, high / 1.5, 3):
        showers = model.sample(np.full(200, energy_gev * 1e3), seed=1).reshape(200, -1)
        response = showers.sum(axis=1) / (energy_gev * 1e3)
        assert 0.8 < response.mean() < 1.1, (energy_gev, response.mean())
        assert (showers >= 0).all() and (showers == 0).mean() > 0.1  # sparse, as showers are


@pytest.mark.parametrize("name", MAP_MODELS)
def test_shipped_map_model_loads_by_name_and_its_card_describes_it(name):
    model = surrogate.load(name)
    card = model.metadata["card"]
    assert MAP_CARD_KEYS <= set(card) and card["domain"] == "cosmology"
    assert list(model.condition_names) == card["condition_names"] == ["omega_m", "sigma8"]
    assert model.metadata["step"] == card["step"] > 0
    fidelity = card["fidelity"]
    assert 0.5 <= fidelity["classifier_auc"] <= 1 and len(fidelity["points"]) == 4
    assert len(fidelity["all"]["power_ratio"]) == len(fidelity["power_bands_h_mpc"]) - 1
    assert pretrained.export_file(name).stat().st_size < 12e6


@pytest.mark.parametrize("name", MAP_MODELS)
def test_shipped_map_model_clusters_more_with_sigma8(name):
    """Density contrast maps: mean ~0, never below -1, and more contrast at higher sigma_8 (as the
    simulator's: the pixel spread grows with the amplitude of the fluctuations)."""
    model = surrogate.load(name)
    spread = []
    for sigma8 in (0.72, 0.88):
        maps = model.sample(np.tile([0.3, sigma8], (64, 1)), seed=1)
        assert (maps >= -1).all() and abs(maps.mean()) < 0.1
        spread.append(maps.std())
    assert spread[1] > 1.05 * spread[0], spread


def test_models_command_lists_every_shipped_model_with_its_fidelity(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    for line, name in zip(lines, SHIPPED):
        assert f"AUC {pretrained.card(name)['fidelity']['classifier_auc']:.3f}" in line
    code, out, _ = run_cli(capsys, "models", "--verbose")
    assert code == 0 and json.loads(out[:out.index("\n}\n") + 2])["name"] == SHIPPED[0]


def test_generate_takes_a_shipped_name(capsys, tmp_path):
    from surrogate.calorimeter.domain import DOMAIN

    out = tmp_path / "e50.h5"
    code, _, err = run_cli(capsys, "generate", "ds2-electron", "--energy", "50", "--events", "20", "--out", out)
    assert code == 0, err
    events = DOMAIN.read(out)
    assert events.events.reshape(20, -1).shape == (20, 6480) and (events.conditions == 50_000.0).all()


def test_a_directory_of_the_same_name_comes_first_and_unknown_names_list_the_shipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds2-electron").mkdir()
    with pytest.raises(SurrogateError, match="not a finished or checkpointed run"):
        surrogate.load("ds2-electron")
    with pytest.raises(SurrogateError, match="shipped: .*ds2-electron"):
        surrogate.load("no-such-model")


def test_a_shipped_model_knows_its_range_and_shows_its_fidelity(caplog):
    model = surrogate.load("ds2-electron")
    low, high = model.metadata["card"]["energy_range_gev"]
    assert "median ratio" in repr(model) and f"{low * 1e3:.4g}-{high * 1e3:.4g}" in repr(model)
    with caplog.at_level("WARNING"):
        model.sample([high * 2e3], seed=0)
    assert "outside the training range" in caplog.text
