"""What the domain calls: read, count, iter_read, write and inspect map files in any of the three layouts."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.core.domain import EventSet
from surrogate.cosmology.formats.camels import camels_stack, read_camels, write_camels
from surrogate.cosmology.formats.gadget import read_gadget
from surrogate.cosmology.formats.layouts import CAMELS, GADGET, NBODY, require_layout
from surrogate.cosmology.formats.nbody import iter_nbody_conditions, read_nbody, write_nbody_events
from surrogate.errors import SurrogateError

#: Options of the readers (see :func:`read`).
READER_OPTIONS = ("snapshot_map_size", "snapshot_maps", "snapshot_sigma8", "parameter_table", "map_box")


def check_reader_options(options: dict[str, Any]) -> None:
    """A one-line error for option names no map reader knows (e.g. a shower option given for a map file)."""
    unknown = sorted(set(options) - set(READER_OPTIONS))
    if unknown:
        raise SurrogateError(f"unknown map reader option(s): {', '.join(unknown)} (known: {', '.join(READER_OPTIONS)})")


def read(path: str | os.PathLike, *, start: int = 0, stop: int | None = None,
         snapshot_map_size: int | None = None, snapshot_maps: int | None = None,
         snapshot_sigma8: float | None = None, parameter_table: str | os.PathLike | None = None,
         map_box: float | None = None) -> EventSet:
    """Maps ``start:stop`` of a file in any of the three layouts (see :mod:`surrogate.cosmology.formats`).

    Options: ``snapshot_map_size`` / ``snapshot_maps`` (pixels per side and number of slab maps
    painted from a Gadget snapshot, default 256 and 12), ``snapshot_sigma8`` (sigma_8 of a snapshot
    whose header lacks it), ``parameter_table`` and ``map_box`` (a .npy stack's parameter table and
    map side in Mpc/h, default the CMD 25 Mpc/h).
    """
    path = Path(path)
    found = require_layout(path)
    if start < 0:
        raise SurrogateError(f"start {start} is negative", path)
    if found == NBODY:
        return read_nbody(path, start, stop)
    if found == GADGET:
        return read_gadget(path, start, stop, snapshot_map_size or 256, snapshot_maps or 12, snapshot_sigma8)
    return read_camels(path, start, stop, parameter_table, map_box)


def count(path: str | os.PathLike, **options: Any) -> int:
    """Number of maps in a file (for a snapshot: the maps it would be painted into)."""
    path = Path(path)
    found = require_layout(path)
    if found == NBODY:
        import h5py

        with h5py.File(path, "r") as handle:
            return int(handle["maps"].shape[0])
    if found == GADGET:
        return int(options.get("snapshot_maps") or 12)
    return int(camels_stack(path, options.get("parameter_table"))[0].shape[0])


def iter_read(path: str | os.PathLike, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
    path = Path(path)
    if require_layout(path) == GADGET:
        yield read(path, **options)
        return
    total = count(path, **options)
    for start in range(0, total, chunk_events):
        yield read(path, start=start, stop=start + chunk_events, **options)


def iter_conditions(path: str | os.PathLike, *, chunk_events: int = 1 << 18,
                    **options: Any) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """The parameters (n, C) of ``chunk_events`` maps at a time, with their names, without reading the
    maps: the ``parameters`` dataset of the N-body layout, a .npy stack's table rows (one per map); a
    Gadget snapshot is painted (its few maps share one parameter row)."""
    path = Path(path)
    found = require_layout(path)
    if found == GADGET:
        events = read(path, **options)
        yield events.condition_names, events.conditions
    elif found == CAMELS:
        maps, table, names, per_row, _ = camels_stack(path, options.get("parameter_table"))
        for start in range(0, len(maps), chunk_events):
            yield names, table[np.arange(start, min(len(maps), start + chunk_events)) // per_row]
    else:
        yield from iter_nbody_conditions(path, chunk_events)


def write(path: str | os.PathLike, events: EventSet) -> None:
    """Write maps in their layout: .npy stacks stay .npy stacks, everything else the N-body HDF5 layout."""
    if events.layout.get("format") == CAMELS:
        write_camels(Path(path), events)
    else:
        write_nbody_events(Path(path), events)


def inspect(path: str | os.PathLike, *, chunk_events: int = 1024, **options: Any) -> dict[str, Any]:
    """Layout, map count and shape, box, redshift, parameter ranges and pixel statistics (read in chunks).

    A file holding NaN or infinite pixels or parameters is an error (naming the first such map), as
    for shower files: nothing downstream can use it.
    """
    path = Path(path)
    count_maps, total, total_sq = 0, 0.0, 0.0
    low = high = None
    first = None
    for chunk in iter_read(path, chunk_events=chunk_events, **options):
        first = first or chunk
        pixels = chunk.events.astype(np.float64)
        _check_finite(path, chunk, count_maps)
        count_maps += len(chunk)
        total, total_sq = total + pixels.sum(), total_sq + (pixels * pixels).sum()
        if len(chunk):
            chunk_low, chunk_high = np.nanmin(chunk.conditions, axis=0), np.nanmax(chunk.conditions, axis=0)
            low = chunk_low if low is None else np.fmin(low, chunk_low)
            high = chunk_high if high is None else np.fmax(high, chunk_high)
    if first is None:
        first = read(path, stop=0, **options)
    layout = first.layout
    summary: dict[str, Any] = {"file": str(path), "layout": layout["format"], "maps": count_maps,
                               "map_shape": list(first.event_shape), "box_mpc_h": layout.get("box_mpc_h"),
                               "redshift": layout.get("redshift"), "quantity": layout.get("quantity")}
    for column, name in enumerate(first.condition_names):
        summary[name] = [float(low[column]), float(high[column])] if low is not None else []
    if count_maps:
        pixels_seen = count_maps * int(np.prod(first.event_shape))
        mean = total / pixels_seen
        summary["pixel_mean"] = mean
        summary["pixel_std"] = float(np.sqrt(max(total_sq / pixels_seen - mean * mean, 0.0)))
        summary["checked"] = "all pixels and parameters finite"
    if layout["format"] == NBODY:
        import h5py

        with h5py.File(path, "r") as handle:
            if "density" in handle:
                summary["density_cubes"] = list(handle["density"].shape)
            for key in ("grid", "steps", "seed", "mesh_factor", "z_init", "transfer"):
                if key in handle.attrs:
                    value = handle.attrs[key]
                    summary[key] = value.item() if isinstance(value, np.generic) else value
    return summary


def _check_finite(path: Path, chunk: EventSet, first_map: int) -> None:
    """A one-line error naming the first map of ``chunk`` with a NaN or infinite pixel or parameter."""
    bad = ~(np.isfinite(chunk.events).reshape(len(chunk), -1).all(axis=1) & np.isfinite(chunk.conditions).all(axis=1))
    if bad.any():
        raise SurrogateError(f"map {first_map + int(np.flatnonzero(bad)[0])} holds NaN or infinite pixels or "
                             f"parameters", path)
