"""One prepared check of every CUDA path, for the rare session with a GPU: one command, under 8 minutes.

Stages, each in its own process with its own time limit; a failed or timed-out stage is recorded and the
next one runs:

1. environment: torch, CUDA, the device, the commit, and whether the optional uproot and POT are present
   (neither is needed: the paths used here import them lazily).
2. cuda_tests: ``pytest -m cuda`` (the tests that skip without a GPU).
3. generation: benchmarks/generation_speed.py on a ds2-sized generator (the library's default dense
   networks, trained two steps on synthetic ds2 showers: speed does not depend on the weights), eager and
   CUDA graphs, fp32/TF32/bf16, batch 1, 1024 and 65536.
4. generation_compiled: torch.compile (the library's GPU mode, with autotuning) at batch 65536 in bf16, the
   precision whose peak the generator should approach.
5. training: benchmarks/training_speed.py at batch 512 and 4096, fp32/TF32/bf16.
6. nbody: ``surrogate simulate nbody --box 512 --grid 256 --device cuda`` (time, peak memory), and P(k) of a
   grid-64 box run on the CPU and on the GPU, which must agree to float tolerance.

Writes ``gpu_check.json`` (every stage's status, seconds and results) and ``gpu_check.md`` (the tables for
benchmarks/README.md) to --out (default: $OUT when set, else ./gpu_check), with each stage's log under
``logs/``. ``--dry-run`` runs every stage at toy size on the CPU (tests/test_gpu_check.py does), so the
script cannot rot between GPU sessions.

    python benchmarks/gpu_check.py [--out DIR] [--dry-run] [--stages environment,cuda_tests,...]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
#: Stage -> seconds it may take on a GPU machine; together under 8 minutes.
STAGES = {"environment": 20, "cuda_tests": 130, "generation": 70, "generation_shipped": 40, "generation_compiled": 70,
          "training": 80, "nbody": 70}
TOTAL_SECONDS = 480
#: --dry-run's limits are these times this: toy sizes, but a shared CPU can be slow to even import torch.
DRY_RUN_SLACK = 4


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def run_logged(command: list[str], log_path: Path, timeout: float | None = None) -> None:
    """Run ``command`` with its output appended to ``log_path``. A non-zero exit raises CalledProcessError;
    past ``timeout`` the command and every process it started are killed and TimeoutExpired is raised."""
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except BaseException:  # the time limit, or Ctrl-C: leave nothing running
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    if code:
        raise subprocess.CalledProcessError(code, command)


def work_dir(out: Path) -> Path:
    """Scratch space for data files and run directories, outside ``out`` (whose files a GPU session copies
    back), shared by the stages of one check and removed at its end."""
    digest = hashlib.sha256(str(out).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"gpu_check_{digest}"


# -- stages (each runs in its own process and returns what goes into the JSON) ---------------------------


def stage_environment(out: Path, dry_run: bool) -> dict:
    import torch

    sys.path.insert(0, str(BENCHMARKS))
    from training_speed import commit

    result = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
              "python": sys.version.split()[0], "commit": commit(),
              "required_modules": {name: _importable(name) for name in ("click", "tqdm", "h5py", "scipy")},
              "optional_modules": {name: _importable(name) for name in ("uproot", "ot")}}
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        result.update(device=properties.name, capability=f"{properties.major}.{properties.minor}",
                      memory_gib=properties.total_memory / 2 ** 30, device_count=torch.cuda.device_count())
    else:
        result["device"] = "cpu"
    return result


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def stage_cuda_tests(out: Path, dry_run: bool) -> dict:
    import xml.etree.ElementTree as ElementTree

    report = out / "cuda_tests.xml"
    command = python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", f"--junitxml={report}",
                     "tests/test_training_cuda.py", "tests/test_generation.py")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    (out / "logs" / "cuda_tests_pytest.log").write_text(done.stdout + done.stderr)
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = [case.get("name") for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    if done.returncode not in (0, 5):  # 5: nothing collected
        raise RuntimeError(f"pytest exit {done.returncode}: {counts}, failed: {failed}")
    return {**counts, "failed": failed}


def _ds2_run(out: Path, dry_run: bool) -> Path:
    """A run directory with the default ds2-sized generator (two training steps on synthetic showers)."""
    sys.path.insert(0, str(BENCHMARKS))
    from training_speed import synthetic_showers

    from surrogate.calorimeter.domain import DOMAIN

    run_dir = work_dir(out) / "ds2_run"
    if (run_dir / "model.pt").exists():
        return run_dir
    data = work_dir(out) / "ds2_synthetic.h5"
    data.parent.mkdir(parents=True, exist_ok=True)
    DOMAIN.write(data, synthetic_showers("ds2", 256 if dry_run else 4096, seed=0))
    sizes = ["--width", "16", "--depth", "1", "--batch-size", "32"] if dry_run else ["--batch-size", "512"]
    run_logged(python("-m", "surrogate", "train", "--data", str(data), "--out", str(run_dir), "--steps", "2",
                      "--validate-every", "0", "--no-progress", "--device", "cpu" if dry_run else "cuda", *sizes),
               out / "logs" / "ds2_run.log")
    return run_dir


def _generation(out: Path, dry_run: bool, name: str, options: list[str], batch_sizes: str,
                model: str | None = None) -> dict:
    """generation_speed.py on ``model`` (a shipped model's name; default: the default-sized ds2 run)."""
    run_dir = model or _ds2_run(out, dry_run)
    target = out / name
    device = "cpu" if dry_run else "cuda:0"
    sizes = ["--batch-sizes", "8", "--precisions", "fp32", "--repeats", "1"] if dry_run else [
        "--batch-sizes", batch_sizes, "--repeats", "5"]
    run_logged(python(str(BENCHMARKS / "generation_speed.py"), str(run_dir), "--out-dir", str(target),
                      "--devices", device, "--simulator-events", "1", *sizes, *options),
               out / "logs" / f"{name}.log")
    return {"results": json.loads((target / f"{device.replace(':', '')}.json").read_text()),
            "table": (target / "table.md").read_text()}


def stage_generation(out: Path, dry_run: bool) -> dict:
    return _generation(out, dry_run, "generation", [] if dry_run else ["--cuda-graphs"], "1,1024,65536")


def stage_generation_shipped(out: Path, dry_run: bool) -> dict:
    # the shipped ds2-electron model as users run it: small network, calibrated inverse
    return _generation(out, dry_run, "generation_shipped", [] if dry_run else ["--cuda-graphs"], "1,1024,65536",
                       model="ds2-electron")


def stage_generation_compiled(out: Path, dry_run: bool) -> dict:
    # compiling takes minutes on a busy CPU, so the dry run times the eager path of this stage only
    return _generation(out, dry_run, "generation_compiled", [] if dry_run else ["--compile", "--precisions", "bf16"],
                       "65536")


def stage_training(out: Path, dry_run: bool) -> dict:
    target = out / "training"
    sizes = (["--devices", "cpu", "--geometry", "ds1-photons", "--batch-sizes", "16", "--precisions", "fp32",
              "--steps", "1", "--width", "16", "--depth", "1"] if dry_run else
             ["--devices", "cuda:0", "--batch-sizes", "512,4096", "--steps", "10"])
    run_logged(python(str(BENCHMARKS / "training_speed.py"), "--out-dir", str(target), *sizes),
               out / "logs" / "training.log")
    return {"results": json.loads((target / "training_speed.json").read_text()),
            "table": (target / "training_speed.md").read_text()}


def _nbody(out: Path, name: str, box: float, grid: int, steps: int, device: str, density: bool) -> dict:
    """One box through the command line's own code, in this process (for the device's peak memory)."""
    import h5py
    import torch

    from surrogate.cli import main as surrogate_main
    from surrogate.cosmology.observables import power_spectrum
    from surrogate.cosmology.simulation import peak_memory_bytes

    path = work_dir(out) / f"{name}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    surrogate_main(["simulate", "nbody", "--box", str(box), "--grid", str(grid), "--steps", str(steps),
                    "--seed", "1", "--maps", "3", "--device", device, "--out", str(path),
                    "--density" if density else "--no-density"])
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    result = {"device": device, "box_mpc_h": box, "grid": grid, "steps": steps,
              "seconds": time.perf_counter() - started, "peak_memory_gib": peak_memory_bytes(device) / 2 ** 30}
    if density:
        with h5py.File(path, "r") as handle:
            spectrum = power_spectrum(handle["density"][0], box, dims=3)
        result.update(k_h_mpc=spectrum.k_h_mpc.tolist(), power=spectrum.power.tolist())
    path.unlink()
    return result


