"""What every shower layout module provides: a source to read blocks from, a writer to append to.

Sources return raw blocks (incident energies in MeV, flat events in MeV, float32); the checks and the
EventSet building happen once, in :mod:`surrogate.calorimeter.formats.showers`.
"""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from surrogate.calorimeter.geometry import Geometry


class ShowerSource(abc.ABC):
    """An open shower file: its layout, geometry and event count, read block by block."""

    path: Path
    layout: dict[str, Any]
    geometry: Geometry
    n_events: int
    #: Name of the dataset or branch holding the incident energies (for messages).
    energy_name: str

    @abc.abstractmethod
    def blocks(self, start: int, stop: int, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(incident energies (n,) float64 MeV, events (n, n_values) float32 MeV) for ``start:stop``."""

    @abc.abstractmethod
    def incident_energies_mev(self, start: int, stop: int) -> np.ndarray:
        """The incident energies (stop - start,) in MeV of events ``start:stop``, unchecked."""

    @abc.abstractmethod
    def column_name(self, column: int) -> str:
        """The dataset or branch that holds value ``column`` of the flat event vector."""

    def details(self) -> dict[str, Any]:
        """Layout-specific lines for ``surrogate inspect`` (datasets, tree, branches)."""
        return {}

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> "ShowerSource":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ShowerWriter(abc.ABC):
    """Appends blocks of showers to a file being written (under a temporary name until closed)."""

    @abc.abstractmethod
    def append(self, incident_energies_mev: np.ndarray, events: np.ndarray) -> None:
        """Add events (n, n_values) MeV with their incident energies (n,) MeV."""
