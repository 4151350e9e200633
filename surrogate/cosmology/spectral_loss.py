"""A generator term that matches the power spectrum of generated maps to the real batch's.

The critic of a map GAN judges pixels; it is slow to notice a few-percent error in the power of the
largest modes, each map holding only a handful of them. This term looks at exactly that. For every
map of a batch it takes log band powers (the mean |FFT|^2 of the modes in logarithmic k bands from the
fundamental mode to Nyquist), on the physical maps (the preprocessor's inverse), and compares
generated with real maps of the same parameters (the generator step draws them for the real batch's
conditions):

- the conditional mean: the paired differences d_i = log P_gen,i - log P_real,i are fitted linearly in
  the conditions over the batch (least squares on [1, c]); the fitted values are the bias of the mean
  log power at each map's parameters, and their mean square is the first term. Fitting, rather than
  squaring every d_i, leaves the map-to-map scatter (cosmic variance) alone;
- the scatter: the rms of log P_gen about its own fit against that of log P_real (the map-to-map
  scatter at fixed parameters, cosmic variance for the real maps), per band.

Both are divided by the real maps' scatter per band, summed over bands and scaled by ``weight``
(model option ``spectral_weight``). The cosmogan_pytorch map GANs (Ayyar et al.) add a spectral term of
this kind, on the mean and variance of P(k) of the inverse-transformed maps; the conditional fit is ours.
"""
from __future__ import annotations

import numpy as np
import torch

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


class SpectralLoss:
    """``loss(preprocessor, fake, real, c) -> (value, {name: value})``: see the module docstring."""

    name = "spectral"

    def __init__(self, map_size: int, weight: float):
        self.weight = weight
        index, self.bands = band_index(map_size)
        keep = index >= 0
        self._modes = torch.nonzero(keep).ravel()
        self._band = index[keep]
        self._counts = torch.bincount(self._band, minlength=self.bands).float()

    def log_band_power(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, P, P) maps -> (N, bands) natural log of the mean |FFT|^2 per band (normalisation aside)."""
        maps = maps - maps.mean(dim=(-2, -1), keepdim=True)
        power = torch.fft.rfft2(maps.float()).abs().square().reshape(len(maps), -1)
        modes, band = self._modes.to(maps.device), self._band.to(maps.device)
        summed = torch.zeros(len(maps), self.bands, device=maps.device).index_add_(1, band, power[:, modes])
        mean = summed / self._counts.to(maps.device)
        return torch.log(mean + POWER_FLOOR * mean.detach().mean(dim=0, keepdim=True))

    def __call__(self, preprocessor, fake: torch.Tensor, real: torch.Tensor,
                 c: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake_log = self.log_band_power(preprocessor.inverse(fake.float(), c))
        with torch.no_grad():
            real_log = self.log_band_power(preprocessor.inverse(real.float(), c))
            design = torch.cat([torch.ones(len(c), 1, device=c.device), c.float()], dim=1)
            # the least-squares projection onto the span of [1, c]; a small ridge keeps it defined
            gram = design.T @ design + 1e-3 * torch.eye(design.shape[1], device=c.device)
            projection = design @ torch.linalg.solve(gram, design.T)
            real_scatter = _rms(real_log - projection @ real_log, len(c) - design.shape[1])
            scale = real_scatter.clamp(min=1e-3)
        bias = projection @ (fake_log - real_log)
        mean_term = (bias / scale).square().mean(dim=0).sum()
        fake_scatter = _rms(fake_log - projection @ fake_log, len(c) - design.shape[1])
        spread_term = ((fake_scatter - real_scatter) / scale).square().sum()
        value = self.weight * (mean_term + spread_term)
        return value, {self.name: value.detach()}


def _rms(residuals: torch.Tensor, degrees_of_freedom: int) -> torch.Tensor:
    """Per-band scatter of residuals about a fit with ``len - degrees_of_freedom`` parameters."""
    return (residuals.square().sum(dim=0) / max(degrees_of_freedom, 1) + 1e-12).sqrt()
