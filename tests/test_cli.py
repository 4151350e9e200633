"""The command line as a user meets it: help texts, one-line errors, `python -m surrogate`, docs/cli.md."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from shower_samples import run_cli
from surrogate.cli import cli

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command, capsys):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"Usage: surrogate {command}")


def test_command_list_ends_each_description_with_a_sentence_or_an_ellipsis(capsys):
    code, out, _ = run_cli(capsys, "--help")
    lines = out.split("Commands:\n")[1].strip().splitlines()
    assert code == 0 and len(lines) == len(COMMANDS)
    assert all(line.rstrip().endswith((".", "...")) and "e.g." not in line for line in lines), lines


def test_train_help_lists_every_architecture(capsys):
    _, out, _ = run_cli(capsys, "train", "--help")
    for arch in ("auto", "dense", "conv", "layer-streams", "dcgan", "dcgan-log"):
        assert arch in out


def test_python_dash_m_runs_the_same_cli():
    completed = subprocess.run([sys.executable, "-m", "surrogate", "--version"], capture_output=True, text=True)
    assert completed.returncode == 0 and "surrogate" in completed.stdout


def test_missing_file_is_one_line_without_traceback(tmp_path, capsys):
    code, _, err = run_cli(capsys, "inspect", tmp_path / "absent.h5")
    assert code == 2
    assert err.strip() == f"surrogate: error: {tmp_path / 'absent.h5'}: no such file"


def test_debug_shows_the_traceback(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "surrogate", "--debug", "inspect", str(tmp_path / "absent.h5")],
                               capture_output=True, text=True)
    assert completed.returncode != 0 and "Traceback" in completed.stderr


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "inspect", "--no-such-option", "x.h5")
    assert code == 2 and "No such option" in err


def test_cli_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "docs" / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "cli.md").read_text() == module.reference(), \
        "docs/cli.md is stale: run python docs/make_cli_reference.py"


def test_options_without_bounds_show_no_range_in_help(capsys):
    """A finite float without bounds shows its default only (click described it as ``x<=None``)."""
    code, out, _ = run_cli(capsys, "simulate", "nbody", "--help")
    assert code == 0
    assert "None]" not in out and "Output redshift. [default: 0.0]" in " ".join(out.split())


def test_every_command_that_computes_takes_threads(caplog, monkeypatch):
    """--threads sets torch's threads for the command's run; a busy machine gets a one-line note."""
    import click
    import torch

    from surrogate.options import threads

    simulate = cli.commands["simulate"]
    computing = [cli.commands[name] for name in ("train", "generate", "validate", "benchmark", "quickstart")]
    computing += [simulate.get_command(None, name) for name in simulate.list_commands(None)]
    assert len(computing) == 7
    for command in computing:
        assert "threads" in [param.name for param in command.params], command.name
    assert not any(param.name == "threads" for param in cli.commands["inspect"].params)

    seen = []

    @threads.with_threads
    @click.command()
    def probe():
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    probe.main(["--threads", "1"], standalone_mode=False)
    assert seen == [1] and torch.get_num_threads() == before and not caplog.records
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    probe.main([], standalone_mode=False)
    assert seen[-1] == 4
    assert [record.getMessage() for record in caplog.records] == [
        "note: the machine is busy (load 3.0 on 4 cores); 4 threads will wait on each other: --threads 1 may run "
        "faster"]


def test_missing_tensorboard_is_an_info_note_not_a_warning_on_every_train(tmp_path, caplog, monkeypatch):
    import logging

    from surrogate.core import monitoring

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when not installed
    with caplog.at_level(logging.INFO):
        assert monitoring._tensorboard_writer(tmp_path) is None
    assert [record.levelno for record in caplog.records] == [logging.INFO]
    assert "TensorBoard is not installed" in caplog.records[0].getMessage()
