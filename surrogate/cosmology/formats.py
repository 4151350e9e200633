"""Map files: the N-body HDF5 layout written by ``surrogate simulate nbody``, Gadget-style HDF5
snapshots (painted into maps), and CAMELS-CMD style map stacks (.npy + parameter table).

Every reader returns an EventSet of maps: events (M, P, P) float32, conditions (M, n) float64 named
after the cosmological parameters. The N-body layout (format version 1):

- ``maps`` (M, P, P) float32: projected density contrast delta = Sigma / Sigma_mean - 1 of slabs
  (see :mod:`surrogate.cosmology.maps`).
- ``parameters`` (M, n) float64, attribute ``names``: the parameters of the run each map comes from.
- ``density`` (R, N, N, N) float32, optional: the CIC overdensity rho/rho_mean - 1 of each run on
  the particle grid at the output redshift (one cube per run; DESIGN's grid^3 is one run's cube).
- ``map_run`` (M,) int32: the run (index into ``density``, ``run_seeds``) of each map; ``map_axis``
  (M,) int8 the projection axis; ``run_seeds`` (R,) int64 the phase seed of each run.
- attributes: ``format`` = "surrogate-nbody", ``format_version``, ``box_mpc_h``, ``redshift``,
  ``grid``, ``steps``, ``seed``, ``mesh_factor``, ``z_init``, ``lpt_order``, ``transfer``,
  ``map_size``, ``maps_per_run``, ``slab_thickness_mpc_h``, ``quantity``, every fixed cosmological
  parameter (``omega_b``, ``h``, ``n_s``, ``t_cmb_k``) and each varied one, as a value when it is
  the same for every map, else as ``<name>_range`` [min, max].
Generated files carry only ``maps``, ``parameters`` and the attributes of the layout they imitate.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from surrogate._atomic import atomic_hdf5, atomic_path
from surrogate.core.domain import EventSet
from surrogate.errors import SurrogateError

NBODY = "nbody-hdf5"
GADGET = "gadget-hdf5"
CAMELS = "camels-npy"
FORMAT_TAG = "surrogate-nbody"
FORMAT_VERSION = 1
CONTRAST = "density_contrast"
#: Quantity of a .npy stack whose name and table say nothing: a non-negative field of any unit.
GENERIC_QUANTITY = "map"
#: Parameter names of CAMELS tables with 6 columns (CMD documentation order).
CAMELS_PARAMETERS = ("omega_m", "sigma8", "a_sn1", "a_agn1", "a_sn2", "a_agn2")
CAMELS_BOX_MPC_H = 25.0
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MPC_CM = 3.085678e24
#: Layout keys copied to and from file attributes (besides domain/format).
#: Options of the readers (see :func:`read`).
READER_OPTIONS = ("snapshot_map_size", "snapshot_maps", "snapshot_sigma8", "parameter_table", "map_box")
_LAYOUT_ATTRIBUTES = ("box_mpc_h", "redshift", "grid", "steps", "seed", "mesh_factor", "z_init", "lpt_order",
                      "transfer", "map_size", "maps_per_run", "slab_thickness_mpc_h", "quantity",
                      "omega_b", "h", "n_s", "t_cmb_k")


def check_reader_options(options: dict[str, Any]) -> None:
    """A one-line error for option names no map reader knows (e.g. a shower option given for a map file)."""
    unknown = sorted(set(options) - set(READER_OPTIONS))
    if unknown:
        raise SurrogateError(f"unknown map reader option(s): {', '.join(unknown)} (known: {', '.join(READER_OPTIONS)})")


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == _HDF5_SIGNATURE


def detect_format(path: str | os.PathLike) -> str | None:
    """``nbody-hdf5``, ``gadget-hdf5`` or ``camels-npy`` when ``path`` is in that layout, else None."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return CAMELS if _npy_is_map_stack(path) else None
    if not _is_hdf5(path):
        return None
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            names = set(handle)
    except OSError:
        return None
    if {"maps", "parameters"} <= names:
        return NBODY
    if {"Header", "PartType1"} <= names:
        return GADGET
    return None


