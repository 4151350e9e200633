"""Recognise HDF5 and ROOT files by their first bytes, without importing h5py or uproot."""
from __future__ import annotations

import os

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ROOT_SIGNATURE = b"root"
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
ROOT_SUFFIXES = (".root",)


def is_hdf5(path: str | os.PathLike) -> bool:
    """True when the file starts with the HDF5 signature (at 0 or after a 512 * 2^k byte user block)."""
    with open(path, "rb") as handle:
        for offset in (0, 512, 1024, 2048, 4096):
            handle.seek(offset)
            if handle.read(8) == HDF5_SIGNATURE:
                return True
    return False


def is_root(path: str | os.PathLike) -> bool:
    """True when the file starts with ROOT's magic bytes."""
    with open(path, "rb") as handle:
        return handle.read(4) == ROOT_SIGNATURE
