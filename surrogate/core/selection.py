"""How the training loop ranks its exports: a checkpoint score, lower is better.

Every quick validation (:class:`surrogate.core.monitoring.QuickValidation`) computes the domain's
training summaries of generated events at the held-out conditions and their W1 to the held-out
ones; the domain's score (:meth:`surrogate.core.domain.Domain.checkpoint_score`) turns them into one
number, and ``model_best.pt`` is the export with the lowest. :class:`SummaryScore` is the default;
:class:`MomentsAndWorstScore` is the physics score the domains build on (a few key summaries' mean and
width against their statistical errors, plus the worst summary against its noise floor).
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.core.stats import noise_floor, ratio_to_floor


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


class MomentsAndWorstScore:
    """score = chi2/ndf of the mean and width of the ``key`` summaries in each bin
    + the worst W1 / noise floor over all summaries.

    Both terms are about 1 for a generator indistinguishable from the held-out events. The first asks
    whether the quantities a physicist checks first are right within their statistics everywhere; the
    second whether any summary is off by more than the statistics allow.

    reference: the held-out events' training summaries (name -> (N,)); key: the summaries of the chi2;
    bins: boolean masks over the held-out rows (the generated rows share their conditions); seed: of the
    noise floors, which resample the held-out summaries once here (:func:`surrogate.core.stats.noise_floor`,
    at the held-out size, as the generated set has it); label: the chi2's name in the result.
    """

    def __init__(self, reference: dict[str, np.ndarray], key: list[str], bins: list[np.ndarray], seed: int,
                 label: str):
        self.reference, self.key, self.bins, self.label = reference, key, bins, label
        self.floors = {name: noise_floor(values, len(values), seed=seed) for name, values in reference.items()}

    def __call__(self, generated: dict[str, np.ndarray], w1: dict[str, float]) -> dict[str, float]:
        chi2 = float(np.mean([moments_chi2(self.reference[name], generated[name], self.bins) for name in self.key]))
        ratios = {name: ratio_to_floor(value, self.floors[name]) for name, value in w1.items()}
        worst = max(ratios.values()) if all(math.isfinite(value) for value in w1.values()) else math.inf
        return {"score": chi2 + worst, self.label: chi2, "worst_ratio": worst}


def moments_chi2(reference: np.ndarray, candidate: np.ndarray, bins: list[np.ndarray]) -> float:
    """chi2 per degree of freedom of the mean and the standard deviation of ``candidate`` against
    ``reference`` in each bin (a boolean mask selecting the same rows of both, which share conditions),
    each difference divided by its statistical error: sqrt(s_r^2/n_r + s_c^2/n_c) for the mean and
    sqrt(s_r^2/(2(n_r-1)) + s_c^2/(2(n_c-1))) for the standard deviation (normal approximation).
    Bins with fewer than 2 rows are skipped; inf when ``candidate`` is not finite there."""
    terms = []
    for mask in bins:
        r, c = reference[mask], candidate[mask]
        if len(r) < 2 or len(c) < 2:
            continue
        if not np.isfinite(c).all():
            return math.inf
        var_r, var_c = r.var(ddof=1), c.var(ddof=1)
        terms.append(_pull(c.mean() - r.mean(), var_r / len(r) + var_c / len(c)))
        terms.append(_pull(np.sqrt(var_c) - np.sqrt(var_r), var_r / (2 * (len(r) - 1)) + var_c / (2 * (len(c) - 1))))
    return float(np.mean(terms)) if terms else 0.0


def _pull(difference: float, variance: float) -> float:
    """difference^2 / variance; 0 for no difference, inf for a difference without any spread."""
    if difference == 0:
        return 0.0
    return float(difference ** 2 / variance) if variance > 0 else math.inf
