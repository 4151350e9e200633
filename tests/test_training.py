"""The training loop on tiny synthetic showers (CPU, seconds): learning, logs, checkpoints, errors."""
import copy
import csv
import json
import math

import numpy as np
import pytest
import torch

from surrogate.core import checkpoint
from surrogate.core.config import TrainConfig, from_dict, read_config_file
from surrogate.core.ema import EMA
from surrogate.core.losses import LOSSES, WassersteinGP
from surrogate.core.model import load
from surrogate.core.training import NonFiniteLoss, _Trainer, train
from surrogate.errors import SurrogateError
from training_helpers import ModelConfig, one_torch_thread, tiny_config, write_tiny_file


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_tiny_file(tmp_path_factory.mktemp("data") / "tiny.h5", n_events=2000)


def validation_scores(run_dir):
    with open(run_dir / checkpoint.LOG_FILE) as handle:
        return [(int(row["step"]), float(row["score"])) for row in csv.DictReader(handle) if row["score"]]


def test_a_short_run_lowers_the_validation_w1(data_file, tmp_path):
    config = tiny_config(data_file, steps=400, batch_size=64, validate_every=50, checkpoint_every=0,
                         optim={"lr_generator": 3e-4, "lr_critic": 3e-4},
                         model=ModelConfig(latent_dim=16, generator_width=32, critic_width=32, depth=2))
    result = train(config, tmp_path / "run", progress=False)
    scores = validation_scores(tmp_path / "run")
    assert [step for step, _ in scores] == list(range(50, 401, 50))
    first, best = scores[0][1], min(score for _, score in scores)
    assert best < 0.7 * first  # the score includes shape summaries (radial width, cell energies) learnt slower
    assert result.validation["score"] == pytest.approx(scores[-1][1], rel=1e-4)
    exported = load(tmp_path / "run")  # the best export carries the best score
    assert exported.metadata["validation"]["score"] == pytest.approx(best, rel=1e-4)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_and_writes_the_run_directory(data_file, tmp_path, loss):
    run_dir = tmp_path / loss
    result = train(tiny_config(data_file, loss=loss), run_dir, progress=False)
    assert result.step == 20
    names = {path.name for path in run_dir.iterdir()}
    assert {"config.json", "layout.json", "log.csv", "training_state.pt", "model.pt", "model_best.pt"} <= names
    saved = from_dict(TrainConfig, json.loads((run_dir / "config.json").read_text()))
    assert saved.loss.name == loss and saved.optim.lr_critic is not None  # resolved defaults are saved
    assert json.loads((run_dir / "layout.json").read_text())["format"] == "calochallenge"
    rows = list(csv.DictReader((run_dir / "log.csv").read_text().splitlines()))
    assert [int(row["step"]) for row in rows] == [5, 10, 15, 20]
    assert all(float(row["critic"]) == float(row["critic"]) for row in rows)  # no NaN


def test_lazy_r1_scales_the_critic_optimiser(data_file, tmp_path):
    train(tiny_config(data_file, loss="r1", steps=2), tmp_path / "r1", progress=False)
    state = checkpoint.load(tmp_path / "r1" / "training_state.pt", checkpoint.TRAINING_STATE_KIND)
    c = 4 / 5  # r1_interval 4 in tiny_config
    group = state["optimizer_critic"]["param_groups"][0]
    assert group["lr"] == pytest.approx(2e-4 * c)
    assert group["betas"][1] == pytest.approx(0.99 ** c)
    assert state["optimizer_generator"]["param_groups"][0]["lr"] == pytest.approx(2e-4)


@pytest.mark.parametrize("arch,generator_conditioning,critic_conditioning", [
    ("dense", "film", "projection"), ("conv", "concat", "concat"), ("conv", "film", "projection"),
    ("layer-streams", "concat", "projection")])
def test_architectures_and_conditioning_train(data_file, tmp_path, arch, generator_conditioning, critic_conditioning):
    model = ModelConfig(arch=arch, latent_dim=8, generator_width=16, critic_width=16, depth=1,
                        generator_conditioning=generator_conditioning, critic_conditioning=critic_conditioning)
    train(tiny_config(data_file, steps=3, model=model), tmp_path / "run", progress=False)
    surrogate_model = load(tmp_path / "run", which="last")
    showers = surrogate_model.sample([1500.0, 8000.0])
    assert showers.shape == (2, 36) and (showers >= 0).all()


