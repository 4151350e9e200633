"""What ``surrogate validate`` compares for maps: per-map summaries, pixel and peak distributions,
power spectra and Minkowski functionals, parameter bins, and the P_gen/P_ref plot.

Every statistic works on x = rho / rho_mean per map: 1 + delta for density-contrast maps; for other
positive quantities (CAMELS fields) the map divided by its own mean. Power spectra use
delta = x - 1, with the map area (box_mpc_h)^2 of the layout (see :mod:`surrogate.cosmology.observables`).
"""
from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import numpy as np

from surrogate.core.domain import EventSet, ObservedSample, PooledHistogram, Profile
from surrogate.cosmology import observables as stats
from surrogate.cosmology.formats import CONTRAST

log = logging.getLogger(__name__)

#: log10(x) bin edges of the pixel histogram and of the peak-height counts.
LOG_X_EDGES = np.linspace(-2.0, 3.0, 51)
PEAK_EDGES = np.linspace(-0.5, 3.0, 15)
#: Thresholds (in log10 x) at which the Minkowski functionals are evaluated.
MINKOWSKI_THRESHOLDS = np.linspace(-0.75, 1.5, 16)
_LOG_FLOOR = 1e-3
#: At most this many distinct parameter points get one comparison bin each.
MAX_POINT_BINS = 12
#: Otherwise each varied parameter is cut into this many equal-width bins.
RANGE_BINS = 3


def density_ratio(events: EventSet) -> np.ndarray:
    """x = rho / rho_mean per pixel, float64 (N, P, P)."""
    maps = np.asarray(events.events, dtype=np.float64)
    if events.layout.get("quantity", CONTRAST) == CONTRAST:
        return maps + 1.0
    means = maps.mean(axis=(1, 2), keepdims=True)
    return maps / np.where(means != 0, means, 1.0)


def _k_bands(map_size: int, box_mpc_h: float) -> list[tuple[str, float, float]]:
    """Three bands of k in h/Mpc: up to Nyquist/8, Nyquist/8-Nyquist/2, Nyquist/2-Nyquist. The low band
    reaches at least 1.5 fundamental modes, so that a 16-pixel map (Nyquist/8 = one fundamental) has one."""
    nyquist = math.pi * map_size / box_mpc_h
    low_edge = max(nyquist / 8, 1.5 * 2 * math.pi / box_mpc_h)
    return [("low", 0.0, low_edge), ("mid", low_edge, nyquist / 2), ("high", nyquist / 2, nyquist)]


