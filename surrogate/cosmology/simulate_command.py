"""``surrogate simulate nbody``: particle-mesh boxes -> density cubes, slab maps and their parameters."""
from __future__ import annotations

import math
from pathlib import Path

import click

from surrogate.cosmology.production import shard_runs
from surrogate.errors import SurrogateError
from surrogate.options.outputs import check_output, overwrite_option
from surrogate.options.param_types import SEED, FiniteFloat
from surrogate.options.threads import with_threads


#: The most boxes one sweep may hold: each takes seconds to hours, and the Latin hypercube holds
#: every run's parameter point in memory.
MAX_RUNS = 10**6
#: Particles per side: 8192^3 particles need terabytes; larger values overflowed sizes with a traceback.
MAX_GRID = 8192
#: Time steps: far more than a particle-mesh run uses (tens); larger values overflowed the step arrays.
MAX_STEPS = 10**5
#: Box side in Mpc/h: beyond the observable universe (~1.4e4 Mpc/h); larger boxes overflowed the growth.
MAX_BOX_MPC_H = 1e5


def parse_value_or_range(text: str, name: str) -> tuple[float, float]:
    """``"0.3"`` -> (0.3, 0.3); ``"0.2:0.4"`` -> (0.2, 0.4)."""
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        raise SurrogateError(f"--{name} takes a number or a range LO:HI, not {text!r}") from None
    if not all(math.isfinite(part) for part in parts):
        raise SurrogateError(f"--{name} must be finite, not {text!r}")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2 or not parts[0] <= parts[1]:
        raise SurrogateError(f"--{name} range must be LO:HI with LO <= HI, not {text!r}")
    return parts[0], parts[1]


@with_threads
@click.command("nbody")
@click.option("--box", "box_mpc_h", type=FiniteFloat(min=0, min_open=True, max=MAX_BOX_MPC_H), default=256.0, show_default=True,
              help="Comoving box side in Mpc/h.")
@click.option("--grid", type=click.IntRange(min=4, max=MAX_GRID), default=64, show_default=True, help="Particles per side (grid^3 particles).")
@click.option("--steps", type=click.IntRange(min=1, max=MAX_STEPS), default=10, show_default=True,
              help="Kick-drift-kick steps, uniform in scale factor from --z-init to --redshift.")
@click.option("--omega-m", default="0.3175", show_default=True,
              help="Matter density Omega_m, or a range LO:HI sampled by Latin hypercube over --runs.")
@click.option("--sigma8", default="0.834", show_default=True,
              help="rms linear fluctuation in 8 Mpc/h spheres at z=0, or a range LO:HI.")
@click.option("--redshift", type=FiniteFloat(), default=0.0, show_default=True, help="Output redshift.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the initial phases (and of the parameter sampling). One run uses it as its phase "
                   "seed: the same seed at another --redshift is the same universe at another time.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output HDF5 file (N-body layout, see docs/cosmology.md).")
@overwrite_option
@click.option("--maps", "n_maps", type=click.IntRange(min=1, max=MAX_GRID), default=12, show_default=True,
              help="Projected slab maps per run, cycling through the x, y, z axes.")
@click.option("--map-size", type=click.IntRange(min=2, max=MAX_GRID), default=None, help="Map pixels per side [default: --grid].")
@click.option("--runs", type=click.IntRange(min=1, max=MAX_RUNS), default=1, show_default=True,
              help="Number of boxes; with ranges, each gets its own parameter point and phases (at most 10^6).")
@click.option("--shard", default=None, help="Run only the I-th (1..N) of N equal parts of the runs; merge with `surrogate merge`.")
@click.option("--device", default="cpu", show_default=True, help="Torch device for the simulation: cpu, cuda, cuda:1.")
@click.option("--z-init", type=FiniteFloat(min=0, min_open=True, max=9999), default=19.0, show_default=True,
              help="Redshift of the 2LPT initial conditions.")
@click.option("--mesh-factor", type=click.IntRange(min=1, max=8), default=2, show_default=True,
              help="Force mesh points per particle per side (2: a (2 grid)^3 mesh).")
@click.option("--lpt-order", type=click.Choice(["1", "2"]), default="2", show_default=True,
              help="Initial displacements: 1 Zel'dovich, 2 second-order LPT.")
@click.option("--transfer", type=click.Choice(["eisenstein-hu", "camb"]), default="eisenstein-hu", show_default=True,
              help="Linear transfer function (camb needs `pip install camb`).")
@click.option("--omega-b", type=FiniteFloat(min=0, max=1), default=0.049, show_default=True, help="Baryon density Omega_b (fixed).")
@click.option("--hubble", type=FiniteFloat(min=0, min_open=True, max=10), default=0.6711, show_default=True,
              help="h = H0 / (100 km/s/Mpc) (fixed).")
@click.option("--n-s", type=FiniteFloat(min=0, min_open=True, max=10), default=0.9624, show_default=True, help="Primordial spectral index (fixed).")
@click.option("--density/--no-density", default=True, show_default=True,
              help="Store each run's grid^3 overdensity cube (4 grid^3 bytes per run).")
def nbody(box_mpc_h, grid, steps, omega_m, sigma8, redshift, seed, out, overwrite, n_maps, map_size, runs, shard,
          device, z_init, mesh_factor, lpt_order, transfer, omega_b, hubble, n_s, density) -> None:
    """Run particle-mesh N-body boxes and store density cubes and projected density-contrast maps.

    \b
    Lengths in Mpc/h. Each run: Eisenstein & Hu linear spectrum normalised to sigma8, 2LPT particles
    at --z-init, FastPM kick-drift-kick steps to --redshift, then the CIC overdensity on the
    particle grid and --maps slab maps (delta = Sigma / mean - 1) of --map-size pixels.
    """
    from surrogate.api import simulate_nbody

    check_output(out, overwrite=overwrite)
    summary = simulate_nbody(out, box_mpc_h=box_mpc_h, grid=grid, steps=steps,
                             omega_m=parse_value_or_range(omega_m, "omega-m"),
                             sigma8=parse_value_or_range(sigma8, "sigma8"), redshift=redshift, seed=seed, maps=n_maps,
                             map_size=map_size, runs=runs, shard=shard, device=device, z_init=z_init,
                             mesh_factor=mesh_factor, lpt_order=int(lpt_order), transfer=transfer, omega_b=omega_b,
                             hubble=hubble, n_s=n_s, density=density)
    written, pixels = len(shard_runs(shard, runs)), map_size or grid
    click.echo(f"wrote {out}: {written} run(s), {written * n_maps} maps of {pixels}x{pixels}; {summary}")
