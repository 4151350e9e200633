"""`surrogate benchmark`: the JSON it writes and the consistency of its numbers (no speed thresholds)."""
import json
import sys

import numpy as np
import pytest

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.reference import reference_simulator
from surrogate.core.timing import time_callable
from shower_samples import run_cli, write_sample
from training_helpers import train_tiny_run


@pytest.fixture(scope="module")
def ds2_run(tmp_path_factory):
    """A few-step run on synthetic ds2 showers, so the built-in ds2 simulator is the reference."""
    root = tmp_path_factory.mktemp("benchmark")
    data = root / "ds2.h5"
    write_sample(data, get_geometry("ds2"), 64, seed=0)
    return train_tiny_run(root, data, steps=2, validate_every=2, checkpoint_every=2, validation_events=8)


def test_json_follows_the_schema_and_its_numbers_agree(ds2_run, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, stdout, _ = run_cli(capsys, "benchmark", ds2_run, "--out", out, "--batch-sizes", "1,16",
                              "--simulator-events", "1", "--repeats", "2", "--device", "cpu")
    assert code == 0
    result = json.loads(out.read_text())
    assert result["device"].startswith("cpu")
    simulator = result["simulator"]
    assert simulator["events"] == 1 and len(simulator["seconds"]) == 2
    assert simulator["seconds_per_event"] == pytest.approx(np.median(simulator["seconds"]))
    assert "training data" in simulator["conditions_from"]
    rows = result["surrogate"]
    assert {(r["batch_size"], r["precision"]) for r in rows} == {(1, "fp32"), (16, "fp32"), (1, "bf16"), (16, "bf16")}
    for row in rows:
        assert row["events_per_second"] == pytest.approx(row["batch_size"] / row["seconds_per_batch"])
        assert row["speedup"] == pytest.approx(simulator["seconds_per_event"] * row["events_per_second"])
        assert row["flop_per_event"] > 0
        assert row["fraction_of_peak"] is None  # no known peak for a CPU
    best = max(rows, key=lambda r: r["events_per_second"])
    assert result["speedup"] == best["speedup"]
    assert result["best"] == {"batch_size": best["batch_size"], "precision": best["precision"], "path": "eager"}
    assert f"speedup at the best setting (batch {best['batch_size']}, {best['precision']}, eager)" in stdout


def test_the_simulator_runs_at_the_training_energies_or_at_conditions(ds2_run, tmp_path, capsys):
    """Not at 100 GeV for a model trained on a few GeV: the timed energies lie in the training range,
    or are the user's --conditions."""
    from surrogate.core.model import load

    low, high = load(ds2_run).trained_range
    out = tmp_path / "bench.json"
    args = ["benchmark", ds2_run, "--out", out, "--batch-sizes", "2", "--precision", "fp32",
            "--simulator-events", "3", "--repeats", "1"]
    assert run_cli(capsys, *args)[0] == 0
    timed = json.loads(out.read_text())["simulator"]["conditions"]["incident_energy_mev"]
    assert low[0] <= timed[0] < timed[1] <= high[0]
    table = tmp_path / "energies.txt"
    table.write_text("1500\n")
    assert run_cli(capsys, *args, "--conditions", table, "--overwrite")[0] == 0
    simulator = json.loads(out.read_text())["simulator"]
    assert simulator["conditions"]["incident_energy_mev"] == [1500.0, 1500.0]
    assert simulator["conditions_from"] == "--conditions"


def test_whole_units_of_simulator_work_are_timed():
    """An N-body box yields 12 maps: one event asked for times the whole box and divides by 12."""
    from types import SimpleNamespace

    from surrogate.core.benchmark import BenchmarkPlan, time_simulator
    from surrogate.core.domain import ReferenceSimulator

    calls = []
    reference = ReferenceSimulator("boxes", lambda rows, rng: calls.append(len(rows)), [], events_per_call=12)
    model = SimpleNamespace(domain=SimpleNamespace(reference_simulator=lambda layout: reference), layout={},
                            condition_names=("omega_m", "sigma8"))
    conditions = np.column_stack([np.linspace(0.2, 0.4, 30), np.full(30, 0.8)])
    result = time_simulator(model, BenchmarkPlan(simulator_events=1, repeats=3), conditions)
    assert calls == [12, 12, 12, 12]  # warm-up, then 3 repeats, each a whole box
    assert result["events"] == 12 and result["seconds_per_event"] == pytest.approx(np.median(result["seconds"]) / 12)


def test_representative_rows_and_speedup_format():
    from surrogate.core.benchmark import format_speedup, representative_rows

    conditions = np.arange(100.0)[::-1, None]
    np.testing.assert_array_equal(representative_rows(conditions, 4)[:, 0], [12, 37, 62, 87])
    assert representative_rows(conditions, 1)[0, 0] == 50
    assert [format_speedup(x) for x in (1083.4, 7.23, 0.351)] == ["1083x", "7.2x", "0.35x"]


def test_an_outside_simulator_command_is_timed_as_a_whole_process(ds2_run, tmp_path, capsys):
    out = tmp_path / "bench.json"
    command = f"{sys.executable} -c 'import time; time.sleep(0.4)'"
    code, _, _ = run_cli(capsys, "benchmark", ds2_run, "--out", out, "--batch-sizes", "4", "--precision", "fp32",
                         "--simulator-command", command, "--simulator-events", "4", "--repeats", "1")
    assert code == 0
    simulator = json.loads(out.read_text())["simulator"]
    assert simulator["name"] == command and simulator["events"] == 4
    assert simulator["seconds_per_event"] >= 0.1  # 0.4 s of sleeping over 4 events


def test_a_failing_simulator_command_is_one_line_and_writes_nothing(ds2_run, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, _, stderr = run_cli(capsys, "benchmark", ds2_run, "--out", out, "--batch-sizes", "4",
                              "--simulator-command", f"{sys.executable} -c 'raise SystemExit(3)'")
    assert code != 0
    assert "exited with status 3" in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_batch_sizes_are_refused(ds2_run, tmp_path, capsys):
    code, _, stderr = run_cli(capsys, "benchmark", ds2_run, "--out", tmp_path / "b.json", "--batch-sizes", "1,x")
    assert code != 0 and "--batch-sizes" in stderr


def test_time_callable_synchronises_after_every_repeat():
    calls = []
    timing = time_callable(lambda: calls.append("run"), warmup=2, repeats=3, sync=lambda: calls.append("sync"))
    assert len(timing.seconds) == 3
    assert calls == ["run", "run", "sync"] + ["run", "sync"] * 3


def test_reference_simulator_only_for_simulated_geometries():
    assert reference_simulator({"geometry": "ds3", "particle": "photon"}) is None
    assert reference_simulator({"geometry": "ds2", "particle": "pion"}) is None
    reference = reference_simulator({"geometry": "ds2", "particle": "photon"})
    showers = reference.simulate(np.array([[2000.0]]), np.random.default_rng(0))
    assert showers.shape == (1, 6480) and showers.sum() > 0


@pytest.mark.parametrize("precision, expected", [("fp32", ("highest", "ieee")), ("tf32", ("high", "tf32")),
                                                 ("bf16", ("highest", "ieee"))])
def test_precision_rows_set_matmuls_and_convolutions_alike_and_restore_them(precision, expected):
    import torch

    from surrogate.core.benchmark import fp32_arithmetic

    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.conv.fp32_precision
    with fp32_arithmetic(precision):
        assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.conv.fp32_precision) == expected
    assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.conv.fp32_precision) == before
