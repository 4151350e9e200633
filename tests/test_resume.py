"""Exact resume (N steps straight == N/2, resume, N/2) and checkpoints that survive kill -9."""
import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from surrogate.core import checkpoint
from surrogate.core.model import load
from surrogate.core.training import train
from training_helpers import one_torch_thread, tiny_config, write_tiny_file


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_tiny_file(tmp_path_factory.mktemp("data") / "tiny.h5", n_events=500)


def assert_same_state(a, b):
    """Every tensor of two training states equal, bit for bit (optimiser moments included)."""
    for key in ("generator", "critic", "ema", "preprocessor"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs"
    for key in ("optimizer_generator", "optimizer_critic"):
        for index, moments in a[key]["state"].items():
            for name, value in moments.items():
                assert torch.equal(value, b[key]["state"][index][name]), f"{key}.{index}.{name} differs"
    assert a["step"] == b["step"]


TIMING_COLUMNS = ("seconds", "seconds_per_step", "samples_per_second", "peak_memory_gib")


def log_rows(run_dir):
    """The log's rows without the columns that measure time (they differ between any two runs)."""
    with open(run_dir / checkpoint.LOG_FILE) as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)]


def log_seconds(run_dir):
    with open(run_dir / checkpoint.LOG_FILE) as handle:
        return [(int(row["step"]), float(row["seconds"])) for row in csv.DictReader(handle)]


def state(run_dir):
    return checkpoint.load(run_dir / checkpoint.TRAINING_STATE_FILE, checkpoint.TRAINING_STATE_KIND)


@pytest.mark.parametrize("loss", ["wgan-gp", "r1"])
def test_resume_continues_exactly(data_file, tmp_path, loss):
    straight = tmp_path / "straight"
    train(tiny_config(data_file, loss=loss, steps=12, checkpoint_every=6), straight, progress=False)
    halves = tmp_path / "halves"
    train(tiny_config(data_file, loss=loss, steps=6, checkpoint_every=6), halves, progress=False)
    assert state(halves)["step"] == 6
    result = train(tiny_config(data_file, loss=loss, steps=12, checkpoint_every=6), halves, resume=True,
                   progress=False)
    assert result.step == 12
    assert_same_state(state(straight), state(halves))
    straight_rows, halves_rows = log_rows(straight), log_rows(halves)
    assert [row["step"] for row in straight_rows] == ["5", "10", "12"]
    assert [row["step"] for row in halves_rows] == ["5", "6", "10", "12"]  # the first half ended at 6
    assert straight_rows[0] == halves_rows[0]


def test_log_seconds_go_on_after_a_resume(data_file, tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_config(data_file, steps=6, checkpoint_every=6, log_every=3, validate_every=0), run_dir,
          progress=False)
    first_half = state(run_dir)["seconds"]
    assert first_half > 0
    train(tiny_config(data_file, steps=9, checkpoint_every=6, log_every=3, validate_every=0), run_dir,
          resume=True, progress=False)
    seconds = log_seconds(run_dir)
    assert [step for step, _ in seconds] == [3, 6, 9]
    assert seconds[2][1] > first_half >= seconds[1][1] - 0.05  # counted on from the checkpoint, not from 0
    assert state(run_dir)["seconds"] > first_half


def test_resume_of_a_finished_run_does_nothing(data_file, tmp_path):
    train(tiny_config(data_file, steps=4), tmp_path / "run", progress=False)
    before = state(tmp_path / "run")
    result = train(tiny_config(data_file, steps=4), tmp_path / "run", resume=True, progress=False)
    assert result.step == 4
    assert_same_state(before, state(tmp_path / "run"))


CLI_TINY = ["--batch-size", "32", "--latent-dim", "8", "--width", "16", "--depth", "2", "--seed", "3",
            "--validate-every", "0", "--no-progress"]


def cli(*args):
    return [sys.executable, "-m", "surrogate", "train", *args, *CLI_TINY]


def test_kill_9_never_leaves_a_corrupt_checkpoint_and_the_run_resumes_exactly(data_file, tmp_path):
    run_dir = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(cli("--data", str(data_file), "--out", str(run_dir), "--steps", "100000",
                                   "--checkpoint-every", "1"), env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (run_dir / "training_state.pt").exists() and state(run_dir)["step"] >= 5:
                break
            time.sleep(0.2)
        time.sleep(0.37)  # land anywhere inside the checkpoint-every-step loop
        assert process.poll() is None, process.stderr.read().decode()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    saved = state(run_dir)  # loads: never half-written
    load(run_dir, which="last")
    stopped = saved["step"]
    target = stopped + 3
    subprocess.run(cli("--out", str(run_dir), "--resume", "--steps", str(target)), env=env, check=True)
    assert not list(run_dir.glob(".*.tmp"))  # the killed process's temporaries are cleaned up
    straight = tmp_path / "straight"
    subprocess.run(cli("--data", str(data_file), "--out", str(straight), "--steps", str(target),
                       "--checkpoint-every", "1"), env=env, check=True)
    assert_same_state(state(straight), state(run_dir))
