"""benchmarks/fidelity.py at toy size: cached data, training, validation, JSON, and shipping by name."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from training_helpers import one_torch_thread

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fidelity.py"


@pytest.fixture()
def fidelity(monkeypatch, tmp_path):
    """The benchmark module with a toy dataset and budget, and a package folder of shipped models in tmp."""
    spec = importlib.util.spec_from_file_location("fidelity_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    toy = module.DataRecipe("ds2", "e-", (1.0, 2.0), train_events=60, reference_events=40)
    monkeypatch.setitem(module.DATASETS, "toy", toy)
    budget = {**module.BUDGETS["quick"], "steps": 4, "validate_every": 2, "checkpoint_every": 2, "log_every": 2,
              "batch_size": 16}
    monkeypatch.setitem(module.BUDGETS, "toy", budget)
    monkeypatch.setitem(module.TARGETS, "toy", module.TARGETS["quick"])
    from surrogate import pretrained

    monkeypatch.setattr(pretrained, "HERE", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    return module


@pytest.mark.slow
def test_fidelity_benchmark_trains_validates_caches_and_ships(fidelity, tmp_path, capsys):
    import surrogate
    from surrogate import pretrained

    cache, out = tmp_path / "cache", tmp_path / "result"
    argv = ["--dataset", "toy", "--budget", "toy", "--cache", str(cache), "--out", str(out), "--workers", "1",
            "--label", "test", "--ship"]
    with one_torch_thread():
        fidelity.main(argv)
    result = json.loads((out / "fidelity.json").read_text())
    assert result["dataset"] == "toy" and result["budget"] == "toy" and result["config"]["steps"] == 4
    assert result["n_reference"] == 40 and result["n_candidate"] == 40
    assert set(result["ratios"]) == set(json.loads((out / "report" / "metrics.json").read_text())["observables"])
    assert result["median_ratio"] > 0 and 0 <= result["classifier_auc"] <= 1
    assert set(result["seconds"]) == {"simulate", "train", "generate", "validate"}
    printed = capsys.readouterr().out
    assert "| toy | toy | test | 4 |" in printed
    cached = sorted(cache.glob("*.h5"))
    assert len(cached) == 2

    # shipped under the dataset's name: loads by name and carries its card
    assert pretrained.names() == ["toy"]
    model = surrogate.load("toy")
    assert model.metadata["card"]["fidelity"]["median_ratio"] == result["median_ratio"]
    assert model.metadata["card"]["command"].endswith("--label test --ship")
    assert model.config.data == cached[[p.name.count("train") for p in cached].index(1)].name
    assert model.sample([1500.0]).shape == (1, 6480)

    # a fresh reference for an existing model: nothing cached is simulated again
    mtimes = {path: path.stat().st_mtime_ns for path in cached}
    with one_torch_thread():
        fidelity.main(["--dataset", "toy", "--model", "toy", "--reference-seed", "7", "--cache", str(cache),
                       "--out", str(tmp_path / "again"), "--workers", "1"])
    again = json.loads((tmp_path / "again" / "fidelity.json").read_text())
    assert again["reference_seed"] == 7 and again["budget"] is None
    assert {path: path.stat().st_mtime_ns for path in cached} == mtimes
    assert len(list(cache.glob("*.h5"))) == 3


def test_budget_config_takes_the_changes_file_over_the_budget(fidelity, tmp_path):
    changes = tmp_path / "changes.toml"
    changes.write_text('steps = 7\n[model]\ngenerator_width = 32\noptions = { critic_features = "1" }\n')
    config = fidelity.budget_config("quick", tmp_path / "data.h5", changes, "cpu")
    assert config.steps == 7 and config.model.generator_width == 32
    assert config.model.critic_width == fidelity.BUDGETS["quick"]["model"]["critic_width"]
    assert config.model.options == {"critic_features": "1"}  # the rest are the library's defaults
    assert config.batch_size == fidelity.BUDGETS["quick"]["batch_size"]


def test_the_earlier_configurations_stay_expressible(fidelity, tmp_path):
    """The table's rows from before the defaults moved: each config names the options those runs used."""
    from surrogate.calorimeter.domain import DOMAIN
    from surrogate.calorimeter.models import LEGACY_OPTION_DEFAULTS
    from training_helpers import tiny_showers

    configs = SCRIPT.parent / "fidelity-configs"
    layout = tiny_showers(2, seed=0).layout

    def options(name):
        model = fidelity.budget_config("quick", tmp_path / "data.h5", configs / name, "cpu").model
        return {key: float(value) for key, value in DOMAIN.resolve_model(layout, model).options.items()}

    first = {"alpha": 1e-3, "cell_noise": 1.5, "response_weight": 3.0, "noise_profile": 0.0, "calibrate": 0.0,
             "critic_features": 0.0}  # the benchmark's options until 2026-11-30, spelled out
    assert options("first-baseline.toml") == first
    assert options("noise-profile.toml") == {**first, "noise_profile": 1.0}
    assert options("critic-features.toml") == {**first, "critic_features": 1.0}
    assert options("noise-profile-calibrate.toml") == {**first, "noise_profile": 1.0, "calibrate": 1.0}
    assert options("old-library-defaults.toml") == {key: float(value) for key, value in LEGACY_OPTION_DEFAULTS.items()}


