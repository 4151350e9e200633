"""Cell-spectrum calibration: a monotone map of generated cell energies onto the simulator's spectrum.

A GAN learns the layer energies and the shower's shape long before it learns the spectrum of single cell
energies: its cells spread smoothly down to the readout threshold where the simulator's cells are either
empty or carry about a MIP or more. This stage corrects that after the generator, as the sorted
cell-energy post-processors of the field do (Buhmann et al. 2021), but without training: per readout
layer and per bin of incident energy it maps each generated cell's log energy through the generated
cells' distribution function onto the training cells' quantiles (quantile mapping), including the
fraction of empty cells, and then rescales the layer so its energy is the generator's. The order of
cells within a layer is kept, so the shower's shape is the generator's; what changes is how unevenly
energy is shared and how many cells are hit.

It is fitted (:meth:`CellSpectrumCalibration.fit`) on generated showers at the training showers'
energies and on the training showers themselves, and stored with the model's preprocessing.
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
    """Quantile mapping of cell energies per (incident-energy bin, layer group); inactive until fitted.

    groups: (n_values,) layer group of each event entry; ``cell_mask`` marks the entries that are cells
    (overflow entries are left as they are).
    """

    def __init__(self, groups: torch.Tensor, cell_mask: torch.Tensor, energy_bins: int = ENERGY_BINS,
                 quantiles: int = QUANTILES):
        super().__init__()
        n_groups = int(groups.max()) + 1
        self.register_buffer("active", torch.zeros((), dtype=torch.bool))
        self.register_buffer("groups", groups.clone())
        self.register_buffer("cell_mask", cell_mask.clone())
        # the cells of each group side by side, padded to the largest group: one batched mapping for all
        members = [torch.nonzero((groups == g) & cell_mask).squeeze(1) for g in range(n_groups)]
        width = max(len(m) for m in members)
        self.register_buffer("member_index", torch.stack([torch.cat([m, m.new_zeros(width - len(m))])
                                                          for m in members]))
        self.register_buffer("member_valid", torch.stack([torch.arange(width) < len(m) for m in members]))
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
        self.register_load_state_dict_post_hook(lambda module, _: module._tabulate())

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
        return torch.bucketize(torch.log(incident_mev.double()).contiguous(), inner)

    def _describe(self, cells: torch.Tensor, bins: torch.Tensor, knots: torch.Tensor, empty: torch.Tensor) -> None:
        """Fill ``knots``/``empty`` with each (bin, group)'s log10 quantiles of hit cells and empty fraction."""
        for b in range(knots.shape[0]):
            rows = cells[bins == b]
            for g in range(self.n_groups):
                values = rows[:, (self.groups == g) & self.cell_mask]
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
        # a (bin, layer) with no hits on either side maps nothing: identity knots, equal empty fractions
        identity = torch.linspace(-6.0, 6.0, self.levels.numel(), dtype=torch.float64)
        for knots in (self.generated_knots, self.target_knots):
            knots[~usable] = identity
        self.target_empty[~usable] = self.generated_empty[~usable].nan_to_num(0.0)
        self.generated_empty.nan_to_num_(0.0)
        self.target_empty.nan_to_num_(0.0)
        self._tabulate()
        self.active.fill_(True)

    def forward(self, cells: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        """Calibrated showers (N, n_values) MeV: cells mapped, each layer rescaled to its energy before."""
        if not bool(self.active):
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
        mapped = torch.where(hit & (u >= target_empty), torch.pow(10.0, log_mapped), torch.zeros_like(values))
        before = (values * self.member_valid).sum(dim=2, keepdim=True)
        after = mapped.sum(dim=2, keepdim=True)
        mapped = torch.where(after > 0, mapped * before / after.clamp_min(1e-30), values)
        out = cells.clone()
        out[:, self.member_index[self.member_valid]] = mapped[:, self.member_valid].to(cells.dtype)
        return out


def _lookup(table: torch.Tensor, offset: torch.Tensor, position: torch.Tensor, row_length: int) -> torch.Tensor:
    """Linear interpolation within rows of a flat table: a row starts at ``offset`` and holds
    ``row_length`` values; ``position`` (in [0, row_length - 1]) is fractional."""
    below = position.floor().clamp(max=row_length - 2)
    index = offset + below.long()
    weight = position - below
    return torch.take(table, index) * (1 - weight) + torch.take(table, index + 1) * weight


def cell_mask_of(geometry, n_values: int) -> torch.Tensor:
    """True for the event entries that are cells of the geometry (not overflow entries)."""
    mask = np.zeros(n_values, dtype=bool)
    mask[:geometry.n_cells] = True
    return torch.as_tensor(mask)
