"""The reliability promises of docs/reliability.md, each as a test: no output is an input or a run's file,
no existing output is replaced without --overwrite, a full disk or SIGTERM leaves the previous file and
no temporary, resume refuses changed data, bad options are one-line errors (exit 2), planning is flat in
memory. The bad-file sweep of the readers is tests/test_bad_input.py; this extends it to the commands."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from shower_samples import run_cli
from training_helpers import TINY_GEOMETRY, tiny_showers, train_tiny_run, write_tiny_file

from surrogate._atomic import atomic_path
from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.geometry import Geometry
from surrogate.cosmology.formats import write_nbody

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny shower run in ROOT/run, its data ROOT/tiny.h5, and a map file ROOT/maps.h5."""
    root = tmp_path_factory.mktemp("reliability")
    nbody_file(root / "maps.h5")
    return train_tiny_run(root, steps=4, validate_every=2, checkpoint_every=2)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temporaries(directory: Path) -> list[Path]:
    return sorted(directory.rglob(".*.tmp"))


def assert_one_line_error(code: int, err: str, named: Path | str, pattern: str = "") -> None:
    """Exit 2, one line on stderr naming ``named`` (and holding ``pattern``), no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 or lines[-2] == "", err  # click usage errors: "Try ... --help", blank, "Error: ..."
    assert str(named) in lines[-1], err
    assert pattern in lines[-1], err


def nbody_file(path: Path, *, pixels: int = 8, maps: int = 6, bad_pixel: float | None = None, seed: int = 0) -> Path:
    """A small N-body layout file of random maps, optionally with one bad pixel in map 0."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 0.3, (maps, pixels, pixels)).astype(np.float32)
    if bad_pixel is not None:
        data[0, 1, 2] = bad_pixel
    write_nbody(path, data, np.tile([0.3, 0.8], (maps, 1)), ("omega_m", "sigma8"),
                {"box_mpc_h": 64.0, "redshift": 0.0, "grid": pixels, "steps": 2, "quantity": "delta"})
    return path


# -- never an input, never a run's file ---------------------------------------------------------------------

def _protected_cases(run, tmp):
    data = run.parent / "tiny.h5"
    return {
        "generate over its conditions": (["generate", run, "--conditions", data, "--out", data, "--overwrite"], data),
        "generate over the run's model": (["generate", run, "--energy", "5", "--events", "3", "--out",
                                           run / "model_best.pt", "--overwrite"], run / "model_best.pt"),
        "generate over the run directory": (["generate", run, "--energy", "5", "--events", "3", "--out", run,
                                             "--overwrite"], run / "model.pt"),
        "benchmark over its conditions": (["benchmark", run, "--conditions", data, "--out", data, "--overwrite"],
                                          data),
        "benchmark over the run's export": (["benchmark", run, "--out", run / "model.pt", "--overwrite"],
                                            run / "model.pt"),
        "export over the run's export": (["export", run, "--out", run / "model.pt", "--overwrite"], run / "model.pt"),
        "merge over an input": (["merge", data, data, "--overwrite"], data),
        "train with its data as --out": (["train", "--data", data, "--out", data], data),
    }


@pytest.mark.parametrize("case", list(_protected_cases(Path("run"), Path("tmp"))))
def test_no_output_is_an_input_or_a_file_of_the_run(run_dir, tmp_path, capsys, case):
    args, protected = _protected_cases(run_dir, tmp_path)[case]
    before = {path: digest(path) for path in [protected, *run_dir.iterdir()] if path.is_file()}
    code, _, err = run_cli(capsys, *args)
    out = args[args.index("--out") + 1] if "--out" in args else args[1]
    assert_one_line_error(code, err, out, "would overwrite")
    assert {path: digest(path) for path in before} == before
    assert not temporaries(run_dir.parent)


def test_a_hard_link_to_an_input_is_that_input(run_dir, tmp_path, capsys):
    data = run_dir.parent / "tiny.h5"
    link = tmp_path / "link.h5"
    os.link(data, link)
    code, _, err = run_cli(capsys, "generate", run_dir, "--conditions", data, "--out", link, "--overwrite")
    assert_one_line_error(code, err, link, f"would overwrite the input {data}")


