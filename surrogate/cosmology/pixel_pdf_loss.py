"""A generator term that matches the one-point pixel distribution of generated maps to the real batch's.

With the spectral term the maps' power spectrum comes within about 10%, yet the statistics of single
pixels stay the furthest from the simulator's (docs/cosmology.md): too many near-empty void pixels, too
few of the densest, and so wrong void fractions, skewness and peak counts. The critic sees pixels, but a
shift of a few percent in a tail holds few of them. This term reduces every physical map x (the
preprocessor's inverse, rho / rho_mean) to ``QUANTILES`` quantiles of ln x, evenly spaced in
probability from the 0.5% to the 99.5% point, and compares them with the real maps' of the same
parameters as the spectral term compares band powers (:mod:`surrogate.cosmology.conditional_match`):
the fitted conditional bias of each quantile in units of ``TOLERANCE`` (0.1 in ln x: 10% in density),
and its map-to-map scatter. Sorting passes gradients to the pixels that hold each quantile.
"""
from __future__ import annotations

import torch

from surrogate.cosmology.conditional_match import MapTerm

#: How many quantiles of ln x describe a map's pixel distribution.
QUANTILES = 16
#: The conditional bias of ln x at a quantile that costs ``weight``.
TOLERANCE = 0.1
#: The smallest x the logarithm sees (emptier pixels count as this; real maps reach about 0.03).
FLOOR = 1e-3


class PixelPdfLoss(MapTerm):
    """``loss(preprocessor, fake, real, c) -> (value, {name: value})``: see the module docstring."""

    name = "pixel_pdf"
    tolerance = TOLERANCE

    def __init__(self, weight: float):
        super().__init__(weight)
        self.probabilities = torch.linspace(0.005, 0.995, QUANTILES)

    def pixel_values(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, P, P) non-negative maps -> (N, P, P): the per-pixel quantity whose distribution is matched, ln x."""
        return torch.log(maps.float().clamp(min=FLOOR))

    def numbers(self, maps: torch.Tensor) -> torch.Tensor:
        return self.log_quantiles(maps)

    def log_quantiles(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, P, P) non-negative maps -> (N, QUANTILES): :meth:`pixel_values` at the probabilities, nearest rank."""
        values = self.pixel_values(maps).reshape(len(maps), -1).sort(dim=1).values
        ranks = (self.probabilities * (values.shape[1] - 1)).round().long().to(maps.device)
        return values[:, ranks]



class LocalContrastPdfLoss(PixelPdfLoss):
    """The same comparison for ln(x / the mean of x over the pixel's 3x3 neighbourhood), the pixel-scale
    texture: the spectral runs' maps are rougher than the simulator's at the scale of one pixel (rms 0.38
    against 0.34), which makes about 6% too many local maxima, the peak counts that lead the benchmark's
    W1/floor ratios. Model option ``local_pdf_weight``."""

    name = "local_pdf"

    def pixel_values(self, maps: torch.Tensor) -> torch.Tensor:
        x = maps.float().clamp(min=FLOOR)
        neighbourhood = torch.nn.functional.avg_pool2d(
            torch.nn.functional.pad(x[:, None], (1, 1, 1, 1), mode="circular"), 3, stride=1)[:, 0]
        return torch.log(x) - torch.log(neighbourhood)