def _npy_is_map_stack(path: Path) -> bool:
    """True for a .npy file holding a stack of square maps (M, P, P), judged from its header alone."""
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            return False
        handle.seek(0)
        try:
            version = np.lib.format.read_magic(handle)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape = header(handle)[0]
        except ValueError:
            return False
    return len(shape) == 3 and shape[1] == shape[2]


def _require(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise SurrogateError("no such file" if not path.exists() else "not a file", path)
    found = detect_format(path)
    if found is None:
        raise SurrogateError("not a map file: expected the N-body HDF5 layout (maps, parameters), a Gadget "
                             "HDF5 snapshot (Header, PartType1) or a .npy map stack with a parameter table", path)
    return found


# -- N-body HDF5 ---------------------------------------------------------------------------------


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


def _names_of(dataset) -> tuple[str, ...]:
    names = dataset.attrs.get("names")
    if names is None:
        return tuple(f"param_{index}" for index in range(dataset.shape[1]))
    return tuple(name.decode() if isinstance(name, bytes) else str(name) for name in names)


def _read_nbody(path: Path, start: int, stop: int | None) -> EventSet:
    import h5py

    with h5py.File(path, "r") as handle:
        maps, parameters = handle["maps"], handle["parameters"]
        if maps.ndim != 3 or maps.shape[1] != maps.shape[2] or parameters.shape[0] != maps.shape[0]:
            raise SurrogateError(f"maps {maps.shape} and parameters {parameters.shape} do not fit together", path)
        stop = len(maps) if stop is None else min(stop, len(maps))
        events = np.asarray(maps[start:stop], dtype=np.float32)
        conditions = np.asarray(parameters[start:stop], dtype=np.float64)
        names = _names_of(parameters)
        return EventSet(conditions, events, names, {**_nbody_layout(handle), "condition_names": list(names)})


def _write_nbody_events(path: Path, events: EventSet) -> None:
    layout = events.layout
    attributes = {key: layout.get(key) for key in _LAYOUT_ATTRIBUTES if key != "seed"}
    write_nbody(path, events.events, events.conditions, events.condition_names, attributes)


# -- Gadget snapshots ----------------------------------------------------------------------------


def _snapshot_parts(path: Path, files_per_snapshot: int) -> list[Path]:
    """All files of a snapshot split as NAME.0.hdf5, NAME.1.hdf5, ... (just ``path`` when not split)."""
    if files_per_snapshot <= 1:
        return [path]
    match = re.fullmatch(r"(.*)\.(\d+)(\.[^.]+)", path.name)
    if match is None:
        raise SurrogateError(f"the header says {files_per_snapshot} files per snapshot, but the name does not "
                             "end in .N.hdf5", path)
    parts = [path.with_name(f"{match[1]}.{index}{match[3]}") for index in range(files_per_snapshot)]
    missing = [part for part in parts if not part.is_file()]
    if missing:
        raise SurrogateError(f"snapshot part missing ({len(missing)} of {files_per_snapshot})", missing[0])
    return parts


def read_gadget_particles(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, float]]:
    """Dark-matter positions (P, 3) float32 in Mpc/h within [0, box) and header values of a snapshot.

    Lengths are converted with ``UnitLength_in_cm`` (Header or Parameters); without it the Gadget
    default, kpc/h, is assumed. Header values returned: box_mpc_h, redshift, omega_m, h, and sigma8
    when the header has it.
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as handle:
        header = dict(handle["Header"].attrs)
        unit_cm = header.get("UnitLength_in_cm")
        if unit_cm is None and "Parameters" in handle:
            unit_cm = handle["Parameters"].attrs.get("UnitLength_in_cm")
    for key in ("BoxSize", "Redshift"):
        if key not in header:
            raise SurrogateError(f"snapshot header has no {key}", path)
    to_mpc_h = float(unit_cm) / _MPC_CM if unit_cm is not None else 1e-3
    box = float(np.ravel(header["BoxSize"])[0]) * to_mpc_h
    files = int(np.ravel(header.get("NumFilesPerSnapshot", 1))[0])
    blocks = []
    for part in _snapshot_parts(path, files):
        with h5py.File(part, "r") as handle:
            if "PartType1" not in handle or "Coordinates" not in handle["PartType1"]:
                raise SurrogateError("no PartType1/Coordinates in snapshot part", part)
            blocks.append(np.asarray(handle["PartType1/Coordinates"], dtype=np.float64))
    positions = np.concatenate(blocks) * to_mpc_h
    if positions.ndim != 2 or positions.shape[1] != 3 or not np.isfinite(positions).all():
        raise SurrogateError(f"PartType1/Coordinates must be finite (P, 3), got {positions.shape}", path)
    positions = np.mod(positions, box).astype(np.float32)
    positions[positions >= box] = 0.0
    values = {"box_mpc_h": box, "redshift": float(np.ravel(header["Redshift"])[0])}
    for key, name in (("Omega0", "omega_m"), ("OmegaMatter", "omega_m"), ("HubbleParam", "h"),
                      ("Sigma8", "sigma8")):
        if key in header:
            values[name] = float(np.ravel(header[key])[0])
    return positions, values


def gadget_density(path: str | os.PathLike, grid: int) -> np.ndarray:
    """The CIC overdensity rho/rho_mean - 1 of a snapshot's dark matter on a grid^3 mesh."""
    import torch

    from surrogate.cosmology.particle_mesh import ParticleMesh

    positions, header = read_gadget_particles(path)
    mesh = ParticleMesh(header["box_mpc_h"], grid)
    return mesh.density_contrast(torch.from_numpy(positions)).numpy()