def stage_nbody(out: Path, dry_run: bool) -> dict:
    import numpy as np

    device = "cpu" if dry_run else "cuda"
    big = _nbody(out, "nbody_big", 64.0 if dry_run else 512.0, 16 if dry_run else 256, 2 if dry_run else 10,
                 device, density=False)
    small = {where: _nbody(out, f"nbody_small_{where}", 128.0, 8 if dry_run else 64, 2 if dry_run else 10,
                           where, density=True) for where in ("cpu", device)}
    power_cpu, power_device = np.array(small["cpu"]["power"]), np.array(small[device]["power"])
    difference = float(np.max(np.abs(power_device / power_cpu - 1)))
    return {"large": big, "small": small, "max_relative_power_difference": difference,
            "power_agrees": difference < 1e-3}


# -- the orchestrator -------------------------------------------------------------------------------------


def run_stage(name: str, out: Path, dry_run: bool, timeout: float) -> dict:
    """``name`` in a child process (this script with --stage), its JSON read back; never raises."""
    command = python(str(Path(__file__).resolve()), "--stage", name, "--out", str(out))
    command += ["--dry-run"] if dry_run else []
    log_path = out / "logs" / f"{name}.log"
    started = time.perf_counter()
    try:
        run_logged(command, log_path, timeout=timeout)
        status, error = "ok", None
    except subprocess.TimeoutExpired:
        status, error = "timeout", f"stopped after {timeout:.0f} s"
    except subprocess.CalledProcessError as failure:
        status, error = "failed", f"exit {failure.returncode}: " + _tail(log_path)
    record = {"status": status, "seconds": round(time.perf_counter() - started, 1)}
    if error:
        record["error"] = error
    result_path = out / "stages" / f"{name}.json"
    if status == "ok":
        record["result"] = json.loads(result_path.read_text())
    return record


