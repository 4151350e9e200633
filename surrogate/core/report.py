"""report.html: the validation metrics as a page a person reads, with every plot embedded.

The page is self-contained (PNG plots inlined as base64, no scripts, no external files); the same
plots are also written to ``out_dir/plots/``. Figures are drawn on ``matplotlib.figure.Figure``
objects with the Agg canvas (no pyplot, no display, no global state), in mplhep's HEP style when
mplhep is installed (``pip install surrogate[hep]``).
"""
from __future__ import annotations

import base64
import contextlib
import html
import logging
import math
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from surrogate._atomic import atomic_path
from surrogate.core import stats
from surrogate.core.domain import Domain, ObservedSample, PooledHistogram, Profile

log = logging.getLogger(__name__)

#: (upper ratio, background colour, words) -- how far from the reference's own noise an observable is.
RATIO_BANDS = (
    (1.5, "#c8e6c9", "at the noise floor"),
    (3.0, "#fff59d", "slightly above"),
    (10.0, "#ffcc80", "clearly off"),
    (math.inf, "#ef9a9a", "far off"),
)
REFERENCE_COLOUR = "#7f7f7f"
CANDIDATE_COLOUR = "#d62728"
_TOP_ROWS = 15


#: Unit suffixes of observable names (docs/observables.md) and how a reader writes them.
_UNITS = {"mpc2_h2": "(Mpc/h)^2", "mpc_h": "Mpc/h", "h_mpc": "h/Mpc", "mev": "MeV", "gev": "GeV", "mm": "mm"}

#: (largest |AUC - 0.5|, colour, words) -- the classifier's verdict, coloured like the ratio bands.
AUC_BANDS = (
    (0.02, RATIO_BANDS[0][1], "indistinguishable"),
    (0.1, RATIO_BANDS[1][1], "weakly separable"),
    (0.2, RATIO_BANDS[2][1], "separable"),
    (math.inf, RATIO_BANDS[3][1], "clearly separable"),
)


def quantity_and_unit(name: str) -> tuple[str, str | None]:
    """An observable's name in words and its unit: ``layer12_r_width_mm`` -> ("layer 12 r width", "mm")."""
    words, unit = name, None
    for suffix, shown in _UNITS.items():
        if name.endswith(f"_{suffix}"):
            words, unit = name[:-len(suffix) - 1], shown
            break
    words = re.sub(r"(?<=[a-z])(?<!log)(\d+)", r" \1", words).replace("_", " ")
    return words, unit


def axis_label(name: str) -> str:
    """"quantity [unit]" for an axis: ``layer 12 r width [mm]``, ``log10(cell energy / MeV)``."""
    words, unit = quantity_and_unit(name)
    if unit and words.startswith("log10 "):
        return f"log10({words[len('log10 '):]} / {unit})"
    return f"{words} [{unit}]" if unit else words


def w1_unit(name: str) -> str:
    """The unit W1 carries for an observable: its own unit, dex for a log10, none for a pure number."""
    words, unit = quantity_and_unit(name)
    return "dex" if "log10" in words.split() else (unit or "")


def auc_band(auc: float | None) -> tuple[str, str]:
    """Background colour and words for a classifier AUC (white when the test did not run)."""
    if auc is None:
        return "#fff", "not run (--no-classifier)"
    for upper, colour, words in AUC_BANDS:
        if abs(auc - 0.5) <= upper:
            return colour, words
    return AUC_BANDS[-1][1:]


def verdict(observables: dict[str, dict[str, float]]) -> str:
    """One sentence on the whole comparison, from the ratio bands."""
    ratios = {name: entry["ratio"] for name, entry in observables.items()}
    worst = max(ratios, key=ratios.get)
    far = sum(ratio > RATIO_BANDS[2][0] for ratio in ratios.values())
    clearly = sum(RATIO_BANDS[1][0] < ratio <= RATIO_BANDS[2][0] for ratio in ratios.values())
    where = f"(worst: {worst} at {ratios[worst]:.3g})"
    if far:
        return (f"Not yet a substitute: {far} of {len(ratios)} observables are more than "
                f"{RATIO_BANDS[2][0]:g}x their noise floor {where}.")
    if clearly:
        return (f"Usable with care: {clearly} of {len(ratios)} observables are {RATIO_BANDS[1][0]:g}-"
                f"{RATIO_BANDS[2][0]:g}x their noise floor {where}.")
    if ratios[worst] > RATIO_BANDS[0][0]:
        return (f"Close: every observable is within {RATIO_BANDS[1][0]:g}x its noise floor {where}.")
    return (f"As good as more simulation on these observables: every ratio is within "
            f"{RATIO_BANDS[0][0]:g} of the noise floor.")


