"""docs/api.md's examples run as written, in order, in an empty directory (and ``import surrogate`` stays light)."""
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_import_is_light_and_all_names_exist():
    code = ("import sys, surrogate; missing = [n for n in surrogate.__all__ if not hasattr(surrogate, n)]; "
            "heavy = [m for m in ('torch', 'h5py', 'pandas', 'ot') if m in sys.modules]; print(missing, heavy)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[] []"


@pytest.mark.slow
def test_every_example_runs(tmp_path, monkeypatch):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 8
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks, 1):
            exec(compile(block, f"{DOC.name} example {number}", "exec"), namespace)
    output = printed.getvalue()
    assert "('incident_energy_mev',) (300, 1) (300, 6480)" in output
    assert (tmp_path / "report" / "metrics.csv").exists() and (tmp_path / "gen.onnx").exists()
    assert "('omega_m', 'sigma8')" in output
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
