"""The three map-file layouts by name, their shared constants, and which layout a file is in (from its
first bytes or keys, without reading maps)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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


def require_layout(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise SurrogateError("no such file" if not path.exists() else "not a file", path)
    found = detect_format(path)
    if found is None:
        raise SurrogateError("not a map file: expected the N-body HDF5 layout (maps, parameters), a Gadget "
                             "HDF5 snapshot (Header, PartType1) or a .npy map stack with a parameter table", path)
    return found