@pytest.fixture()
def toy_maps(fidelity, monkeypatch):
    """The benchmark with a toy map dataset (16-pixel maps of a 64 Mpc/h box, 2 steps) and budget."""
    toy = fidelity.MapRecipe(grid=16, map_size=16, box_mpc_h=64.0, steps=2, train_runs=6, maps_per_run=4,
                             reference_boxes=3, power_bands=3)
    monkeypatch.setitem(fidelity.DATASETS, "toy-maps", toy)
    budget = {**fidelity.MAP_BUDGETS["quick"], "steps": 4, "validate_every": 2, "checkpoint_every": 2, "log_every": 2,
              "batch_size": 8, "model": {"latent_dim": 8, "generator_width": 8, "critic_width": 8, "depth": 1}}
    monkeypatch.setitem(fidelity.MAP_BUDGETS, "toy", budget)
    return fidelity


@pytest.mark.slow
def test_map_benchmark_reports_power_per_point_and_ships_a_map_model(toy_maps, tmp_path, capsys):
    import h5py

    import surrogate
    from surrogate import pretrained
    from surrogate.cli import main

    fidelity = toy_maps
    cache, out = tmp_path / "cache", tmp_path / "result"
    with one_torch_thread():
        fidelity.main(["--dataset", "toy-maps", "--budget", "toy", "--cache", str(cache), "--out", str(out),
                       "--label", "test", "--ship"])
    result = json.loads((out / "fidelity.json").read_text())
    assert result["config"]["steps"] == 4 and result["config"]["loss"]["name"] == "r1"
    # the reference: three boxes at three training points and at the held-out point, told apart by box
    training, reference = (next(cache.glob(f"toy-maps-{role}-*.h5")) for role in ("train", "reference"))
    with h5py.File(training) as handle:
        runs = np.unique(handle["parameters"][:], axis=0)
    points = result["points"]
    assert [point["held_out"] for point in points] == [False, False, False, True]
    assert (points[3]["omega_m"], points[3]["sigma8"]) == (0.30, 0.80)
    for point in points[:3]:
        assert any(np.allclose(run, [point["omega_m"], point["sigma8"]]) for run in runs)
    assert all(point["n_boxes"] == 3 and point["n_reference"] == 12 == point["n_candidate"] for point in points)
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["settings"]["groups"] == {"reference": 12, "candidate": None}
    # P(k) ratio in three bands from the fundamental mode to half Nyquist, with box-resampled errors
    edges = result["power_bands_h_mpc"]
    assert len(edges) == 4 and edges[-1] == pytest.approx(np.pi * 16 / 64 / 2)
    assert edges[0] < 2 * np.pi / 64 < edges[1]
    for entry in [result["all"], *points]:
        assert len(entry["power_ratio"]) == 3 and all(error > 0 for error in entry["power_error"])
        assert entry["max_power_deviation"] == pytest.approx(max(abs(r - 1) for r in entry["power_ratio"]))
        assert entry["max_power_pull"] == pytest.approx(max(abs(r - 1) / e for r, e in zip(entry["power_ratio"],
                                                                                        entry["power_error"])))
    assert points[0]["worst_ratio"] == max(points[0]["ratios"].values())
    targets = result["targets"]
    assert targets["power_held_out"]["value"] == points[3]["max_power_deviation"]
    assert targets["classifier_auc"]["met"] == (result["classifier_auc"] <= 0.70)
    printed = capsys.readouterr().out
    assert result["step"] in (2, 4) and f"| toy-maps | toy | test | {result['step']} |" in printed and "held-out (omega_m 0.3000, sigma8 0.8000)" in printed

    # shipped: loads by name, listed with its parameter ranges, generates by parameter values
    assert pretrained.names() == ["toy-maps"]
    model = surrogate.load("toy-maps")
    card = model.metadata["card"]
    assert card["domain"] == "cosmology" and card["parameter_ranges"] == {"omega_m": [0.2, 0.4], "sigma8": [0.7, 0.9]}
    assert card["fidelity"]["targets"] == targets and card["fidelity"]["points"] == points
    assert model.sample([[0.3, 0.8]]).shape == (1, 16, 16)
    main(["models"])
    assert "16x16 maps of 64 Mpc/h, omega_m 0.2-0.4, sigma8 0.7-0.9" in capsys.readouterr().out
    generated = tmp_path / "m.h5"
    main(["generate", "toy-maps", "--condition", "sigma8=0.8", "--condition", "omega_m=0.3", "--events", "3",
          "--out", str(generated), "--device", "cpu"])
    with h5py.File(generated) as handle:
        assert handle["maps"].shape == (3, 16, 16) and handle["parameters"][:].tolist() == [[0.3, 0.8]] * 3

    # an existing model against a fresh reference: the training maps are not simulated again
    mtime = training.stat().st_mtime_ns
    with one_torch_thread():
        fidelity.main(["--dataset", "toy-maps", "--model", "toy-maps", "--reference-seed", "7", "--cache", str(cache),
                       "--out", str(tmp_path / "again")])
    again = json.loads((tmp_path / "again" / "fidelity.json").read_text())
    assert again["reference_seed"] == 7 and again["budget"] is None
    assert [(p["omega_m"], p["sigma8"]) for p in again["points"]] == [(p["omega_m"], p["sigma8"]) for p in points]
    assert training.stat().st_mtime_ns == mtime and len(list(cache.glob("toy-maps-reference-*.h5"))) == 2


