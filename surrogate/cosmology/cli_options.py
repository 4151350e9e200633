"""Click options for reading map files, offered to every command that reads data through
``Domain.reader_options``. Imports only click, so ``--help`` stays fast.
"""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.options.param_types import FiniteFloat


def map_reader_options() -> list[click.Option]:
    """Snapshot painting options and the .npy stack's parameter table and map side."""
    return [
        click.Option(["--snapshot-map-size"], type=click.IntRange(min=2, max=1 << 16),
                     help="Gadget snapshots: pixels per side of the slab maps painted from the particles [256]."),
        click.Option(["--snapshot-maps"], type=click.IntRange(min=1, max=1 << 16),
                     help="Gadget snapshots: number of slab maps per snapshot, cycling x, y, z [12]."),
        click.Option(["--snapshot-sigma8"], type=FiniteFloat(min=0, min_open=True),
                     help="Gadget snapshots: sigma_8 when the header does not record it."),
        click.Option(["--parameter-table"], type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=".npy map stacks: the parameter table (whitespace columns, one row per simulation) "
                          "[NAME.params.txt or the CAMELS-CMD params_*.txt beside the stack]."),
        click.Option(["--map-box"], type=FiniteFloat(min=0, min_open=True),
                     help=".npy map stacks: side of each map in Mpc/h [25, as CAMELS-CMD]."),
    ]
