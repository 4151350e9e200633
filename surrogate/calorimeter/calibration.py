"""Cell-spectrum calibration: a monotone map of generated cell energies onto the simulator's spectrum.

A GAN learns the layer energies and the shower's overall shape long before it learns how single cells
are hit: its cells spread smoothly over orders of magnitude where the simulator's are either empty or
carry about a MIP or more, its rings share energy too unevenly, and its outer rings stay nearly empty.
This stage corrects that after the generator, in the spirit of the sorted cell-energy post-processors
of the field (Buhmann et al. 2021) but without training: per incident-energy bin and per group of cells
(a radial ring of a layer: cells at one distance from the shower axis behave alike) it maps each
generated cell's log energy through the generated cells' distribution function onto the training
cells' quantiles, the empty cells included (quantile mapping), and then rescales each layer so its
energy is the generator's. The order of cells within a group is kept, so the shower's shape is the
generator's; what changes is how many cells are hit, how unevenly energy is shared, and the radial
profile.

It works on the generator's continuous cell energies, before the readout threshold (every generated
cell is a candidate hit; the fraction that stays empty is the training showers'). It is fitted
(:meth:`CellSpectrumCalibration.fit`) on generated showers at the training showers' energies and on the
training showers themselves, and stored with the model's preprocessing.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Bins of log incident energy, and quantile levels per (bin, layer).
ENERGY_BINS = 6
QUANTILES = 65
#: Points of the uniform log10-energy grid on which each generated distribution function is tabulated,
#: so that mapping a cell is two table look-ups instead of a binary search.
GRID_POINTS = 512


def _quantiles(values: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Quantiles of ``values`` (1-D, may be empty) at ``levels``; NaN when empty."""
    if values.numel() == 0:
        return torch.full_like(levels, float("nan"))
    return torch.quantile(values, levels)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Row-wise linear interpolation: x (N, M), increasing xp and fp (N, Q) -> (N, M), clamped at the ends."""
    index = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, xp.shape[1] - 1)
    x0, x1 = xp.gather(1, index - 1), xp.gather(1, index)
    f0, f1 = fp.gather(1, index - 1), fp.gather(1, index)
    weight = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0, 1)
    return f0 + weight * (f1 - f0)


class CellSpectrumCalibration(nn.Module):
    """Quantile mapping of cell energies per (incident-energy bin, cell group); inactive until fitted.

    layers: (n_values,) layer group of each event entry (layer energies are kept per layer group);
    rings: (n_values,) calibration group of each entry (:func:`calibration_rings`), -1 for entries left
    as they are (overflow entries).
    """

    def __init__(self, layers: torch.Tensor, rings: torch.Tensor, energy_bins: int = ENERGY_BINS,
                 quantiles: int = QUANTILES):
        super().__init__()
        n_groups = int(rings.max()) + 1
        self.register_buffer("active", torch.zeros((), dtype=torch.bool))
        self.register_buffer("layers", layers.clone())
        self.register_buffer("rings", rings.clone())
        # the cells of each group side by side, padded to the largest group: one batched mapping for all
        members = [torch.nonzero(rings == g).squeeze(1) for g in range(n_groups)]
        width = max(len(m) for m in members)
        self.register_buffer("member_index", torch.stack([torch.cat([m, m.new_zeros(width - len(m))])
                                                          for m in members]))
        self.register_buffer("member_valid", torch.stack([torch.arange(width) < len(m) for m in members]))
        valid = self.member_valid.reshape(-1)  # where the padded layout's real cells sit, flat (not saved)
        self.register_buffer("valid_positions", torch.nonzero(valid).squeeze(1), persistent=False)
        self.register_buffer("valid_entries", self.member_index.reshape(-1)[valid], persistent=False)
        self.is_active = False  # mirrors the ``active`` buffer as a plain bool, so export traces one branch
        self.register_buffer("log_energy_edges", torch.zeros(energy_bins + 1, dtype=torch.float64))
        self.register_buffer("levels", torch.linspace(0, 1, quantiles, dtype=torch.float64))
        shape = (energy_bins, n_groups, quantiles)
        self.register_buffer("generated_knots", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("target_knots", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("generated_empty", torch.zeros(shape[:2], dtype=torch.float64))
        self.register_buffer("target_empty", torch.zeros(shape[:2], dtype=torch.float64))
        # derived from the knots (not saved): the generated distribution functions on a uniform grid
        self.register_buffer("cdf_table", torch.zeros(energy_bins * n_groups * GRID_POINTS), persistent=False)
        self.register_buffer("grid", torch.zeros(2), persistent=False)  # lowest log10 energy, grid step
        self.register_load_state_dict_post_hook(lambda module, _: module._after_load())

    def _after_load(self) -> None:
        self.is_active = bool(self.active)
        self._tabulate()

    def _tabulate(self) -> None:
        """Tabulate every generated distribution function of hit cells on one uniform log10-energy grid."""
        knots = self.generated_knots
        low, high = float(knots.min()), float(knots.max())
        step = max(high - low, 1e-6) / (GRID_POINTS - 1)
        grid = low + step * torch.arange(GRID_POINTS, dtype=torch.float64, device=knots.device)
        flat = knots.reshape(-1, knots.shape[-1])
        cdf = _interp(grid.expand(len(flat), -1), flat, self.levels.expand(len(flat), -1))
        self.cdf_table.copy_(cdf.reshape(-1).float())
        self.grid.copy_(torch.tensor([low, step]))

    @property
    def n_groups(self) -> int:
        return self.generated_knots.shape[1]

    def _bins(self, incident_mev: torch.Tensor) -> torch.Tensor:
        inner = self.log_energy_edges[1:-1].to(incident_mev.device)
        return (torch.log(incident_mev.double())[:, None] > inner).sum(dim=1)

    def _describe(self, cells: torch.Tensor, bins: torch.Tensor, knots: torch.Tensor, empty: torch.Tensor) -> None:
        """Fill ``knots``/``empty`` with each (bin, group)'s log10 quantiles of hit cells and empty fraction."""
        for b in range(knots.shape[0]):
            rows = cells[bins == b]
            for g in range(self.n_groups):
                values = rows[:, self.rings == g]
                if values.numel() == 0:
                    knots[b, g], empty[b, g] = float("nan"), float("nan")
                    continue
                hits = values[values > 0]
                empty[b, g] = 1 - hits.numel() / values.numel()
                knots[b, g] = _quantiles(torch.log10(hits.double()), self.levels)

    @torch.no_grad()
    def fit(self, generated: torch.Tensor, target: torch.Tensor, incident_mev: torch.Tensor) -> None:
        """Fit on generated and training showers (N, n_values) MeV at the same incident energies (N,)."""
        log_energy = torch.log(incident_mev.double())
        self.log_energy_edges.copy_(torch.linspace(float(log_energy.min()), float(log_energy.max()),
                                                   len(self.log_energy_edges), dtype=torch.float64))
        bins = self._bins(incident_mev)
        self._describe(generated.double(), bins, self.generated_knots, self.generated_empty)
        self._describe(target.double(), bins, self.target_knots, self.target_empty)
        usable = torch.isfinite(self.generated_knots).all(-1) & torch.isfinite(self.target_knots).all(-1)
        # where either side has no hits the knots carry nothing: identity knots. Then the empty fractions
        # decide: a group never hit in training showers stays empty (its layer's energy goes to the
        # layer's hottest cell), one never hit by the generator has nothing to map.
        identity = torch.linspace(-6.0, 6.0, self.levels.numel(), dtype=torch.float64)
        for knots in (self.generated_knots, self.target_knots):
            knots[~usable] = identity
        self.generated_empty.nan_to_num_(0.0)
        self.target_empty.nan_to_num_(0.0)  # no showers in the bin at all: map as generated
        self._tabulate()
        self.active.fill_(True)
        self.is_active = True

    def forward(self, cells: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        """Calibrated showers (N, n_values) MeV: cells mapped, each layer rescaled to its energy before."""
        if not self.is_active:
            return cells
        n_groups, quantiles = self.n_groups, self.levels.numel()
        values = cells[:, self.member_index].float()  # (N, groups, width): every layer's cells side by side
        hit = (values > 0) & self.member_valid
        row = (self._bins(incident_mev.reshape(-1))[:, None] * n_groups
               + torch.arange(n_groups, device=cells.device))  # (N, groups): which (bin, layer) table
        gen_empty = self.generated_empty.float().reshape(-1)[row][..., None]
        target_empty = self.target_empty.float().reshape(-1)[row][..., None]
        low, step = self.grid[0], self.grid[1]
        position = ((torch.log10(values.clamp_min(1e-30)) - low) / step).clamp(0, GRID_POINTS - 1)
        u_hit = _lookup(self.cdf_table, row[..., None] * GRID_POINTS, position, GRID_POINTS)
        u = gen_empty + (1 - gen_empty) * u_hit  # distribution function over all the layer's cells
        u_target = ((u - target_empty) / (1 - target_empty).clamp_min(1e-12)).clamp(0, 1)
        log_mapped = _lookup(self.target_knots.float().reshape(-1), row[..., None] * quantiles,
                             u_target * (quantiles - 1), quantiles)
        mapped = torch.where(hit & (u > target_empty), torch.pow(10.0, log_mapped), torch.zeros_like(values))
        out = cells.clone()
        out[:, self.valid_entries] = mapped.reshape(len(cells), -1)[:, self.valid_positions].to(cells.dtype)
        # each layer keeps the generator's energy; in a layer the mapping emptied, its hottest cell takes it
        touched = self.rings >= 0
        before, after = self._layer_sums(cells * touched), self._layer_sums(out * touched)
        emptied = ((after <= 0) & (before > 0))[:, self.layers]
        hottest = touched & (cells == self._layer_max(cells * touched)[:, self.layers])
        single = torch.where(hottest, before[:, self.layers], torch.zeros_like(cells))
        scale = torch.where(after > 0, before / after.clamp_min(1e-30), torch.ones_like(after))[:, self.layers]
        return torch.where(emptied & touched, single, torch.where(touched, out * scale, out))

    def _layer_sums(self, cells: torch.Tensor) -> torch.Tensor:
        n_layers = int(self.layers.max()) + 1
        return cells.new_zeros(len(cells), n_layers).index_add_(1, self.layers, cells)

    def _layer_max(self, cells: torch.Tensor) -> torch.Tensor:
        n_layers = int(self.layers.max()) + 1
        index = self.layers.expand_as(cells)
        return cells.new_zeros(len(cells), n_layers).scatter_reduce(1, index, cells, "amax", include_self=False)


def _lookup(table: torch.Tensor, offset: torch.Tensor, position: torch.Tensor, row_length: int) -> torch.Tensor:
    """Linear interpolation within rows of a flat table: a row starts at ``offset`` and holds
    ``row_length`` values; ``position`` (in [0, row_length - 1]) is fractional."""
    below = position.floor().clamp(max=row_length - 2)
    index = offset + below.long()
    weight = position - below
    return torch.take(table, index) * (1 - weight) + torch.take(table, index + 1) * weight


def calibration_rings(geometry, cartesian_rings: int = 4) -> torch.Tensor:
    """The calibration group of each event entry: one per radial ring of each layer (the radial bins of
    a polar layer; ``cartesian_rings`` bands of equal cell count in distance from the axis for a
    rectangular one), numbered 0, 1, ... across layers; -1 for overflow entries."""
    from surrogate.calorimeter.geometry import PolarLayer
    from surrogate.calorimeter.observables import layer_cells

    rings = np.full(geometry.n_values, -1, dtype=np.int64)
    next_ring = 0
    for layer in layer_cells(geometry):
        if isinstance(layer.layer, PolarLayer):
            local = np.arange(layer.layer.size) % layer.layer.shape[1]  # radius fastest
        else:
            edges = np.quantile(layer.r_mm, np.linspace(0, 1, cartesian_rings + 1)[1:-1])
            local = np.searchsorted(edges, layer.r_mm, side="right")
        _, local = np.unique(local, return_inverse=True)
        rings[layer.cells] = next_ring + local
        next_ring += int(local.max()) + 1
    return torch.as_tensor(rings)