def _read_gadget(path: Path, start: int, stop: int | None, map_size: int, maps_per_box: int,
                 sigma8: float | None) -> EventSet:
    import torch

    from surrogate.cosmology.maps import slab_maps, slabs_per_axis

    positions, header = read_gadget_particles(path)
    maps = slab_maps(torch.from_numpy(positions), header["box_mpc_h"], int(map_size), int(maps_per_box))
    stop = len(maps) if stop is None else min(stop, len(maps))
    maps = maps[start:stop]
    sigma8 = header.get("sigma8", math.nan) if sigma8 is None else float(sigma8)
    conditions = np.tile([header.get("omega_m", math.nan), sigma8], (len(maps), 1))
    layout = {"domain": "cosmology", "format": GADGET, "box_mpc_h": header["box_mpc_h"],
              "redshift": header["redshift"], "map_size": int(map_size), "maps_per_run": int(maps_per_box),
              "slab_thickness_mpc_h": header["box_mpc_h"] / slabs_per_axis(int(maps_per_box)),
              "quantity": CONTRAST, "particles": len(positions), "condition_names": ["omega_m", "sigma8"]}
    if "h" in header:
        layout["h"] = header["h"]
    return EventSet(conditions, maps, ("omega_m", "sigma8"), layout)


# -- CAMELS-CMD map stacks -----------------------------------------------------------------------

_CAMELS_NAME = re.compile(r"Maps_(?P<field>[^_]+)_(?P<rest>.+?)(?:_z=(?P<z>[0-9.]+))?$")


def parameter_table_candidates(path: Path) -> list[Path]:
    """Where the parameter table of a map stack may be, in the order they are tried.

    ``NAME.params.txt`` (what :func:`write` produces), then the CMD names for
    ``Maps_<field>_<sim>_<set>_z=<z>.npy``: ``params_<set>_<sim>.txt`` and ``params_<sim>.txt``
    (for N-body stacks ``<sim>`` is e.g. ``Nbody_IllustrisTNG``; ``params_Nbody.txt`` is also tried).
    """
    candidates = [path.with_suffix(".params.txt")]
    match = _CAMELS_NAME.fullmatch(path.stem)
    if match:
        tokens = match["rest"].split("_")
        simulation, data_set = "_".join(tokens[:-1]) or tokens[0], tokens[-1]
        for name in (f"params_{data_set}_{simulation}.txt", f"params_{simulation}.txt",
                     f"params_{data_set}_{tokens[0]}.txt", f"params_{tokens[0]}.txt"):
            candidates.append(path.with_name(name))
    return list(dict.fromkeys(candidates))


