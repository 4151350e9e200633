"""Calorimeter-specific report plots: energy response and resolution vs incident energy."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.calorimeter.observables import energy_bins
from surrogate.core.domain import ObservedSample
from surrogate.core.report import CANDIDATE_COLOUR, REFERENCE_COLOUR, plain_log_ticks, save_png


def response_points(sample: ObservedSample, masks: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per bin: mean incident energy (GeV), response <E_tot/E_inc>, resolution sigma/mean, their errors.

    Errors are the usual large-sample ones: sigma/sqrt(n) for the mean and resolution/sqrt(2n).
    """
    energy_gev = sample.conditions[:, 0] / 1000.0
    response = sample.scalars["etot_over_einc"]
    rows = []
    for mask in masks:
        n = int(mask.sum())
        if n < 2:
            continue
        mean, sigma = response[mask].mean(), response[mask].std(ddof=1)
        resolution = sigma / mean if mean > 0 else 0.0
        rows.append((energy_gev[mask].mean(), mean, sigma / np.sqrt(n), resolution, resolution / np.sqrt(2 * n)))
    names = ("energy_gev", "response", "response_err", "resolution", "resolution_err")
    table = np.array(rows, dtype=float).reshape(-1, len(names))
    return {name: table[:, i] for i, name in enumerate(names)}


def response_and_resolution(reference: ObservedSample, candidate: ObservedSample, out_dir: Path) -> Path:
    """Two panels vs incident energy: mean E_tot/E_inc and its relative spread, for both samples."""
    from matplotlib.figure import Figure

    bins = energy_bins(reference.conditions[:, 0], candidate.conditions[:, 0])
    if not bins:
        bins = [("all", np.ones(len(reference), bool), np.ones(len(candidate), bool))]
    figure = Figure(figsize=(10.5, 4.2))
    left, right = figure.subplots(1, 2)
    for sample, index, colour, label, marker in ((reference, 1, REFERENCE_COLOUR, "reference", "s"),
                                                 (candidate, 2, CANDIDATE_COLOUR, "candidate", "o")):
        points = response_points(sample, [entry[index] for entry in bins])
        left.errorbar(points["energy_gev"], points["response"], yerr=points["response_err"], fmt=f"{marker}-",
                      ms=4, lw=1, color=colour, label=label)
        right.errorbar(points["energy_gev"], points["resolution"], yerr=points["resolution_err"],
                       fmt=f"{marker}-", ms=4, lw=1, color=colour, label=label)
    for axes, label in ((left, "response: mean of E_tot / E_inc"), (right, "resolution: sigma / mean")):
        axes.set_xscale("log")
        plain_log_ticks(axes.xaxis)
        axes.set_xlabel("incident energy [GeV]")
        axes.set_ylabel(label)
        axes.legend(fontsize=9, frameon=False)
    figure.tight_layout()
    return save_png(figure, out_dir / "response_resolution.png")