# -- no existing output replaced without --overwrite --------------------------------------------------------

def _existing_output_cases(run, tmp):
    data = run.parent / "tiny.h5"
    return {
        "simulate calorimeter": ["simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-", "--energy",
                                 "1", "--events", "1", "--seed", "1", "--out", "OUT"],
        "simulate nbody": ["simulate", "nbody", "--grid", "8", "--steps", "1", "--out", "OUT"],
        "merge": ["merge", "OUT", data],
        "generate": ["generate", run, "--energy", "5", "--events", "3", "--out", "OUT"],
        "validate": ["validate", "--reference", data, "--candidate", data, "--out", "OUTDIR", "--no-classifier"],
        "benchmark": ["benchmark", run, "--out", "OUT"],
        "export": ["export", run, "--out", "OUT"],
        "quickstart": ["quickstart", "--out", "OUTDIR"],
    }


@pytest.mark.parametrize("command", list(_existing_output_cases(Path("run"), Path("tmp"))))
def test_an_existing_output_needs_overwrite(run_dir, tmp_path, capsys, command):
    existing_file = tmp_path / "existing.h5"
    existing_file.write_bytes(b"the user's file")
    existing_dir = tmp_path / "existing"
    existing_dir.mkdir()
    (existing_dir / "notes.txt").write_text("the user's notes")
    template = _existing_output_cases(run_dir, tmp_path)[command]
    args = [{"OUT": existing_file, "OUTDIR": existing_dir}.get(arg, arg) for arg in template]
    code, _, err = run_cli(capsys, *args)
    target = existing_dir if "OUTDIR" in template else existing_file
    assert_one_line_error(code, err, target, "exists already; give --overwrite")
    assert existing_file.read_bytes() == b"the user's file"
    assert (existing_dir / "notes.txt").read_text() == "the user's notes"


def test_overwrite_replaces_and_an_empty_directory_is_no_output_yet(run_dir, tmp_path, capsys):
    out = tmp_path / "g.h5"
    out.write_bytes(b"old")
    code, _, err = run_cli(capsys, "generate", run_dir, "--energy", "5", "--events", "3", "--out", out, "--overwrite")
    assert code == 0, err
    assert h5py.is_hdf5(out)
    (tmp_path / "empty").mkdir()
    a, b = nbody_file(tmp_path / "a.h5"), nbody_file(tmp_path / "b.h5", seed=1)
    code, _, err = run_cli(capsys, "validate", "--reference", a, "--candidate", b, "--out", tmp_path / "empty",
                           "--no-classifier", "--resamples", "2")
    assert code == 0, err
    assert (tmp_path / "empty" / "metrics.json").exists()


def test_quickstart_refuses_a_trained_run_directory_even_with_overwrite(run_dir, capsys):
    before = {path: digest(path) for path in run_dir.iterdir()}
    code, _, err = run_cli(capsys, "quickstart", "--out", run_dir, "--overwrite")
    assert_one_line_error(code, err, run_dir, "holds a trained run")
    assert {path: digest(path) for path in run_dir.iterdir()} == before


# -- temporaries: SIGTERM and dead processes ----------------------------------------------------------------

