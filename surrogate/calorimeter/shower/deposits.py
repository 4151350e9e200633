"""Energy bookkeeping: deposits binned into readout cells, escaping energy, and the readout rules."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surrogate.calorimeter.geometry import Geometry
from surrogate.calorimeter.shower.medium import SlabMedium

_INSIDE_MM = 1e-7  # deposits on a slab boundary are moved this far into their own slab


@dataclass(frozen=True)
class ShowerTally:
    """Raw result of transporting a batch of showers (MeV).

    cells: (N, n_values) energy in active slabs per readout entry, before threshold and scaling.
    deposited: (N,) all energy deposited in the calorimeter; visible: the part in active slabs;
    escaped: energy carried out of the calorimeter (a positron's annihilation energy included).
    """

    cells: np.ndarray
    deposited: np.ndarray
    visible: np.ndarray
    escaped: np.ndarray


class DepositLedger:
    """Collects deposits of one batch and bins them into cells in large blocks."""

    def __init__(self, geometry: Geometry, medium: SlabMedium, n_showers: int, block: int = 1_000_000):
        self._geometry = geometry
        self._medium = medium
        self._n_showers = n_showers
        self._block = block
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_count = 0
        self._cells = np.zeros(n_showers * geometry.n_values)
        self._deposited = np.zeros(n_showers)
        self._visible = np.zeros(n_showers)
        self._escaped = np.zeros(n_showers)

    def deposit(self, shower: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, slab: np.ndarray,
                energy_mev: np.ndarray) -> None:
        """Energy left at points inside slab ``slab`` (index within the period)."""
        if shower.size == 0:
            return
        self._deposited += np.bincount(shower, weights=energy_mev, minlength=self._n_showers)
        active = self._medium.active[slab] & (energy_mev > 0)
        if not active.any():
            return
        shower, x, y, energy_mev = shower[active], x[active], y[active], energy_mev[active]
        z = self._medium.clamp_into(z[active], slab[active], _INSIDE_MM)
        self._visible += np.bincount(shower, weights=energy_mev, minlength=self._n_showers)
        self._pending.append((shower, x, y, z, energy_mev))
        self._pending_count += shower.size
        if self._pending_count >= self._block:
            self._flush()

    def escape(self, shower: np.ndarray, energy_mev: np.ndarray) -> None:
        if shower.size:
            self._escaped += np.bincount(shower, weights=energy_mev, minlength=self._n_showers)

    def _flush(self) -> None:
        if not self._pending:
            return
        shower, x, y, z, energy = (np.concatenate(parts) for parts in zip(*self._pending))
        self._pending, self._pending_count = [], 0
        index = self._geometry.value_index(x, y, z)
        kept = index >= 0
        flat = shower[kept] * self._geometry.n_values + index[kept]
        self._cells += np.bincount(flat, weights=energy[kept], minlength=self._cells.size)

    def tally(self) -> ShowerTally:
        self._flush()
        return ShowerTally(self._cells.reshape(self._n_showers, -1), self._deposited, self._visible,
                           self._escaped)


def read_out(geometry: Geometry, visible_cells_mev: np.ndarray) -> np.ndarray:
    """Apply the geometry's readout: per-cell threshold on visible energy, then the sampling fraction.

    Overflow entries (energy outside the cells) are never thresholded.
    """
    cells = np.array(visible_cells_mev, dtype=np.float64)
    if geometry.voxel_threshold_mev > 0:
        body = cells[:, : geometry.n_cells]
        body[body < geometry.voxel_threshold_mev] = 0.0
    if geometry.sampling_fraction is not None:
        cells /= geometry.sampling_fraction
    return cells.astype(np.float32)
