"""Click options for reading shower files, offered by the calorimeter domain to every command that reads
data (``inspect``, ``merge``, ``train``, ``validate``, ...) through ``Domain.reader_options``.

Imports only click, so ``--help`` stays fast.
"""
from __future__ import annotations

from pathlib import Path

import click

_UNITS = click.Choice(["keV", "MeV", "GeV", "TeV"], case_sensitive=False)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def shower_reader_options() -> list[click.Option]:
    """``--card``, ``--binning``, ``--geometry`` and the ROOT tree, branch and unit options."""
    return [
        click.Option(["--card"], type=_FILE,
                     help="Dataset card (TOML) saying how to read the file: layout, geometry, particle, ROOT "
                          "tree and branch names, energy units. Options given here override it."),
        click.Option(["--binning"], type=_FILE,
                     help="CaloChallenge binning XML for files whose voxel count matches no known geometry."),
        click.Option(["--geometry"],
                     help="Known geometry of the file: ds1-photons, ds1-pions, ds2, ds3 or calogan."),
        click.Option(["--tree"], help="ROOT: name of the TTree or RNTuple holding one entry per shower."),
        click.Option(["--energy-branch"], help="ROOT: scalar branch with the incident energy."),
        click.Option(["--energy-unit"], type=_UNITS,
                     help="Unit of the incident energy in the file [default: MeV; GeV for CaloGAN files]."),
        click.Option(["--showers-branch"], help="ROOT: fixed-size array branch with the flat cell energies."),
        click.Option(["--cell-index-branch"],
                     help="ROOT: jagged branch of cell indices (into the flat event vector)."),
        click.Option(["--cell-energy-branch"], help="ROOT: jagged branch of cell energies, paired with the indices."),
        click.Option(["--cell-energy-unit"], type=_UNITS, help="Unit of the cell energies in the file [default: MeV]."),
    ]
