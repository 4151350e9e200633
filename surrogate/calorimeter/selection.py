"""The showers' checkpoint score: the response per energy bin and the worst summary against its noise.

A score that averages every summary's W1 over its spread rewards the bulk of the showers and let a
calibrated run's best-score export be far worse than its last (docs/training.md). A physicist first
asks whether the response E_tot/E_inc is right at every energy and whether any observable is off by
more than the statistics allow; this score asks exactly that (the choice of the fidelity issue):

    score = chi2/ndf of the response's mean and width per incident-energy bin
            + the worst W1 / noise floor over the training summaries.
"""
from __future__ import annotations

import numpy as np

from surrogate.calorimeter.observables import energy_bins
from surrogate.core.selection import MomentsAndWorstScore

#: The training summary the chi2 looks at (see :func:`surrogate.calorimeter.models.training_summaries`).
RESPONSE = "etot_over_einc"


class ResponseAndWorstScore(MomentsAndWorstScore):
    """The score of the module docstring for generated showers at the held-out conditions.

    reference: the held-out showers' training summaries (name -> (N,)); incident_mev: (N,) their
    incident energies; seed: of the noise floors.
    """

    def __init__(self, reference: dict[str, np.ndarray], incident_mev: np.ndarray, seed: int):
        incident_mev = np.asarray(incident_mev, dtype=np.float64)
        bins = energy_bins(incident_mev, incident_mev)
        masks = [mask for _, mask, _ in bins] if bins else [np.ones(len(incident_mev), dtype=bool)]
        super().__init__(reference, [RESPONSE], masks, seed, label="response_chi2_ndf")