def test_generate_checks_condition_options(tmp_path, capsys):
    from surrogate.commands.generate import condition_row
    from surrogate.errors import SurrogateError

    assert condition_row(("sigma8=0.8", "omega_m=0.3"), ("omega_m", "sigma8"), tmp_path) == [0.3, 0.8]
    for values, message in ((("omega_m=0.3",), "missing: sigma8"), (("omega_m=0.3", "sigma8=x"), "finite number"),
                            (("omega_m=0.3", "sigma8=0.8", "h=0.7"), "unknown: h"),
                            (("omega_m=0.3", "omega_m=0.2"), "given twice")):
        with pytest.raises(SurrogateError, match=message):
            condition_row(values, ("omega_m", "sigma8"), tmp_path)


def test_map_datasets_differ_only_in_resolution_and_budgets_follow_the_protocol(fidelity, tmp_path):
    import dataclasses

    small, large = fidelity.DATASETS["maps-64"], fidelity.DATASETS["maps-128"]
    assert dataclasses.replace(small, grid=128, map_size=128) == large
    for recipe in (small, large):
        edges = fidelity.power_band_edges(recipe)
        assert len(edges) == 7 and edges[-1] == pytest.approx(np.pi * recipe.map_size / 256.0 / 2)
        assert edges[0] < 2 * np.pi / 256.0 < edges[1] and np.all(np.diff(edges) > 0)
    config = fidelity.budget_config("long", tmp_path / "maps.h5", None, "cpu", fidelity.MAP_BUDGETS)
    assert (config.steps, config.validate_every, config.checkpoint_every, config.batch_size, config.seed) == (
        3000, 250, 250, 32, 1)
    assert config.loss.name == "r1" and (config.model.generator_width, config.model.critic_width,
                                         config.model.depth, config.model.latent_dim) == (64, 64, 1, 64)


def test_the_map_configurations_name_what_their_rows_trained(fidelity, tmp_path):
    """docs/cosmology.md's map rows stay reproducible now that the terms are on by default."""
    from surrogate.cosmology.domain import DOMAIN
    from test_cosmology_models import lognormal_maps

    configs = SCRIPT.parent / "fidelity-configs"
    layout = lognormal_maps(2, size=64).layout

    def model(name=None):
        config = fidelity.budget_config("long", tmp_path / "maps.h5", configs / name if name else None, "cpu",
                                        fidelity.MAP_BUDGETS)
        resolved = DOMAIN.resolve_model(layout, config.model)
        return resolved.arch, {key: float(value) for key, value in resolved.options.items()}

    terms = ("spectral_weight", "pdf_weight", "local_pdf_weight", "critic_features")
    assert [model()[1][key] for key in terms] == [2.0, 1.0, 1.0, 0.0]  # the defaults: the three generator terms
    assert [model("maps-no-terms.toml")[1][key] for key in terms] == [0.0, 0.0, 0.0, 0.0]
    assert [model("maps-spectral.toml")[1][key] for key in terms] == [0.5, 0.0, 0.0, 0.0]
    assert [model("maps-spectral-2.toml")[1][key] for key in terms] == [2.0, 0.0, 0.0, 0.0]
    assert [model("maps-critic-features.toml")[1][key] for key in terms] == [2.0, 0.0, 0.0, 1.0]
    assert [model("maps-pdf.toml")[1][key] for key in terms] == [2.0, 1.0, 0.0, 0.0]
    assert [model("maps-pdf-3.toml")[1][key] for key in terms] == [2.0, 3.0, 0.0, 0.0]
    arch, options = model("maps-log-transform.toml")
    assert arch == "dcgan-log" and [options[key] for key in terms] == [2.0, 0.0, 0.0, 0.0]
