"""benchmarks/gpu_check.py, the one command a GPU session runs, kept working by its --dry-run on the CPU."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def gpu_check_module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dry_run_runs_every_stage_and_writes_json_and_tables(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "OUT"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    stages = report["stages"]
    assert report["dry_run"] and list(stages) == list(gpu_check_module().STAGES)
    assert {name: stage["status"] for name, stage in stages.items()} == {name: "ok" for name in stages}
    tests = stages["cuda_tests"]["result"]
    assert tests["tests"] > 0 and tests["failed"] == []
    assert stages["generation"]["result"]["results"]["surrogate"][0]["events_per_second"] > 0
    shipped = stages["generation_shipped"]["result"]["results"]
    assert shipped["surrogate"][0]["events_per_second"] > 0 and "ds2-electron" in shipped["run_dir"]
    (row,) = stages["training"]["result"]["results"]["rows"]
    assert row["ratio"] == pytest.approx(row["plain_seconds_per_step"] / row["library_seconds_per_step"])
    nbody = stages["nbody"]["result"]
    assert nbody["power_agrees"] and nbody["large"]["grid"] == 16 and nbody["large"]["seconds"] > 0
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| cuda_tests | ok |" in table and "### Training speed" in table and "### Particle mesh" in table
    assert "dry run" in table
    assert not gpu_check_module().work_dir(tmp_path.resolve()).exists()  # scratch data removed, not in the output
    assert not list(tmp_path.rglob("*.h5")) and not list(tmp_path.rglob("*.pt"))


def test_a_stage_past_its_time_limit_is_recorded_and_stopped(tmp_path):
    module = gpu_check_module()
    (tmp_path / "logs").mkdir()
    record = module.run_stage("training", tmp_path, dry_run=True, timeout=0.5)
    assert record["status"] == "timeout" and record["error"] == "stopped after 0 s" and "result" not in record
    assert record["seconds"] < 30