def ratio_band(ratio: float) -> tuple[str, str]:
    """Background colour and words for a W1 / noise-floor ratio."""
    for upper, colour, words in RATIO_BANDS:
        if ratio <= upper:
            return colour, words
    return RATIO_BANDS[-1][1:]


def save_png(figure, path: str | Path, dpi: int = 100) -> Path:
    """Render a ``matplotlib.figure.Figure`` with Agg into ``path`` atomically (lay it out first)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)
    return Path(path)


@contextlib.contextmanager
def report_style() -> Iterator[str | None]:
    """mplhep's ROOT style while drawing, if mplhep is installed; yields a notice otherwise."""
    import matplotlib

    try:
        import mplhep
    except ImportError:
        notice = "mplhep is not installed: plots use matplotlib's default style (pip install 'surrogate[hep]')"
        log.info(notice)
        yield notice
        return
    with matplotlib.style.context(mplhep.style.ROOT), matplotlib.rc_context({"font.size": 11}):
        yield None


def _figure_with_ratio():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 4.6))
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.06, left=0.16, right=0.97, top=0.93,
                               bottom=0.12)
    main = figure.add_subplot(grid[0])
    ratio = figure.add_subplot(grid[1], sharex=main)
    main.tick_params(labelbottom=False)
    ratio.axhline(1.0, color=REFERENCE_COLOUR, lw=1)
    ratio.set_ylabel("cand. / ref.")
    return figure, main, ratio


def _draw_ratio(axis, x: np.ndarray, quotient: np.ndarray, error: np.ndarray) -> None:
    """cand./ref. points on limits 0.5-1.5 widened (up to 0-3) to hold them; a point beyond is a
    triangle on the edge it lies past, so no point silently leaves the panel."""
    from matplotlib.ticker import MaxNLocator

    finite = np.isfinite(quotient)
    values = quotient[finite]
    low = max(0.0, min(0.5, 0.95 * values.min())) if len(values) else 0.5
    high = min(3.0, max(1.5, 1.05 * values.max())) if len(values) else 1.5
    inside = finite & (quotient >= low) & (quotient <= high)
    axis.errorbar(x[inside], quotient[inside], yerr=error[inside], fmt="o", ms=2.5, color=CANDIDATE_COLOUR, lw=1)
    margin, labelled = 0.06 * (high - low), False
    for beyond, level, marker in ((finite & (quotient > high), high - margin, "^"),
                                  (finite & (quotient < low), low + margin, "v")):
        if beyond.any():
            axis.plot(x[beyond], np.full(beyond.sum(), level), marker, ms=5, color=CANDIDATE_COLOUR,
                      label=None if labelled else "off scale")
            labelled = True
    if labelled:
        axis.legend(loc="lower right", fontsize=7, frameon=False, handletextpad=0.2)
    axis.set_ylim(low, high)
    # pruned: no tick label of its own under the main panel's 0
    axis.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], prune="upper"))


def _draw_histograms(main, ratio, edges: np.ndarray, ref_counts: np.ndarray, cand_counts: np.ndarray) -> None:
    """Unit-area histograms of both samples and their ratio with Poisson errors."""
    widths = np.diff(edges)
    centers = 0.5 * (edges[1:] + edges[:-1])
    ref_density = ref_counts / (ref_counts.sum() * widths)
    cand_density = cand_counts / (cand_counts.sum() * widths)
    cand_error = np.sqrt(cand_counts) / (cand_counts.sum() * widths)
    main.stairs(ref_density, edges, fill=True, color=REFERENCE_COLOUR, alpha=0.45, label="reference")
    main.stairs(cand_density, edges, color=CANDIDATE_COLOUR, lw=1.5, label="candidate")
    main.errorbar(centers, cand_density, yerr=cand_error, fmt="none", ecolor=CANDIDATE_COLOUR, lw=1)
    main.set_ylabel("normalised entries")
    both = (ref_counts > 0) & (cand_counts > 0)
    quotient = np.divide(cand_density, ref_density, out=np.full_like(cand_density, np.nan), where=both)
    error = quotient * np.sqrt(np.divide(1.0, cand_counts, out=np.zeros_like(quotient), where=both)
                               + np.divide(1.0, ref_counts, out=np.zeros_like(quotient), where=both))
    _draw_ratio(ratio, centers, quotient, error)
    filled_bins = np.count_nonzero((ref_counts + cand_counts) > 0)
    if filled_bins > 1 and ref_counts.max() > 0.4 * ref_counts.sum():  # a spike (e.g. at 0): log shows the rest
        positive = np.concatenate([ref_density[ref_density > 0], cand_density[cand_density > 0]])
        main.set_yscale("log")
        main.set_ylim(0.5 * positive.min(), 2 * positive.max())


