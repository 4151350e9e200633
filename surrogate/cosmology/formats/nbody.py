"""The N-body HDF5 layout written by ``surrogate simulate nbody``: writing it whole or run by run, reading
it, and merging the shards of one sweep.

Format version 1:

- ``maps`` (M, P, P) float32: projected density contrast delta = Sigma / Sigma_mean - 1 of slabs
  (see :mod:`surrogate.cosmology.maps`).
- ``parameters`` (M, n) float64, attribute ``names``: the parameters of the run each map comes from.
- ``density`` (R, N, N, N) float32, optional: the CIC overdensity rho/rho_mean - 1 of each run on
  the particle grid at the output redshift (one grid^3 cube per run).
- ``map_run`` (M,) int32: the run (index into ``density``, ``run_seeds``) of each map; ``map_axis``
  (M,) int8 the projection axis; ``run_seeds`` (R,) int64 the phase seed of each run. The reader
  returns ``map_run`` as the EventSet's groups (maps of one box are correlated).
- attributes: ``format`` = "surrogate-nbody", ``format_version``, ``box_mpc_h``, ``redshift``,
  ``grid``, ``steps``, ``seed``, ``mesh_factor``, ``z_init``, ``lpt_order``, ``transfer``,
  ``map_size``, ``maps_per_run``, ``slab_thickness_mpc_h``, ``quantity``, every fixed cosmological
  parameter (``omega_b``, ``h``, ``n_s``, ``t_cmb_k``) and each varied one, as a value when it is
  the same for every map, else as ``<name>_range`` [min, max].
Generated files carry only ``maps``, ``parameters`` and the attributes of the layout they imitate.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from surrogate._atomic import atomic_hdf5
from surrogate.core.domain import EventSet
from surrogate.cosmology.formats.layouts import CONTRAST, FORMAT_TAG, FORMAT_VERSION, NBODY, require_layout
from surrogate.errors import SurrogateError

#: Layout keys copied to and from file attributes (besides domain/format).
_LAYOUT_ATTRIBUTES = ("box_mpc_h", "redshift", "grid", "steps", "seed", "mesh_factor", "z_init", "lpt_order",
                      "transfer", "map_size", "maps_per_run", "slab_thickness_mpc_h", "quantity",
                      "omega_b", "h", "n_s", "t_cmb_k")



def write_nbody(path: str | os.PathLike, maps: np.ndarray, parameters: np.ndarray, names: tuple[str, ...],
                attributes: dict[str, Any], *, density: np.ndarray | None = None,
                map_run: np.ndarray | None = None, map_axis: np.ndarray | None = None,
                run_seeds: np.ndarray | None = None) -> None:
    """Write the N-body layout atomically; ``attributes`` become file attributes (None values skipped)."""
    maps = np.asarray(maps, dtype=np.float32)
    parameters = np.asarray(parameters, dtype=np.float64)
    if maps.ndim != 3 or parameters.shape != (len(maps), len(names)):
        raise ValueError(f"maps {maps.shape} and parameters {parameters.shape} ({len(names)} names) disagree")
    with atomic_hdf5(path) as handle:
        chunk = (max(1, min(len(maps), 16)), *maps.shape[1:])
        opened = [handle.create_dataset("maps", data=maps, chunks=chunk if len(maps) else None, compression="gzip",
                                        compression_opts=4, shuffle=True),
                  handle.create_dataset("parameters", data=parameters)]
        opened[-1].attrs["names"] = list(names)
        if density is not None:
            density = np.asarray(density, dtype=np.float32)
            opened.append(handle.create_dataset("density", data=density, chunks=(1, *density.shape[1:]),
                                                compression="gzip", compression_opts=4, shuffle=True))
        for name, values, dtype in (("map_run", map_run, np.int32), ("map_axis", map_axis, np.int8),
                                    ("run_seeds", run_seeds, np.int64)):
            if values is not None:
                opened.append(handle.create_dataset(name, data=np.asarray(values, dtype=dtype)))
        handle.attrs["format"] = FORMAT_TAG
        handle.attrs["format_version"] = FORMAT_VERSION
        attributes = {**attributes, "map_size": int(maps.shape[-1]), **_parameter_attributes(parameters, names)}
        for key, value in attributes.items():
            if value is not None:
                handle.attrs[key] = value


class NbodyRunWriter:
    """Writes a simulation's runs one by one into the N-body layout (atomically, on ``close``).

    Use as a context manager; :meth:`add_run` stores run ``index``'s maps, parameters, density cube
    and seed in place, so memory holds one run at a time.
    """

    def __init__(self, path: str | os.PathLike, *, runs: int, maps_per_run: int, map_size: int, grid: int,
                 names: tuple[str, ...], attributes: dict[str, Any], keep_density: bool):
        self.path = Path(path)
        self.runs, self.maps_per_run, self.names = runs, maps_per_run, tuple(names)
        self.attributes = attributes
        self._shapes = {"maps": ((runs * maps_per_run, map_size, map_size), np.float32),
                        "parameters": ((runs * maps_per_run, len(names)), np.float64),
                        "map_run": ((runs * maps_per_run,), np.int32), "map_axis": ((runs * maps_per_run,), np.int8),
                        "run_seeds": ((runs,), np.int64)}
        if keep_density:
            self._shapes["density"] = ((runs, grid, grid, grid), np.float32)
        self._context = None
        self._handle = None
        #: Open until the file is flushed: closing a dataset writes its chunk cache, and a write that
        #: fails there (a full disk) would be lost in a destructor.
        self._datasets = {}

    def __enter__(self) -> NbodyRunWriter:
        self._context = atomic_hdf5(self.path)
        self._handle = self._context.__enter__()
        for name, (shape, dtype) in self._shapes.items():
            compressed = name in ("maps", "density")
            chunks = (1, *shape[1:]) if name == "density" else (
                (max(1, min(shape[0], 16)), *shape[1:]) if name == "maps" else None)
            self._datasets[name] = self._handle.create_dataset(
                name, shape=shape, dtype=dtype, chunks=chunks, compression="gzip" if compressed else None,
                compression_opts=4 if compressed else None, shuffle=compressed)
        self._datasets["parameters"].attrs["names"] = list(self.names)
        self._parameters = np.zeros(self._shapes["parameters"][0])
        return self

    def add_run(self, index: int, maps: np.ndarray, parameters: np.ndarray, seed: int,
                density: np.ndarray | None = None) -> None:
        rows = slice(index * self.maps_per_run, (index + 1) * self.maps_per_run)
        self._datasets["maps"][rows] = maps
        self._parameters[rows] = parameters
        self._datasets["parameters"][rows] = np.tile(parameters, (self.maps_per_run, 1))
        self._datasets["map_run"][rows] = index
        self._datasets["map_axis"][rows] = np.arange(self.maps_per_run) % 3
        self._datasets["run_seeds"][index] = seed
        if density is not None and "density" in self._datasets:
            self._datasets["density"][index] = density

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                self._handle.attrs["format"] = FORMAT_TAG
                self._handle.attrs["format_version"] = FORMAT_VERSION
                for key, item in {**self.attributes, **_parameter_attributes(self._parameters, self.names)}.items():
                    if item is not None:
                        self._handle.attrs[key] = item
        finally:
            self._context.__exit__(kind, value, traceback)


def _parameter_attributes(parameters: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for column, name in enumerate(names):
        values = parameters[:, column]
        if len(values) and np.all(values == values[0]):
            out[name] = float(values[0])
        elif len(values):
            out[f"{name}_range"] = [float(values.min()), float(values.max())]
    return out


def _nbody_layout(handle) -> dict[str, Any]:
    layout = {"domain": "cosmology", "format": NBODY}
    for key in _LAYOUT_ATTRIBUTES:
        if key in handle.attrs:
            value = handle.attrs[key]
            layout[key] = value.item() if isinstance(value, np.generic) else (
                value.decode() if isinstance(value, bytes) else value)
    layout.setdefault("quantity", CONTRAST)
    layout["map_size"] = int(handle["maps"].shape[-1])
    if "box_mpc_h" not in layout:
        raise SurrogateError("N-body map file without a box_mpc_h attribute", handle.filename)
    return layout


def names_of(dataset) -> tuple[str, ...]:
    names = dataset.attrs.get("names")
    if names is None:
        return tuple(f"param_{index}" for index in range(dataset.shape[1]))
    return tuple(name.decode() if isinstance(name, bytes) else str(name) for name in names)


def _maps_and_parameters(handle, path: Path):
    """The ``maps`` and ``parameters`` datasets of an open N-body file, checked to fit together."""
    maps, parameters = handle["maps"], handle["parameters"]
    if (maps.ndim != 3 or maps.shape[1] != maps.shape[2] or parameters.ndim != 2
            or parameters.shape[0] != maps.shape[0]):
        raise SurrogateError(f"maps {maps.shape} and parameters {parameters.shape} do not fit together", path)
    return maps, parameters


def iter_nbody_conditions(path: Path, chunk_events: int) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """The parameters of ``chunk_events`` maps at a time, with their names, without reading the maps."""
    import h5py

    with h5py.File(path, "r") as handle:
        _, parameters = _maps_and_parameters(handle, path)
        names = names_of(parameters)
        for start in range(0, len(parameters), chunk_events):
            yield names, np.asarray(parameters[start:start + chunk_events], dtype=np.float64)


def read_nbody(path: Path, start: int, stop: int | None) -> EventSet:
    import h5py

    with h5py.File(path, "r") as handle:
        maps, parameters = _maps_and_parameters(handle, path)
        stop = len(maps) if stop is None else min(stop, len(maps))
        events = np.asarray(maps[start:stop], dtype=np.float32)
        conditions = np.asarray(parameters[start:stop], dtype=np.float64)
        names = names_of(parameters)
        groups = np.asarray(handle["map_run"][start:stop], dtype=np.int64) if "map_run" in handle else None
        return EventSet(conditions, events, names, {**_nbody_layout(handle), "condition_names": list(names)},
                        groups)


def write_nbody_events(path: Path, events: EventSet) -> None:
    layout = events.layout
    attributes = {key: layout.get(key) for key in _LAYOUT_ATTRIBUTES if key != "seed"}
    write_nbody(path, events.events, events.conditions, events.condition_names, attributes)


def merge(inputs: list[str | os.PathLike], output: str | os.PathLike, *, block_maps: int = 1024) -> int:
    """Join N-body map files (e.g. ``--shard`` outputs) with the same settings; returns the map count.

    Maps, parameters, density cubes and run bookkeeping are concatenated in input order, block by
    block, so the shards of one sweep merge into the file an unsharded run would have written.
    """
    import h5py

    inputs = [Path(path) for path in inputs]
    output = Path(output)
    if not inputs:
        raise SurrogateError("nothing to merge")
    if any(path.exists() and path.resolve() == output.resolve() for path in inputs):
        raise SurrogateError("the merge output is also one of its inputs", output)
    shapes = _merge_plan(inputs)
    with atomic_hdf5(output) as out:
        with h5py.File(inputs[0], "r") as first:
            for key, value in first.attrs.items():
                if not key.endswith("_range"):
                    out.attrs[key] = value
            # kept open until the file is flushed (see NbodyRunWriter._datasets)
            targets = {key: out.create_dataset(key, shape=shape, dtype=first[key].dtype, chunks=first[key].chunks,
                                               compression=first[key].compression,
                                               compression_opts=first[key].compression_opts,
                                               shuffle=first[key].shuffle) for key, shape in shapes.items()}
            targets["parameters"].attrs["names"] = list(names_of(first["parameters"]))
        offsets, runs = dict.fromkeys(shapes, 0), 0
        for path in inputs:
            with h5py.File(path, "r") as handle:
                for key in shapes:
                    source = handle[key]
                    step = block_maps if key != "density" else 1
                    for start in range(0, len(source), step):
                        block = source[start:start + step]
                        if block.dtype.kind == "f" and not np.isfinite(block).all():
                            raise SurrogateError(f"{key!r} holds NaN or infinite values; not merged", path)
                        if key == "map_run":
                            block = block + runs
                        targets[key][offsets[key] + start:offsets[key] + start + len(block)] = block
                    offsets[key] += len(source)
                runs += len(handle["run_seeds"]) if "run_seeds" in handle else 0
        parameters = targets["parameters"][:]
        names = names_of(targets["parameters"])
        for key in names:
            out.attrs.pop(key, None)
        for key, value in _parameter_attributes(parameters, names).items():
            out.attrs[key] = value
    return int(shapes["maps"][0])


def _merge_plan(inputs: list[Path]) -> dict[str, tuple[int, ...]]:
    """Output shape of every dataset; raises unless the inputs share settings and datasets."""
    import h5py

    compared = ("box_mpc_h", "redshift", "grid", "steps", "mesh_factor", "z_init", "lpt_order", "map_size",
                "maps_per_run", "quantity", "transfer", "omega_b", "h", "n_s", "t_cmb_k")
    reference, shapes = None, {}
    for path in inputs:
        if require_layout(path) != NBODY:
            raise SurrogateError("only N-body HDF5 map files can be merged", path)
        with h5py.File(path, "r") as handle:
            settings = {key: np.asarray(handle.attrs[key]).tolist() for key in compared if key in handle.attrs}
            datasets = {key: handle[key].shape for key in ("maps", "parameters", "density", "map_run", "map_axis",
                                                           "run_seeds") if key in handle}
            signature = (settings, names_of(handle["parameters"]), sorted(datasets),
                         {key: shape[1:] for key, shape in datasets.items()})
        if reference is None:
            reference = signature
            shapes = dict(datasets)
        elif signature != reference:
            raise SurrogateError(f"not mergeable with {inputs[0]}: box, grid, steps, redshift, map size, parameter "
                                 "names and stored datasets must all match", path)
        else:
            shapes = {key: (shapes[key][0] + shape[0], *shape[1:]) for key, shape in datasets.items()}
    return shapes
