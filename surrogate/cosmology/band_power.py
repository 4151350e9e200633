"""Log band powers of maps inside the networks: the spectral term's and the critic's view of P(k).

Differentiable (twice, as the critic's gradient penalties need), on the device of the maps, in
logarithmic k bands from the fundamental mode to Nyquist. :mod:`surrogate.cosmology.observables` has the
estimator in physical units for validation; this one is in pixel units, for training.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Added to the band powers before the logarithm (in units of the batch's mean band power).
POWER_FLOOR = 1e-6


def band_index(map_size: int, bands: int = 10) -> tuple[torch.Tensor, int]:
    """For each mode of an rfft2 of ``map_size`` pixels, its logarithmic band (or -1: k = 0 or beyond
    Nyquist); bands run from the fundamental mode (|k| in units of k_f, from 0.5) to map_size / 2."""
    kx = np.fft.fftfreq(map_size, 1.0 / map_size)
    ky = np.fft.rfftfreq(map_size, 1.0 / map_size)
    k = np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2)
    edges = np.unique(np.round(np.geomspace(1.0, map_size / 2 + 1.0, bands + 1))) - 0.5
    index = np.digitize(k, edges) - 1
    index[(k < 0.5) | (index >= len(edges) - 1)] = -1
    return torch.as_tensor(index.ravel()), len(edges) - 1


class LogBandPower(nn.Module):
    """(N, P, P) maps -> (N, bands): the natural log of the mean |FFT|^2 per band (the map's mean, k = 0,
    is left out). Its tables are buffers that are not saved, so a model's state is the same with or
    without it."""

    def __init__(self, map_size: int):
        super().__init__()
        index, self.bands = band_index(map_size)
        keep = index >= 0
        band = index[keep]
        self.register_buffer("modes", torch.nonzero(keep).ravel(), persistent=False)
        self.register_buffer("band", band, persistent=False)
        self.register_buffer("counts", torch.bincount(band, minlength=self.bands).float(), persistent=False)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        spectrum = torch.view_as_real(torch.fft.rfft2(maps.float()))
        power = spectrum.square().sum(dim=-1).reshape(len(maps), -1)[:, self.modes]
        summed = torch.zeros(len(maps), self.bands, device=maps.device).index_add_(1, self.band, power)
        mean = summed / self.counts
        return torch.log(mean + POWER_FLOOR * mean.detach().mean(dim=0, keepdim=True))