def _annotate(main, name: str, comparison: dict[str, float]) -> None:
    """Title, the ratio in its band colour, legend; head room above the curves so nothing overlaps."""
    low, high = main.get_ylim()
    if main.get_yscale() == "log":
        main.set_ylim(low, high * (high / low) ** 0.35)
    else:
        main.set_ylim(low, low + 1.35 * (high - low))
    colour, _ = ratio_band(comparison["ratio"])
    main.set_title(name, fontsize=11)
    main.text(0.03, 0.95, f"W1 / floor = {comparison['ratio']:.3g}", transform=main.transAxes, va="top",
              fontsize=10, bbox={"facecolor": colour, "edgecolor": "none", "boxstyle": "round"})
    main.legend(loc="upper right", fontsize=9, frameon=False)


def scalar_histogram(name: str, reference: np.ndarray, candidate: np.ndarray, comparison: dict[str, float],
                     path: Path) -> Path:
    """Histogram of one per-event observable, reference vs candidate, with a ratio panel."""
    edges = stats.histogram_edges(reference)
    figure, main, ratio = _figure_with_ratio()
    _draw_histograms(main, ratio, edges, stats.clipped_histogram(reference, edges),
                     stats.clipped_histogram(candidate, edges))
    if stats.is_log_binning(edges):
        main.set_xscale("log")
    ratio.set_xlabel(axis_label(name))
    _annotate(main, name, comparison)
    return save_png(figure, path)


def pooled_histogram(name: str, reference: PooledHistogram, candidate: PooledHistogram,
                     comparison: dict[str, float], path: Path) -> Path:
    """Histogram of a pooled observable (e.g. every cell energy), over the bins either sample fills."""
    ref_counts = reference.counts.sum(axis=0).astype(float)
    cand_counts = candidate.counts.sum(axis=0).astype(float)
    filled = np.flatnonzero((ref_counts + cand_counts) > 0)
    low, high = (filled[0], filled[-1] + 1) if len(filled) else (0, len(ref_counts))
    figure, main, ratio = _figure_with_ratio()
    if ref_counts.sum() > 0 and cand_counts.sum() > 0:
        _draw_histograms(main, ratio, reference.edges[low:high + 1], ref_counts[low:high], cand_counts[low:high])
    main.set_yscale("log")
    ratio.set_xlabel(axis_label(name))
    _annotate(main, name, comparison)
    return save_png(figure, path)


def profile_plot(name: str, reference: Profile, candidate: Profile, path: Path) -> Path:
    """Mean profile of both samples (error: standard error of the mean) with a ratio panel."""
    figure, main, ratio = _figure_with_ratio()
    means = []
    for profile, colour, label, marker in ((reference, REFERENCE_COLOUR, "reference", "s"),
                                           (candidate, CANDIDATE_COLOUR, "candidate", "o")):
        mean = profile.values.mean(axis=0)
        error = profile.values.std(axis=0, ddof=1) / np.sqrt(len(profile.values))
        main.errorbar(profile.x, mean, yerr=error, fmt=f"{marker}-", ms=3, lw=1, color=colour, label=label)
        means.append((mean, error))
    (ref_mean, ref_err), (cand_mean, cand_err) = means
    valid = (ref_mean > 0) & (cand_mean > 0)
    quotient = np.divide(cand_mean, ref_mean, out=np.full_like(ref_mean, np.nan), where=valid)
    error = quotient * np.hypot(np.divide(cand_err, cand_mean, out=np.zeros_like(quotient), where=valid),
                                np.divide(ref_err, ref_mean, out=np.zeros_like(quotient), where=valid))
    _draw_ratio(ratio, np.asarray(reference.x, dtype=float), quotient, error)
    positive = np.concatenate([ref_mean[ref_mean > 0], cand_mean[cand_mean > 0]])
    if reference.log_y and len(positive) and positive.max() > 10 * positive.min():
        main.set_yscale("log")
    main.set_ylabel(f"mean {reference.y_label}")
    main.set_title(name, fontsize=11)
    main.legend(fontsize=9, frameon=False)
    ratio.set_xlabel(reference.x_label)
    return save_png(figure, path)