def test_temporaries_of_dead_processes_are_removed_when_the_output_is_next_written(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = tmp_path / f".out.h5.{finished.stdout.strip()}.tmp"
    alive = tmp_path / f".out.h5.{os.getppid()}.tmp"  # a running process's write is left alone
    other = tmp_path / f".other.h5.{finished.stdout.strip()}.tmp"
    for path in (dead, alive, other):
        path.write_bytes(b"partial")
    with atomic_path(tmp_path / "out.h5") as temporary:
        temporary.write_bytes(b"done")
    assert not dead.exists() and alive.exists() and other.exists()
    assert (tmp_path / "out.h5").read_bytes() == b"done"


def test_sigterm_removes_the_temporary_and_keeps_the_previous_file(tmp_path):
    """SIGTERM as soon as the temporary exists (a simulation of 10^6 showers cannot be done by then).

    No fixed sleeps: the test waits on the temporary appearing and on the process ending, each with a
    generous deadline, and kills the process group when one passes, so a hang fails the test instead
    of blocking CI. Output goes to a file, so a full pipe can never stall the process."""
    out = tmp_path / "showers.h5"
    out.write_bytes(b"previous good file")
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "surrogate", "simulate", "calorimeter", "--geometry", "ds2",
                                    "--particle", "e-", "--energy", "2", "--events", "1000000", "--seed", "1",
                                    "--out", out, "--overwrite"], env=ENV, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not temporaries(tmp_path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert temporaries(tmp_path) and process.poll() is None, \
            f"the simulation never started writing: {log.read_text()}"
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 120 s after SIGTERM: {log.read_text()}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    err = log.read_text()
    log.unlink()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "terminated" in err
    assert not temporaries(tmp_path)
    assert out.read_bytes() == b"previous good file"


def test_sigterm_swallowed_by_the_code_it_lands_in_still_ends_the_command(tmp_path):
    """The exception SIGTERM raises can land in code that swallows it (it once did, inside an import of
    numpy.random, and the simulation ran on): the command is then stopped after a grace period, its
    temporary removed, with the same message and exit status."""
    script = textwrap.dedent("""
        import sys, time
        from surrogate import cli
        from surrogate._atomic import atomic_path

        @cli.cli.command()
        def swallow():
            with atomic_path(sys.argv[1]) as temporary:
                temporary.write_bytes(b"partial")
                while True:
                    try:
                        time.sleep(0.01)
                    except BaseException:
                        pass

        cli.TERMINATE_GRACE_S = 1.0
        cli.main(["swallow"])
    """)
    out = tmp_path / "out.bin"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-c", script, str(out)], env=ENV, stderr=stderr,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not temporaries(tmp_path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert temporaries(tmp_path) and process.poll() is None, log.read_text()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, log.read_text()
    assert log.read_text() == "surrogate: terminated\n"
    log.unlink()
    assert not temporaries(tmp_path) and not out.exists()


# -- a full disk ----------------------------------------------------------------------------------------------

def run_with_file_size_limit(limit_bytes: int, *args) -> subprocess.CompletedProcess:
    """``surrogate ARGS`` in a process whose files may not grow past ``limit_bytes`` (a full disk)."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))
        from surrogate.cli import main
        main(sys.argv[1:])
    """)
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("command, limit_bytes", [("generate", 20_000), ("simulate", 20_000), ("merge", 20_000),
                                                  ("train", 20_000), ("simulate nbody", 5_000),
                                                  ("merge maps", 5_000)])
def test_a_full_disk_is_one_line_naming_the_file_and_the_previous_file_stays(run_dir, tmp_path, command,
                                                                              limit_bytes):
    data = run_dir.parent / "tiny.h5"
    out = tmp_path / "out.h5"
    out.write_bytes(b"previous good file")
    maps = nbody_file(tmp_path / "maps.h5", pixels=16, maps=24)
    args = {
        "generate": ["generate", run_dir, "--energy", "5", "--events", "20000", "--out", out, "--overwrite"],
        "simulate": ["simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-", "--energy", "1", "--events",
                     "100", "--seed", "1", "--out", out, "--overwrite"],
        "merge": ["merge", out, data, data, "--overwrite"],
        "simulate nbody": ["simulate", "nbody", "--grid", "16", "--steps", "1", "--out", out, "--overwrite"],
        "merge maps": ["merge", out, maps, maps, "--overwrite"],
    }.get(command)
    if command == "train":
        out = tmp_path / "run" / "training_state.pt"
        args = ["train", "--data", data, "--out", out.parent, "--batch-size", "32", "--latent-dim", "8", "--width",
                "16", "--depth", "2", "--steps", "2", "--validate-every", "0", "--no-progress",
                "--model-option", "cell_noise=0", "--model-option", "calibrate=0"]  # an export under the limit
    result = run_with_file_size_limit(limit_bytes, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"surrogate: error: {out}: cannot write ("), \
        result.stderr
    if command != "train":
        assert out.read_bytes() == b"previous good file"
    assert not temporaries(tmp_path)


# -- resume -----------------------------------------------------------------------------------------------------