def _tail(path: Path, lines: int = 8) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def markdown(report: dict) -> str:
    """The tables for benchmarks/README.md: stage summary, then each stage's own table."""
    environment = report["stages"].get("environment", {}).get("result", {})
    lines = [f"## GPU check, {report['date']}", "",
             f"Device {environment.get('device', '?')}, torch {environment.get('torch', '?')} "
             f"(CUDA {environment.get('cuda', '?')}), commit {environment.get('commit', '?')}"
             f"{' (dry run on the CPU, toy sizes)' if report['dry_run'] else ''}; "
             f"{report['seconds']:.0f} s in all.", "",
             "| stage | status | seconds | note |", "|---|---|---:|---|"]
    for name, stage in report["stages"].items():
        lines.append(f"| {name} | {stage['status']} | {stage['seconds']:.1f} | {_note(name, stage)} |")
    for name, title in (("generation", "Generation: eager and CUDA graphs"),
                        ("generation_shipped", "Generation of the shipped ds2-electron: eager and CUDA graphs"),
                        ("generation_compiled", "Generation: torch.compile"), ("training", "Training speed")):
        stage = report["stages"].get(name, {})
        if stage.get("status") == "ok":
            lines += ["", f"### {title}", "", stage["result"]["table"].strip()]
    nbody = report["stages"].get("nbody", {})
    if nbody.get("status") == "ok":
        result = nbody["result"]
        lines += ["", "### Particle mesh", "", "| run | device | particles | seconds | peak memory (GiB) |",
                  "|---|---|---|---:|---:|"]
        runs = [("large", result["large"])] + [(f"P(k) check ({where})", run) for where, run in result["small"].items()]
        for label, run in runs:
            lines.append(f"| {label} | {run['device']} | {run['grid']}^3 in {run['box_mpc_h']:g} Mpc/h, "
                         f"{run['steps']} steps | {run['seconds']:.1f} | {run['peak_memory_gib']:.2f} |")
        lines += ["", f"P(k) of the small box, device against CPU: largest relative difference "
                      f"{result['max_relative_power_difference']:.2g} "
                      f"over {len(result['small']['cpu']['power'])} bins."]
    return "\n".join(lines) + "\n"


def _note(name: str, stage: dict) -> str:
    if stage["status"] != "ok":
        return stage.get("error", "")[:200].replace("|", "/")
    result = stage["result"]
    if name == "cuda_tests":
        return (f"{result['tests']} tests, {result['failures'] + result['errors']} failed, "
                f"{result['skipped']} skipped")
    if name == "nbody":
        return f"P(k) CPU vs device agrees: {result['power_agrees']}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu_check"),
                        help="output folder (default: $OUT when set, else ./gpu_check)")
    parser.add_argument("--dry-run", action="store_true", help="every stage at toy size on the CPU")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of the stages")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)  # internal: one stage, in-process
    args = parser.parse_args(argv)
    out = args.out.resolve()
    # the stages' own processes import this checkout, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for folder in ("logs", "stages"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    if args.stage:
        result = globals()[f"stage_{args.stage}"](out, args.dry_run)
        (out / "stages" / f"{args.stage}.json").write_text(json.dumps(result, indent=2) + "\n")
        return 0

    names = args.stages.split(",")
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        parser.error(f"unknown stage {unknown[0]} (known: {', '.join(STAGES)})")
    slack = DRY_RUN_SLACK if args.dry_run else 1
    shutil.rmtree(work_dir(out), ignore_errors=True)  # nothing left from an interrupted check
    started = time.perf_counter()
    report = {"date": datetime.date.today().isoformat(), "dry_run": args.dry_run, "stages": {}}
    for name in names:
        left = slack * TOTAL_SECONDS - (time.perf_counter() - started)
        if left < 5:
            report["stages"][name] = {"status": "skipped", "seconds": 0.0, "error": "no time left"}
            continue
        limit = min(slack * STAGES[name], left)
        print(f"gpu_check: {name} (at most {limit:.0f} s)", file=sys.stderr, flush=True)
        report["stages"][name] = run_stage(name, out, args.dry_run, limit)
        print(f"gpu_check: {name} {report['stages'][name]['status']} in {report['stages'][name]['seconds']} s",
              file=sys.stderr, flush=True)
    report["seconds"] = time.perf_counter() - started
    shutil.rmtree(work_dir(out), ignore_errors=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}", file=sys.stderr)
    return 0 if all(stage["status"] == "ok" for stage in report["stages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