def group_of(name: str) -> str:
    """Observables that differ only by a number (``layer03_energy_mev``) form one group (``layer#_energy_mev``)."""
    return re.sub(r"\d+", "#", name)


def _member_number(name: str) -> int:
    return int(re.search(r"\d+", name).group())


def ratio_overview(observables: dict[str, dict[str, float]], path: Path) -> Path:
    """Every ratio at a glance: single observables as bars, numbered groups (per layer) as lines."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    groups: dict[str, list[str]] = {}
    for name in observables:
        groups.setdefault(group_of(name), []).append(name)
    singles = [members[0] for members in groups.values() if len(members) == 1]
    numbered = {key: members for key, members in groups.items() if len(members) > 1}
    figure = Figure(figsize=(11.5, max(3.2, 0.32 * len(singles) + 1.2)))
    axes = figure.subplots(1, 2 if numbered else 1, squeeze=False)[0]
    ratios = np.array([max(observables[name]["ratio"], 1e-2) for name in singles])
    axes[0].barh(np.arange(len(singles)), ratios, color=[ratio_band(r)[0] for r in ratios], edgecolor="#555")
    axes[0].set_yticks(np.arange(len(singles)), singles, fontsize=9)
    axes[0].invert_yaxis()
    axes[0].set_xscale("log")
    plain_log_ticks(axes[0].xaxis)
    axes[0].axvline(1.0, color="k", lw=1)
    axes[0].set_xlabel("W1 / noise floor")
    axes[0].set_title("observables", fontsize=11)
    if numbered:
        ax = axes[1]
        colours = [f"C{i % 10}" for i in range(len(numbered))]
        for colour, (key, members) in zip(colours, numbered.items()):
            x = [_member_number(name) for name in members]
            y = [max(observables[name]["ratio"], 1e-2) for name in members]
            ax.plot(x, y, "o-", ms=3, lw=1, color=colour, label=key)
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axhline(1.0, color="k", lw=1)
        ax.axhspan(1e-2, RATIO_BANDS[0][0], color=RATIO_BANDS[0][1], alpha=0.35, lw=0)
        ax.set_ylim(bottom=0.1)
        ax.set_xlabel("number in the name")
        ax.set_ylabel("W1 / noise floor")
        ax.set_title("numbered observables", fontsize=11)
        ax.legend(fontsize=7, ncol=2, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return save_png(figure, path)


def plain_log_ticks(axis) -> None:
    """Log-axis tick labels as plain numbers (0.5, 1, 2, 10) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def plotted_observables(observables: dict[str, dict[str, float]], pooled: set[str]) -> list[str]:
    """Which observables get a histogram: every single one, and the worst of each numbered group."""
    groups: dict[str, list[str]] = {}
    for name in observables:
        if name not in pooled:
            groups.setdefault(group_of(name), []).append(name)
    return [max(members, key=lambda name: observables[name]["ratio"]) for members in groups.values()]


