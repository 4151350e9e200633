"""The maps' checkpoint score: the power spectrum and the worst summary against its noise.

The default score (the mean W1 over the summaries' spreads) picked a map run's step-250 export, whose
power spectrum was its best but whose pixel statistics were far off (docs/cosmology.md). What a
cosmologist checks first is P(k) at every scale, then whether any map statistic is off by more than the
statistics allow:

    score = chi2/ndf of the mean and width of log10 P in the low, mid and high k bands
            + the worst W1 / noise floor over the training summaries.

The held-out maps come from the training boxes, several per box, so their errors are somewhat too small:
the score ranks a run's exports, it is not a test.
"""
from __future__ import annotations

import numpy as np

from surrogate.core.selection import MomentsAndWorstScore

#: The prefix of the band-power summaries (:func:`surrogate.cosmology.validation.map_observables`).
POWER_PREFIX = "log10_power_"


class PowerAndWorstScore(MomentsAndWorstScore):
    """The score of the module docstring for generated maps at the held-out conditions.

    reference: the held-out maps' training summaries (name -> (N,)); seed: of the noise floors. The
    held-out set of a map run is small (tens of maps), so the chi2 takes them all as one bin: the
    generated maps share their parameters, so the comparison is still at the same cosmologies.
    """

    def __init__(self, reference: dict[str, np.ndarray], seed: int):
        power = [name for name in reference if name.startswith(POWER_PREFIX)]
        rows = len(next(iter(reference.values()))) if reference else 0
        super().__init__(reference, power, [np.ones(rows, dtype=bool)], seed, label="power_chi2_ndf")
