"""`surrogate generate` and `surrogate.load(...).sample(...)` on a tiny trained run."""
import numpy as np
import pytest
import torch

import surrogate
from surrogate.calorimeter.domain import DOMAIN
from surrogate.cli import main
from surrogate.errors import SurrogateError
from training_helpers import tiny_showers, train_tiny_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("generate"), steps=6, validate_every=3, checkpoint_every=3)


def run_cli(*args):
    """The exit status of ``surrogate ARGS`` run in this process (0 when it returns normally)."""
    try:
        main(list(args))
    except SystemExit as stopped:
        return stopped.code
    return 0


def test_energy_and_events_write_the_training_layout(run_dir, tmp_path, capsys):
    out = tmp_path / "e5.h5"
    assert run_cli("generate", str(run_dir), "--energy", "5", "--events", "40", "--out", str(out), "--seed", "1") == 0
    assert "wrote 40 events" in capsys.readouterr().out
    events = DOMAIN.read(out)
    assert events.events.shape == (40, 36)
    assert np.all(events.conditions == 5000.0)
    assert events.layout["format"] == "calochallenge" and events.layout["binning_xml"]
    assert (events.events >= 0).all() and (events.events.sum(axis=1) > 0).all()


@pytest.mark.parametrize("kind", ["h5", "npy", "csv", "txt"])
def test_conditions_from_a_data_file_or_a_table(run_dir, tmp_path, kind):
    energies = np.array([1200.0, 3400.0, 9000.0, 2500.0])
    source = tmp_path / f"conditions.{kind}"
    if kind == "h5":
        reference = tiny_showers(4, seed=9)
        reference.conditions[:, 0] = energies
        DOMAIN.write(source, reference)
    elif kind == "npy":
        np.save(source, energies)
    elif kind == "csv":
        source.write_text("incident_energy_mev\n" + "\n".join(map(str, energies)) + "\n")
    else:
        source.write_text("# energies in MeV\n" + "\n".join(map(str, energies)) + "\n")
    out = tmp_path / "out.h5"
    assert run_cli("generate", str(run_dir), "--conditions", str(source), "--out", str(out), "--batch-size", "3",
                   "--device", "cpu") == 0
    np.testing.assert_array_equal(DOMAIN.read(out).conditions[:, 0], energies)


def test_bad_requests_are_one_line_errors(run_dir, tmp_path, capsys):
    assert run_cli("generate", str(run_dir), "--out", str(tmp_path / "x.h5")) == 2
    assert "give one of --conditions FILE, --energy GEV" in capsys.readouterr().err
    assert run_cli("generate", str(run_dir), "--condition", "incident_energy_mev=1000", "--out",
                   str(tmp_path / "x.h5")) == 2
    assert "--condition needs --events N" in capsys.readouterr().err
    assert run_cli("generate", str(run_dir), "--condition", "omega_m=0.3", "--events", "2", "--out",
                   str(tmp_path / "x.h5")) == 2
    assert "conditioned on incident_energy_mev; unknown: omega_m" in capsys.readouterr().err
    assert run_cli("generate", str(run_dir), "--condition", "incident_energy_mev=1500", "--events", "2", "--out",
                   str(tmp_path / "at.h5"), "--device", "cpu") == 0
    assert DOMAIN.read(tmp_path / "at.h5").conditions.tolist() == [[1500.0], [1500.0]]
    assert run_cli("generate", str(tmp_path / "nowhere"), "--energy", "1", "--events", "2", "--out",
                   str(tmp_path / "x.h5")) == 2
    assert "no such run directory" in capsys.readouterr().err
    table = tmp_path / "bad.csv"
    table.write_text("1000,2000\n3000,4000\n")
    assert run_cli("generate", str(run_dir), "--conditions", str(table), "--out", str(tmp_path / "x.h5")) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "one column per condition" in err and err.count("\n") == 1


def test_python_api_sample(run_dir):
    model = surrogate.load(run_dir)
    assert model.condition_names == ("incident_energy_mev",) and model.event_shape == (36,)
    energies = np.array([1000.0, 2000.0, 8000.0])
    showers = model.sample(energies, seed=4)
    assert showers.dtype == np.float32 and showers.shape == (3, 36)
    np.testing.assert_array_equal(showers, model.sample(energies[:, None], seed=4))  # (N,) == (N, 1)
    assert not np.array_equal(showers, model.sample(energies, seed=5))
    as_tensor = model.sample(energies, seed=4, as_torch=True)
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), showers)
    assert model.sample([], seed=0).shape == (0, 36)
    with pytest.raises(SurrogateError, match="NaN"):
        model.sample([1000.0, np.nan])


