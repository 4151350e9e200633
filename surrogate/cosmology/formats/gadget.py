"""Gadget-style HDF5 snapshots (``Header``, ``PartType1/Coordinates``, possibly split into NAME.N.hdf5
parts): dark-matter particles, painted into slab maps or a density cube."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from surrogate.core.domain import EventSet
from surrogate.cosmology.formats.layouts import CONTRAST, GADGET
from surrogate.errors import SurrogateError

_MPC_CM = 3.085678e24


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


def read_gadget(path: Path, start: int, stop: int | None, map_size: int, maps_per_box: int,
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