def map_observables(events: EventSet) -> dict[str, np.ndarray]:
    """Per-map numbers (name -> (N,) float64), finite for any map.

    pixel_std and pixel_skewness of x; void_fraction (pixels with x < 1); peak_count (local maxima);
    log10_max_x; log10_power_{low,mid,high}_mpc2_h2: log10 of the band-averaged P(k) in (Mpc/h)^2,
    for the bands that hold Fourier modes (maps of 16 pixels or less have none at low k).
    """
    x = density_ratio(events)
    flat = x.reshape(len(x), -1)
    std = flat.std(axis=1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    skewness = np.divide((centred**3).mean(axis=1), std**3, out=np.zeros(len(x)), where=std > 0)
    out = {"pixel_std": std, "pixel_skewness": skewness, "void_fraction": (flat < 1.0).mean(axis=1),
           "peak_count": stats.peak_mask(x).sum(axis=(1, 2)).astype(np.float64),
           "log10_max_x": np.log10(np.maximum(flat.max(axis=1), _LOG_FLOOR))}
    box = float(events.layout["box_mpc_h"])
    spectrum = stats.power_spectrum(x - 1.0, box)
    for name, low, high in _k_bands(x.shape[-1], box):
        inside = (spectrum.k_h_mpc >= low) & (spectrum.k_h_mpc < high) & (spectrum.n_modes > 0)
        if not inside.any():  # small maps: no Fourier mode in this band
            log.warning("maps of %d pixels hold no mode in the %s k band; log10_power_%s_mpc2_h2 is skipped",
                        x.shape[-1], name, name)
            continue
        weights = spectrum.n_modes[inside]
        band = (spectrum.power[:, inside] * weights).sum(axis=1) / weights.sum()
        out[f"log10_power_{name}_mpc2_h2"] = np.log10(np.maximum(band, 1e-30))
    return out


def map_pooled(events: EventSet) -> dict[str, PooledHistogram]:
    """Pixel histogram of log10 x (values outside the edges clipped into the end bins)."""
    x = density_ratio(events)
    return {"pixel_log10_x": PooledHistogram(LOG_X_EDGES, stats.pixel_histogram(
        np.log10(np.maximum(x, _LOG_FLOOR)), LOG_X_EDGES))}


def map_profiles(events: EventSet) -> dict[str, Profile]:
    """Power spectrum, peak counts vs height and the three Minkowski functionals, one curve per map."""
    x = density_ratio(events)
    box = float(events.layout["box_mpc_h"])
    spectrum = stats.power_spectrum(x - 1.0, box)
    log_x = np.log10(np.maximum(x, _LOG_FLOOR))
    peak_centres = 0.5 * (PEAK_EDGES[1:] + PEAK_EDGES[:-1])
    v0, v1, v2 = stats.minkowski_functionals(log_x, MINKOWSKI_THRESHOLDS, pixel_size=box / x.shape[-1])
    threshold_label = "threshold log10(rho/rho_mean)"
    return {
        "power_spectrum": Profile(spectrum.k_h_mpc, spectrum.power, "k [h/Mpc]", "P(k) [(Mpc/h)^2]", log_y=True),
        "peak_counts": Profile(peak_centres, stats.peak_counts(log_x, PEAK_EDGES).astype(np.float64),
                               "peak height log10(rho/rho_mean)", "peaks per map"),
        "minkowski_v0": Profile(MINKOWSKI_THRESHOLDS, v0, threshold_label, "V0: area fraction"),
        "minkowski_v1": Profile(MINKOWSKI_THRESHOLDS, v1, threshold_label, "V1: boundary length / 4 area [h/Mpc]"),
        "minkowski_v2": Profile(MINKOWSKI_THRESHOLDS, v2, threshold_label,
                                "V2: Euler characteristic / area [(h/Mpc)^2]"),
    }


def parameter_bins(names: tuple[str, ...], reference: np.ndarray,
                   candidate: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One bin per parameter point when there are at most MAX_POINT_BINS of them; otherwise
    RANGE_BINS equal-width bins of each varied parameter over the reference's range. ``names`` label
    the parameter columns."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    points = np.unique(reference, axis=0)
    if len(points) <= 1:
        return []
    if len(points) <= MAX_POINT_BINS:
        return [(" ".join(f"{name}={value:.4g}" for name, value in zip(names, point)),
                 np.all(np.isclose(reference, point, rtol=1e-9, atol=0), axis=1),
                 np.all(np.isclose(candidate, point, rtol=1e-9, atol=0), axis=1)) for point in points]
    bins = []
    for column, name in enumerate(names):
        low, high = reference[:, column].min(), reference[:, column].max()
        if low == high:
            continue
        edges = np.linspace(low, high, RANGE_BINS + 1)
        for index, (left, right) in enumerate(itertools.pairwise(edges)):
            last = index == RANGE_BINS - 1

            def inside(values, left=left, right=right, last=last):
                return (values >= left) & ((values <= right) if last else (values < right))

            bins.append((f"{name} {left:.4g}-{right:.4g}", inside(reference[:, column]), inside(candidate[:, column])))
    return bins


def power_ratio(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean P_cand / mean P_ref per k and its 1-sigma error from both samples' scatter."""
    mean_ref, mean_cand = reference.mean(axis=0), candidate.mean(axis=0)
    error_ref = reference.std(axis=0, ddof=1) / np.sqrt(len(reference)) if len(reference) > 1 else 0.0 * mean_ref
    error_cand = candidate.std(axis=0, ddof=1) / np.sqrt(len(candidate)) if len(candidate) > 1 else 0.0 * mean_cand
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean_cand / mean_ref
        error = np.abs(ratio) * np.sqrt((error_ref / mean_ref) ** 2 + (error_cand / mean_cand) ** 2)
    return ratio, error


def power_ratio_plot(reference: ObservedSample, candidate: ObservedSample, out_dir: Path) -> Path | None:
    """P_cand(k) / P_ref(k) with its error band, for all maps and per parameter bin (log axis when a
    ratio leaves [0.5, 2], as for an untrained model)."""
    from matplotlib.figure import Figure

    from surrogate.core.report import plain_log_ticks, save_png

    if "power_spectrum" not in reference.profiles or "power_spectrum" not in candidate.profiles:
        return None
    ref_profile, cand_profile = reference.profiles["power_spectrum"], candidate.profiles["power_spectrum"]
    groups = [("all maps", np.ones(len(reference), bool), np.ones(len(candidate), bool))]
    groups += parameter_bins(reference.condition_names, reference.conditions, candidate.conditions)
    curves = []
    for label, ref_mask, cand_mask in groups:
        if ref_mask.sum() >= 2 and cand_mask.sum() >= 2:
            ratio, error = power_ratio(ref_profile.values[ref_mask], cand_profile.values[cand_mask])
            curves.append((f"{label} ({int(cand_mask.sum())} maps)", ratio, error))
    if not curves:
        return None
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.subplots()
    for label, ratio, error in curves:
        line, = axes.plot(ref_profile.x, ratio, lw=1.2, label=label)
        axes.fill_between(ref_profile.x, ratio - error, ratio + error, color=line.get_color(), alpha=0.2, lw=0)
    axes.axhline(1.0, color="black", lw=0.8)
    axes.set_xscale("log")
    values = np.concatenate([ratio for _, ratio, _ in curves])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and (values.min() < 0.5 or values.max() > 2.0):
        axes.set_yscale("log")
        plain_log_ticks(axes.yaxis)
    plain_log_ticks(axes.xaxis)
    axes.set_xlabel("k [h/Mpc]")
    axes.set_ylabel("P_candidate(k) / P_reference(k)")
    axes.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return save_png(figure, out_dir / "power_spectrum_ratio.png")


def grouped_power_ratio(reference: np.ndarray, candidate: np.ndarray, *, seed: int, n_resamples: int = 200,
                        reference_groups: np.ndarray | None = None,
                        candidate_groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean P_cand / mean P_ref per k bin (power (N, K) per map) and its 1-sigma error: the spread of the
    ratio over bootstrap replicas that draw whole groups (the boxes maps are cut from) of a sample with
    ``*_groups``, single maps of one without, so that maps of one box do not count as independent."""
    from surrogate.core.stats import bootstrap_counts, dense_groups

    reference, candidate = np.asarray(reference, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    rng = np.random.default_rng(seed)
    units = [None if groups is None else dense_groups(groups) for groups in (reference_groups, candidate_groups)]
    means = []
    for power, unit in zip((reference, candidate), units):
        counts = bootstrap_counts(rng, unit, len(power), n_resamples)
        means.append(counts @ power / counts.sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return candidate.mean(axis=0) / reference.mean(axis=0), (means[1] / means[0]).std(axis=0, ddof=1)
