"""The CaloGAN HDF5 layout: ``energy`` (N, 1) in GeV; one dataset per layer and ``overflow``, in MeV.

For the CaloGAN geometry the layers are ``layer_0`` (N, 3, 96), ``layer_1`` (N, 12, 12) and
``layer_2`` (N, 12, 6), and ``overflow`` (N, 3) holds each layer's energy outside its cells. The flat
event vector is the three layers flattened row-major, then the three overflow values (507 values).
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
from surrogate.calorimeter.geometry import CartesianLayer, Geometry
from surrogate.errors import SurrogateError

ENERGY, OVERFLOW = "energy", "overflow"
MEV_PER_GEV = 1000.0


class CaloGANSource(ShowerSource):
    """A CaloGAN file opened for block-wise reading."""

    energy_name = ENERGY

    def __init__(self, path: Path, options: ReaderOptions):
        self.path = path
        self._file = hdf5_files.open_hdf5(path)
        try:
            self._energy = hdf5_files.dataset(path, self._file, ENERGY)
            if self._energy.size != self._energy.shape[0]:
                raise SurrogateError(f"{ENERGY!r} has shape {self._energy.shape}, expected (events, 1)", path)
            self.geometry = resolve_geometry(  # the layout implies the CaloGAN geometry unless told otherwise
                path, None, "calogan", options,
                recorded_name=hdf5_files.text_attribute(self._file, "geometry") or "calogan",
                recorded_xml=hdf5_files.text_attribute(self._file, "binning_xml"))
            self._layers = self._layer_datasets()
            self._overflow = self._overflow_dataset()
            counts = {ENERGY: self._energy.shape[0], **{d.name[1:]: d.shape[0] for d in self._layers}}
            if self._overflow is not None:
                counts[OVERFLOW] = self._overflow.shape[0]
            self.n_events = check_rows(path, counts)
            recorded_sampling = hdf5_files.float_attribute(self._file, "sampling_fraction")
            self.layout = make_layout(
                "calogan", self.geometry,
                particle=resolve_particle(self.geometry, options, hdf5_files.text_attribute(self._file, "particle")),
                sampling_fraction=recorded_sampling if options.sampling_fraction is None else options.sampling_fraction)
            self._energy_scale = mev_per(options.energy_unit or "GeV")
            self._cell_scale = mev_per(options.cell_energy_unit)
        except BaseException:
            self._file.close()
            raise

    def _layer_datasets(self) -> list[h5py.Dataset]:
        """The ``layer_*`` datasets, checked against the geometry's rectangular layers."""
        names = sorted((name for name in self._file if name.startswith("layer_")),
                       key=lambda name: int(name[6:]) if name[6:].isdigit() else -1)
        layers = [hdf5_files.dataset(self.path, self._file, name) for name in names or ["layer_0"]]
        for layer in layers:
            if layer.ndim != 3:
                raise SurrogateError(
                    f"{layer.name[1:]!r} has shape {layer.shape}, expected (events, rows, columns)", self.path)
        expected = [(layer.name, layer.shape) for layer in self.geometry.layers if isinstance(layer, CartesianLayer)]
        found = [(name, tuple(layer.shape[1:])) for name, layer in zip(names, layers)]
        if len(expected) != len(self.geometry.layers) or found != expected:
            found_text = ", ".join(f"{name} {shape}" for name, shape in found)
            wanted = ", ".join(f"{name} {shape}" for name, shape in expected) or "rectangular layers"
            raise SurrogateError(
                f"layer datasets {found_text} do not match geometry {self.geometry.name!r} ({wanted})", self.path)
        return layers

    def _overflow_dataset(self) -> h5py.Dataset | None:
        if not self.geometry.overflow:
            return None
        overflow = hdf5_files.dataset(self.path, self._file, OVERFLOW)
        if overflow.shape[1:] != (len(self._layers),):
            raise SurrogateError(
                f"{OVERFLOW!r} has shape {overflow.shape}, expected (events, {len(self._layers)})", self.path)
        return overflow

    def blocks(self, start: int, stop: int, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for first in range(start, stop, rows):
            last = min(stop, first + rows)
            energy = hdf5_files.read_rows(self.path, self._energy, first, last).reshape(-1)
            parts = [hdf5_files.read_rows(self.path, layer, first, last).reshape(last - first, -1)
                     for layer in self._layers]
            if self._overflow is not None:
                parts.append(hdf5_files.read_rows(self.path, self._overflow, first, last))
            events = np.concatenate(parts, axis=1).astype(np.float32, copy=False)
            if self._cell_scale != 1.0:
                events = events * np.float32(self._cell_scale)
            yield energy.astype(np.float64) * self._energy_scale, events

    def incident_energies_mev(self, start: int, stop: int) -> np.ndarray:
        energy = hdf5_files.read_rows(self.path, self._energy, start, stop).reshape(-1)
        return energy.astype(np.float64) * self._energy_scale

    def column_name(self, column: int) -> str:
        return _column_name(self.geometry, column)

    def details(self) -> dict[str, Any]:
        shapes = [f"{layer.name[1:]} {layer.shape}" for layer in self._layers]
        if self._overflow is not None:
            shapes.append(f"{OVERFLOW} {self._overflow.shape}")
        return {"datasets": f"{ENERGY} {self._energy.shape} (GeV), " + ", ".join(shapes)}

    def close(self) -> None:
        self._file.close()


class CaloGANWriter(ShowerWriter):
    """Splits flat events into the layer and overflow datasets of an open CaloGAN file."""

    def __init__(self, handle: h5py.File, geometry: Geometry):
        self._geometry = geometry
        self._energy = hdf5_files.create_growing(handle, ENERGY, (1,), np.float64)
        self._layers = [hdf5_files.create_growing(handle, layer.name, layer.shape, np.float32)
                        for layer in geometry.layers]
        self._overflow = (hdf5_files.create_growing(handle, OVERFLOW, (len(geometry.layers),), np.float32)
                          if geometry.overflow else None)

    def append(self, incident_energies_mev: np.ndarray, events: np.ndarray) -> None:
        events = np.asarray(events, np.float32)
        energy_gev = np.asarray(incident_energies_mev, np.float64).reshape(-1, 1) / MEV_PER_GEV
        hdf5_files.append_rows(self._energy, energy_gev)
        for dataset, layer, cells in zip(self._layers, self._geometry.layers, self._geometry.layer_slices()):
            hdf5_files.append_rows(dataset, events[:, cells].reshape(len(events), *layer.shape))
        if self._overflow is not None:
            hdf5_files.append_rows(self._overflow, events[:, self._geometry.n_cells:])


@contextlib.contextmanager
def open_writer(path: str | os.PathLike, layout: dict[str, Any]) -> Iterator[CaloGANWriter]:
    """A writer for a new CaloGAN file at ``path``, in place only once the block ends."""
    geometry = geometry_of(layout)
    if not all(isinstance(layer, CartesianLayer) for layer in geometry.layers):
        raise SurrogateError(f"the CaloGAN layout needs rectangular layers; geometry {geometry.name!r} is polar", path)
    with atomic_hdf5(path) as handle:
        hdf5_files.write_layout_attributes(handle, layout, "energy: GeV; layers and overflow: MeV")
        yield CaloGANWriter(handle, geometry)


def _column_name(geometry: Geometry, column: int) -> str:
    if column >= geometry.n_cells:
        return OVERFLOW
    layer = int(np.searchsorted(geometry.layer_offsets, column, side="right") - 1)
    return geometry.layers[layer].name
