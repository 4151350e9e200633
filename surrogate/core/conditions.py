"""Conditions to generate at, read from a table or from any data file an installed domain reads.

A :class:`ConditionStream` reads them block by block each time it is iterated, so generating from a
file of 10^8 events holds one block of its conditions at a time, never all of them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from surrogate.errors import SurrogateError

TABLE_SUFFIXES = (".npy", ".txt", ".csv")
#: Condition names end in their unit; those in MeV are energies, which must be positive.
ENERGY_SUFFIX = "_mev"
#: Rows read and checked at a time (2 MiB of one float64 column).
BLOCK_ROWS = 1 << 18

#: rows -> blocks of (condition names or None when the source has none, (n, C) or (n,) conditions).
BlockReader = Callable[[int], Iterator[tuple[tuple[str, ...] | None, np.ndarray]]]


class ConditionStream:
    """(N, C) conditions, checked, read block by block from their source on each iteration.

    Making one reads every block once: to check it (names, shape, finite values, positive energies),
    to count the rows and to find each column's range (``low``, ``high``). Each later iteration reads
    and checks the blocks again, so a source that changes in between cannot slip bad rows through.
    """

    def __init__(self, read: BlockReader, condition_names: tuple[str, ...], path: Path | None = None):
        self._read, self.condition_names, self.path = read, tuple(condition_names), path
        rows, low, high = 0, np.full(len(condition_names), np.inf), np.full(len(condition_names), -np.inf)
        for block in self.blocks():
            rows += len(block)
            low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
        if rows == 0:
            raise SurrogateError("no conditions in the file" if path else "no conditions given", path)
        self.rows, self.low, self.high = rows, low, high

    def __len__(self) -> int:
        return self.rows

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
        """The conditions as float64 (n, C) blocks of exactly ``rows`` rows (the last one may be shorter),
        read from the source in blocks of at least :data:`BLOCK_ROWS` rows."""
        read_rows = rows * max(1, BLOCK_ROWS // rows)
        return _rebatched(self._checked(self._read(read_rows)), rows)

    def subsample(self, max_rows: int) -> np.ndarray:
        """At most ``max_rows`` rows spread evenly over the whole stream (every row when it has fewer):
        a bounded sample of the conditions' distribution."""
        step = max(1, math.ceil(self.rows / max_rows))
        parts, offset = [], 0
        for block in self.blocks():
            parts.append(block[(-offset) % step::step])
            offset += len(block)
        return np.concatenate(parts)

    def _checked(self, blocks: Iterable[tuple[tuple[str, ...] | None, np.ndarray]]) -> Iterator[np.ndarray]:
        names, first = self.condition_names, 0
        for found, block in blocks:
            if found is not None and tuple(found) != names:
                raise SurrogateError(f"its conditions are {', '.join(found)}; the model needs {', '.join(names)}",
                                     self.path)
            try:
                block = np.asarray(block, dtype=np.float64)
            except (TypeError, ValueError):
                raise SurrogateError(f"conditions of type {np.asarray(block).dtype} are not numbers", self.path) \
                    from None
            if block.ndim == 1:
                block = block[:, None]
            if block.ndim != 2 or block.shape[1] != len(names):
                raise SurrogateError(f"conditions of shape {block.shape[1:]} per row; expected one column per "
                                     f"condition ({', '.join(names)})", self.path)
            _check_values(block, names, first, self.path)
            first += len(block)
            yield block