def test_resume_refuses_replaced_data_and_steps_behind_the_run(tmp_path, capsys):
    data = write_tiny_file(tmp_path / "data.h5", n_events=300, seed=0)
    run = train_tiny_run(tmp_path, data=data, steps=4, validate_every=2, checkpoint_every=2)
    capsys.readouterr()
    config_before = digest(run / "config.json")
    code, _, err = run_cli(capsys, "train", "--out", run, "--resume", "--steps", "2")
    assert_one_line_error(code, err, run, "already at step 4; --steps 2 lies behind it")
    assert digest(run / "config.json") == config_before
    write_tiny_file(data, n_events=300, seed=1)  # another sample under the same name
    code, _, err = run_cli(capsys, "train", "--out", run, "--resume", "--steps", "6")
    assert_one_line_error(code, err, data.resolve(), "changed since the run started (")
    assert digest(run / "config.json") == config_before
    before = json.loads((run / "data_fingerprint.json").read_text())
    code, _, err = run_cli(capsys, "train", "--out", run, "--resume", "--steps", "6", "--allow-new-data",
                           "--no-progress")
    assert code == 0, err
    record = json.loads((run / "data_fingerprint.json").read_text())
    assert record["from_step"] == 4 and record["sha256_sampled"] != before["sha256_sampled"]
    assert record["earlier"] == [before] and before["from_step"] == 0
    assert json.loads((run / "config.json").read_text())["steps"] == 6


def test_allow_new_data_resumes_on_another_file_of_the_same_events_only(tmp_path, capsys, caplog):
    data = write_tiny_file(tmp_path / "data.h5", n_events=300, seed=0)
    run = train_tiny_run(tmp_path, data=data, steps=2, validate_every=2, checkpoint_every=2)
    other = write_tiny_file(tmp_path / "other.h5", n_events=300, seed=1)
    capsys.readouterr()
    resume = ["train", "--out", run, "--resume", "--steps", "4", "--data", other, "--no-progress"]
    code, _, err = run_cli(capsys, *resume)
    assert_one_line_error(code, err, run, "cannot change data when resuming (--allow-new-data lets")
    code, _, err = run_cli(capsys, "train", "--data", other, "--out", tmp_path / "new", "--allow-new-data")
    assert_one_line_error(code, err, "--allow-new-data", "give --resume")
    wider = Geometry("wider", "calochallenge", tuple(dataclasses.replace(layer, n_alpha=8)  # 72 cells, not 36
                                                     for layer in TINY_GEOMETRY.layers))
    wrong = tmp_path / "wrong.h5"
    DOMAIN.write(wrong, tiny_showers(300, 2, wider))
    code, _, err = run_cli(capsys, *resume[:-2], wrong, "--allow-new-data")
    assert_one_line_error(code, err, wrong.resolve(), "this run's networks are for shape (36,)")
    assert json.loads((run / "config.json").read_text())["data"] == str(data.resolve())
    code, _, err = run_cli(capsys, *resume, "--allow-new-data")
    assert code == 0, err
    assert "continuing on" in caplog.text and "from step 2 (another file" in caplog.text
    record = json.loads((run / "data_fingerprint.json").read_text())
    assert record["path"] == str(other.resolve()) and record["from_step"] == 2
    assert [earlier["path"] for earlier in record["earlier"]] == [str(data.resolve())]
    assert json.loads((run / "config.json").read_text())["data"] == str(other.resolve())


# -- bad options and inputs: one line naming the culprit, exit 2 ----------------------------------------------

