"""CAMELS-CMD style map stacks: maps in a .npy file (M, P, P), their parameters in a whitespace table
beside it (one row per simulation, or per map for the stacks :func:`write_camels` writes)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from surrogate._atomic import atomic_path
from surrogate.core.domain import EventSet
from surrogate.cosmology.formats.layouts import CAMELS, CAMELS_BOX_MPC_H, CAMELS_PARAMETERS, GENERIC_QUANTITY
from surrogate.errors import SurrogateError

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


def camels_stack(path: Path, parameter_table=None):
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


def read_camels(path: Path, start: int, stop: int | None, parameter_table=None,
                 map_box: float | None = None) -> EventSet:
    maps, table, names, per_row, metadata = camels_stack(path, parameter_table)
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


def write_camels(path: Path, events: EventSet) -> None:
    """The maps as .npy and ``NAME.params.txt`` with one row per map, its names and the layout's metadata."""
    layout = events.layout
    metadata = " ".join(f"{key}={layout[key]}" for key in ("quantity", "box_mpc_h", "redshift")
                        if layout.get(key) is not None)
    header = "\n".join(line for line in (metadata, " ".join(events.condition_names)) if line)
    with atomic_path(Path(path).with_suffix(".params.txt")) as temporary:
        np.savetxt(temporary, events.conditions, header=header, comments="# ")
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, np.asarray(events.events, dtype=np.float32))