def open_conditions(path: Path, condition_names: tuple[str, ...],
                    reader_options: dict | None = None) -> ConditionStream:
    """The conditions of ``path`` as a stream: any data file an installed domain reads (its events'
    conditions, read with ``reader_options``, the events themselves skipped where the layout allows),
    or else a table (.npy, .txt, .csv) in the units of ``condition_names``.

    Data files come first because a .npy file may be either: a map stack (M, P, P) is data, a
    (N, C) array a table. A .npy table is memory-mapped; a .txt/.csv table is read into memory,
    which suits text (10^7 rows of text are already 100+ MB to write and parse).
    """
    from surrogate.core.domain import domain_for_file, find_domain, read_options

    path = Path(path)
    if not path.is_file():
        raise SurrogateError("no such file" if not path.exists() else "not a file", path)
    domain = find_domain(path)
    if domain is None and path.suffix.lower() in TABLE_SUFFIXES:
        table = _read_table(path, condition_names)
        return ConditionStream(lambda rows: ((None, table[start:start + rows]) for start in range(0, len(table), rows)),
                               condition_names, path)
    domain = domain or domain_for_file(path)  # raises: neither data nor a table
    options = read_options(reader_options)
    return ConditionStream(lambda rows: domain.iter_conditions(path, chunk_events=rows, **options),
                           condition_names, path)


def read_conditions(path: Path, condition_names: tuple[str, ...], reader_options: dict | None = None) -> np.ndarray:
    """All conditions (N, C) of ``path`` in memory (see :func:`open_conditions`); for files of a size that
    fits, such as a validation reference."""
    return np.concatenate(list(open_conditions(path, condition_names, reader_options).blocks()))


def stream_of(conditions, condition_names: tuple[str, ...]) -> ConditionStream:
    """``conditions`` as a stream: a ConditionStream as it is, an (N, C) array (1-D when C is 1) read in
    blocks of views, so a broadcast array of 10^9 rows stays one value in memory."""
    if isinstance(conditions, ConditionStream):
        return conditions
    array = np.asarray(conditions.cpu() if hasattr(conditions, "cpu") else conditions)
    if array.ndim == 1 and len(condition_names) == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != len(condition_names):
        raise SurrogateError(f"conditions of shape {array.shape}; this model expects "
                             f"(N, {len(condition_names)}) columns {', '.join(condition_names)}")
    return ConditionStream(lambda rows: ((None, array[start:start + rows]) for start in range(0, len(array), rows)),
                           condition_names)


def _check_values(block: np.ndarray, names: tuple[str, ...], first_row: int, path: Path | None) -> None:
    """Finite values, and positive energies; messages give the row (counted from 0 in the whole source)."""
    if not np.isfinite(block).all():
        row = first_row + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise SurrogateError(f"conditions contain NaN or inf (row {row})", path)
    for column, name in enumerate(names):
        if name.endswith(ENERGY_SUFFIX) and (block[:, column] <= 0).any():
            at = int(np.flatnonzero(block[:, column] <= 0)[0])
            raise SurrogateError(f"row {first_row + at} has {name} = {block[at, column]:g}; energies must be "
                                 f"positive", path)


def _rebatched(blocks: Iterable[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """The rows of ``blocks`` again, in blocks of exactly ``rows`` rows (the last one may be shorter)."""
    pending: list[np.ndarray] = []
    count = 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= rows:
            joined = pending[0] if len(pending) == 1 else np.concatenate(pending)
            yield joined[:rows]
            rest = joined[rows:]
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def _read_table(path: Path, condition_names: tuple[str, ...]) -> np.ndarray:
    """A table of conditions: .npy memory-mapped (read as generation proceeds), text parsed."""
    try:
        if path.suffix.lower() == ".npy":
            table = np.load(path, allow_pickle=False, mmap_mode="c")
        else:
            lines = [line for line in path.read_text().splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]
            if lines and any(ch.isalpha() and ch not in "eE" for ch in lines[0]):
                lines = lines[1:]  # a header row of column names
            delimiter = "," if path.suffix.lower() == ".csv" else None
            table = np.array([[float(v) for v in line.split(delimiter)] for line in lines])
    except (OSError, ValueError) as error:
        raise SurrogateError(f"not a table of numbers ({error})", path) from None
    if table.ndim == 1 and len(condition_names) == 1:
        table = table[:, None]
    if table.ndim != 2 or table.shape[1] != len(condition_names):
        raise SurrogateError(f"a table of shape {table.shape}; expected one column per condition "
                             f"({', '.join(condition_names)})", path)
    return table
