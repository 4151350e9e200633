"""Showers <-> network space: an exactly invertible map that keeps energies positive and zeros exact.

A shower (N, n_values) in MeV at incident energy E_inc becomes, per event, the features

    t_0   = log(E_tot / E_inc + alpha)                       1 value: total response
    t_k   = log(E_k / E_tot + alpha)                         one per layer k: layer energy fractions
    t_i   = log(e_i / E_k(i) + alpha)                        one per cell i: cell fraction of its layer

each standardised with a mean and standard deviation fitted on the training showers (at least
:data:`FRACTION_STD_FLOOR` for the fractions), where E_k is
the energy of layer k (its cells plus its overflow entry, if the geometry has one). The fractions of
an empty layer (or an empty shower's layer fractions) are set uniform: they multiply an energy of 0,
so any values invert to the same shower, and uniform ones keep every fraction block on its simplex
(see :class:`~surrogate.calorimeter.networks.SimplexHead`). The condition is log(E_inc), standardised
the same way.

The inverse undoes each step: exp(t) - alpha clipped at 0, fractions renormalised to sum to 1 within
the event and within each layer, and cells below ``threshold_mev`` set to exactly 0, their energy
shared among the layer's remaining cells (so the layer and total energies are kept). The threshold is
the smallest positive cell energy in the training data (slightly lowered against rounding), so a
real shower maps back to itself to float precision, while generated cells that sit in the zero spike
come out as exact zeros, as a detector's readout threshold would make them.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from surrogate.calorimeter.geometry import Geometry

#: Offset inside the logarithms: fractions far below it are indistinguishable from zero.
ALPHA = 1e-6
#: Smallest standard deviation (in log units) used for a fraction feature: a cell that is almost
#: always empty would otherwise be scaled up enormously, and dominate the critic's input.
FRACTION_STD_FLOOR = 1.0
#: The inverse's threshold is the training data's smallest positive cell energy times this.
THRESHOLD_MARGIN = 1 - 1e-3


def value_groups(geometry: Geometry) -> np.ndarray:
    """The layer group (0..K-1) of every entry of the event vector; layers with no entries get none."""
    groups = np.empty(geometry.n_values, dtype=np.int64)
    next_group = 0
    for number, cells in enumerate(geometry.layer_slices()):
        has_overflow = geometry.overflow
        if cells.stop == cells.start and not has_overflow:
            continue
        groups[cells] = next_group
        if has_overflow:
            groups[geometry.n_cells + number] = next_group
        next_group += 1
    return groups


class ShowerPreprocessor(nn.Module):
    """The invertible map described in the module docstring; buffers are set by :meth:`fit`.

    groups: (n_values,) layer group of each event entry (:func:`value_groups`).
    log_conditions: per condition column, whether its logarithm is taken (energies) before
        standardising.
    calibration: a :class:`~surrogate.calorimeter.calibration.CellSpectrumCalibration` that, once
        fitted (:meth:`fit_output_calibration`), takes the inverse's cells before the readout threshold
        and gives them the training cells' spectrum; or None.
    response_weight: the response feature is standardised to a standard deviation of this, not 1.
        A gradient-penalised critic has a gradient norm of about 1 to spend over all 1 + K + n_values
        inputs and spends it on the thousands of cells; widening the one response input makes its
        distribution weigh more in the critic's distance (the inverse undoes it exactly).
    """

    def __init__(self, groups: np.ndarray, log_conditions: Sequence[bool], alpha: float = ALPHA,
                 response_weight: float = 1.0, calibration: nn.Module | None = None):
        super().__init__()
        self.calibration = calibration  # replaces the threshold in inverse() once fit_output_calibration ran
        self.response_weight = response_weight
        self.mean_fraction_logits: torch.Tensor | None = None  # log(mean fraction + alpha), set by fit
        groups = torch.as_tensor(np.asarray(groups), dtype=torch.long)
        self.n_groups = int(groups.max()) + 1
        self.n_values = len(groups)
        self.alpha = alpha
        n_features = 1 + self.n_groups + self.n_values
        self.register_buffer("groups", groups)
        self.register_buffer("log_conditions", torch.as_tensor(list(log_conditions), dtype=torch.bool))
        self.register_buffer("condition_mean", torch.zeros(len(log_conditions), dtype=torch.float64))
        self.register_buffer("condition_std", torch.ones(len(log_conditions), dtype=torch.float64))
        self.register_buffer("feature_mean", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("feature_std", torch.ones(n_features, dtype=torch.float64))
        self.register_buffer("threshold_mev", torch.zeros((), dtype=torch.float64))

    @property
    def n_features(self) -> int:
        """Length of one event in network space: 1 + layers + event entries."""
        return 1 + self.n_groups + self.n_values

    @property
    def n_conditions(self) -> int:
        return len(self.log_conditions)

    def _group_sums(self, values: torch.Tensor) -> torch.Tensor:
        sums = values.new_zeros(len(values), self.n_groups)
        return sums.index_add_(1, self.groups, values)

    def _raw_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        return torch.where(self.log_conditions, torch.log(conditions.clamp_min(1e-30)), conditions)

    def _group_sizes(self) -> torch.Tensor:
        return torch.bincount(self.groups, minlength=self.n_groups)

    def raw_features(self, events: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        """Unstandardised features: log(response + alpha), then log(fraction + alpha) of layers and cells."""
        cells = events.reshape(len(events), -1).clamp_min(0)
        layer_mev = self._group_sums(cells)
        total_mev = layer_mev.sum(dim=1, keepdim=True)
        response = total_mev / incident_mev.reshape(-1, 1)
        uniform_layers = torch.full_like(layer_mev, 1.0 / self.n_groups)
        layer_fraction = torch.where(total_mev > 0, layer_mev / total_mev.clamp_min(1e-30), uniform_layers)
        own_layer = layer_mev[:, self.groups]
        uniform_cells = (1.0 / self._group_sizes().to(cells.dtype))[self.groups].expand_as(cells)
        cell_fraction = torch.where(own_layer > 0, cells / own_layer.clamp_min(1e-30), uniform_cells)
        return torch.log(torch.cat([response, layer_fraction, cell_fraction], dim=1) + self.alpha)

    @torch.no_grad()
    def fit(self, events: np.ndarray, conditions: np.ndarray, chunk_events: int = 4096) -> "ShowerPreprocessor":
        """Set the standardisation constants and the threshold from training showers (float64 sums)."""
        conditions = torch.as_tensor(np.asarray(conditions, dtype=np.float64))
        raw_conditions = self._raw_conditions(conditions)
        self.condition_mean.copy_(raw_conditions.mean(dim=0))
        self.condition_std.copy_(_safe_std(raw_conditions.std(dim=0, correction=0)))
        total = torch.zeros(self.n_features, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        total_linear = torch.zeros_like(total)
        smallest = torch.tensor(np.inf, dtype=torch.float64)
        for start in range(0, len(events), chunk_events):
            chunk = torch.as_tensor(np.asarray(events[start:start + chunk_events], dtype=np.float64))
            chunk = chunk.reshape(len(chunk), -1)
            features = self.raw_features(chunk, conditions[start:start + chunk_events, 0])
            total += features.sum(dim=0)
            total_sq += features.square().sum(dim=0)
            total_linear += (torch.exp(features) - self.alpha).clamp_min(0).sum(dim=0)
            positive = chunk[chunk > 0]
            if len(positive):
                smallest = torch.minimum(smallest, positive.min())
        mean = total / len(events)
        variance = (total_sq / len(events) - mean.square()).clamp_min(0)
        self.feature_mean.copy_(mean)
        std = _safe_std(variance.sqrt())
        std[1:] = std[1:].clamp_min(FRACTION_STD_FLOOR)
        std[0] = std[0] / self.response_weight  # a wider response in network space: see the class docstring
        self.feature_std.copy_(std)
        self.threshold_mev.copy_(smallest * THRESHOLD_MARGIN if torch.isfinite(smallest) else 0.0)
        # log(arithmetic mean fraction + alpha) per feature (the response's entry unused): the generator
        # head's logits at a raw output of 0. Not a buffer: only needed when a model is built.
        self.mean_fraction_logits = torch.log(total_linear / len(events) + self.alpha)
        return self

    def transform_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        """Standardised log incident energy (and any other condition columns), shape (N, C)."""
        mean, std = self.condition_mean.to(conditions.dtype), self.condition_std.to(conditions.dtype)
        return (self._raw_conditions(conditions) - mean) / std

    def forward(self, events: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Physical showers (N, n_values) MeV and conditions (N, C) -> network space (x, c)."""
        dtype = events.dtype
        features = self.raw_features(events, conditions[:, 0].to(dtype))
        x = (features - self.feature_mean.to(dtype)) / self.feature_std.to(dtype)
        return x, self.transform_conditions(conditions.to(dtype))

    def inverse(self, x: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """Network-space showers (N, n_features) and physical conditions -> showers in MeV, >= 0."""
        cells, layer_mev = self._continuous_cells(x, conditions)
        if self.calibration is not None and self.calibration.is_active:
            cells = self.calibration(cells, conditions[:, 0].to(cells.dtype))
        cells = torch.where(cells >= self.threshold_mev.to(x.dtype), cells, torch.zeros((), dtype=x.dtype,
                                                                                        device=x.device))
        # the energy of the cells set to 0 goes back to the layer's other cells: E_k and E_tot stay as generated
        kept = self._group_sums(cells)
        scale = torch.where(kept > 0, layer_mev / kept.clamp_min(1e-30), torch.zeros_like(kept))
        return cells * scale[:, self.groups]

    def _continuous_cells(self, x: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell energies (MeV) before the readout threshold, and the layer energies (MeV)."""
        dtype = x.dtype
        features = x * self.feature_std.to(dtype) + self.feature_mean.to(dtype)
        fractions = (torch.exp(features) - self.alpha).clamp_min(0)
        response = fractions[:, :1]
        layer_fraction = _normalise(fractions[:, 1:1 + self.n_groups])
        cell_share = fractions[:, 1 + self.n_groups:]
        cell_fraction = cell_share / self._group_sums(cell_share)[:, self.groups].clamp_min(1e-30)
        layer_mev = layer_fraction * (response * conditions[:, :1].to(dtype))
        return cell_fraction * layer_mev[:, self.groups], layer_mev

    @torch.no_grad()
    def fit_output_calibration(self, sample: Callable[[torch.Tensor], torch.Tensor], events: np.ndarray,
                               conditions: np.ndarray, batch_size: int = 1024) -> None:
        """Fit the calibration (if any) so that showers generated at ``conditions`` get the cell spectrum
        of the training ``events`` (N, n_values) MeV. ``sample(conditions) -> x`` runs the generator on
        physical conditions (a tensor on this module's device) and returns network-space showers."""
        if self.calibration is None:
            return
        device = self.feature_mean.device
        generated = []
        for start in range(0, len(conditions), batch_size):
            c = torch.as_tensor(np.asarray(conditions[start:start + batch_size]), dtype=torch.float32, device=device)
            generated.append(self._continuous_cells(sample(c).float(), c)[0])
        target = torch.as_tensor(np.asarray(events), dtype=torch.float32, device=device).reshape(len(events), -1)
        incident = torch.as_tensor(np.asarray(conditions)[:, 0], device=device)
        self.calibration.fit(torch.cat(generated), target, incident)


def _normalise(fractions: torch.Tensor) -> torch.Tensor:
    return fractions / fractions.sum(dim=1, keepdim=True).clamp_min(1e-30)


def _safe_std(std: torch.Tensor) -> torch.Tensor:
    """Standard deviations with constant features mapped to 1 (they carry no information)."""
    return torch.where(std > 1e-8, std, torch.ones_like(std))