def _image_tag(path: Path, out_dir: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    link = html.escape(path.relative_to(out_dir).as_posix())
    return (f'<figure><a href="{link}"><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'
            f"</a><figcaption>{html.escape(path.stem)}</figcaption></figure>")


def _ratio_cell(ratio: float) -> str:
    colour, words = ratio_band(ratio)
    return f'<td class="num" style="background:{colour}" title="{words}">{ratio:.3g}</td>'


def _observable_rows(observables: dict[str, dict[str, float]], names: list[str],
                     separation: dict[str, float], floor_from_both: set[str]) -> str:
    rows = []
    for name in names:
        entry = observables[name]
        power = separation.get(name)
        mark = " &dagger;" if name in floor_from_both else ""
        rows.append(
            f"<tr><td>{html.escape(name)}{mark}</td><td>{html.escape(w1_unit(name))}</td>"
            f"<td class='num'>{entry['w1']:.4g}</td>"
            f"<td class='num'>{entry['w1_err']:.2g}</td><td class='num'>{entry['noise_floor']:.4g}</td>"
            f"{_ratio_cell(entry['ratio'])}<td class='num'>{'' if power is None else f'{power:.3g}'}</td></tr>")
    return ("<table><tr><th>observable</th><th>unit of W1</th><th>W1</th><th>&plusmn; (bootstrap)</th>"
            "<th>noise floor</th><th>ratio</th><th>separation power</th></tr>" + "".join(rows) + "</table>")


def _bins_table(bins: list[dict[str, Any]], noun: str) -> str:
    rows = []
    for entry in bins:
        head = (f"<tr><td>{html.escape(entry['label'])}</td><td class='num'>{entry['n_reference']}</td>"
                f"<td class='num'>{entry['n_candidate']}</td>")
        if "summary" not in entry:
            rows.append(head + f"<td colspan='3'>{html.escape(entry.get('skipped', ''))}</td></tr>")
            continue
        summary = entry["summary"]
        rows.append(head + f"{_ratio_cell(summary['median_ratio'])}<td>{html.escape(summary['worst'])}</td>"
                    f"{_ratio_cell(summary['worst_ratio'])}</tr>")
    return (f"<table><tr><th>condition bin</th><th>reference {noun}s</th><th>candidate {noun}s</th>"
            "<th>median ratio</th><th>worst observable</th><th>its ratio</th></tr>" + "".join(rows) + "</table>")


_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5em auto; max-width: 1250px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em;
     border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; } th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.summary { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 0.8em 0; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 0.9em; min-width: 11em; }
