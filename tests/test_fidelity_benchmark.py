"""benchmarks/fidelity.py at toy size: cached data, training, validation, JSON, and shipping by name."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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
