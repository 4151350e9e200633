"""Physical observables of calorimeter showers, computed chunk by chunk from flat cell energies.

A shower is the geometry's flat vector of cell energies in MeV (see surrogate.calorimeter.geometry).
Definitions, with the CaloGAN paper's names where they coincide, are in docs/observables.md. Every
observable is finite: a centroid or width of an empty layer (or shower) is 0 by definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from surrogate.calorimeter.geometry import CartesianLayer, Geometry, PolarLayer
from surrogate.core.domain import EventSet, PooledHistogram, Profile

#: Bins of the voxel-energy spectrum: log10 of a non-zero cell's energy in MeV, 0.05 wide, from
#: 0.1 keV to 1 TeV; cells outside are counted in the first or last bin.
CELL_SPECTRUM_EDGES = np.round(np.arange(-4.0, 6.0 + 1e-9, 0.05), 10)


@dataclass(frozen=True)
class LayerCells:
    """Where one readout layer's cells sit in the event vector, and their centres in mm."""

    number: int  # index of the layer in the geometry (names use it, empty layers keep their number)
    cells: slice
    r_mm: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    has_xy: bool  # False for polar layers with one angular bin, where x/y carry no information
    z_mid_mm: float | None
    layer: PolarLayer | CartesianLayer


@lru_cache(maxsize=16)
def layer_cells(geometry: Geometry) -> tuple[LayerCells, ...]:
    """The geometry's layers that hold cells (layers without voxels are skipped)."""
    found = []
    for number, (layer, cells) in enumerate(zip(geometry.layers, geometry.layer_slices())):
        if layer.size == 0:
            continue
        centers = layer.cell_centers()
        has_xy = not (isinstance(layer, PolarLayer) and layer.n_alpha == 1)
        z_mid = None if layer.z_front_mm is None else 0.5 * (layer.z_front_mm + layer.z_back_mm)
        found.append(LayerCells(number, cells, centers["r_mm"], centers["x_mm"], centers["y_mm"],
                                has_xy, z_mid, layer))
    return tuple(found)


