"""Training speed: the library's training loop against a plain eager loop, side by side in one run.

Both train the same networks (the calorimeter domain's dense generator and critic for a geometry's cells,
built by the library from the same seed and data) with the same loss: WGAN-GP, lambda 10, 5 critic steps
per generator step, Adam lr 1e-4, betas (0, 0.9). The data are synthetic showers (log-normal cells;
speed does not depend on their content), preprocessed once, outside the timing.

- library: ``surrogate.core.training.train`` itself, timed by its own log.csv (``seconds_per_step`` of
  the second block of ``--steps`` steps, after a first block that warms up); this is its whole loop:
  EMA, stats kept on the device, fused Adam and TF32/cuDNN autotuning on CUDA, optional --compile.
- plain: the loop a short script would write: each batch's indices drawn on the host and the batch
  indexed there and copied to the device, torch's default Adam, the penalty by
  ``autograd.grad(create_graph=True)``, and both losses read to the host once per step to print them.

Precisions: fp32 (strict: no TF32 anywhere), tf32 (CUDA only), bf16 (autocast of the network passes,
the penalty in fp32; TF32 on for the rest). Prints a Markdown table with ratio = plain / library seconds
per step (above 1: the library is faster) and writes it with the JSON under --out-dir.

    python benchmarks/training_speed.py [--out-dir training_speed] [--devices cpu,cuda] [--batch-sizes 512,4096]
        [--precisions fp32,tf32,bf16] [--steps 10] [--geometry ds2] [--compile] [--cpu-threads 1]
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.formats.known_geometries import geometry_named
from surrogate.calorimeter.formats.layout import make_layout
from surrogate.core.benchmark import fp32_arithmetic
from surrogate.core.config import LossConfig, ModelConfig, TrainConfig
from surrogate.core.data import preprocess
from surrogate.core.domain import EventSet
from surrogate.core.model import autocast
from surrogate.core.timing import synchronizer
from surrogate.core.training import train

GP_LAMBDA, CRITIC_STEPS, LR, BETAS = 10.0, 5, 1e-4, (0.0, 0.9)
ROOT = Path(__file__).resolve().parents[1]


def synthetic_showers(geometry_name: str, n_events: int, seed: int) -> EventSet:
    """Showers with log-normal cells, about 20% empty, summing to 0.9 of a log-uniform 1-100 GeV energy."""
    geometry = geometry_named(geometry_name)
    rng = np.random.default_rng(seed)
    incident = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n_events))
    cells = rng.lognormal(0.0, 1.0, (n_events, geometry.n_values))
    cells[rng.random(cells.shape) < 0.2] = 0.0
    cells *= (0.9 * incident / cells.sum(axis=1))[:, None]
    layout = make_layout("calochallenge", geometry, particle="e-")
    return EventSet(incident[:, None], cells.astype(np.float32), ("incident_energy_mev",), layout)


def train_config(data: Path, device: str, batch_size: int, precision: str, steps: int, model: ModelConfig,
                 compile_: bool) -> TrainConfig:
    return TrainConfig(data=str(data), steps=2 * steps, batch_size=batch_size, device=device,
                       precision="bf16" if precision == "bf16" else "fp32", tf32=precision != "fp32",
                       compile=compile_, validate_every=0, checkpoint_every=0, log_every=steps,
                       holdout_fraction=0.01, validation_events=64,
                       loss=LossConfig(name="wgan-gp", gp_lambda=GP_LAMBDA),
                       model=model)


def library_seconds_per_step(config: TrainConfig, run_dir: Path) -> float:
    """seconds_per_step of the library's second log row (the first block of steps is the warm-up)."""
    train(config, run_dir, progress=False)
    with open(run_dir / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1]["seconds_per_step"])


def plain_seconds_per_step(config: TrainConfig, events: EventSet) -> float:
    """The same networks and loss in a plain eager loop; the mean of ``--steps`` steps after as many warm-up."""
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    preprocessor, generator, critic = DOMAIN.build_model(events.layout, config.model, events)
    preprocessor, generator, critic = preprocessor.to(device), generator.to(device), critic.to(device)
    x_all, c_all = preprocess(preprocessor, events, device=device)  # host tensors
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    optimizer_d = torch.optim.Adam(critic.parameters(), lr=LR, betas=BETAS)
    batch, precision = config.batch_size, config.precision
    rng = np.random.default_rng(config.seed)

    def critic_step():
        index = torch.from_numpy(rng.integers(0, len(x_all), batch))
        real, c = x_all[index].to(device), c_all[index].to(device)
        z = torch.randn(batch, generator.latent_dim, device=device)
        with torch.no_grad(), autocast(device, precision):
            fake = generator(z, c).float()
        with autocast(device, precision):
            scores = critic(torch.cat([real, fake]), torch.cat([c, c])).reshape(-1).float()
        loss = scores[batch:].mean() - scores[:batch].mean()
        epsilon = torch.rand(batch, *(1,) * (real.dim() - 1), device=device)
        interpolates = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
        (gradient,) = torch.autograd.grad(critic(interpolates, c).sum(), interpolates, create_graph=True)
        norm = torch.sqrt(gradient.reshape(batch, -1).square().sum(dim=1) + 1e-12)
        loss = loss + GP_LAMBDA * (norm - 1).square().mean()
        optimizer_d.zero_grad()
        loss.backward()
        optimizer_d.step()
        return loss, c

    def step():
        for _ in range(CRITIC_STEPS):
            critic_loss, c = critic_step()
        critic.requires_grad_(False)
        with autocast(device, precision):
            fake = generator(torch.randn(batch, generator.latent_dim, device=device), c)
            generator_loss = -critic(fake, c).float().mean()
        optimizer_g.zero_grad()
        generator_loss.backward()
        optimizer_g.step()
        critic.requires_grad_(True)
        return critic_loss.item(), generator_loss.item()  # printed by such a script

    sync = synchronizer(device)
    for _ in range(config.log_every):
        step()
    sync()
    started = time.perf_counter()
    for _ in range(config.log_every):
        step()
    sync()
    return (time.perf_counter() - started) / config.log_every