def test_preprocessed_generation_and_inverse_compose_to_sample(run_dir):
    model = surrogate.load(run_dir, which="last")
    conditions = torch.tensor([[1500.0], [6000.0]])
    x = model.generate_preprocessed(conditions, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, model.preprocessor.n_features)
    events = model.inverse(x, conditions)
    np.testing.assert_array_equal(events.numpy(), model.sample(conditions.numpy(), seed=0))
    bf16 = model.generate_preprocessed(conditions, generator=torch.Generator().manual_seed(0), precision="bf16")
    assert bf16.shape == x.shape and torch.isfinite(bf16).all()
    assert model.latent_dim == 8 + 36 and model.device == torch.device("cpu")  # z and the default cell noise


def test_validate_warns_when_the_reference_is_the_training_data(run_dir, tmp_path, caplog):
    """generate stamps the run's training file; validate warns against it (and its copies) only."""
    import shutil

    from surrogate.core.validation import validate

    training = run_dir.parent / "tiny.h5"
    generated = tmp_path / "generated.h5"
    assert run_cli("generate", str(run_dir), "--conditions", str(training), "--out", str(generated)) == 0
    copy = shutil.copy(training, tmp_path / "copy.h5")
    independent = tmp_path / "independent.h5"
    DOMAIN.write(independent, tiny_showers(300, seed=5))
    for reference, warned in ((training, True), (copy, True), (independent, False)):
        caplog.clear()
        validate(reference, generated, tmp_path / "report", classifier=False, report=False, n_resamples=4)
        assert any("training data" in record.getMessage() for record in caplog.records) is warned, reference


def test_repr_and_a_warning_outside_the_trained_range(run_dir, caplog):
    model = surrogate.load(run_dir)
    low, high = model.trained_range
    text = repr(model)
    assert "calorimeter" in text and "incident_energy_mev" in text and f"{high[0]:.4g}" in text
    assert f"step {model.metadata['step']}" in text
    caplog.clear()
    model.sample([2000.0, 3000.0, 0.98 * low[0], 1.02 * high[0]])  # just past the sample's ends: no warning
    assert not caplog.records
    model.sample([2000.0, 50_000.0, 60_000.0])
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "2 of 3 conditions lie outside the training range" in warnings[0]


@pytest.mark.parametrize("layout", ["calochallenge", "calogan", "root", "nbody"])
def test_conditions_stream_block_by_block_without_the_events(tmp_path, monkeypatch, layout):
    """generate --conditions, the trained range and the benchmark read the conditions in blocks, never the
    showers or maps: incident_energies, CaloGAN's energy, a ROOT energy branch, the N-body parameters."""
    from shower_samples import write_sample

    from surrogate.calorimeter.formats import showers
    from surrogate.core import conditions
    from surrogate.cosmology import formats
    from surrogate.cosmology.formats import mapfiles

    path = tmp_path / ("data.root" if layout == "root" else "data.h5")
    if layout == "nbody":
        parameters = np.random.default_rng(3).uniform(0.2, 0.9, (50, 2))
        formats.write_nbody(path, np.zeros((50, 4, 4), np.float32), parameters, ("omega_m", "sigma8"),
                            {"box_mpc_h": 64.0, "redshift": 0.0, "grid": 4, "steps": 1})
        names, expected = ("omega_m", "sigma8"), parameters
    else:
        written = write_sample(path, "calogan" if layout == "calogan" else "ds1-photons", 50, seed=3,
                               file_format="calochallenge" if layout == "root" else layout)
        names, expected = written.condition_names, written.conditions
    monkeypatch.setattr(showers, "_checked_blocks", None)  # reading any shower would fail
    monkeypatch.setattr(mapfiles, "read_nbody", None)  # and so would reading maps
    monkeypatch.setattr(conditions, "BLOCK_ROWS", 16)  # several blocks read from the 50 rows
    stream = conditions.open_conditions(path, names)
    blocks = list(stream.blocks(7))
    assert [len(block) for block in blocks] == [7] * 7 + [1] and len(stream) == 50
    np.testing.assert_allclose(np.concatenate(blocks), expected)
    np.testing.assert_allclose([stream.low, stream.high], [expected.min(axis=0), expected.max(axis=0)])
    np.testing.assert_allclose(stream.subsample(10), expected[::5])


def test_a_condition_stream_regroups_uneven_blocks_and_checks_each(tmp_path):
    """Blocks of any size from a reader come out in the sizes asked for; a bad row is named by its index in
    the whole stream, however the reader cut it."""
    from surrogate.core.conditions import ConditionStream

    values = np.arange(1.0, 24.0)
    cuts = [0, 1, 9, 10, 23]
    uneven = lambda rows: ((None, values[a:b]) for a, b in zip(cuts, cuts[1:]))  # noqa: E731
    stream = ConditionStream(uneven, ("incident_energy_mev",))
    assert [len(block) for block in stream.blocks(4)] == [4] * 5 + [3]
    np.testing.assert_array_equal(np.concatenate(list(stream.blocks(4)))[:, 0], values)
    values[12] = -1.0
    with pytest.raises(SurrogateError, match="row 12 has incident_energy_mev = -1"):
        ConditionStream(uneven, ("incident_energy_mev",))