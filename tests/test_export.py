"""``surrogate export --format onnx``: the exported graph, run by ONNX Runtime on the CPU, gives what
``model.sample`` gives with the same noise, for a tiny shower model and a tiny map model."""
import importlib.util

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from shower_samples import run_cli
from test_cosmology_models import lognormal_maps
from training_helpers import one_torch_thread, tiny_config, train_tiny_run

from surrogate.core.config import ModelConfig
from surrogate.core.model import load
from surrogate.core.training import train
from surrogate.cosmology import formats
from surrogate.cosmology.domain import DOMAIN as COSMOLOGY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shower_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("showers"))


@pytest.fixture(scope="module")
def map_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("maps")
    events = lognormal_maps(16, size=64)
    formats.write_nbody(root / "maps.h5", events.events, events.conditions, events.condition_names,
                        {"box_mpc_h": 100.0, "redshift": 0.0, "quantity": formats.CONTRAST})
    config = tiny_config(root / "maps.h5", steps=2, batch_size=4, validate_every=0, checkpoint_every=0,
                         validation_events=4, model=ModelConfig(latent_dim=8, generator_width=32, critic_width=32,
                                                                depth=1))
    with one_torch_thread():
        train(config, root / "run", progress=False)
    return root / "run", events.conditions


def onnx_events(path, conditions: np.ndarray, noise: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (events,) = session.run(None, {"conditions": conditions.astype(np.float32), "noise": noise.astype(np.float32)})
    return events


def sample_noise(model, n_events: int, seed: int) -> np.ndarray:
    """The noise ``model.sample(..., seed=seed)`` draws for one batch of ``n_events``."""
    return torch.randn(n_events, model.latent_dim, generator=torch.Generator().manual_seed(seed)).numpy()


def export(capsys, run_dir, out):
    with one_torch_thread():
        code, stdout, stderr = run_cli(capsys, "export", str(run_dir), "--format", "onnx", "--out", str(out))
    assert code == 0, stderr
    assert "wrote" in stdout and out.exists()


def test_shower_graph_matches_sample_in_mev(shower_run, tmp_path, capsys):
    out = tmp_path / "gen.onnx"
    export(capsys, shower_run, out)
    model = load(shower_run)
    energies_mev = np.exp(np.random.default_rng(1).uniform(np.log(1e3), np.log(1e4), (50, 1)))
    expected = model.sample(energies_mev, seed=7)
    events = onnx_events(out, energies_mev, sample_noise(model, 50, 7))
    assert events.shape == expected.shape == (50, 36)
    np.testing.assert_allclose(events, expected, rtol=1e-4, atol=1e-3)  # MeV, showers of 1-10 GeV
    assert np.array_equal(events == 0, expected == 0)  # the inverse's threshold zeros the same cells
    # the batch size is free, and each event depends only on its own row
    one = onnx_events(out, energies_mev[3:4], sample_noise(model, 50, 7)[3:4])
    np.testing.assert_allclose(one[0], events[3], rtol=1e-5, atol=1e-4)
    metadata = {entry.key: entry.value for entry in onnx.load(str(out)).metadata_props}
    assert metadata["condition_names"] == '["incident_energy_mev"]'
    assert metadata["latent_dim"] == str(8 + 36)  # z, and the default cell noise's one entry per cell
    assert [dim.dim_param for dim in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim][0] == "batch"


def test_calibrated_shower_graph_matches_sample(tmp_path, capsys):
    """A model with the cell-spectrum calibration (how the shipped models are made) exports the same way."""
    model_config = ModelConfig(latent_dim=8, generator_width=16, critic_width=16, depth=2, arch="dense",
                               options={"calibrate": "1", "cell_noise": "1", "noise_profile": "1"})
    run = train_tiny_run(tmp_path, model=model_config)
    out = tmp_path / "calibrated.onnx"
    export(capsys, run, out)
    model = load(run)
    assert model.preprocessor.calibration.is_active
    energies_mev = np.exp(np.random.default_rng(2).uniform(np.log(1e3), np.log(1e4), (50, 1)))
    expected = model.sample(energies_mev, seed=5)
    events = onnx_events(out, energies_mev, sample_noise(model, 50, 5))
    np.testing.assert_allclose(events, expected, rtol=1e-3, atol=1e-2)
    assert (events == 0).mean() == pytest.approx((expected == 0).mean(), abs=0.01)


def test_map_graph_matches_sample(map_run, tmp_path, capsys):
    run_dir, conditions = map_run
    out = tmp_path / "maps.onnx"
    export(capsys, run_dir, out)
    model = load(run_dir)
    expected = model.sample(conditions[:5], seed=3)
    events = onnx_events(out, conditions[:5], sample_noise(model, 5, 3))
    assert events.shape == expected.shape == (5, 64, 64)
    np.testing.assert_allclose(events, expected, rtol=1e-4, atol=1e-4)
    assert COSMOLOGY.name == {e.key: e.value for e in onnx.load(str(out)).metadata_props}["domain"]


def test_missing_onnxruntime_is_one_line_naming_the_extra(shower_run, tmp_path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else
                        find_spec(name, *a))
    code, _, stderr = run_cli(capsys, "export", str(shower_run), "--out", str(tmp_path / "gen.onnx"))
    assert code == 2 and stderr.count("\n") == 1
    assert "onnxruntime" in stderr and "surrogate[onnx]" in stderr
    assert not (tmp_path / "gen.onnx").exists()