def _bad_input_cases(run, tmp):
    data = run.parent / "tiny.h5"
    negative = tmp / "c.npy"
    one_event, strings, non_finite = tmp / "one.h5", tmp / "strings.h5", tmp / "nan.h5"
    maps = run.parent / "maps.h5"
    return {
        "negative energy in a conditions table": (
            lambda: np.save(negative, np.array([[1e3], [-5.0]])),
            ["generate", run, "--conditions", negative, "--out", tmp / "g.h5"], negative,
            "row 1 has incident_energy_mev = -5"),
        "a one-event training file": (
            lambda: write_tiny_file(one_event, n_events=1),
            ["train", "--data", one_event, "--out", tmp / "r"], one_event.resolve(), "1 events leave too few"),
        "string-typed incident energies": (
            lambda: _strings_file(strings), ["train", "--data", strings, "--out", tmp / "r"], strings,
            "'incident_energies' holds |S4 values, expected numbers"),
        "an unknown --data-option": (
            None, ["train", "--data", data, "--out", tmp / "r", "--data-option", "bogus=1"], "bogus",
            "unknown shower reader option(s): bogus"),
        "a batch larger than the training set": (
            None, ["train", "--data", data, "--out", tmp / "r", "--batch-size", "100000"], data.resolve(),
            "batch size 100000 exceeds the 270 training events"),
        "--lr nan": (None, ["train", "--data", data, "--out", tmp / "r", "--lr", "nan"], "--lr", "not a finite"),
        "--lr inf": (None, ["train", "--data", data, "--out", tmp / "r", "--lr", "inf"], "--lr", "not a finite"),
        "generate --events 1e12": (
            None, ["generate", run, "--energy", "5", "--events", "1000000000000", "--out", tmp / "g.h5"],
            "--events", "not in the range 1<=x<=1000000000"),
        "generate --energy nan": (
            None, ["generate", run, "--energy", "nan", "--events", "3", "--out", tmp / "g.h5"], "--energy",
            "not a finite"),
        "a data file as RUN_DIR": (
            None, ["generate", data, "--energy", "5", "--events", "3", "--out", tmp / "g.h5"], data,
            "not a checkpoint surrogate wrote"),
        "nbody --box nan": (None, ["simulate", "nbody", "--box", "nan", "--out", tmp / "n.h5"], "--box",
                            "not a finite"),
        "nbody --box inf": (None, ["simulate", "nbody", "--box", "inf", "--out", tmp / "n.h5"], "--box",
                            "not a finite"),
        "nbody --sigma8 nan": (None, ["simulate", "nbody", "--sigma8", "nan", "--out", tmp / "n.h5"], "--sigma8",
                               "must be finite"),
        "nbody --redshift -1": (None, ["simulate", "nbody", "--grid", "8", "--redshift", "-1", "--out", tmp / "n.h5"],
                                "redshift -1.0", "must lie above -1"),
        "simulate --energy above the tables": (
            None, ["simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-", "--energy", "1e9", "--events",
                   "3", "--seed", "1", "--out", tmp / "s.h5"], "1e+09 GeV", "where the simulator's cross-section"),
        "inspect a map file holding NaN": (
            lambda: nbody_file(non_finite, bad_pixel=np.nan), ["inspect", non_finite], non_finite,
            "map 0 holds NaN or infinite pixels"),
        "merge a map file holding inf": (
            lambda: (nbody_file(non_finite, bad_pixel=np.inf), nbody_file(tmp / "fine.h5")),
            ["merge", tmp / "m.h5", tmp / "fine.h5", non_finite], non_finite, "'maps' holds NaN or infinite values"),
        "train into an existing file": (
            lambda: (tmp / "r").write_bytes(b"x"), ["train", "--data", data, "--out", tmp / "r"], tmp / "r",
            "--out is a file; give a directory"),
        "generate into a directory": (
            lambda: (tmp / "d").mkdir(), ["generate", run, "--energy", "5", "--events", "3", "--out", tmp / "d"],
            tmp / "d", "--out is a directory; give a file name"),
        "nbody beyond memory": (None, ["simulate", "nbody", "--grid", "8192", "--out", tmp / "n.h5"],
                                "not enough memory", "ask for less"),
        "nbody --runs 1e8": (None, ["simulate", "nbody", "--grid", "8", "--runs", "100000000", "--out", tmp / "n.h5"],
                             "--runs", "not in the range 1<=x<=1000000"),
        # found by the sweep of 2026-11-30 (issue 15): each was a traceback, a hang or a silent acceptance
        "an unknown --data-option of a map file": (
            None, ["train", "--data", maps, "--out", tmp / "r", "--data-option", "bogus=1"], "bogus",
            "unknown map reader option(s): bogus"),
        "a shower reader option for a map file": (
            None, ["inspect", maps, "--card", data], "card", "unknown map reader option(s): card"),
        "--map-box -1": (None, ["inspect", maps, "--map-box", "-1"], "--map-box", "not in the range x>0"),
        "generate --seed 1e20": (
            None, ["generate", run, "--energy", "5", "--events", "3", "--seed", str(10**20), "--out", tmp / "g.h5"],
            "--seed", "not in the range 0<=x<="),
        "simulate nbody --seed -1": (None, ["simulate", "nbody", "--seed", "-1", "--out", tmp / "n.h5"], "--seed",
                                     "not in the range 0<=x<="),
        "--threads 1e20": (
            None, ["generate", run, "--energy", "5", "--events", "3", "--threads", str(10**20), "--out", tmp / "g.h5"],
            "--threads", "not in the range 1<=x<=4096"),
        "simulate --workers 1e20": (
            None, ["simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-", "--energy", "1", "--events",
                   "1", "--seed", "1", "--workers", str(10**20), "--out", tmp / "s.h5"], "--workers", "1<=x<=4096"),
        "nbody --box 1e300": (None, ["simulate", "nbody", "--box", "1e300", "--out", tmp / "n.h5"], "--box",
                              "not in the range 0<x<=100000"),
        "nbody --grid 1e9": (None, ["simulate", "nbody", "--grid", str(10**9), "--out", tmp / "n.h5"], "--grid",
                             "not in the range 4<=x<=8192"),
        "nbody --steps 1e20": (None, ["simulate", "nbody", "--steps", str(10**20), "--out", tmp / "n.h5"], "--steps",
                               "not in the range 1<=x<=100000"),
        "nbody --maps 1e20": (None, ["simulate", "nbody", "--maps", str(10**20), "--out", tmp / "n.h5"], "--maps",
                              "not in the range 1<=x<=8192"),
        "nbody --hubble 1e300": (None, ["simulate", "nbody", "--hubble", "1e300", "--out", tmp / "n.h5"], "--hubble",
                                 "not in the range 0<x<=10"),
        "nbody --z-init 1e300": (None, ["simulate", "nbody", "--z-init", "1e300", "--out", tmp / "n.h5"], "--z-init",
                                 "not in the range 0<x<=9999"),
        "train --width 1e20": (None, ["train", "--data", data, "--out", tmp / "r", "--width", str(10**20)], "--width",
                               "not in the range 1<=x<=65536"),
        "train --critic-steps 1e20": (
            None, ["train", "--data", data, "--out", tmp / "r", "--critic-steps", str(10**20)], "--critic-steps",
            "not in the range 1<=x<=1000"),
        "train --lr 1e300": (None, ["train", "--data", data, "--out", tmp / "r", "--lr", "1e300"], "--lr",
                             "not in the range 0<x<=1000"),
        "an infinite --model-option": (
            None, ["train", "--data", data, "--out", tmp / "r", "--model-option", "cell_noise=inf"], "cell_noise",
            "not a finite number"),
        "simulate into an unwritable directory": (
            None, ["simulate", "calorimeter", "--geometry", "ds2", "--particle", "e-", "--energy", "1", "--events",
                   "1", "--seed", "1", "--out", "/proc/x.h5"], "/proc/x.h5", "cannot create"),
    }