def test_bf16_autocast_runs_on_cpu(data_file, tmp_path):
    result = train(tiny_config(data_file, steps=4, precision="bf16"), tmp_path / "run", progress=False)
    assert result.step == 4 and result.validation["score"] < float("inf")


def test_a_nan_loss_stops_with_one_line_and_keeps_the_last_checkpoint(data_file, tmp_path):
    # Adam moves each weight by about lr per step: the generator's first update ruins it, the next
    # step's losses overflow.
    config = tiny_config(data_file, steps=50, checkpoint_every=1, optim={"lr_generator": 1e30, "critic_steps": 1})
    with pytest.raises(NonFiniteLoss) as caught:
        train(config, tmp_path / "run", progress=False)
    message = str(caught.value)
    assert "\n" not in message and "training stopped at step" in message and "training_state.pt" in message
    stopped_at = int(message.split("step ")[1].split(":")[0])
    assert stopped_at >= 2
    state = checkpoint.load(tmp_path / "run" / "training_state.pt", checkpoint.TRAINING_STATE_KIND)
    assert state["step"] == stopped_at - 1
    assert load(tmp_path / "run", which="last").metadata["step"] == stopped_at - 1


def test_a_nan_found_at_the_next_log_row_stops_before_any_later_checkpoint(data_file, tmp_path, monkeypatch):
    calls = []
    original = WassersteinGP.generator_main

    def nan_from_step_7(self, fake_scores):
        calls.append(None)
        value = original(self, fake_scores)
        return value * math.nan if len(calls) >= 7 else value

    monkeypatch.setattr(WassersteinGP, "generator_main", nan_from_step_7)
    config = tiny_config(data_file, steps=20, log_every=4, checkpoint_every=5, validate_every=0)
    with pytest.raises(NonFiniteLoss) as caught:
        train(config, tmp_path / "run", progress=False)
    message = str(caught.value)
    assert message.startswith("training stopped at step 8: ")  # the log row after the NaN of step 7
    assert "is nan (mean over steps 5-8)" in message
    assert "training_state.pt" in message
    assert load(tmp_path / "run", which="last").metadata["step"] == 5  # the checkpoint before the NaN
    state = checkpoint.load(tmp_path / "run" / "training_state.pt", checkpoint.TRAINING_STATE_KIND)
    assert state["step"] == 5 and all(value.isfinite().all() for value in state["generator"].values())


