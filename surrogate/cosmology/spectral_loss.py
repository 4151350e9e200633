"""A generator term that matches the power spectrum of generated maps to the real batch's.

The critic of a map GAN judges pixels; it is slow to notice a few-percent error in the power of the
largest modes, each map holding only a handful of them. This term looks at exactly that. For every
map of a batch it takes two kinds of numbers from the physical map x (the preprocessor's inverse, x =
rho / rho_mean up to a factor):

- its level, log mean(x);
- its shape, the log band powers (the mean |FFT|^2 of the modes in logarithmic k bands from the
  fundamental mode to Nyquist) of x / mean(x) - 1.

The power of the contrast is level^2 times shape, so matching both matches P(k). Kept apart, a generator
cannot buy power by raising a map's level (which, through a log-like pixel transform, is the easy way
and pulls every map's mean density up). The term compares generated with real maps of the same
parameters (the generator step draws them for the real batch's conditions):

- the conditional mean of each number, fitted linearly in the parameters over the batch, in units of
  ``TOLERANCE``, and its scatter at fixed parameters (:mod:`surrogate.cosmology.conditional_match`).
  One tolerance for every band weighs a relative error of the largest scales as much as one of the
  smallest (dividing by each band's scatter instead let the largest scales stay 20-30% low).

Both are summed over the numbers and scaled by ``weight`` (model option ``spectral_weight``): a bias of
``TOLERANCE`` in one number costs ``weight``. The cosmogan_pytorch map GANs (Ayyar et al.) add a
spectral term of this kind, on the mean and variance of P(k) of the inverse-transformed maps; the
conditional fit and the level/shape split are ours.
"""
from __future__ import annotations

import torch

from surrogate.cosmology.band_power import LogBandPower
from surrogate.cosmology.conditional_match import MapTerm

#: The conditional bias, in natural-log units, that costs ``weight``: 0.1 is a 10% error in a band's power.
TOLERANCE = 0.1


class SpectralLoss(MapTerm):
    """``loss(preprocessor, fake, real, c) -> (value, {name: value})``: see the module docstring."""

    name = "spectral"
    tolerance = TOLERANCE

    def __init__(self, map_size: int, weight: float):
        super().__init__(weight)
        self._band_power = LogBandPower(map_size)

    def log_band_power(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, P, P) non-negative maps (rho / rho_mean up to a factor) -> (N, bands): the log band powers
        of each map divided by its own mean, so that no uniform change of a map's level can change them."""
        relative = maps / maps.mean(dim=(-2, -1), keepdim=True).clamp(min=1e-6) - 1.0
        return self._band_power.to(maps.device)(relative)

    def numbers(self, maps: torch.Tensor) -> torch.Tensor:
        return self.log_level_and_shape(maps)

    def log_level_and_shape(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, P, P) non-negative maps -> (N, 1 + bands): log mean(x), then :meth:`log_band_power`."""
        level = torch.log(maps.float().mean(dim=(-2, -1)).clamp(min=1e-6))
        return torch.cat([level[:, None], self.log_band_power(maps)], dim=1)