def _strings_file(path: Path) -> None:
    with h5py.File(path, "w") as handle:
        handle["incident_energies"] = np.array([[b"1000"], [b"2000"]])
        handle["showers"] = np.ones((2, 368), np.float32)


BAD_INPUT_CASES = list(_bad_input_cases(Path("run"), Path("tmp")))


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(run_dir, tmp_path, capsys, case):
    make, args, named, pattern = _bad_input_cases(run_dir, tmp_path)[case]
    if make is not None:
        make()
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, named, pattern)
    assert sorted(tmp_path.rglob("*")) == before  # no output, no temporary
    assert not temporaries(run_dir.parent)


def test_validate_of_small_maps_skips_empty_power_bands(tmp_path, capsys):
    a, b = nbody_file(tmp_path / "a.h5", pixels=8), nbody_file(tmp_path / "b.h5", pixels=8, seed=1)
    code, _, err = run_cli(capsys, "validate", "--reference", a, "--candidate", b, "--out", tmp_path / "v",
                           "--no-classifier", "--resamples", "2")
    assert code == 0, err
    observables = json.loads((tmp_path / "v" / "metrics.json").read_text())["observables"]
    # 8 pixels: the low band reaches 1.5 fundamental modes and holds the fundamental; the mid band,
    # 1.5-2 fundamentals, holds no mode and is skipped instead of failing as non-finite
    assert "log10_power_mid_mpc2_h2" not in observables
    assert {"log10_power_low_mpc2_h2", "log10_power_high_mpc2_h2"} <= set(observables)


