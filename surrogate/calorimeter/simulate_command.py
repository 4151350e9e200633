"""``surrogate simulate calorimeter``: the command line of :mod:`surrogate.calorimeter.production`."""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.calorimeter.production import BLOCK_EVENTS, parse_energies, simulate_production
from surrogate.options.outputs import check_output, overwrite_option
from surrogate.options.param_types import SEED, WORKERS, FiniteFloat
from surrogate.options.threads import with_threads


@with_threads
@click.command("calorimeter")
@click.option("--geometry", type=click.Choice(["ds2", "calogan"]), required=True,
              help="ds2: CaloChallenge dataset 2 (W/Si, 45 x 16 x 9 voxels, CaloChallenge HDF5 layout); "
                   "calogan: CaloGAN Pb/LAr (3 layers + overflow, CaloGAN HDF5 layout).")
@click.option("--particle", type=click.Choice(["e-", "e+", "gamma"]), required=True,
              help="Incident particle, entering at the origin along +z.")
@click.option("--energy", "energy_gev", type=FiniteFloat(), metavar="GEV",
              help="Incident energy in GeV, the same for every shower.")
@click.option("--energy-range", "energy_range", metavar="LO:HI",
              help="LO:HI in GeV: incident energies drawn log-uniformly between LO and HI.")
@click.option("--events", type=click.IntRange(min=1), required=True, metavar="N",
              help="Number of showers in the whole production (all shards together).")
@click.option("--seed", type=SEED, required=True, metavar="S",
              help="Seed of the production; the same seed gives the same showers.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file (energies stored in MeV).")
@overwrite_option
@click.option("--format", "file_format", type=click.Choice(["hdf5", "root"]),
              help="hdf5 (the geometry's layout) or root (a fixed-size TTree) [default: root for a .root "
                   "output, hdf5 otherwise].")
@click.option("--shard", metavar="I/N", help=f"I/N: simulate only the I-th (1..N) of N parts of the production, "
                                             f"cut into whole blocks of {BLOCK_EVENTS} showers (the unit of its "
                                             "seeding; parts differ by at most one block, N at most the number "
                                             "of blocks); `surrogate merge` joins the N outputs.")
@click.option("--workers", type=WORKERS, default=1, show_default=True, metavar="W",
              help="Processes simulating blocks in parallel.")
def calorimeter(geometry: str, particle: str, energy_gev: float | None, energy_range: str | None, events: int,
                seed: int, out: Path, overwrite: bool, file_format: str | None, shard: str | None,
                workers: int) -> None:
    """Simulate electromagnetic showers with the built-in Monte Carlo (stands in for Geant4)."""
    energy_gev_range = parse_energies(energy_gev, energy_range)
    check_output(out, overwrite=overwrite)
    file_format = file_format or ("root" if out.suffix.lower() == ".root" else "hdf5")
    n_events, seconds = simulate_production(out, geometry, particle, energy_gev_range, events, seed,
                                            file_format=file_format, shard=shard, workers=workers)
    click.echo(f"wrote {n_events} showers to {out} ({seconds:.1f} s, {seconds / n_events:.3g} s per shower)")
