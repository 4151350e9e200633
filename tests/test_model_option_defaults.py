"""Runs record every model option they used, and stored configs that lack one load with the default
it had when they were written, so older runs, exports and the shipped models sample as trained."""
import dataclasses
import json

import numpy as np
import pytest

from surrogate.calorimeter.domain import DOMAIN
from surrogate.core import checkpoint
from surrogate.core.config import ModelConfig
from surrogate.core.model import load
from surrogate.core.training import train
from surrogate.errors import SurrogateError
from surrogate.pretrained import card, export_file, names
from training_helpers import one_torch_thread, tiny_config, tiny_showers, write_tiny_file

#: The shower options' defaults before every option was recorded (docs/training.md), spelled out here on
#: purpose: a stored config without them must load exactly as if it named these.
OLD_SHOWER_DEFAULTS = {"alpha": "1e-06", "cell_noise": "0", "noise_profile": "0", "response_weight": "1",
                       "calibrate": "0", "critic_features": "0"}
NEW_DENSE_DEFAULTS = {"alpha": "0.001", "cell_noise": "1.5", "noise_profile": "1", "response_weight": "3",
                      "calibrate": "1", "critic_features": "0"}
TINY_MODEL = dict(latent_dim=8, generator_width=16, critic_width=16, depth=2)


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


def energies():
    return np.geomspace(1e3, 1e5, 40)


def sample(path):
    return load(path).sample(energies(), seed=5)


def rewrite_export(source, target, options):
    """A copy of the export ``source`` whose stored config holds ``options`` (as an older export would)."""
    export = checkpoint.load(source, checkpoint.EXPORT_KIND)
    export["config"]["model"]["options"] = options
    checkpoint.save(export, target)
    return target


def test_a_legacy_config_resolves_to_the_old_defaults_and_a_new_one_to_the_new():
    layout = tiny_showers(2, seed=0).layout
    legacy = DOMAIN.resolve_model(layout, ModelConfig(arch="dense"), legacy=True)
    assert legacy.options == dict(sorted(OLD_SHOWER_DEFAULTS.items()))
    assert DOMAIN.resolve_model(layout, ModelConfig(arch="auto")).options == dict(sorted(NEW_DENSE_DEFAULTS.items()))
    given = DOMAIN.resolve_model(layout, ModelConfig(arch="dense", options={"alpha": "1e-4"}), legacy=True)
    assert given.options["alpha"] == "1e-4" and given.options["calibrate"] == "0"
    conv = DOMAIN.resolve_model(layout, ModelConfig(arch="conv")).options  # cell noise is the dense head's
    assert (conv["cell_noise"], conv["noise_profile"], conv["calibrate"]) == ("0", "0", "1")


@pytest.mark.parametrize("name", [name for name in names() if card(name)["domain"] == "calorimeter"])
def test_shipped_models_sample_as_with_the_old_defaults_spelled_out(name, tmp_path):
    stored = checkpoint.load(export_file(name), checkpoint.EXPORT_KIND)["config"]["model"]["options"]
    explicit = rewrite_export(export_file(name), tmp_path / "explicit.pt", {**OLD_SHOWER_DEFAULTS, **stored})
    np.testing.assert_array_equal(sample(name), sample(explicit))


def test_training_records_every_option_and_a_legacy_run_loads_and_resumes_as_trained(tmp_path):
    data = write_tiny_file(tmp_path / "tiny.h5", n_events=300)
    config = tiny_config(data, steps=4, model=ModelConfig(arch="dense", **TINY_MODEL))
    train(config, tmp_path / "new", progress=False)
    for stored in (json.loads((tmp_path / "new" / checkpoint.CONFIG_FILE).read_text()),
                   checkpoint.load(tmp_path / "new" / "model.pt", checkpoint.EXPORT_KIND)["config"]):
        assert stored["model"]["options"] == dict(sorted(NEW_DENSE_DEFAULTS.items()))

    old = dataclasses.replace(config, model=ModelConfig(arch="dense", options=OLD_SHOWER_DEFAULTS, **TINY_MODEL))
    train(old, tmp_path / "old", progress=False)
    legacy = rewrite_export(tmp_path / "old" / "model.pt", tmp_path / "legacy.pt", {})
    np.testing.assert_array_equal(sample(tmp_path / "old" / "model.pt"), sample(legacy))
    assert not np.array_equal(sample(tmp_path / "new" / "model.pt"), sample(legacy))

    config_path = tmp_path / "old" / checkpoint.CONFIG_FILE  # as written before options were recorded
    saved = json.loads(config_path.read_text())
    saved["model"]["options"] = {}
    config_path.write_text(json.dumps(saved))
    resumed = dataclasses.replace(config, steps=6, model=ModelConfig(arch="dense", **TINY_MODEL))
    assert train(resumed, tmp_path / "old", resume=True, progress=False).step == 6
    assert json.loads(config_path.read_text())["model"]["options"] == dict(sorted(OLD_SHOWER_DEFAULTS.items()))
    with pytest.raises(SurrogateError, match="cannot change model.options"):
        train(dataclasses.replace(resumed, steps=8, model=ModelConfig(arch="dense", options={"calibrate": "1"},
                                                                       **TINY_MODEL)),
              tmp_path / "old", resume=True, progress=False)


def test_a_resume_that_repeats_the_options_it_was_given_is_accepted(tmp_path):
    data = write_tiny_file(tmp_path / "tiny.h5", n_events=300)
    model = ModelConfig(arch="dense", options={"cell_noise": "1"}, **TINY_MODEL)
    train(tiny_config(data, steps=2, model=model), tmp_path / "run", progress=False)
    assert train(tiny_config(data, steps=4, model=model), tmp_path / "run", resume=True, progress=False).step == 4
