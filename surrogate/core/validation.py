"""``surrogate validate`` as a library function: two files in, metrics.json and report.html out.

Both files are read through their domain, chunk by chunk; only the domain's observables are kept
(:class:`~surrogate.core.domain.ObservedSample`), so files larger than memory are fine. Every
observable is compared with :func:`surrogate.core.stats.compare` (W1, bootstrap error, noise floor,
ratio), inclusively and in the domain's condition bins; the sliced Wasserstein distance (with its floor)
and a classifier two-sample test (with its floor) run on all scalar observables plus the conditions.
The metrics.json schema is in docs/validation.md.
"""
from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from surrogate._atomic import atomic_path
from surrogate._version import __version__
from surrogate.core import stats
from surrogate.core.domain import (
    Domain, ObservedSample, PooledHistogram, Profile, domain_for_file, read_options,
)
from surrogate.core.provenance import warn_if_training_data
from surrogate.errors import SurrogateError

log = logging.getLogger(__name__)

#: Bumped whenever an observable or estimator definition changes, so old and new numbers are not mixed.
#: 2: the floor falls back to exchanging events only for nearly constant references (stats.too_sparse).
#: 3: files with groups (maps of one N-body box) are resampled and split by whole groups.
METRICS_VERSION = 3

#: Values per chunk when reading a file (events per chunk = this / values per event).
_CHUNK_VALUES = 8_000_000

#: Condition bins with fewer events than this on either side are listed but not compared.
MIN_EVENTS_PER_BIN = 10


