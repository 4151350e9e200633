"""Checks applied to every block of showers read from a file: finite, non-negative, right shape.

Readers run them block by block, so a bad value deep inside a large file is still found without
holding the file in memory. Messages name the dataset (or branch) and the row at fault.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from surrogate.errors import SurrogateError


def check_incident_energies(path: str | os.PathLike, name: str, energies_mev: np.ndarray, first_row: int) -> None:
    """Incident energies must be finite and positive."""
    bad = ~np.isfinite(energies_mev)
    if bad.any():
        row = first_row + int(np.argmax(bad))
        raise SurrogateError(f"{name!r} row {row} is {energies_mev[row - first_row]} (NaN or infinite)", path)
    if energies_mev.size and energies_mev.min() <= 0:
        row = first_row + int(np.argmin(energies_mev))
        raise SurrogateError(
            f"{name!r} row {row} is {energies_mev[row - first_row]:g} MeV; incident energies must be positive", path)


def check_cell_energies(path: str | os.PathLike, name_of_column: Callable[[int], str],
                        events: np.ndarray, first_row: int) -> None:
    """Cell energies must be finite and not negative; ``name_of_column`` names the dataset of a column."""
    if not events.size:
        return
    if not np.isfinite(events.sum(dtype=np.float64)):
        bad = ~np.isfinite(events)
        if bad.any():
            row, column = np.unravel_index(int(np.argmax(bad)), events.shape)
            raise SurrogateError(
                f"{name_of_column(int(column))!r} row {first_row + row} holds {events[row, column]} "
                "(NaN or infinite)", path)
    if events.min() < 0:
        row, column = np.unravel_index(int(np.argmin(events)), events.shape)
        raise SurrogateError(
            f"{name_of_column(int(column))!r} row {first_row + row} holds a negative energy "
            f"({events[row, column]:g} MeV)", path)


def check_rows(path: str | os.PathLike, counts: dict[str, int]) -> int:
    """The common event count of several datasets; an error naming them when they disagree."""
    values = set(counts.values())
    if len(values) > 1:
        detail = ", ".join(f"{name!r} has {count}" for name, count in counts.items())
        raise SurrogateError(f"datasets disagree on the number of events: {detail}", path)
    return values.pop()