def _label(geometry: Geometry, number: int) -> str:
    digits = len(str(len(geometry.layers) - 1))
    return f"layer{number:0{digits}d}"


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _mean_and_width(weights: np.ndarray, total: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted mean and standard deviation of ``position`` per event; 0 where total is 0."""
    mean = _safe_divide(weights @ position, total)
    second = _safe_divide(weights @ position**2, total)
    variance = second - mean**2
    # second - mean^2 cancels to rounding noise (~1e-16 * second) when one cell holds all the energy
    variance[variance <= 1e-12 * second] = 0.0
    return mean, np.sqrt(variance)


def _eratio(energies: np.ndarray) -> np.ndarray:
    """(E1 - E2) / (E1 + E2) of the two most energetic cells per event; 0 for an empty layer."""
    if energies.shape[1] < 2:
        return np.zeros(len(energies))
    top_two = np.partition(energies, energies.shape[1] - 2, axis=1)[:, -2:].astype(np.float64)
    return _safe_divide(top_two[:, 1] - top_two[:, 0], top_two[:, 1] + top_two[:, 0])


def shower_observables(energies_mev: np.ndarray, incident_energy_mev: np.ndarray,
                       geometry: Geometry) -> dict[str, np.ndarray]:
    """Per-shower observables, name -> (N,) float64. ``energies_mev``: (N, geometry.n_values).

    Inclusive: ``etot_over_einc``, the longitudinal centroid and width (layer units, and mm when
    the geometry has depths). Per layer with cells: energy, fraction of the cell energy, radial,
    x and y centroids and widths, sparsity. For overflow geometries (CaloGAN) also the overflow
    fraction, the depth-weighted energy and each layer's E_ratio of its two hottest cells.
    """
    energies_mev = np.asarray(energies_mev)
    incident_energy_mev = np.asarray(incident_energy_mev, dtype=np.float64).reshape(-1)
    layers = layer_cells(geometry)
    layer_energy = np.stack([energies_mev[:, lc.cells].sum(axis=1, dtype=np.float64) for lc in layers], axis=1)
    cell_energy = layer_energy.sum(axis=1)
    recorded_energy = energies_mev.sum(axis=1, dtype=np.float64)

    out: dict[str, np.ndarray] = {"etot_over_einc": _safe_divide(recorded_energy, incident_energy_mev)}
    numbers = np.array([lc.number for lc in layers], dtype=np.float64)
    out["depth_centroid_layer"], out["depth_width_layer"] = _mean_and_width(layer_energy, cell_energy, numbers)
    if all(lc.z_mid_mm is not None for lc in layers):
        z_mid = np.array([lc.z_mid_mm for lc in layers])
        out["depth_centroid_mm"], out["depth_width_mm"] = _mean_and_width(layer_energy, cell_energy, z_mid)
    if geometry.overflow:
        out["overflow_fraction"] = _safe_divide(recorded_energy - cell_energy, recorded_energy)
        out["depth_weighted_energy_mev"] = layer_energy @ numbers

    for column, lc in enumerate(layers):
        name = _label(geometry, lc.number)
        cells = energies_mev[:, lc.cells]
        total = layer_energy[:, column]
        out[f"{name}_energy_mev"] = total
        out[f"{name}_fraction"] = _safe_divide(total, cell_energy)
        out[f"{name}_r_centroid_mm"], out[f"{name}_r_width_mm"] = _mean_and_width(cells, total, lc.r_mm)
        if lc.has_xy:
            out[f"{name}_x_centroid_mm"], out[f"{name}_x_width_mm"] = _mean_and_width(cells, total, lc.x_mm)
            out[f"{name}_y_centroid_mm"], out[f"{name}_y_width_mm"] = _mean_and_width(cells, total, lc.y_mm)
        out[f"{name}_sparsity"] = np.count_nonzero(cells > 0, axis=1) / cells.shape[1]
        if geometry.overflow:
            out[f"{name}_eratio"] = _eratio(cells)
    return out


def cell_energy_spectrum(energies_mev: np.ndarray, geometry: Geometry) -> dict[str, PooledHistogram]:
    """Per-shower histograms of log10(cell energy / MeV) over the non-zero readout cells (no overflow)."""
    cells = np.asarray(energies_mev)[:, : geometry.n_cells]
    n_bins = len(CELL_SPECTRUM_EDGES) - 1
    event, cell = np.nonzero(cells > 0)
    width = CELL_SPECTRUM_EDGES[1] - CELL_SPECTRUM_EDGES[0]
    bins = np.floor((np.log10(cells[event, cell].astype(np.float64)) - CELL_SPECTRUM_EDGES[0]) / width)
    bins = np.clip(bins, 0, n_bins - 1).astype(np.int64)
    counts = np.bincount(event * n_bins + bins, minlength=len(cells) * n_bins).reshape(len(cells), n_bins)
    return {"log10_cell_energy_mev": PooledHistogram(CELL_SPECTRUM_EDGES.copy(), counts.astype(np.int32))}


def shower_profiles(energies_mev: np.ndarray, geometry: Geometry) -> dict[str, Profile]:
    """Mean-profile material: energy per layer vs depth, and the lateral shape.

    Lateral: energy vs radius (all layers summed) when every layer is polar; per layer energy vs x
    and vs y when layers are rectangular.
    """
    energies_mev = np.asarray(energies_mev)
    layers = layer_cells(geometry)
    per_layer = np.stack([energies_mev[:, lc.cells].sum(axis=1, dtype=np.float64) for lc in layers], axis=1)
    if all(lc.z_mid_mm is not None for lc in layers):
        depth, depth_label = np.array([lc.z_mid_mm for lc in layers]), "depth of layer centre [mm]"
    else:
        depth, depth_label = np.array([lc.number for lc in layers], dtype=float), "layer"
    out = {"longitudinal_profile": Profile(depth, per_layer, depth_label, "energy per layer [MeV]", log_y=True)}
    if all(isinstance(lc.layer, PolarLayer) for lc in layers):
        edges = np.unique(np.concatenate([lc.layer.r_edges_mm for lc in layers]))
        radial = np.zeros((len(energies_mev), len(edges) - 1))
        for lc in layers:
            ring = np.clip(np.searchsorted(edges, lc.r_mm, side="right") - 1, 0, len(edges) - 2)
            radial += energies_mev[:, lc.cells].astype(np.float64) @ np.eye(len(edges) - 1)[ring]
        out["radial_profile"] = Profile(0.5 * (edges[1:] + edges[:-1]), radial, "radius of cell centre [mm]",
                                        "energy per radial bin [MeV]", log_y=True)
        return out
    for lc in layers:
        cells = energies_mev[:, lc.cells].astype(np.float64).reshape(len(energies_mev), *lc.layer.shape)
        xs = np.asarray(lc.layer.x_edges_mm)
        ys = np.asarray(lc.layer.y_edges_mm)
        name = _label(geometry, lc.number)
        out[f"{name}_x_profile"] = Profile(0.5 * (xs[1:] + xs[:-1]), cells.sum(axis=1), f"{name} x [mm]",
                                           "energy per column [MeV]", log_y=True)
        out[f"{name}_y_profile"] = Profile(0.5 * (ys[1:] + ys[:-1]), cells.sum(axis=2), f"{name} y [mm]",
                                           "energy per row [MeV]", log_y=True)
    return out


def energy_bins(reference_mev: np.ndarray, candidate_mev: np.ndarray,
                max_discrete: int = 20, n_continuous: int = 5) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Incident-energy bins for per-bin results: (label, reference mask, candidate mask).

    One energy: none (inclusive only). At most ``max_discrete`` distinct energies (the CaloChallenge
    ds1 ladder): one bin per energy. Otherwise ``n_continuous`` bins equal in log E spanning the
    reference's range, applied to both samples.
    """
    reference_mev = np.asarray(reference_mev, dtype=np.float64).reshape(-1)
    candidate_mev = np.asarray(candidate_mev, dtype=np.float64).reshape(-1)
    distinct = np.unique(reference_mev)
    if len(distinct) <= 1:
        return []
    if len(distinct) <= max_discrete:
        return [(f"E = {value / 1000:.4g} GeV", np.isclose(reference_mev, value, rtol=1e-6, atol=0),
                 np.isclose(candidate_mev, value, rtol=1e-6, atol=0)) for value in distinct]
    edges = np.geomspace(distinct[0], distinct[-1], n_continuous + 1)
    bins = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        closed = i == n_continuous - 1  # the last bin includes the reference's highest energy
        bins.append((f"E = {low / 1000:.3g}-{high / 1000:.3g} GeV",
                     _in_range(reference_mev, low, high, closed), _in_range(candidate_mev, low, high, closed)))
    return bins


def _in_range(values: np.ndarray, low: float, high: float, closed: bool) -> np.ndarray:
    return (values >= low) & ((values <= high) if closed else (values < high))


def _geometry(events: EventSet) -> Geometry:
    from surrogate.calorimeter.formats.layout import geometry_of

    return geometry_of(events.layout)


def event_observables(events: EventSet) -> dict[str, np.ndarray]:
    """:func:`shower_observables` of a shower EventSet (conditions column 0: incident energy in MeV)."""
    return shower_observables(events.events, events.conditions[:, 0], _geometry(events))


def event_cell_spectrum(events: EventSet) -> dict[str, PooledHistogram]:
    """:func:`cell_energy_spectrum` of a shower EventSet."""
    return cell_energy_spectrum(events.events, _geometry(events))


def event_profiles(events: EventSet) -> dict[str, Profile]:
    """:func:`shower_profiles` of a shower EventSet."""
    return shower_profiles(events.events, _geometry(events))
