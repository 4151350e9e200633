"""A production of particle-mesh boxes, written as one N-body file (what ``surrogate simulate nbody`` and
``surrogate.simulate_nbody`` run): parameter points by Latin hypercube, shards of whole runs."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from surrogate.core.shards import shard_units
from surrogate.cosmology.power_spectrum import VARIED_PARAMETERS
from surrogate.errors import SurrogateError


def shard_runs(shard: str | None, runs: int) -> list[int]:
    """The run indices of shard ``I/N`` (the I-th, from 1, of N contiguous blocks); all runs when None."""
    return list(shard_units(shard, runs, "runs"))


def simulate_production(out: Path, settings, ranges: dict[str, tuple[float, float]], *, runs: int, seed: int,
                        shard: str | None, fixed: dict[str, float], device: str) -> str:
    """Write shard ``I/N`` (None: all) of ``runs`` boxes to ``out``; returns a timing summary.

    ranges: (low, high) of each varied parameter, sampled by Latin hypercube (one value when low == high);
    one run uses ``seed`` as its phase seed, several runs get their own seeds from it.
    """
    from surrogate.cosmology.simulation import latin_hypercube, run_seed

    if runs < 1:
        raise SurrogateError("--runs must be at least 1")
    points = latin_hypercube(ranges, runs, seed)
    selected = shard_runs(shard, runs)
    seeds = [seed if runs == 1 else run_seed(seed, index) for index in selected]  # the shard's runs only
    rows = [tuple(float(points[name][index]) for name in VARIED_PARAMETERS) for index in selected]
    return _simulate_runs(out, settings, rows, seeds, fixed, device, seed)


def _simulate_runs(out: Path, settings, rows, seeds, fixed: dict[str, float], device: str, seed: int) -> str:
    """Run every (parameters, seed) pair and write them as one file; returns a timing summary."""
    import torch

    from surrogate.cosmology.formats import CONTRAST, NbodyRunWriter
    from surrogate.cosmology.maps import slabs_per_axis
    from surrogate.cosmology.power_spectrum import Cosmology
    from surrogate.cosmology.simulation import run_nbody

    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise SurrogateError(f"--device {device}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SurrogateError("--device cuda: no CUDA device is available")
    attributes = {"box_mpc_h": settings.box_mpc_h, "redshift": settings.redshift, "grid": settings.grid,
                  "steps": settings.steps, "seed": seed, "mesh_factor": settings.mesh_factor,
                  "z_init": settings.z_init, "lpt_order": settings.lpt_order, "transfer": settings.transfer,
                  "map_size": settings.pixels, "maps_per_run": settings.n_maps,
                  "slab_thickness_mpc_h": settings.box_mpc_h / slabs_per_axis(settings.n_maps),
                  "quantity": CONTRAST, "t_cmb_k": Cosmology.t_cmb_k, **fixed}
    cosmologies = [Cosmology(**dict(zip(VARIED_PARAMETERS, row)), **fixed) for row in rows]  # checks them all first
    seconds, peak = [], 0
    with NbodyRunWriter(out, runs=len(rows), maps_per_run=settings.n_maps, map_size=settings.pixels,
                        grid=settings.grid, names=VARIED_PARAMETERS, attributes=attributes,
                        keep_density=settings.keep_density) as writer:
        for index, (row, cosmology, phase_seed) in enumerate(zip(rows, cosmologies, seeds)):
            products = run_nbody(cosmology, settings, phase_seed, device)
            writer.add_run(index, products.maps, np.asarray(row), phase_seed, products.density)
            seconds.append(products.seconds)
            peak = max(peak, products.peak_memory_bytes)
            if len(rows) > 1:
                values = ", ".join(f"{name}={value:.4f}" for name, value in zip(VARIED_PARAMETERS, row))
                click.echo(f"run {index + 1}/{len(rows)}: {values}, seed {phase_seed}, {products.seconds:.1f} s",
                           err=True)
    return f"{sum(seconds) / len(seconds):.1f} s per box, peak memory {peak / 2**30:.2f} GiB ({device.type})"
