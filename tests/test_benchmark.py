"""`surrogate benchmark`: the JSON it writes and the consistency of its numbers (no speed thresholds)."""
import json
import sys

import numpy as np
import pytest

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.reference import TIMING_POINTS_MEV, reference_simulator
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
    assert simulator["events"] == len(TIMING_POINTS_MEV)
    assert [p["condition"] for p in simulator["points"]] == ["1 GeV", "10 GeV", "100 GeV"]
    assert simulator["seconds_per_event"] == pytest.approx(np.mean([p["seconds_per_event"] for p in simulator["points"]]))
    # A 100 GeV shower costs more than a 1 GeV one: the simulator really ran at each point.
    assert simulator["points"][2]["seconds_per_event"] > simulator["points"][0]["seconds_per_event"]
    rows = result["surrogate"]
    assert {(r["batch_size"], r["precision"]) for r in rows} == {(1, "fp32"), (16, "fp32"), (1, "bf16"), (16, "bf16")}
    for row in rows:
        assert row["events_per_second"] == pytest.approx(row["batch_size"] / row["seconds_per_batch"])
        assert row["flop_per_event"] > 0
        assert row["fraction_of_peak"] is None  # no known peak for a CPU
    best = max(r["events_per_second"] for r in rows)
    assert result["speedup"] == pytest.approx(simulator["seconds_per_event"] * best)
    assert "speedup at the best setting" in stdout


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
