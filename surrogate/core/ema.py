"""Exponential moving average of the generator's weights, with its half-life counted in samples.

Sampling from the averaged generator smooths out the oscillations of adversarial training. With a
half-life of H samples and a batch of B samples, each update keeps beta = 0.5 ** (B / H) of the old
average, so the meaning of H does not change with the batch size or the number of devices.
"""
from __future__ import annotations

import copy

import torch


class EMA:
    """A frozen copy of ``module`` that follows its weights (parameters lerped, buffers copied).

    halflife_samples: samples after which an old weight's influence has halved.
    rampup: if > 0, the half-life is at most ``rampup`` times the samples seen so far, so the
        average does not drag the random initial weights through the start of a short run.
    """

    def __init__(self, module: torch.nn.Module, halflife_samples: float, rampup: float = 0.0):
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.halflife_samples = float(halflife_samples)
        self.rampup = float(rampup)

    def beta(self, batch_samples: int, samples_seen: int) -> float:
        """The fraction of the old average kept by an update after ``samples_seen`` samples."""
        halflife = self.halflife_samples
        if self.rampup > 0:
            halflife = min(halflife, samples_seen * self.rampup)
        return 0.5 ** (batch_samples / max(halflife, 1e-8))

    @torch.no_grad()
    def update(self, module: torch.nn.Module, batch_samples: int, samples_seen: int) -> None:
        """Move the average towards ``module``'s current weights after one step of ``batch_samples``.

        One multi-tensor ``_foreach`` call for all parameters and one for all buffers, instead of a
        kernel launch per tensor (the same arithmetic, element by element, as ``lerp_`` and ``copy_``).
        """
        beta = self.beta(batch_samples, samples_seen)
        torch._foreach_lerp_(list(self.module.parameters()), [p.detach() for p in module.parameters()], 1.0 - beta)
        buffers = list(self.module.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(module.buffers()))

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