def find_parameter_table(path: Path, explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit is not None:
        explicit = Path(explicit)
        if not explicit.is_file():
            raise SurrogateError("parameter table not found", explicit)
        return explicit
    return next((candidate for candidate in parameter_table_candidates(path) if candidate.is_file()), None)


def read_parameter_table(path: Path) -> tuple[np.ndarray, tuple[str, ...], dict[str, str]]:
    """Rows of a whitespace table, their names and the stack's metadata.

    Leading ``#`` lines may hold ``key=value`` metadata (``quantity``, ``box_mpc_h``, ``redshift``) and
    the column names (``# omega_m sigma8 ...``); without names, six columns get the CMD names.
    """
    names: tuple[str, ...] = ()
    metadata: dict[str, str] = {}
    with open(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            tokens = line[1:].split()
            if tokens and all("=" in token for token in tokens):
                metadata.update(token.split("=", 1) for token in tokens)
            elif tokens:
                names = tuple(tokens)
    try:
        table = np.atleast_2d(np.loadtxt(path, dtype=np.float64, comments="#"))
    except ValueError as error:
        raise SurrogateError(f"unreadable parameter table: {error}", path) from None
    if len(names) != table.shape[1]:
        names = CAMELS_PARAMETERS if table.shape[1] == len(CAMELS_PARAMETERS) else tuple(
            ("omega_m", "sigma8", *[f"param_{index}" for index in range(2, table.shape[1])])[:table.shape[1]])
    return table, names, metadata


def _camels_stack(path: Path, parameter_table=None):
    table_path = find_parameter_table(path, parameter_table)
    if table_path is None:
        raise SurrogateError("no parameter table found; looked for "
                             + ", ".join(candidate.name for candidate in parameter_table_candidates(path)), path)
    try:
        maps = np.load(path, mmap_mode="r")
    except ValueError as error:
        raise SurrogateError(f"unreadable .npy file: {error}", path) from None
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
        raise SurrogateError(f"expected a stack of square maps (M, P, P), got shape {maps.shape}", path)
    table, names, metadata = read_parameter_table(table_path)
    if len(table) == 0 or len(maps) % len(table):
        raise SurrogateError(f"{len(maps)} maps do not divide evenly among {len(table)} parameter rows",
                             table_path)
    return maps, table, names, len(maps) // len(table), metadata


def _read_camels(path: Path, start: int, stop: int | None, parameter_table=None,
                 map_box: float | None = None) -> EventSet:
    maps, table, names, per_row, metadata = _camels_stack(path, parameter_table)
    stop = len(maps) if stop is None else min(stop, len(maps))
    events = np.asarray(maps[start:stop], dtype=np.float32)
    conditions = table[np.arange(start, max(start, stop)) // per_row]
    match = _CAMELS_NAME.fullmatch(path.stem)
    quantity = metadata.get("quantity") or (match["field"] if match else GENERIC_QUANTITY)
    redshift = metadata.get("redshift") or (match["z"] if match and match["z"] else None)
    box = map_box or metadata.get("box_mpc_h") or CAMELS_BOX_MPC_H
    layout = {"domain": "cosmology", "format": CAMELS, "box_mpc_h": float(box), "map_size": int(maps.shape[-1]),
              "maps_per_run": per_row, "quantity": quantity,
              "redshift": float(redshift) if redshift not in (None, "None") else None,
              "condition_names": list(names)}
    return EventSet(conditions, events, names, layout)


def _write_camels(path: Path, events: EventSet) -> None:
    """The maps as .npy and ``NAME.params.txt`` with one row per map, its names and the layout's metadata."""
    layout = events.layout
    metadata = " ".join(f"{key}={layout[key]}" for key in ("quantity", "box_mpc_h", "redshift")
                        if layout.get(key) is not None)
    header = "\n".join(line for line in (metadata, " ".join(events.condition_names)) if line)
    with atomic_path(Path(path).with_suffix(".params.txt")) as temporary:
        np.savetxt(temporary, events.conditions, header=header, comments="# ")
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, np.asarray(events.events, dtype=np.float32))


# -- what the domain calls -----------------------------------------------------------------------


def read(path: str | os.PathLike, *, start: int = 0, stop: int | None = None,
         snapshot_map_size: int | None = None, snapshot_maps: int | None = None,
         snapshot_sigma8: float | None = None, parameter_table: str | os.PathLike | None = None,
         map_box: float | None = None) -> EventSet:
    """Maps ``start:stop`` of a file in any of the three layouts (see the module doc).

    Options: ``snapshot_map_size`` / ``snapshot_maps`` (pixels per side and number of slab maps
    painted from a Gadget snapshot, default 256 and 12), ``snapshot_sigma8`` (sigma_8 of a snapshot
    whose header lacks it), ``parameter_table`` and ``map_box`` (a .npy stack's parameter table and
    map side in Mpc/h, default the CMD 25 Mpc/h).
    """
    path = Path(path)
    found = _require(path)
    if start < 0:
        raise SurrogateError(f"start {start} is negative", path)
    if found == NBODY:
        return _read_nbody(path, start, stop)
    if found == GADGET:
        return _read_gadget(path, start, stop, snapshot_map_size or 256, snapshot_maps or 12, snapshot_sigma8)
    return _read_camels(path, start, stop, parameter_table, map_box)


def count(path: str | os.PathLike, **options: Any) -> int:
    """Number of maps in a file (for a snapshot: the maps it would be painted into)."""
    path = Path(path)
    found = _require(path)
    if found == NBODY:
        import h5py

        with h5py.File(path, "r") as handle:
            return int(handle["maps"].shape[0])
    if found == GADGET:
        return int(options.get("snapshot_maps") or 12)
    return int(_camels_stack(path, options.get("parameter_table"))[0].shape[0])


def iter_read(path: str | os.PathLike, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
    path = Path(path)
    if _require(path) == GADGET:
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
    found = _require(path)
    if found == GADGET:
        events = read(path, **options)
        yield events.condition_names, events.conditions
    elif found == CAMELS:
        maps, table, names, per_row, _ = _camels_stack(path, options.get("parameter_table"))
        for start in range(0, len(maps), chunk_events):
            yield names, table[np.arange(start, min(len(maps), start + chunk_events)) // per_row]
    else:
        import h5py

        with h5py.File(path, "r") as handle:
            maps, parameters = handle["maps"], handle["parameters"]
            if parameters.ndim != 2 or parameters.shape[0] != maps.shape[0]:
                raise SurrogateError(f"maps {maps.shape} and parameters {parameters.shape} do not fit together",
                                     path)
            names = _names_of(parameters)
            for start in range(0, len(parameters), chunk_events):
                yield names, np.asarray(parameters[start:start + chunk_events], dtype=np.float64)


def write(path: str | os.PathLike, events: EventSet) -> None:
    """Write maps in their layout: .npy stacks stay .npy stacks, everything else the N-body HDF5 layout."""
    if events.layout.get("format") == CAMELS:
        _write_camels(Path(path), events)
    else:
        _write_nbody_events(Path(path), events)


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
            targets["parameters"].attrs["names"] = list(_names_of(first["parameters"]))
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
        names = _names_of(targets["parameters"])
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
        if _require(path) != NBODY:
            raise SurrogateError("only N-body HDF5 map files can be merged", path)
        with h5py.File(path, "r") as handle:
            settings = {key: np.asarray(handle.attrs[key]).tolist() for key in compared if key in handle.attrs}
            datasets = {key: handle[key].shape for key in ("maps", "parameters", "density", "map_run", "map_axis",
                                                           "run_seeds") if key in handle}
            signature = (settings, _names_of(handle["parameters"]), sorted(datasets),
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
