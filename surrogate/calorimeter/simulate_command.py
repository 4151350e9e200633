"""``surrogate simulate calorimeter``: showers from the reference simulator, written in a shower layout.

Showers are simulated in fixed blocks of :data:`BLOCK_EVENTS`; block ``b`` draws its energies and its
showers from ``SeedSequence(seed, spawn_key=(b,))``, whatever the shard or worker that runs it. So
``--shard I/N`` runs blocks ``floor((I-1) B/N) .. floor(I B/N) - 1`` of the same production (shards
differ by at most one block; more shards than blocks is an error), and merging shards 1..N in order
gives exactly the unsharded file.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Iterator

import click

from surrogate.commands.outputs import check_output, overwrite_option
from surrogate.commands.shards import shard_units
from surrogate.commands.threads import with_threads
from surrogate.commands.types import SEED, WORKERS, FiniteFloat
from surrogate.errors import SurrogateError

#: Showers simulated together (one call of the simulator, one seed). Part of the production's
#: definition: changing it changes which random numbers each shower gets. 128 keeps the simulator's
#: vectorised batches full at low energy (1 GeV on the 2-core CI machine: 27 ms per shower in blocks
#: of 32, 15 ms in blocks of 128) while a 10,000-shower production still splits into 79 shards.
BLOCK_EVENTS = 128
MEV_PER_GEV = 1000.0


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


def simulate_production(out: Path, geometry: str, particle: str, energy_gev_range: tuple[float, float], events: int,
                        seed: int, *, file_format: str = "hdf5", shard: str | None = None,
                        workers: int = 1) -> tuple[int, float]:
    """Write shard ``I/N`` (None: all) of a production of ``events`` showers to ``out``; (showers written, seconds).

    Energies are drawn log-uniformly in ``energy_gev_range`` (GeV); ``file_format`` is hdf5 (the
    geometry's layout) or root. The same arguments always give the same file.
    """
    from tqdm import tqdm

    from surrogate.calorimeter.formats.layout import make_layout
    from surrogate.calorimeter.formats.showers import open_writer
    from surrogate.calorimeter.geometry import get_geometry

    chosen = get_geometry(geometry)
    layout_format = "root" if file_format == "root" else chosen.file_layout
    layout = make_layout(layout_format, chosen, particle=particle, sampling_fraction=chosen.sampling_fraction)
    blocks = shard_blocks(events, shard)
    n_events = shard_events(events, shard)
    jobs = ((geometry, particle, energy_gev_range, seed, block, start, stop) for block, start, stop in blocks)
    began = time.perf_counter()
    with open_writer(out, layout) as writer, \
            tqdm(total=n_events, unit="shower", desc="simulating", disable=None) as bar:
        for energies_mev, showers in _run(jobs, workers):
            writer.append(energies_mev, showers)
            bar.update(len(showers))
    return n_events, time.perf_counter() - began


def parse_energies(energy_gev: float | None, energy_range: str | None) -> tuple[float, float]:
    """(low, high) incident energy in GeV from ``--energy`` or ``--energy-range``."""
    if (energy_gev is None) == (energy_range is None):
        raise SurrogateError("give exactly one of --energy GEV and --energy-range LO:HI")
    if energy_gev is not None:
        low = high = energy_gev
    else:
        try:
            low, high = (float(part) for part in energy_range.split(":"))
        except ValueError:
            raise SurrogateError(f"--energy-range {energy_range!r}: expected LO:HI in GeV, e.g. 1:100") from None
    if not (0 < low <= high and math.isfinite(high)):
        raise SurrogateError(f"incident energies must be positive and LO <= HI (got {low}:{high} GeV)")
    from surrogate.calorimeter.shower.tables import MAX_ENERGY_MEV

    if high * MEV_PER_GEV > MAX_ENERGY_MEV:
        raise SurrogateError(f"{high:g} GeV lies above {MAX_ENERGY_MEV / MEV_PER_GEV:g} GeV, where the simulator's "
                             f"cross-section tables end")
    return low, high


def _block_range(events: int, shard: str | None) -> range:
    """The block numbers that shard ``I/N`` (None: all) simulates."""
    return shard_units(shard, math.ceil(events / BLOCK_EVENTS), f"blocks of {BLOCK_EVENTS} showers")


def shard_blocks(events: int, shard: str | None) -> Iterator[tuple[int, int, int]]:
    """(block number, first event, end event) of every block that shard ``I/N`` simulates, made one at a
    time, so planning a production of any size takes no memory."""
    for block in _block_range(events, shard):
        yield block, block * BLOCK_EVENTS, min(events, (block + 1) * BLOCK_EVENTS)


def shard_events(events: int, shard: str | None) -> int:
    """The number of showers shard ``I/N`` simulates."""
    blocks = _block_range(events, shard)
    return min(events, blocks.stop * BLOCK_EVENTS) - blocks.start * BLOCK_EVENTS if blocks else 0


def simulate_block(geometry: str, particle: str, energy_gev_range: tuple[float, float], seed: int,
                   block: int, start: int, stop: int):
    """Incident energies (MeV) and showers of one block, from that block's own seed."""
    import numpy as np

    from surrogate.calorimeter.geometry import get_geometry
    from surrogate.calorimeter.shower import simulate_showers

    energy_seed, shower_seed = np.random.SeedSequence(seed, spawn_key=(block,)).spawn(2)
    low, high = energy_gev_range
    log_energy = np.random.default_rng(energy_seed).uniform(math.log(low), math.log(high), stop - start)
    energies_mev = np.exp(log_energy) * MEV_PER_GEV if high > low else np.full(stop - start, low * MEV_PER_GEV)
    showers = simulate_showers(get_geometry(geometry), particle, energies_mev, np.random.default_rng(shower_seed))
    return energies_mev, showers


def _run(jobs: Iterator[tuple], workers: int):
    """Results of :func:`simulate_block` for each job, in order, on ``workers`` processes.

    At most two jobs per worker are submitted ahead of the results consumed (``pool.map`` would
    submit them all at once), so memory stays bounded for any number of blocks.
    """
    if workers == 1:
        for job in jobs:
            yield simulate_block(*job)
        return
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = collections.deque()
        for job in jobs:
            pending.append(pool.submit(simulate_block, *job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