.card .value { font-size: 1.4em; font-weight: 600; } .card .label { font-size: 0.85em; color: #555; }
.legend span { display: inline-block; padding: 0.1em 0.6em; margin-right: 0.4em; border-radius: 4px; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.6em; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #666; text-align: center; }
.verdict { font-size: 1.1em; font-weight: 600; margin: 0.4em 0; }
.footnote { color: #666; font-size: 0.85em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def render_html(metrics: dict[str, Any], sections: dict[str, list[Path]], out_dir: Path,
                notice: str | None, noun: str = "event") -> str:
    """The report page as a string, images inlined; ``noun`` names one event of the domain ("shower")."""
    observables = metrics["observables"]
    summary = metrics["summary"]
    separation = metrics.get("separation_power", {})
    floor_from_both = set(metrics.get("floor_from_both_samples", []))
    by_ratio = sorted(observables, key=lambda name: -observables[name]["ratio"])
    counts = {words: sum(1 for e in observables.values() if ratio_band(e["ratio"])[1] == words)
              for _, _, words in RATIO_BANDS}
    auc = metrics.get("classifier_auc")
    settings = metrics.get("settings", {})
    layout = ", ".join(f"{key} {value}" for key, value in metrics.get("layout", {}).items()
                       if value is not None and key != "domain")
    cards = [
        (f"{summary['median_ratio']:.3g}", "median W1 / floor", ratio_band(summary["median_ratio"])[0]),
        (f"{summary['worst_ratio']:.3g}", f"worst: {summary['worst']}", ratio_band(summary["worst_ratio"])[0]),
        ("&ndash;" if auc is None else f"{auc:.3f}", f"classifier AUC ({auc_band(auc)[1]})", auc_band(auc)[0]),
        (str(len(observables)), "observables compared", "#fff"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>surrogate validate: {html.escape(Path(metrics['candidate']).name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Validation report</h1>",
        f"<p>candidate <code>{html.escape(metrics['candidate'])}</code> ({metrics['n_candidate']} {noun}s) against "
        f"reference <code>{html.escape(metrics['reference'])}</code> ({metrics['n_reference']} {noun}s); "
        f"domain {html.escape(str(metrics.get('domain', '')))}{'; ' + html.escape(layout) if layout else ''}.</p>",
        f"<p class='verdict'>{html.escape(verdict(observables))}</p>",
    ]
    parts.append("<div class='summary'>" + "".join(
        f"<div class='card' style='background:{colour}'><div class='value'>{value}</div>"
        f"<div class='label'>{html.escape(label)}</div></div>" for value, label, colour in cards) + "</div>")
    parts.append(
        "<p>Each observable's 1D Wasserstein distance W1 is divided by its <em>noise floor</em>, the W1 expected "
        "between two independent samples of the reference at these sample sizes, so a ratio near 1 means the "
        "candidate is as close to the reference as a second reference sample would be. W1 carries the "
        "observable's unit. The <em>separation power</em> &frac12; &Sigma; (p &minus; q)&sup2; / (p + q) over "
        "the histogram bins (p, q the reference's and the candidate's normalised histograms) is 0 for "
        "identical shapes and 1 for shapes that never overlap; unlike the ratio it ignores the sample "
        "sizes. The classifier AUC is 0.5 when a network cannot tell the samples apart on these "
        "observables; even two independent runs of the reference simulator can give 0.6 on hard "
        "datasets.</p>")
    if floor_from_both:
        parts.append(f"<p>&dagger; Nearly every reference {noun} has the same value of this observable, too "
                     "few differ to show the reference's own noise; its floor is the W1 expected after "
                     f"exchanging {noun}s between the two samples.</p>")
    parts.append("<p class='legend'>" + "".join(
        f"<span style='background:{colour}'>ratio &le; {upper:g}: {words} ({counts[words]})</span>"
        if math.isfinite(upper) else f"<span style='background:{colour}'>ratio &gt; {RATIO_BANDS[-2][0]:g}: "
        f"{words} ({counts[words]})</span>" for upper, colour, words in RATIO_BANDS) + "</p>")
    largest = _observable_rows(observables, by_ratio[:_TOP_ROWS], separation, floor_from_both)
    parts.append(f"<h2>Largest ratios</h2>{largest}")
    titles = {"overview": "All ratios", "histograms": "Distributions (every single observable, and the worst "
              "of each numbered group)", "profiles": "Mean profiles", "domain": "Physics performance"}
    for key, title in titles.items():
        if sections.get(key):
            parts.append(f"<h2>{html.escape(title)}</h2><div class='gallery'>"
                         + "".join(_image_tag(path, out_dir) for path in sections[key]) + "</div>")
    if metrics.get("condition_bins"):
        parts.append(f"<h2>Per condition bin</h2>{_bins_table(metrics['condition_bins'], noun)}"
                     "<p>Every observable's numbers per bin are in metrics.json.</p>")
    parts.append(f"<h2>All observables</h2><details{' open' if len(observables) <= 40 else ''}>"
                 f"<summary>{len(observables)} observables, in the domain's order</summary>"
                 f"{_observable_rows(observables, list(observables), separation, floor_from_both)}</details>")
    parts.append(f"<p style='color:#666;font-size:0.85em'>seed {settings.get('seed')}, "
                 f"{settings.get('n_resamples')} resamples per estimate, metrics version "
                 f"{settings.get('metrics_version')}, surrogate {html.escape(str(settings.get('surrogate_version')))}."
                 " Definitions: docs/validation.md and docs/observables.md.</p>")
    if notice:
        parts.append(f"<p class='footnote'>{html.escape(notice)}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(metrics: dict[str, Any], reference: ObservedSample, candidate: ObservedSample, domain: Domain,
                 out_dir: str | Path) -> Path:
    """Draw every plot into ``out_dir/plots`` and write ``out_dir/report.html``; returns the page's path."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    observables = metrics["observables"]
    sections: dict[str, list[Path]] = {}
    with report_style() as notice:
        sections["overview"] = [ratio_overview(observables, plots / "ratios.png")]
        histograms = []
        for name in plotted_observables(observables, set(reference.pooled)):
            histograms.append(scalar_histogram(name, reference.scalars[name], candidate.scalars[name],
                                               observables[name], plots / f"hist_{name}.png"))
        for name in reference.pooled:
            histograms.append(pooled_histogram(name, reference.pooled[name], candidate.pooled[name],
                                               observables[name], plots / f"hist_{name}.png"))
        sections["histograms"] = histograms
        sections["profiles"] = [profile_plot(name, profile, candidate.profiles[name], plots / f"profile_{name}.png")
                                for name, profile in reference.profiles.items()]
        sections["domain"] = list(domain.report_plots(reference, candidate, plots))
    page = out_dir / "report.html"
    with atomic_path(page) as temporary:
        temporary.write_text(render_html(metrics, sections, out_dir, notice, domain.event_noun), encoding="utf-8")
    return page