def device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} torch thread(s)"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown_table(result: dict) -> str:
    lines = [f"Measured {result['date']} at commit {result['commit']} with torch {result['torch']}; "
             f"{result['steps']} timed steps after {result['steps']} warm-up steps, geometry {result['geometry']} "
             f"({result['cells']} cells), width {result['width']}, depth {result['depth']}.", "",
             "| device | batch | precision | library s/step | plain s/step | library samples/s | ratio plain/library |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['device_name']} | {row['batch_size']} | {row['precision']}"
                     f"{' compiled' if row['compiled'] else ''} | {row['library_seconds_per_step']:.4g} | "
                     f"{row['plain_seconds_per_step']:.4g} | "
                     f"{row['batch_size'] / row['library_seconds_per_step']:.4g} | "
                     f"{row['ratio']:.3g}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=Path("training_speed"), help="where JSON and table go")
    parser.add_argument("--devices", default=None, help="comma-separated devices (default: cpu and every GPU)")
    parser.add_argument("--batch-sizes", default="512,4096", help="comma-separated samples per step")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated among fp32, tf32, bf16 (default: all; tf32 only on GPUs)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after as many warm-up steps)")
    parser.add_argument("--geometry", default="ds2", help="calorimeter geometry whose cells are generated")
    parser.add_argument("--width", type=int, default=256, help="network width (the library's default)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (the library's default)")
    parser.add_argument("--compile", action="store_true", help="the library's rows with --compile")
    parser.add_argument("--cpu-threads", type=int, default=None, help="torch threads on the CPU")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)
    gpus = [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    devices = args.devices.split(",") if args.devices else ["cpu"] + gpus
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    model = ModelConfig(arch="dense", generator_width=args.width, critic_width=args.width, depth=args.depth)
    events = synthetic_showers(args.geometry, max(max(batch_sizes), 256), args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    result = write_results(args, int(events.events.shape[1]), rows)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "showers.h5"
        DOMAIN.write(data, events)
        for device in devices:
            is_cuda = torch.device(device).type == "cuda"
            precisions = args.precisions.split(",") if args.precisions else ["fp32", "tf32", "bf16"]
            for precision in [p for p in precisions if is_cuda or p != "tf32"]:
                for batch_size in batch_sizes:
                    config = train_config(data, device, batch_size, precision, args.steps, model, args.compile)
                    run_dir = Path(tempfile.mkdtemp(dir=scratch))
                    library = library_seconds_per_step(config, run_dir / "run")
                    with fp32_arithmetic("tf32" if is_cuda and config.tf32 else "fp32"):  # as the library's
                        plain = plain_seconds_per_step(config, events)
                    rows.append({"device": device, "device_name": device_name(device), "batch_size": batch_size,
                                 "precision": precision, "compiled": args.compile,
                                 "library_seconds_per_step": library, "plain_seconds_per_step": plain,
                                 "ratio": plain / library})
                    print(f"{device} batch {batch_size} {precision}: library {library:.4g} s/step, "
                          f"plain {plain:.4g} s/step, ratio {plain / library:.3g}x", file=sys.stderr, flush=True)
                    result = write_results(args, int(events.events.shape[1]), rows)  # after each row: a run
                    # stopped by a time limit keeps what it measured
    print(markdown_table(result))
    return result


def write_results(args, cells: int, rows: list[dict]) -> dict:
    """training_speed.json and training_speed.md in --out-dir, for the rows so far."""
    result = {"date": datetime.date.today().isoformat(), "commit": commit(), "torch": torch.__version__,
              "steps": args.steps, "geometry": args.geometry, "cells": cells, "width": args.width,
              "depth": args.depth, "loss": "wgan-gp", "critic_steps": CRITIC_STEPS, "rows": rows}
    (args.out_dir / "training_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out_dir / "training_speed.md").write_text(markdown_table(result))
    return result


if __name__ == "__main__":
    main()
