"""Read, write, inspect and merge shower files in any supported layout.

The one entry point for the rest of the library: layouts are detected from the file (HDF5 dataset
names, the ROOT signature), every block read is checked (finite, non-negative, consistent shapes), and
every write is atomic. h5py and uproot are imported only when a file of their kind is touched.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from surrogate.calorimeter.formats import signatures
from surrogate.calorimeter.formats.binning import same_cells
from surrogate.calorimeter.formats.checks import check_cell_energies, check_incident_energies
from surrogate.calorimeter.formats.layout import FORMATS, geometry_of
from surrogate.calorimeter.formats.options import ReaderOptions
from surrogate.calorimeter.formats.source import ShowerSource, ShowerWriter
from surrogate.calorimeter.geometry import Geometry, PolarLayer
from surrogate.core.domain import EventSet
from surrogate.errors import SurrogateError

CONDITION_NAMES = ("incident_energy_mev",)
#: Blocks read at once aim at this many bytes of events, so memory stays bounded for any file size.
BLOCK_BYTES = 64 << 20
#: Incident energies read at once when the showers are not needed (8 MiB of float64).
ENERGY_BLOCK_ROWS = 1 << 20
_MODULES = {"calochallenge": "calochallenge", "calogan": "calogan", "root": "rootfile"}
_SOURCES = {"calochallenge": "CaloChallengeSource", "calogan": "CaloGANSource", "root": "RootSource"}


def detect_format(path: str | os.PathLike) -> str | None:
    """The shower layout of a file ("calochallenge", "calogan", "root"), or None if it is in none.

    Raises a one-line SurrogateError for files no reader could use: empty, truncated or damaged HDF5
    or ROOT files, and files named like HDF5/ROOT that are not.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise SurrogateError("empty file (0 bytes)", path)
    if signatures.is_hdf5(path):
        from surrogate.calorimeter.formats.hdf5_files import open_hdf5

        with open_hdf5(path) as handle:
            names = set(handle)
        if names & {"showers", "incident_energies"}:
            return "calochallenge"
        if names & {"energy", "overflow"} or any(name.startswith("layer_") for name in names):
            return "calogan"
        return None
    if signatures.is_root(path):
        return "root"
    if path.suffix.lower() in signatures.HDF5_SUFFIXES:
        raise SurrogateError("not an HDF5 file (it does not start with the HDF5 signature)", path)
    if path.suffix.lower() in signatures.ROOT_SUFFIXES:
        raise SurrogateError("not a ROOT file (it does not start with ROOT's magic bytes)", path)
    return None


def open_source(path: str | os.PathLike, **options: Any) -> ShowerSource:
    """An open :class:`ShowerSource` for ``path``; options as in :class:`ReaderOptions`."""
    path = Path(path)
    settings = ReaderOptions.from_kwargs(**options)
    if not path.is_file():
        raise SurrogateError("no such file" if not path.exists() else "not a file", path)
    found = detect_format(path)
    wanted = settings.format or found
    if wanted is None:
        raise SurrogateError("not a shower file in a known layout (CaloChallenge, CaloGAN or ROOT)", path)
    if wanted not in FORMATS:
        raise SurrogateError(f"unknown shower layout {wanted!r}; known: {', '.join(FORMATS)}", settings.card)
    if found is not None and (found == "root") != (wanted == "root"):
        raise SurrogateError(f"the options say layout {wanted!r}, but the file is in layout {found!r}", path)
    module = importlib.import_module(f"surrogate.calorimeter.formats.{_MODULES[wanted]}")
    return getattr(module, _SOURCES[wanted])(path, settings)


def read(path: str | os.PathLike, *, start: int = 0, stop: int | None = None, **options: Any) -> EventSet:
    """Events ``start:stop`` of a shower file, checked block by block."""
    with open_source(path, **options) as source:
        start, stop = _clamp(source, start, stop)
        energies = np.empty(stop - start, np.float64)
        events = np.empty((stop - start, source.geometry.n_values), np.float32)
        offset = 0
        for block_energies, block_events in _checked_blocks(source, start, stop, block_rows(source.geometry)):
            energies[offset:offset + len(block_energies)] = block_energies
            events[offset:offset + len(block_events)] = block_events
            offset += len(block_events)
        return EventSet(energies[:, None], events, CONDITION_NAMES, dict(source.layout))


def iter_conditions(path: str | os.PathLike, *, chunk_events: int = ENERGY_BLOCK_ROWS,
                    **options: Any) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """The incident energies (n, 1) in MeV of ``chunk_events`` events at a time, checked, without
    reading the showers (with the condition names)."""
    with open_source(path, **options) as source:
        for energies in _energy_blocks(source, chunk_events):
            yield CONDITION_NAMES, energies[:, None]


