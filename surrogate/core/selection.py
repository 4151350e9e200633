"""How the training loop ranks its exports: a checkpoint score, lower is better.

Every quick validation (:class:`surrogate.core.monitoring.QuickValidation`) computes the domain's
training summaries of generated events at the held-out conditions and their W1 to the held-out
ones; the domain's score (:meth:`surrogate.core.domain.Domain.checkpoint_score`) turns them into one
number, and ``model_best.pt`` is the export with the lowest. :class:`SummaryScore` is the default.
"""
from __future__ import annotations

import math

import numpy as np


class SummaryScore:
    """The mean over summaries of W1(held-out, generated) divided by the held-out summary's standard
    deviation: scale-free, needs nothing but the summaries.

    reference: name -> (N,) summaries of the held-out events.
    """

    def __init__(self, reference: dict[str, np.ndarray]):
        self.scales = {name: float(np.std(values)) or 1.0 for name, values in reference.items()}

    def __call__(self, generated: dict[str, np.ndarray], w1: dict[str, float]) -> dict[str, float]:
        """``{"score": ...}`` for generated summaries (name -> (N,), rows in the held-out order) and their
        W1 to the held-out ones; inf when any W1 is not finite."""
        if not all(math.isfinite(value) for value in w1.values()):
            return {"score": math.inf}
        return {"score": float(np.mean([w1[name] / self.scales[name] for name in w1]))}