def test_stats_are_read_only_for_log_rows_and_checkpoints_and_rates_are_logged(data_file, tmp_path, monkeypatch):
    reads = []
    original = _Trainer._read_stats

    def counted(self):
        reads.append(self.step)
        return original(self)

    monkeypatch.setattr(_Trainer, "_read_stats", counted)
    train(tiny_config(data_file, steps=12, log_every=4, checkpoint_every=6, validate_every=0), tmp_path / "run",
          progress=False)
    assert reads == [4, 6, 8, 12]
    with open(tmp_path / "run" / checkpoint.LOG_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert "peak_memory_gib" not in rows[0]  # a CUDA-only column
    for row in rows:  # the rate since the previous row, in both units
        assert float(row["seconds_per_step"]) > 0
        assert float(row["samples_per_second"]) == pytest.approx(32 / float(row["seconds_per_step"]), rel=1e-4)


def test_without_a_terminal_progress_is_a_line_every_tenth_of_the_run(data_file, tmp_path, capsys):
    train(tiny_config(data_file, steps=20, validate_every=0), tmp_path / "run", progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar redrawn in a log file
    progress = [line for line in err.splitlines() if line.startswith("train: step")]
    assert [line.split()[2] for line in progress] == [f"{step}/20" for step in range(2, 21, 2)]
    assert all("steps/s, ETA " in line for line in progress)
    assert "critic" in progress[-1] and "generator" in progress[-1]  # the losses of the latest log row


def test_ema_update_matches_a_lerp_per_parameter():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.LayerNorm(7), torch.nn.Linear(7, 3))
    ema = EMA(module, halflife_samples=1000.0)
    reference = copy.deepcopy(ema.module)
    for _ in range(3):
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.add_(torch.randn_like(parameter))
        ema.update(module, 64, 640)
        with torch.no_grad():
            for average, current in zip(reference.parameters(), module.parameters()):
                average.lerp_(current, 1 - ema.beta(64, 640))
    for average, expected in zip(ema.module.parameters(), reference.parameters()):
        assert torch.equal(average, expected)
    assert not torch.equal(next(ema.module.parameters()), next(module.parameters()))


def test_a_run_directory_is_not_overwritten(data_file, tmp_path):
    train(tiny_config(data_file, steps=2), tmp_path / "run", progress=False)
    with pytest.raises(SurrogateError, match="already holds a run"):
        train(tiny_config(data_file, steps=2), tmp_path / "run", progress=False)


def test_resume_refuses_a_changed_config(data_file, tmp_path):
    train(tiny_config(data_file, steps=2), tmp_path / "run", progress=False)
    with pytest.raises(SurrogateError, match="cannot change loss.name"):
        train(tiny_config(data_file, steps=4, loss="r1"), tmp_path / "run", resume=True, progress=False)


def test_config_files_reject_unknown_keys(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('steps = 7\n[loss]\nname = "r1"\nr1_gamma = 2\n[model]\ndepth = 2\n')
    config = read_config_file(good)
    assert (config.steps, config.loss.name, config.loss.r1_gamma, config.model.depth) == (7, "r1", 2.0, 2)
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nwidht = 3\n")
    with pytest.raises(SurrogateError, match="unknown config key model.widht") as caught:
        read_config_file(bad)
    assert caught.value.path == str(bad)
    wrong_type = tmp_path / "wrong.json"
    wrong_type.write_text('{"steps": "many"}')
    with pytest.raises(SurrogateError, match="steps must be int"):
        read_config_file(wrong_type)


def test_calogan_layout_trains_with_layer_streams_and_generates_its_layout(tmp_path):
    from surrogate.calorimeter.domain import DOMAIN
    from surrogate.calorimeter.formats.layout import make_layout
    from surrogate.calorimeter.geometry import get_geometry
    from surrogate.core.domain import EventSet

    geometry = get_geometry("calogan")
    rng = np.random.default_rng(4)
    incident = rng.uniform(1e3, 1e5, 120)
    cells = rng.exponential(1.0, (120, geometry.n_values)) * (rng.random((120, geometry.n_values)) < 0.4)
    cells = (cells * (incident / cells.sum(axis=1))[:, None]).astype(np.float32)
    data = tmp_path / "calogan.h5"
    DOMAIN.write(data, EventSet(incident[:, None], cells, ("incident_energy_mev",), make_layout("calogan", geometry)))
    train(tiny_config(data, steps=2, validation_events=20), tmp_path / "run", progress=False)
    model = load(tmp_path / "run")
    assert type(model.generator).__name__ == "LayerStreamGenerator"  # "auto" on rectangular cells
    out = tmp_path / "generated.h5"
    DOMAIN.write(out, model.sample_events(np.full(5, 20_000.0)))
    back = DOMAIN.read(out)
    assert back.layout["format"] == "calogan" and back.events.shape == (5, 507)
    np.testing.assert_allclose(back.conditions[:, 0], 20_000.0)


def test_unknown_conditioning_is_refused_before_training():
    from surrogate.core.config import resolve

    for model in (ModelConfig(critic_conditioning="film"), ModelConfig(generator_conditioning="projection")):
        with pytest.raises(SurrogateError, match="conditioning"):
            resolve(TrainConfig(model=model))


def test_config_json_names_the_architecture_auto_chose_and_a_resume_may_still_say_auto(tmp_path):
    data = write_tiny_file(tmp_path / "tiny.h5", n_events=200)
    model = ModelConfig(arch="auto", latent_dim=8, generator_width=16, critic_width=16, depth=2)
    with one_torch_thread():
        train(tiny_config(data, steps=4, model=model), tmp_path / "run", progress=False)
        assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["arch"] == "dense"
        result = train(tiny_config(data, steps=6, model=model), tmp_path / "run", resume=True, progress=False)
    assert result.step == 6