# -- bounded memory -------------------------------------------------------------------------------------------

def test_planning_a_simulation_takes_the_same_memory_for_1e6_and_1e8_events():
    script = textwrap.dedent("""
        import resource, sys
        from surrogate.calorimeter.production import shard_blocks, shard_events
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        events = int(sys.argv[1])
        blocks = shard_blocks(events, None)
        assert shard_events(events, None) == events and next(blocks) == (0, 0, 128)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    growth_kib = [int(subprocess.run([sys.executable, "-c", script, str(events)], env=ENV, capture_output=True,
                                     text=True, check=True).stdout) for events in (10**6, 10**8)]
    assert growth_kib[1] < growth_kib[0] + 2048, growth_kib  # a list of 781,250 blocks would take ~100 MiB


@pytest.mark.slow
def test_generating_ten_times_more_events_takes_the_same_memory(run_dir, tmp_path):
    """generate streams: 2e4 and 2e5 showers (of 36 cells) peak at the same memory, a few batches."""
    script = textwrap.dedent("""
        import resource, sys
        from surrogate.cli import main
        try:
            main(["generate", sys.argv[1], "--energy", "2", "--events", sys.argv[2], "--batch-size", "2000",
                  "--out", sys.argv[3], "--device", "cpu"])
        except SystemExit as exit_:
            assert not exit_.code, exit_.code
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    peak_kib = [int(subprocess.run([sys.executable, "-c", script, str(run_dir), str(events),
                                    str(tmp_path / f"{events}.h5")], env=ENV, capture_output=True, text=True,
                                   check=True).stdout.split()[-1]) for events in (20_000, 200_000)]
    assert (tmp_path / "200000.h5").stat().st_size > (tmp_path / "20000.h5").stat().st_size
    assert peak_kib[1] < peak_kib[0] + 8 * 1024, peak_kib  # holding all 2e5 showers would add ~28 MiB


def conditions_only_file(path: Path, rows: int) -> Path:
    """A CaloChallenge file of the tiny geometry with ``rows`` incident energies and a ``showers`` dataset of
    as many rows that was never written (HDF5 stores no unwritten chunks): all a conditions reader needs."""
    write_tiny_file(path, n_events=1000)
    with h5py.File(path, "r+") as handle:
        energies, showers = handle["incident_energies"], handle["showers"]
        pattern = energies[:]
        energies.resize(rows, axis=0)
        showers.resize(rows, axis=0)
        for start in range(0, rows, 1 << 20):
            stop = min(rows, start + (1 << 20))
            energies[start:stop] = np.resize(pattern, (stop - start, 1))  # inside the training range
    return path


@pytest.mark.slow
def test_generating_from_a_long_conditions_file_takes_the_same_memory(run_dir, tmp_path):
    """generate --conditions streams the conditions: 10^5 and 5x10^6 rows of an HDF5 file peak at the same memory.

    Generating 5x10^6 events would take minutes here, so a file-size limit cuts the production short after
    its first batches, as a full disk would: by then the command has read and checked every row (its
    first pass over the file), which is where reading them all at once took 8 bytes per row and copy."""
    script = textwrap.dedent("""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        from surrogate.cli import main
        try:
            main(["generate", sys.argv[1], "--conditions", sys.argv[2], "--batch-size", "2000", "--out",
                  sys.argv[3], "--device", "cpu"])
        except SystemExit as exit_:
            assert exit_.code == 2, exit_.code
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    peak_kib = []
    for rows in (10**5, 5 * 10**6):
        conditions = conditions_only_file(tmp_path / f"conditions_{rows}.h5", rows)
        result = subprocess.run([sys.executable, "-c", script, str(run_dir), str(conditions),
                                 str(tmp_path / f"generated_{rows}.h5")], env=ENV, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0 and "cannot write (File too large)" in result.stderr, result.stderr
        peak_kib.append(int(result.stdout.split()[-1]))
        conditions.unlink()
    assert peak_kib[1] < peak_kib[0] + 16 * 1024, peak_kib  # reading them at once held two copies of 38 MiB
