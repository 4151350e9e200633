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
