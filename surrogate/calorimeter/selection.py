"""The showers' checkpoint score: the response per energy bin and the worst summary against its noise.

A score that averages every summary's W1 over its spread rewards the bulk of the showers and let a
calibrated run's best-score export be far worse than its last (docs/training.md). A physicist first
asks whether the response E_tot/E_inc is right at every energy and whether any observable is off by
more than the statistics allow; this score asks exactly that (the choice of the fidelity issue):

    score = chi2/ndf of the response's mean and width per incident-energy bin
            + the worst W1 / noise floor over the training summaries.

Both terms are about 1 for a generator indistinguishable from the held-out showers.
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.calorimeter.observables import energy_bins
from surrogate.core.stats import noise_floor, ratio_to_floor

#: The training summary the chi2 looks at (see :func:`surrogate.calorimeter.models.training_summaries`).
RESPONSE = "etot_over_einc"


class ResponseAndWorstScore:
    """The score of the module docstring for generated showers at the held-out conditions.

    reference: the held-out showers' training summaries (name -> (N,)); incident_mev: (N,) their
    incident energies; seed: of the noise floors, which resample the held-out summaries once here
    (:func:`surrogate.core.stats.noise_floor`, at the held-out size, as the generated set has it).
    """

    def __init__(self, reference: dict[str, np.ndarray], incident_mev: np.ndarray, seed: int):
        self.response = reference[RESPONSE]
        incident_mev = np.asarray(incident_mev, dtype=np.float64)
        bins = energy_bins(incident_mev, incident_mev)
        self.bins = [mask for _, mask, _ in bins] if bins else [np.ones(len(incident_mev), dtype=bool)]
        self.floors = {name: noise_floor(values, len(values), seed=seed) for name, values in reference.items()}

    def __call__(self, generated: dict[str, np.ndarray], w1: dict[str, float]) -> dict[str, float]:
        chi2 = response_chi2(self.response, generated[RESPONSE], self.bins)
        ratios = {name: ratio_to_floor(value, self.floors[name]) for name, value in w1.items()}
        worst = max(ratios.values()) if all(math.isfinite(value) for value in w1.values()) else math.inf
        return {"score": chi2 + worst, "response_chi2_ndf": chi2, "worst_ratio": worst}


def response_chi2(reference: np.ndarray, candidate: np.ndarray, bins: list[np.ndarray]) -> float:
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
