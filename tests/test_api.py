"""The public API at the package root: read, train + read_log, validate's result object and metrics.csv."""
import numpy as np
import pandas
import pytest
from training_helpers import one_torch_thread, tiny_showers, write_tiny_file

import surrogate
from surrogate.errors import SurrogateError


def test_read_gives_the_file_events_and_slices(tmp_path):
    path = write_tiny_file(tmp_path / "tiny.h5", n_events=50, seed=3)
    events = surrogate.read(path)
    expected = tiny_showers(50, 3)
    assert events.condition_names == ("incident_energy_mev",)
    np.testing.assert_allclose(events.events, expected.events, rtol=1e-6)
    part = surrogate.read(path, start=10, stop=15)
    np.testing.assert_array_equal(part.events, events.events[10:15])
    with pytest.raises(SurrogateError, match="no such file"):
        surrogate.read(tmp_path / "missing.h5")


def test_train_takes_keywords_and_sections_and_the_log_is_a_frame(tmp_path):
    data = write_tiny_file(tmp_path / "tiny.h5", n_events=200)
    with one_torch_thread():
        result = surrogate.train(data, tmp_path / "run", steps=10, batch_size=16, device="cpu", log_every=5,
                                 validate_every=5, checkpoint_every=0, validation_events=50, loss="r1",
                                 model={"latent_dim": 4, "generator_width": 16, "critic_width": 16, "depth": 1})
    assert result.step == 10
    config = surrogate.load(tmp_path / "run").config
    assert (config.loss.name, config.model.latent_dim, config.model.arch) == ("r1", 4, "dense")  # auto resolved
    log = surrogate.read_log(tmp_path / "run")
    assert isinstance(log, pandas.DataFrame) and list(log["step"]) == [5, 10]
    assert log["score"].notna().all()
    with pytest.raises(SurrogateError, match="unknown config key model.widht"):
        surrogate.train(data, tmp_path / "other", model={"widht": 3})
    with pytest.raises(SurrogateError, match="log.csv"):
        surrogate.read_log(tmp_path)


def test_validation_result_frame_and_metrics_csv(tmp_path):
    write_tiny_file(tmp_path / "ref.h5", n_events=400, seed=1)
    write_tiny_file(tmp_path / "cand.h5", n_events=300, seed=2)
    result = surrogate.validate(tmp_path / "ref.h5", tmp_path / "cand.h5", tmp_path / "out", n_resamples=10,
                                report=False)
    metrics = result.to_dict()
    assert result.summary == metrics["summary"] and result.auc == metrics["classifier_auc"]
    assert result.auc_floor == metrics["classifier_auc_floor"] == pytest.approx(0.5, abs=0.1)
    frame = result.to_frame()
    compared = [entry for entry in metrics["condition_bins"] if "observables" in entry]
    assert len(frame) == len(metrics["observables"]) * (1 + len(compared))
    inclusive = frame[frame["bin"] == "all"].set_index("observable")
    for name, entry in metrics["observables"].items():
        assert inclusive.loc[name, "w1"] == entry["w1"] and inclusive.loc[name, "floor"] == entry["noise_floor"]
        assert inclusive.loc[name, "ratio"] == entry["ratio"] and inclusive.loc[name, "error"] == entry["w1_err"]
    assert set(frame["bin"]) == {"all", *(entry["label"] for entry in compared)}
    written = pandas.read_csv(tmp_path / "out" / "metrics.csv")
    pandas.testing.assert_frame_equal(written, frame, check_exact=False, rtol=1e-12)
    sliced = metrics["sliced_wasserstein"]
    assert sliced["features"][0] == "incident_energy_mev" and 0.3 < sliced["ratio"] < 3
