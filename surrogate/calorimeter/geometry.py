"""Calorimeter geometries: the absorber/active stack and the readout cells, in mm.

Two kinds of readout layer exist: :class:`PolarLayer` (bins in angle and radius around the particle's
axis, the CaloChallenge convention) and :class:`CartesianLayer` (rectangular x/y cells, CaloGAN).
A shower is one flat vector of cell energies in MeV: the layers' cells in order (each layer flattened
row-major over its ``shape``), then, for geometries with ``overflow``, one entry per layer holding the
energy deposited in that layer outside its cells. The particle enters at x = y = 0, z = 0, along +z.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Union

import numpy as np

from surrogate.errors import SurrogateError


@dataclass(frozen=True)
class Slab:
    """One slab of the repeated sampling structure."""

    material: str  # key of surrogate.calorimeter.materials (e.g. "W", "Si", "Pb", "LAr")
    thickness_mm: float
    active: bool  # deposits in this slab are read out


@dataclass(frozen=True)
class PolarLayer:
    """A readout layer binned in angle alpha = atan2(y, x) in [-pi, pi) and radius r (mm).

    Cells are ordered (alpha, radius), radius fastest, as in the CaloChallenge files.
    """

    r_edges_mm: tuple[float, ...]
    n_alpha: int
    z_front_mm: float | None = None  # None when only the binning is known (e.g. from a binning XML)
    z_back_mm: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_alpha, len(self.r_edges_mm) - 1)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def cell_of(self, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        """Index of the cell holding each point within this layer, -1 outside the outermost radius."""
        r = np.hypot(x_mm, y_mm)
        r_bin = np.searchsorted(np.asarray(self.r_edges_mm), r, side="right") - 1
        alpha = np.arctan2(y_mm, x_mm)
        a_bin = np.clip(((alpha + math.pi) / (2 * math.pi) * self.n_alpha).astype(np.int64), 0, self.n_alpha - 1)
        inside = (r_bin >= 0) & (r_bin < self.shape[1])
        return np.where(inside, a_bin * self.shape[1] + r_bin, -1)

    def cell_centers(self) -> dict[str, np.ndarray]:
        """Per cell (flattened): radius ``r_mm``, angle ``alpha``, and ``x_mm``/``y_mm`` of the bin centre."""
        edges = np.asarray(self.r_edges_mm)
        r_centers = 0.5 * (edges[1:] + edges[:-1])
        a_centers = -math.pi + (np.arange(self.n_alpha) + 0.5) * 2 * math.pi / self.n_alpha
        alpha, r = np.meshgrid(a_centers, r_centers, indexing="ij")
        return {
            "r_mm": r.ravel(), "alpha": alpha.ravel(),
            "x_mm": (r * np.cos(alpha)).ravel(), "y_mm": (r * np.sin(alpha)).ravel(),
        }


@dataclass(frozen=True)
class CartesianLayer:
    """A readout layer of rectangular cells; shape (n_y, n_x), x fastest (CaloGAN)."""

    name: str
    x_edges_mm: tuple[float, ...]
    y_edges_mm: tuple[float, ...]
    z_front_mm: float | None = None
    z_back_mm: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.y_edges_mm) - 1, len(self.x_edges_mm) - 1)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def cell_of(self, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        """Index of the cell holding each point within this layer, -1 outside the cells."""
        ix = np.searchsorted(np.asarray(self.x_edges_mm), x_mm, side="right") - 1
        iy = np.searchsorted(np.asarray(self.y_edges_mm), y_mm, side="right") - 1
        inside = (ix >= 0) & (ix < self.shape[1]) & (iy >= 0) & (iy < self.shape[0])
        return np.where(inside, iy * self.shape[1] + ix, -1)

    def cell_centers(self) -> dict[str, np.ndarray]:
        """Per cell (flattened): ``x_mm``, ``y_mm``, and ``r_mm``/``alpha`` of the cell centre."""
        xe, ye = np.asarray(self.x_edges_mm), np.asarray(self.y_edges_mm)
        y, x = np.meshgrid(0.5 * (ye[1:] + ye[:-1]), 0.5 * (xe[1:] + xe[:-1]), indexing="ij")
        return {
            "x_mm": x.ravel(), "y_mm": y.ravel(),
            "r_mm": np.hypot(x, y).ravel(), "alpha": np.arctan2(y, x).ravel(),
        }


Layer = Union[PolarLayer, CartesianLayer]


@dataclass(frozen=True)
class Geometry:
    """A sampling calorimeter: ``n_periods`` repeats of ``stack`` along z, read out in ``layers``.

    sampling_fraction: the visible/total energy scale the recorded energies were divided by
        (None when the total deposit, absorber included, is recorded, as in CaloGAN).
    voxel_threshold_mev: cells below this visible energy are set to zero before scaling.
    overflow: one extra entry per layer at the end of the event vector (energy outside the cells).
    """

    name: str
    file_layout: str  # "calochallenge" or "calogan"
    layers: tuple[Layer, ...]
    stack: tuple[Slab, ...] = ()
    n_periods: int = 0
    sampling_fraction: float | None = None
    voxel_threshold_mev: float = 0.0
    overflow: bool = False

    @property
    def depth_mm(self) -> float:
        return self.n_periods * sum(slab.thickness_mm for slab in self.stack)

    @cached_property
    def layer_offsets(self) -> np.ndarray:
        """Start of each layer's cells in the flat event vector (length n_layers + 1)."""
        return np.concatenate([[0], np.cumsum([layer.size for layer in self.layers])]).astype(np.int64)

    @property
    def n_cells(self) -> int:
        """Readout cells, overflow entries excluded."""
        return int(self.layer_offsets[-1])

    @property
    def n_values(self) -> int:
        """Length of one event vector: cells plus overflow entries."""
        return self.n_cells + (len(self.layers) if self.overflow else 0)

    def layer_of_z(self, z_mm: np.ndarray) -> np.ndarray:
        """Readout layer index for each depth, -1 in front of or behind the calorimeter."""
        fronts = np.array([layer.z_front_mm for layer in self.layers], dtype=float)
        backs = np.array([layer.z_back_mm for layer in self.layers], dtype=float)
        if np.isnan(fronts).any():
            raise SurrogateError(f"geometry {self.name!r} has no layer depths; it can only be read, not simulated")
        index = np.searchsorted(fronts, z_mm, side="right") - 1
        inside = (index >= 0) & (z_mm < backs[np.clip(index, 0, None)])
        return np.where(inside, index, -1)

    def value_index(self, x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
        """Index into the event vector for deposits at (x, y, z); -1 outside the calorimeter.

        Deposits outside a layer's cells go to that layer's overflow entry when the geometry has one,
        and are lost (-1) otherwise.
        """
        layer = self.layer_of_z(z_mm)
        result = np.full(np.shape(z_mm), -1, dtype=np.int64)
        for i, readout in enumerate(self.layers):
            sel = layer == i
            if not sel.any():
                continue
            cell = readout.cell_of(x_mm[sel], y_mm[sel])
            lost = self.n_cells + i if self.overflow else -1
            result[sel] = np.where(cell >= 0, self.layer_offsets[i] + cell, lost)
        return result

    def layer_slices(self) -> list[slice]:
        """Slices of the event vector holding each layer's cells."""
        return [slice(int(a), int(b)) for a, b in zip(self.layer_offsets[:-1], self.layer_offsets[1:])]


def _ds2() -> Geometry:
    period = (Slab("W", 1.4, False), Slab("Si", 0.3, True))
    readout_mm = 2 * 1.7  # two physical layers per readout layer
    r_edges = tuple(round(4.65 * i, 4) for i in range(10))
    layers = tuple(
        PolarLayer(r_edges, 16, z_front_mm=round(i * readout_mm, 4), z_back_mm=round((i + 1) * readout_mm, 4))
        for i in range(45)
    )
    return Geometry("ds2", "calochallenge", layers, period, 90,
                    sampling_fraction=0.0300, voxel_threshold_mev=0.01515)


def _calogan() -> Geometry:
    def edges(n: int, size_mm: float) -> tuple[float, ...]:
        return tuple(-240.0 + size_mm * i for i in range(n + 1))

    depths = (0.0, 90.0, 437.0, 480.0)
    cells = (("layer_0", 96, 5.0, 3, 160.0), ("layer_1", 12, 40.0, 12, 40.0), ("layer_2", 6, 80.0, 12, 40.0))
    layers = tuple(
        CartesianLayer(name, edges(nx, dx), edges(ny, dy), z_front_mm=depths[i], z_back_mm=depths[i + 1])
        for i, (name, nx, dx, ny, dy) in enumerate(cells)
    )
    period = (Slab("Pb", 2.0, True), Slab("LAr", 4.0, True))
    return Geometry("calogan", "calogan", layers, period, 80, sampling_fraction=None, overflow=True)


GEOMETRIES: dict[str, Geometry] = {"ds2": _ds2(), "calogan": _calogan()}


def get_geometry(name: str) -> Geometry:
    """A built-in geometry by name (``ds2`` or ``calogan``)."""
    if name not in GEOMETRIES:
        raise SurrogateError(f"unknown geometry {name!r}; built in: {', '.join(GEOMETRIES)}")
    return GEOMETRIES[name]