def iter_read(path: str | os.PathLike, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
    """The whole file as EventSets of at most ``chunk_events`` events each."""
    if chunk_events < 1:
        raise ValueError("chunk_events must be positive")
    with open_source(path, **options) as source:
        for energies, events in _checked_blocks(source, 0, source.n_events, chunk_events):
            yield EventSet(energies[:, None], events, CONDITION_NAMES, dict(source.layout))


@contextlib.contextmanager
def open_writer(path: str | os.PathLike, layout: dict[str, Any]) -> Iterator[ShowerWriter]:
    """A writer for ``layout``'s format; the file appears at ``path`` only when the block succeeds."""
    file_format = layout.get("format")
    if layout.get("domain") != "calorimeter" or file_format not in FORMATS:
        raise SurrogateError(f"not a calorimeter shower layout: {layout!r}")
    module = importlib.import_module(f"surrogate.calorimeter.formats.{_MODULES[file_format]}")
    geometry = geometry_of(layout)
    with module.open_writer(path, layout) as writer:
        yield _CheckedWriter(Path(path), writer, geometry.n_values)


def write(path: str | os.PathLike, events: EventSet) -> None:
    """Write an EventSet in its ``layout`` (energies in MeV), atomically.

    A ``.root`` path gets a ROOT file and an HDF5 suffix an HDF5 file (see :func:`layout_for_path`).
    """
    if events.condition_names != CONDITION_NAMES:
        raise SurrogateError(f"showers are conditioned on {CONDITION_NAMES}, not {events.condition_names}")
    with open_writer(path, layout_for_path(events.layout, path)) as writer:
        writer.append(events.conditions[:, 0], events.events.reshape(len(events), math.prod(events.event_shape)))


def layout_for_path(layout: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """``layout``, switched to ROOT for a ``.root`` path or to the geometry's HDF5 layout for an HDF5 suffix.

    So data read from ROOT can be written to ``generated.h5`` and the reverse; other suffixes keep the layout.
    """
    suffix = Path(path).suffix.lower()
    if suffix in signatures.ROOT_SUFFIXES and layout.get("format") != "root":
        return {**layout, "format": "root"}
    if suffix in signatures.HDF5_SUFFIXES and layout.get("format") == "root":
        return {**layout, "format": geometry_of(layout).file_layout}
    return layout


def inspect(path: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """What ``surrogate inspect`` shows: layout, counts, shapes, energy ranges; checks every event."""
    path = Path(path)
    with open_source(path, **options) as source:
        geometry = source.geometry
        low, high = math.inf, -math.inf
        for energies in _energy_blocks(source, ENERGY_BLOCK_ROWS):  # first, so a bad energy is named first
            low, high = min(low, float(energies.min())), max(high, float(energies.max()))
        ratio_sum = 0.0
        for block_energies, block_events in _checked_blocks(source, 0, source.n_events, block_rows(geometry),
                                                            progress=True):
            ratio_sum += float((block_events.sum(axis=1, dtype=np.float64) / block_energies).sum())
        layout = source.layout
        summary: dict[str, Any] = {
            "file": str(path),
            "layout": layout["format"],
            "events": source.n_events,
            "values_per_event": geometry.n_values,
            "cells": cells_text(geometry),
            "geometry": layout.get("geometry") or "custom binning",
            "particle": layout.get("particle") or "unknown",
            "sampling_fraction": layout.get("sampling_fraction"),
        }
        if source.n_events:
            summary["incident_energy_mev"] = [round(low, 6), round(high, 6)]
            summary["incident_energy_gev"] = [round(low / 1e3, 9), round(high / 1e3, 9)]
            summary["mean_deposited_over_incident"] = round(ratio_sum / source.n_events, 6)
        summary.update(source.details())
        summary["file_size"] = _size_text(path.stat().st_size)
        summary["checked"] = "all events finite and non-negative"
        return summary


def merge(inputs: list[str | os.PathLike], output: str | os.PathLike, **options: Any) -> int:
    """Concatenate shower files of one layout and geometry into ``output``; returns the event count."""
    inputs = [Path(path) for path in inputs]
    output = Path(output)
    if not inputs:
        raise SurrogateError("nothing to merge")
    if any(path.resolve() == output.resolve() for path in inputs if path.exists()):
        raise SurrogateError("the merge output is also one of its inputs", output)
    with open_source(inputs[0], **options) as first:
        layout, geometry = dict(first.layout), first.geometry
    for path in inputs[1:]:
        with open_source(path, **options) as source:
            _check_mergeable(path, source, layout, geometry, inputs[0])
    total = 0
    with open_writer(output, layout) as writer:
        for path in inputs:
            with open_source(path, **options) as source:
                for energies, events in _checked_blocks(source, 0, source.n_events, block_rows(geometry)):
                    writer.append(energies, events)
                    total += len(events)
    return total


def block_rows(geometry: Geometry) -> int:
    """Events per block read, so a block holds about :data:`BLOCK_BYTES`."""
    return max(1, BLOCK_BYTES // (4 * geometry.n_values))


def cells_text(geometry: Geometry) -> str:
    """The readout cells in words, e.g. ``45 layers x (16 angles x 9 radii)``."""
    shapes = [layer.shape for layer in geometry.layers]
    if all(isinstance(layer, PolarLayer) for layer in geometry.layers) and len(set(shapes)) == 1:
        text = f"{len(shapes)} layers x ({shapes[0][0]} angles x {shapes[0][1]} radii)"
    else:
        parts = [f"{getattr(layer, 'name', i)}: {layer.shape[0]}x{layer.shape[1]}"
                 for i, layer in enumerate(geometry.layers) if layer.size]
        with_cells = f" ({len(parts)} with cells)" if len(parts) < len(shapes) else ""
        text = f"{len(shapes)} layers{with_cells}: " + ", ".join(parts)
    return text + (f" + overflow {len(shapes)}" if geometry.overflow else "")


class _CheckedWriter(ShowerWriter):
    """Refuses events that could not be read back (wrong width, NaN, negative) before writing them."""

    def __init__(self, path: Path, writer: ShowerWriter, n_values: int):
        self._path, self._writer, self._n_values = path, writer, n_values
        self._rows = 0

    def append(self, incident_energies_mev: np.ndarray, events: np.ndarray) -> None:
        energies = np.asarray(incident_energies_mev, np.float64).reshape(-1)
        events = np.asarray(events, np.float32)
        if events.ndim != 2 or events.shape[1] != self._n_values or len(events) != len(energies):
            raise SurrogateError(
                f"cannot write events of shape {events.shape} with {len(energies)} energies: the layout has "
                f"{self._n_values} values per event", self._path)
        check_incident_energies(self._path, "incident energy", energies, self._rows)
        check_cell_energies(self._path, lambda column: "events", events, self._rows)
        self._writer.append(energies, events)
        self._rows += len(events)


def _energy_blocks(source: ShowerSource, rows: int) -> Iterator[np.ndarray]:
    """All incident energies (n,) in MeV, ``rows`` at a time, checked."""
    for first in range(0, source.n_events, rows):
        energies = np.asarray(source.incident_energies_mev(first, min(source.n_events, first + rows)), np.float64)
        check_incident_energies(source.path, source.energy_name, energies, first)
        yield energies


def _checked_blocks(source: ShowerSource, start: int, stop: int, rows: int,
                    progress: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    bar = None
    if progress and stop - start > 10 * rows:
        from tqdm import tqdm

        bar = tqdm(total=stop - start, unit="event", desc=f"checking {source.path.name}", disable=None)
    first = start
    try:
        for energies, events in source.blocks(start, stop, rows):
            check_incident_energies(source.path, source.energy_name, energies, first)
            check_cell_energies(source.path, source.column_name, events, first)
            first += len(events)
            if bar is not None:
                bar.update(len(events))
            yield energies, events
    finally:
        if bar is not None:
            bar.close()


def _clamp(source: ShowerSource, start: int, stop: int | None) -> tuple[int, int]:
    stop = source.n_events if stop is None else min(stop, source.n_events)
    if start < 0 or stop < start:
        raise SurrogateError(f"cannot read events {start}:{stop} of {source.n_events}", source.path)
    return start, stop


def _check_mergeable(path: Path, source: ShowerSource, layout: dict[str, Any], geometry: Geometry,
                     first: Path) -> None:
    if source.layout["format"] != layout["format"]:
        raise SurrogateError(f"layout {source.layout['format']} differs from {layout['format']} of {first}", path)
    if source.geometry.n_values != geometry.n_values or not same_cells(source.geometry, geometry):
        raise SurrogateError(f"geometry differs from that of {first}", path)
    for key in ("particle", "sampling_fraction"):
        mine, theirs = source.layout.get(key), layout.get(key)
        both_numbers = isinstance(mine, float) and isinstance(theirs, float)
        if mine != theirs and not (both_numbers and math.isclose(mine, theirs)):
            raise SurrogateError(f"{key} {mine} differs from {theirs} of {first}", path)


def _size_text(size: float) -> str:
    if size < 1000:
        return f"{int(size)} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            break
    return f"{size:.1f} {unit}"
