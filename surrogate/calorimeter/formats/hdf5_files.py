"""Opening HDF5 shower files with one-line errors, and the chunking used when writing them."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import h5py
import numpy as np

from surrogate._version import __version__
from surrogate.errors import SurrogateError

#: Rows written per HDF5 chunk aim at this many bytes (uncompressed).
CHUNK_BYTES = 1 << 20


def open_hdf5(path: str | os.PathLike) -> h5py.File:
    """An HDF5 file opened for reading; a SurrogateError naming the file if it is unreadable."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise SurrogateError(describe_open_error(Path(path), error), path) from None


def dataset(path: str | os.PathLike, handle: h5py.File, name: str) -> h5py.Dataset:
    """``handle[name]``, with a one-line error when it is missing or not a dataset."""
    item = handle.get(name)
    if item is None:
        found = ", ".join(sorted(handle)) or "nothing"
        raise SurrogateError(f"missing dataset {name!r} (the file holds {found})", path)
    if not isinstance(item, h5py.Dataset):
        raise SurrogateError(f"{name!r} is a {type(item).__name__}, expected a dataset", path)
    if item.dtype.kind not in "iuf":
        raise SurrogateError(f"{name!r} holds {item.dtype} values, expected numbers", path)
    return item


def text_attribute(handle: h5py.File, name: str) -> str | None:
    """A string attribute of the file, or None (h5py may hand back bytes or str)."""
    value = handle.attrs.get(name)
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def float_attribute(handle: h5py.File, name: str) -> float | None:
    """A numeric attribute of the file, or None."""
    value = handle.attrs.get(name)
    return None if value is None else float(value)


def describe_open_error(path: Path, error: OSError) -> str:
    """A short explanation of why h5py could not open ``path``."""
    text = str(error)
    if "truncated file" in text:
        expected = re.search(r"stored_eof = (\d+)", text)
        says = f"the file says {expected.group(1)}" if expected else "the file says it should be larger"
        return f"truncated HDF5 file ({path.stat().st_size} bytes; {says})"
    if "file signature not found" in text:
        return "not an HDF5 file (no HDF5 signature)"
    return f"cannot open as HDF5 ({text.split('(')[-1].rstrip(')') or text})"


def read_rows(path: str | os.PathLike, dataset: h5py.Dataset, start: int, stop: int):
    """``dataset[start:stop]``, with a one-line error if the file is damaged there."""
    try:
        return dataset[start:stop]
    except OSError as error:
        raise SurrogateError(
            f"cannot read {dataset.name.lstrip('/')!r} rows {start}:{stop}; the file is damaged ({error})", path
        ) from None


def chunk_rows(row_bytes: int) -> int:
    """Rows per chunk so one chunk holds about :data:`CHUNK_BYTES`."""
    return max(1, min(16384, CHUNK_BYTES // max(1, row_bytes)))


def create_growing(group: h5py.Group, name: str, row_shape: tuple[int, ...], dtype) -> h5py.Dataset:
    """An empty gzip-compressed dataset of rows of ``row_shape`` that ``append_rows`` can extend."""
    rows = chunk_rows(np.dtype(dtype).itemsize * math.prod(row_shape))
    return group.create_dataset(
        name, shape=(0, *row_shape), maxshape=(None, *row_shape), chunks=(rows, *row_shape),
        dtype=dtype, compression="gzip", compression_opts=4,
    )


def append_rows(dataset: h5py.Dataset, rows) -> None:
    """Append ``rows`` (shape (n, *row_shape)) at the end of a dataset made by :func:`create_growing`."""
    start = dataset.shape[0]
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows



def write_layout_attributes(handle: h5py.File, layout: dict, units: str) -> None:
    """Record a shower layout in a file's attributes, so reading it back needs no options."""
    handle.attrs["layout"] = layout["format"]
    handle.attrs["units"] = units
    handle.attrs["created_by"] = f"surrogate {__version__}"
    if layout.get("geometry"):
        handle.attrs["geometry"] = layout["geometry"]
    else:
        handle.attrs["binning_xml"] = layout["binning_xml"]
    if layout.get("particle"):
        handle.attrs["particle"] = layout["particle"]
    if layout.get("sampling_fraction") is not None:
        handle.attrs["sampling_fraction"] = float(layout["sampling_fraction"])