def observe(domain: Domain, path: str | os.PathLike, *, max_events: int | None = None,
            **read_options: Any) -> tuple[ObservedSample, tuple]:
    """One pass over ``path``: the domain's observables of its first ``max_events`` events.

    ``read_options`` go to the domain's reader. Returns the sample and the per-event shape of the
    file's events (to check layouts agree).
    """
    path = Path(path)
    first = domain.read(path, start=0, stop=1, **read_options)
    if len(first) == 0:
        raise SurrogateError("holds no events", path)
    event_shape = first.event_shape
    chunk_events = int(np.clip(_CHUNK_VALUES // max(int(np.prod(event_shape)), 1), 16, 20_000))
    if max_events is not None:
        chunk_events = min(chunk_events, max_events)
    conditions, scalars, pooled, profiles, groups = [], [], [], [], []
    condition_names, layout = first.condition_names, dict(first.layout)
    seen = 0
    for events in domain.iter_read(path, chunk_events=chunk_events, **read_options):
        if max_events is not None and seen + len(events) > max_events:
            events = events.subset(slice(0, max_events - seen))
        if len(events) == 0:
            break
        conditions.append(np.asarray(events.conditions, dtype=np.float64))
        scalars.append(domain.observables(events))
        pooled.append(domain.pooled_observables(events))
        profiles.append(domain.profiles(events))
        groups.append(events.groups)
        seen += len(events)
        if max_events is not None and seen >= max_events:
            break
    sample = ObservedSample(
        conditions=np.concatenate(conditions), condition_names=tuple(condition_names),
        scalars={name: np.concatenate([np.asarray(part[name], dtype=np.float64) for part in scalars])
                 for name in scalars[0]},
        pooled={name: PooledHistogram(histogram.edges, np.concatenate([part[name].counts for part in pooled]))
                for name, histogram in pooled[0].items()},
        profiles={name: Profile(profile.x, np.concatenate([part[name].values for part in profiles]),
                                profile.x_label, profile.y_label, profile.log_y)
                  for name, profile in profiles[0].items()},
        layout=layout,
        groups=None if any(part is None for part in groups) else np.concatenate(groups),
    )
    return sample, event_shape


def _check_same_layout(reference: ObservedSample, reference_shape: tuple, reference_path: Path,
                       candidate: ObservedSample, candidate_shape: tuple, candidate_path: Path) -> None:
    if candidate_shape != reference_shape:
        raise SurrogateError(f"events of shape {candidate_shape}, but the reference {reference_path} has "
                             f"{reference_shape}: not the same layout", candidate_path)
    if candidate.condition_names != reference.condition_names:
        raise SurrogateError(f"conditions {candidate.condition_names}, but the reference {reference_path} has "
                             f"{reference.condition_names}: not the same layout", candidate_path)
    if list(candidate.scalars) != list(reference.scalars):
        raise SurrogateError(f"observables differ from those of the reference {reference_path}: "
                             "not the same layout", candidate_path)


def _check_finite(sample: ObservedSample, path: Path) -> None:
    for name, values in sample.scalars.items():
        bad = np.count_nonzero(~np.isfinite(values))
        if bad:
            raise SurrogateError(f"{bad} events give a non-finite {name} (NaN or infinite energies?)", path)
    if not np.isfinite(sample.conditions).all():
        raise SurrogateError("non-finite conditions", path)


def _seed_for(seed: int, *words: str) -> int:
    """A seed per (observable, condition bin), stable when other observables are added or removed."""
    key = zlib.crc32("/".join(words).encode())
    return int(np.random.SeedSequence([seed, key]).generate_state(1)[0])


def resampling_groups(sample: ObservedSample, rows: np.ndarray | slice = slice(None)) -> np.ndarray | None:
    """The group ids of ``rows`` that the estimators resample whole, or None (every event independent)
    when the file has none or the rows hold fewer than two groups (nothing to resample)."""
    if sample.groups is None:
        return None
    groups = sample.groups[rows]
    return groups if len(np.unique(groups)) >= 2 else None


def group_counts(sample: ObservedSample) -> int | None:
    """How many groups a sample's events come in (None: independent events), as metrics.json records."""
    return None if sample.groups is None else len(np.unique(sample.groups))


def compare_observed(reference: ObservedSample, candidate: ObservedSample, *, seed: int, n_resamples: int,
                     reference_rows: np.ndarray | None = None, candidate_rows: np.ndarray | None = None,
                     scope: str = "inclusive") -> tuple[dict[str, stats.Comparison], dict[str, float]]:
    """Every scalar and pooled observable compared (optionally on a subset of rows of each sample),
    resampling whole groups where the samples have them (:func:`resampling_groups`).

    Returns the comparisons and the separation powers, both by observable name.
    """
    ref_rows = slice(None) if reference_rows is None else reference_rows
    cand_rows = slice(None) if candidate_rows is None else candidate_rows
    groups = {"reference_groups": resampling_groups(reference, ref_rows),
              "candidate_groups": resampling_groups(candidate, cand_rows)}
    comparisons: dict[str, stats.Comparison] = {}
    separation: dict[str, float] = {}
    for name, ref_values in reference.scalars.items():
        ref_values, cand_values = ref_values[ref_rows], candidate.scalars[name][cand_rows]
        comparisons[name] = stats.compare(ref_values, cand_values, n_resamples=n_resamples,
                                          seed=_seed_for(seed, scope, name), **groups)
        edges = stats.histogram_edges(ref_values)
        separation[name] = stats.separation_power(stats.clipped_histogram(ref_values, edges),
                                                  stats.clipped_histogram(cand_values, edges))
    for name, ref_hist in reference.pooled.items():
        ref_counts, cand_counts = ref_hist.counts[ref_rows], candidate.pooled[name].counts[cand_rows]
        comparisons[name] = stats.compare_pooled(ref_hist.edges, ref_counts, cand_counts,
                                                 n_resamples=n_resamples, seed=_seed_for(seed, scope, name),
                                                 **groups)
        ref_total, cand_total = ref_counts.sum(axis=0), cand_counts.sum(axis=0)
        if ref_total.sum() > 0 and cand_total.sum() > 0:
            separation[name] = stats.separation_power(ref_total, cand_total)
    return comparisons, separation


def summarize(comparisons: dict[str, stats.Comparison]) -> dict[str, Any]:
    """The worst observable, its ratio, and the median ratio."""
    ratios = {name: comparison.ratio for name, comparison in comparisons.items()}
    worst = max(ratios, key=ratios.get)
    return {"worst": worst, "worst_ratio": ratios[worst], "median_ratio": float(np.median(list(ratios.values())))}


def classifier_features(sample: ObservedSample) -> np.ndarray:
    """(N, C + S): the conditions, then every scalar observable (:func:`feature_names`), for the classifier
    test and the sliced Wasserstein distance."""
    return np.column_stack([sample.conditions, *sample.scalars.values()])


def feature_names(sample: ObservedSample) -> list[str]:
    """The names of :func:`classifier_features`' columns."""
    return [*sample.condition_names, *sample.scalars]


def compute_metrics(reference: ObservedSample, candidate: ObservedSample, domain: Domain, *, seed: int = 0,
                    n_resamples: int = 50, classifier: bool = True) -> dict[str, Any]:
    """metrics.json's content (without the file paths) for two observed samples of one layout."""
    log.info("comparing %d observables", len(reference.scalars) + len(reference.pooled))
    comparisons, separation = compare_observed(reference, candidate, seed=seed, n_resamples=n_resamples)
    reference_features, candidate_features = classifier_features(reference), classifier_features(candidate)
    log.info("sliced Wasserstein distance over %d features", reference_features.shape[1])
    reference_groups, candidate_groups = resampling_groups(reference), resampling_groups(candidate)
    if reference.groups is not None and reference_groups is None:
        log.warning("every reference event comes from one group (one box): the noise floors treat them as "
                    "independent, which understates the floor")
    sliced = stats.compare_sliced(reference_features, candidate_features, n_resamples=n_resamples,
                                  seed=_seed_for(seed, "sliced"), reference_groups=reference_groups,
                                  candidate_grouped=candidate_groups is not None)
    auc = auc_floor = None
    if classifier:
        log.info("training the classifier two-sample test, and between two halves of the reference")
        try:
            auc = stats.classifier_auc(reference_features, candidate_features, seed=_seed_for(seed, "classifier"),
                                       reference_groups=reference_groups, candidate_groups=candidate_groups)
        except stats.TooFewGroups:
            log.warning("too few reference groups (boxes) to test the classifier on groups it never saw: "
                        "no classifier AUC")
        auc_floor = stats.classifier_auc_floor(reference_features, len(candidate), groups=reference_groups,
                                               seed=_seed_for(seed, "classifier floor"))
    bins = []
    for label, ref_mask, cand_mask in domain.condition_bins(reference.condition_names, reference.conditions,
                                                               candidate.conditions):
        entry: dict[str, Any] = {"label": label, "n_reference": int(ref_mask.sum()),
                                 "n_candidate": int(cand_mask.sum())}
        if min(entry["n_reference"], entry["n_candidate"]) < MIN_EVENTS_PER_BIN:
            entry["skipped"] = f"fewer than {MIN_EVENTS_PER_BIN} events in one of the samples"
        else:
            log.info("comparing in the bin %s", label)
            in_bin, _ = compare_observed(reference, candidate, seed=seed, n_resamples=n_resamples,
                                         reference_rows=np.flatnonzero(ref_mask),
                                         candidate_rows=np.flatnonzero(cand_mask), scope=label)
            entry["observables"] = {name: comparison.as_dict() for name, comparison in in_bin.items()}
            entry["summary"] = summarize(in_bin)
        bins.append(entry)
    return {
        "n_reference": len(reference),
        "n_candidate": len(candidate),
        "observables": {name: comparison.as_dict() for name, comparison in comparisons.items()},
        "classifier_auc": auc,
        "summary": summarize(comparisons),
        "classifier_auc_floor": auc_floor,
        "sliced_wasserstein": {**sliced, "features": feature_names(reference),
                               "n_projections": stats.SLICED_PROJECTIONS},
        "separation_power": separation,
        "floor_from_both_samples": [name for name, comparison in comparisons.items() if comparison.floor_from_both],
        "condition_bins": bins,
        "domain": domain.name,
        "layout": {key: value for key, value in reference.layout.items()
                   if isinstance(value, (str, int, float, bool, type(None))) and len(str(value)) <= 200},
        "settings": {"seed": seed, "n_resamples": n_resamples, "metrics_version": METRICS_VERSION,
                     "surrogate_version": __version__,
                     "groups": {"reference": group_counts(reference), "candidate": group_counts(candidate)}},
    }


def write_metrics(metrics: dict[str, Any], path: str | os.PathLike) -> None:
    """metrics.json, atomically; strict JSON (no NaN or infinity)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")


def validate(reference: str | os.PathLike, candidate: str | os.PathLike, out_dir: str | os.PathLike, *,
             seed: int = 0, max_events: int | None = None, classifier: bool = True, n_resamples: int = 50,
             report: bool = True, reference_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compare a candidate file with a reference file of the same domain and layout.

    Writes ``out_dir/metrics.json`` and (with ``report``) ``out_dir/report.html`` with its PNG plots
    under ``out_dir/plots``. ``max_events`` caps the events read from each file (the first ones).
    ``reference_options`` are reader options for the reference (e.g. ROOT tree names, a dataset
    card); the candidate is read as it describes itself. Returns the metrics dict. Raises
    SurrogateError (naming the file) for unreadable files or files of different domains or layouts.
    """
    reference, candidate, out_dir = Path(reference), Path(candidate), Path(out_dir)
    domain = domain_for_file(reference)
    candidate_domain = domain_for_file(candidate)
    if candidate_domain is not domain:
        raise SurrogateError(f"a {candidate_domain.name} file, but the reference {reference} is a "
                             f"{domain.name} file", candidate)
    warn_if_training_data(reference, candidate)
    log.info("reading %s", reference)
    reference_sample, reference_shape = observe(domain, reference, max_events=max_events,
                                                **read_options(reference_options))
    log.info("reading %s", candidate)
    candidate_sample, candidate_shape = observe(domain, candidate, max_events=max_events)
    _check_same_layout(reference_sample, reference_shape, reference, candidate_sample, candidate_shape, candidate)
    for sample, path in ((reference_sample, reference), (candidate_sample, candidate)):
        _check_finite(sample, path)
        if len(sample) < 2:
            raise SurrogateError(f"has {len(sample)} event; validation needs at least 2", path)
    if classifier and min(len(reference_sample), len(candidate_sample)) < 20:
        raise SurrogateError("the classifier test needs at least 20 events per file; "
                             "use --no-classifier for smaller files",
                             reference if len(reference_sample) < 20 else candidate)
    metrics = {"reference": str(reference), "candidate": str(candidate)}
    metrics.update(compute_metrics(reference_sample, candidate_sample, domain, seed=seed,
                                   n_resamples=n_resamples, classifier=classifier))
    metrics["settings"]["max_events"] = max_events
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics(metrics, out_dir / "metrics.json")
    if report:
        from surrogate.core.report import write_report

        write_report(metrics, reference_sample, candidate_sample, domain, out_dir)
    return metrics
