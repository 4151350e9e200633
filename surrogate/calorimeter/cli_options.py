"""Click options shared by every command that reads shower files (``inspect``, ``merge``, ...).

``@shower_reader_options`` adds ``--card``, ``--binning``, ``--geometry`` and the ROOT tree, branch and
unit options, and hands them to the command as one dict ``reader_options`` (unset options left out),
ready for ``Domain.read(path, **reader_options)``. Imports only click, so ``--help`` stays fast.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import click

_UNITS = click.Choice(["keV", "MeV", "GeV", "TeV"], case_sensitive=False)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)

_OPTIONS = (
    click.option("--card", type=_FILE,
                 help="Dataset card (TOML) saying how to read the file: layout, geometry, particle, ROOT "
                      "tree and branch names, energy units. Options given here override it."),
    click.option("--binning", type=_FILE,
                 help="CaloChallenge binning XML for files whose voxel count matches no known geometry."),
    click.option("--geometry", "geometry",
                 help="Known geometry of the file: ds1-photons, ds1-pions, ds2, ds3 or calogan."),
    click.option("--tree", help="ROOT: name of the TTree or RNTuple holding one entry per shower."),
    click.option("--energy-branch", help="ROOT: scalar branch with the incident energy."),
    click.option("--energy-unit", type=_UNITS,
                 help="Unit of the incident energy in the file [default: MeV; GeV for CaloGAN files]."),
    click.option("--showers-branch", help="ROOT: fixed-size array branch with the flat cell energies."),
    click.option("--cell-index-branch", help="ROOT: jagged branch of cell indices (into the flat event vector)."),
    click.option("--cell-energy-branch", help="ROOT: jagged branch of cell energies, paired with the indices."),
    click.option("--cell-energy-unit", type=_UNITS, help="Unit of the cell energies in the file [default: MeV]."),
)
_NAMES = ("card", "binning", "geometry", "tree", "energy_branch", "energy_unit", "showers_branch",
          "cell_index_branch", "cell_energy_branch", "cell_energy_unit")


def shower_reader_options(command: Callable) -> Callable:
    """Decorate a click command function: it receives the reader options as ``reader_options``."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, reader_options={k: v for k, v in given.items() if v is not None}, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
