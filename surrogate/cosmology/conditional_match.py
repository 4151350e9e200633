"""How the maps' generator terms compare per-map numbers of generated and real maps at the same parameters,
and the base class of those terms (:class:`MapTerm`).

Each term (the spectral one, the pixel-PDF one) reduces every map of a batch to a few numbers (log band
powers, log pixel quantiles) for the generated maps and for the real maps whose parameters the
generator was given, and asks two things of each number:

- the conditional mean: the paired differences generated - real are fitted linearly in the conditions
  over the batch (least squares on [1, c]); the fitted values are the bias at each map's parameters, and
  their mean square, in units of ``tolerance``, is the first part. Fitting, rather than squaring every
  difference, leaves the map-to-map scatter (cosmic variance) alone;
- the scatter: the rms about its own linear fit, generated against real, as a relative difference (the
  map-to-map scatter at fixed parameters).

Both parts are summed over the numbers.
"""
from __future__ import annotations

import torch


def conditional_mismatch(fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor, tolerance: float) -> torch.Tensor:
    """The two parts of the module docstring for (N, K) numbers of generated (differentiable) and real
    maps whose rows share the (N, C) standardised conditions ``c``; a bias of ``tolerance`` in one number
    costs 1."""
    with torch.no_grad():
        design = torch.cat([torch.ones(len(c), 1, device=c.device), c.float()], dim=1)
        # the least-squares projection onto the span of [1, c]; a small ridge keeps it defined
        gram = design.T @ design + 1e-3 * torch.eye(design.shape[1], device=c.device)
        projection = design @ torch.linalg.solve(gram, design.T)
        real_scatter = _rms(real - projection @ real, len(c) - design.shape[1])
    bias = projection @ (fake - real)
    mean_part = (bias / tolerance).square().mean(dim=0).sum()
    fake_scatter = _rms(fake - projection @ fake, len(c) - design.shape[1])
    scatter_part = ((fake_scatter - real_scatter) / real_scatter.clamp(min=1e-3)).square().sum()
    return mean_part + scatter_part


def _rms(residuals: torch.Tensor, degrees_of_freedom: int) -> torch.Tensor:
    """Per-column scatter of residuals about a fit with ``len - degrees_of_freedom`` parameters."""
    return (residuals.square().sum(dim=0) / max(degrees_of_freedom, 1) + 1e-12).sqrt()


def physical_maps(preprocessor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Network-space maps -> (N, P, P) non-negative physical maps (map + offset: rho / rho_mean for contrast)."""
    return preprocessor.inverse(y.float(), c) + preprocessor.offset


class MapTerm:
    """A generator term on per-map numbers: a subclass sets ``name`` and ``tolerance`` and defines
    ``numbers(x) -> (N, K)`` of physical maps; ``weight`` scales :func:`conditional_mismatch`.

    ``term(preprocessor, fake, real, c) -> (value, {name: value})`` takes network-space maps;
    :meth:`compare` takes physical ones, so that several terms share one inverse transform per step.
    """

    name = ""
    tolerance = 0.1

    def __init__(self, weight: float):
        self.weight = weight

    def numbers(self, maps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, preprocessor, fake: torch.Tensor, real: torch.Tensor,
                 c: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.no_grad():
            real_maps = physical_maps(preprocessor, real, c)
        return self.compare(physical_maps(preprocessor, fake, c), real_maps, c)

    def compare(self, fake_maps: torch.Tensor, real_maps: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake_numbers = self.numbers(fake_maps)
        with torch.no_grad():
            real_numbers = self.numbers(real_maps)
        value = self.weight * conditional_mismatch(fake_numbers, real_numbers, c, self.tolerance)
        return value, {self.name: value.detach()}
