"""The CaloChallenge HDF5 layout: ``incident_energies`` (N, 1) and ``showers`` (N, voxels), in MeV.

Voxels are flattened per layer in (angle, radius) order, radius fastest. Files we write also carry
attributes ``layout``, ``geometry``, ``particle``, ``sampling_fraction``, ``units`` and, for
binnings that are not known by name, ``binning_xml``; files from elsewhere need none of them.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from surrogate._atomic import atomic_hdf5
from surrogate.calorimeter.formats import hdf5_files
from surrogate.calorimeter.formats.checks import check_rows
from surrogate.calorimeter.formats.layout import geometry_of, make_layout, resolve_geometry, resolve_particle
from surrogate.calorimeter.formats.options import ReaderOptions, mev_per
from surrogate.calorimeter.formats.source import ShowerSource, ShowerWriter
from surrogate.errors import SurrogateError

ENERGIES, SHOWERS = "incident_energies", "showers"


class CaloChallengeSource(ShowerSource):
    """A CaloChallenge file opened for block-wise reading."""

    energy_name = ENERGIES

    def __init__(self, path: Path, options: ReaderOptions):
        self.path = path
        self._file = hdf5_files.open_hdf5(path)
        try:
            self._energies = hdf5_files.dataset(path, self._file, ENERGIES)
            self._showers = hdf5_files.dataset(path, self._file, SHOWERS)
            if self._showers.ndim != 2:
                raise SurrogateError(f"{SHOWERS!r} has shape {self._showers.shape}, expected (events, voxels)", path)
            if self._energies.ndim not in (1, 2) or self._energies.size != self._energies.shape[0]:
                raise SurrogateError(f"{ENERGIES!r} has shape {self._energies.shape}, expected (events, 1)", path)
            self.n_events = check_rows(path, {ENERGIES: self._energies.shape[0], SHOWERS: self._showers.shape[0]})
            self.geometry = resolve_geometry(
                path, self._showers.shape[1], "calochallenge", options,
                recorded_name=hdf5_files.text_attribute(self._file, "geometry"),
                recorded_xml=hdf5_files.text_attribute(self._file, "binning_xml"))
            sampling = options.sampling_fraction
            if sampling is None:
                sampling = hdf5_files.float_attribute(self._file, "sampling_fraction")
            self.layout = make_layout(
                "calochallenge", self.geometry,
                particle=resolve_particle(self.geometry, options, hdf5_files.text_attribute(self._file, "particle")),
                sampling_fraction=sampling)
            self._energy_scale = mev_per(options.energy_unit)
            self._cell_scale = mev_per(options.cell_energy_unit)
        except BaseException:
            self._file.close()
            raise

    def blocks(self, start: int, stop: int, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for first in range(start, stop, rows):
            last = min(stop, first + rows)
            energies = hdf5_files.read_rows(self.path, self._energies, first, last).reshape(-1)
            events = hdf5_files.read_rows(self.path, self._showers, first, last)
            yield (energies.astype(np.float64) * self._energy_scale,
                   _scaled(events, self._cell_scale))

    def incident_energies_mev(self, start: int, stop: int) -> np.ndarray:
        energies = hdf5_files.read_rows(self.path, self._energies, start, stop).reshape(-1)
        return energies.astype(np.float64) * self._energy_scale

    def column_name(self, column: int) -> str:
        return SHOWERS

    def details(self) -> dict[str, Any]:
        return {"datasets": f"{ENERGIES} {self._energies.shape}, {SHOWERS} {self._showers.shape}"}

    def close(self) -> None:
        self._file.close()


class CaloChallengeWriter(ShowerWriter):
    """Appends to the two growing datasets of an open CaloChallenge file."""

    def __init__(self, handle: h5py.File, n_values: int):
        self._energies = hdf5_files.create_growing(handle, ENERGIES, (1,), np.float64)
        self._showers = hdf5_files.create_growing(handle, SHOWERS, (n_values,), np.float32)

    def append(self, incident_energies_mev: np.ndarray, events: np.ndarray) -> None:
        hdf5_files.append_rows(self._energies, np.asarray(incident_energies_mev, np.float64).reshape(-1, 1))
        hdf5_files.append_rows(self._showers, np.asarray(events, np.float32))


@contextlib.contextmanager
def open_writer(path: str | os.PathLike, layout: dict[str, Any]) -> Iterator[CaloChallengeWriter]:
    """A writer for a new CaloChallenge file at ``path``, in place only once the block ends."""
    geometry = geometry_of(layout)
    with atomic_hdf5(path) as handle:
        hdf5_files.write_layout_attributes(handle, layout, "MeV")
        yield CaloChallengeWriter(handle, geometry.n_values)


def _scaled(events: np.ndarray, scale: float) -> np.ndarray:
    events = events.astype(np.float32, copy=False)
    return events * np.float32(scale) if scale != 1.0 else events
