"""Conditions to generate at, read from a table or from any data file an installed domain reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.errors import SurrogateError

TABLE_SUFFIXES = (".npy", ".txt", ".csv")
#: Condition names end in their unit; those in MeV are energies, which must be positive.
ENERGY_SUFFIX = "_mev"
#: Rows checked at a time, so checking a large memory-mapped table takes little memory.
CHECK_ROWS = 1 << 20


def read_conditions(path: Path, condition_names: tuple[str, ...], reader_options: dict | None = None) -> np.ndarray:
    """Conditions (N, C) from ``path``: any data file an installed domain reads (its events' conditions,
    read with ``reader_options``), or else a table (.npy, .txt, .csv) in the units of ``condition_names``.

    Data files come first because a .npy file may be either: a map stack (M, P, P) is data, a
    (N, C) array a table."""
    from surrogate.core.domain import domain_for_file, find_domain, read_options

    if not path.is_file():
        raise SurrogateError("no such file", path)
    domain = find_domain(path)
    if domain is None and path.suffix.lower() in TABLE_SUFFIXES:
        table = _read_table(path)
    else:
        domain = domain or domain_for_file(path)  # raises: neither data nor a table
        names, table = domain.read_conditions(path, **read_options(reader_options))
        if names is not None and names != condition_names:
            raise SurrogateError(f"its conditions are {', '.join(names)}; the model needs "
                                 f"{', '.join(condition_names)}", path)
        if names is None:
            table = np.empty((0, len(condition_names)))
    table = np.asarray(table, dtype=np.float64)
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2 or table.shape[1] != len(condition_names):
        raise SurrogateError(f"a table of shape {table.shape}; expected one column per condition "
                             f"({', '.join(condition_names)})", path)
    if len(table) == 0:
        raise SurrogateError("no conditions in the file", path)
    for start in range(0, len(table), CHECK_ROWS):  # in blocks: a memory-mapped table stays on disk
        block = table[start:start + CHECK_ROWS]
        if not np.isfinite(block).all():
            raise SurrogateError("conditions contain NaN or inf", path)
        for column, name in enumerate(condition_names):
            if name.endswith(ENERGY_SUFFIX) and (block[:, column] <= 0).any():
                row = start + int(np.flatnonzero(block[:, column] <= 0)[0])
                raise SurrogateError(f"row {row} has {name} = {table[row, column]:g}; energies must be positive",
                                     path)
    return table


def _read_table(path: Path) -> np.ndarray:

    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False, mmap_mode="c")  # read as generation proceeds
        lines = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if lines and any(ch.isalpha() and ch not in "eE" for ch in lines[0]):
            lines = lines[1:]  # a header row of column names
        delimiter = "," if path.suffix.lower() == ".csv" else None
        return np.array([[float(v) for v in line.split(delimiter)] for line in lines])
    except (OSError, ValueError) as error:
        raise SurrogateError(f"not a table of numbers ({error})", path) from None
