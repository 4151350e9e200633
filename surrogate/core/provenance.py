"""Which training data a generated file came from, so ``validate`` can tell a flattering reference.

``generate`` stamps its HDF5 outputs with the path and a content fingerprint of the run's training
file; ``validate`` warns when the reference is that file (or a copy of it): a model that memorised its
training showers would look perfect against them. Other formats (ROOT) carry no stamp.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PATH_ATTRIBUTE = "training_data"
FINGERPRINT_ATTRIBUTE = "training_data_fingerprint"

#: Bytes hashed at each of the start, middle and end of a file: enough to tell files apart, and
#: cheap for training files of many gigabytes.
_SAMPLE_BYTES = 1 << 20


def fingerprint(path: str | os.PathLike) -> str:
    """sha256 of a file's size and of 1 MiB at its start, middle and end (hex)."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        for offset in (0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def stamp_training_data(generated: str | os.PathLike, training_data: str | os.PathLike | None) -> None:
    """Record ``training_data``'s absolute path and fingerprint in ``generated``'s attributes (HDF5 only;
    nothing when the training file is unknown or gone)."""
    import h5py

    if not training_data or not Path(training_data).is_file() or not h5py.is_hdf5(generated):
        return
    with h5py.File(generated, "r+") as handle:
        handle.attrs[PATH_ATTRIBUTE] = str(Path(training_data).resolve())
        handle.attrs[FINGERPRINT_ATTRIBUTE] = fingerprint(training_data)


def warn_if_training_data(reference: str | os.PathLike, candidate: str | os.PathLike) -> bool:
    """Log a warning (and return True) when ``reference`` is the training file of the run that
    generated ``candidate``, by path or by content."""
    import h5py

    if not h5py.is_hdf5(candidate):
        return False
    with h5py.File(candidate, "r") as handle:
        trained_on = handle.attrs.get(PATH_ATTRIBUTE)
        trained_fingerprint = handle.attrs.get(FINGERPRINT_ATTRIBUTE)
    if trained_on is None:
        return False
    same_path = Path(str(trained_on)) == Path(reference).resolve()
    if not same_path and fingerprint(reference) != trained_fingerprint:
        return False
    log.warning("warning: the reference %s is the training data of the model that generated %s; ratios near 1 "
                "can mean memorised events: validate against an independent sample (e.g. another seed)",
                reference, candidate)
    return True
