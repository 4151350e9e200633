"""Statistics that compare a candidate sample with a reference sample, domain-agnostic.

* 1D Wasserstein distance (W1) with a bootstrap error, and the *noise floor*: the W1 expected between
  two independent samples of the reference distribution of the sizes being compared, estimated from
  the reference alone by resampling. ``ratio = w1 / noise_floor`` is ~1 for a perfect candidate.
* The sliced Wasserstein distance (POT) between vectors of features standardised with the reference's
  mean and spread, with the same kind of noise floor.
* The CaloChallenge separation power of two histograms.
* A classifier two-sample test: a small MLP trained to tell the samples apart, scored on a held-out
  split by its ROC AUC (0.5 = indistinguishable), and its floor: the same test between two halves of
  the reference.

Events may come in correlated *groups* (the maps cut from one N-body box): given group ids, the floors
split and the errors resample whole groups, and the classifier keeps each group on one side of its
train/test split, so that the numbers describe independent boxes, not independent maps. Without group
ids every event is its own group and nothing changes.

Everything random takes an explicit seed; none of it touches global random state. The estimators are
described in docs/validation.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: A ratio is capped here: it is only reached when the reference is constant (floor 0) and the
#: candidate is not, and keeps metrics.json finite (JSON has no infinity).
RATIO_CAP = 1e6

#: Resampling estimates use at most this many events of each sample; larger samples are estimated
#: on a random subset and carried to the full sizes with the sqrt(1/m + 1/n) law, so the cost of a
#: comparison stops growing with the file size.
MAX_RESAMPLED_EVENTS = 20_000

#: Resampled W1 values held in memory at once: (replicas x atoms) float64 entries per block.
_BLOCK_ENTRIES = 4_000_000


#: Below this many reference events away from the reference's most common value (e.g. showers
#: reaching a deep layer at all), the reference cannot show its own noise: the floor then comes from
#: exchanging events between the samples (:func:`permutation_floor`). Only for references that are
#: mostly that one value (see :func:`too_sparse`): a small sample of distinct events (a condition bin
#: of 80 showers) shows its noise, and a floor taken from both samples would grow with the candidate's
#: own error (it made one bin's floor 6x smaller than its neighbours').
MIN_INFORMATIVE_EVENTS = 100


@dataclass(frozen=True)
class Comparison:
    """One observable's verdict: W1, its bootstrap error, the noise floor and their ratio.

    floor_from_both: True when the reference alone was too sparse for its floor (see
    MIN_INFORMATIVE_EVENTS) and the floor was estimated by exchanging events between the samples.
    """

    w1: float
    w1_err: float
    noise_floor: float
    ratio: float
    floor_from_both: bool = False

    def as_dict(self) -> dict[str, float]:
        """The four numbers metrics.json holds per observable."""
        return {key: value for key, value in asdict(self).items() if key != "floor_from_both"}


def w1(u: np.ndarray, v: np.ndarray, u_weights: np.ndarray | None = None,
       v_weights: np.ndarray | None = None) -> float:
    """The 1D Wasserstein-1 distance between two (optionally weighted) samples, from scipy."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(u, v, u_weights, v_weights))


def w1_on_grid(positions: np.ndarray, weights_a: np.ndarray, weights_b: np.ndarray) -> np.ndarray:
    """W1 between distributions sharing sorted support ``positions`` (K,), weights (..., K) each.

    W1 is the integral of |F_a - F_b|; with a common sorted support the CDFs are step functions
    and the integral is a sum over the gaps between neighbouring atoms. Weights need not be
    normalised. Vectorised over leading axes (one W1 per replica).
    """
    weights_a = np.asarray(weights_a, dtype=float)
    weights_b = np.asarray(weights_b, dtype=float)
    return _w1_of_difference(positions, weights_a / weights_a.sum(axis=-1, keepdims=True)
                             - weights_b / weights_b.sum(axis=-1, keepdims=True))


def _w1_of_difference(positions: np.ndarray, difference: np.ndarray) -> np.ndarray:
    """W1 from the difference of two normalised weight vectors on sorted ``positions`` (one cumsum)."""
    cdf_gap = np.cumsum(difference, axis=-1)
    return np.abs(cdf_gap[..., :-1]) @ np.diff(positions)


def ratio_to_floor(w1_value: float, floor: float) -> float:
    """w1 / floor, with 0/0 -> 1 (a constant observable reproduced exactly) and a cap of RATIO_CAP."""
    if floor > 0:
        return float(min(w1_value / floor, RATIO_CAP))
    return 1.0 if w1_value == 0 else RATIO_CAP


def _resample_counts(rng: np.random.Generator, n_events: int, n_draws: int, replicas: int) -> np.ndarray:
    """How often each of ``n_events`` is drawn in ``n_draws`` draws with replacement: (replicas, n_events)."""
    draws = rng.integers(0, n_events, size=(replicas, n_draws))
    draws += (np.arange(replicas) * n_events)[:, None]
    return np.bincount(draws.ravel(), minlength=replicas * n_events).reshape(replicas, n_events).astype(float)


def _replica_blocks(n_resamples: int, n_atoms: int) -> list[int]:
    size = max(1, min(n_resamples, _BLOCK_ENTRIES // max(n_atoms, 1)))
    return [min(size, n_resamples - start) for start in range(0, n_resamples, size)]


def _check_samples(reference: np.ndarray, candidate: np.ndarray | None = None) -> None:
    for name, sample in (("reference", reference), ("candidate", candidate)):
        if sample is not None and len(sample) < 2:
            raise ValueError(f"the {name} sample needs at least 2 events, got {len(sample)}")


def split_sizes(n_reference: int, n_candidate: int, available: int | None = None) -> tuple[int, int]:
    """Sizes (a, b) of the two disjoint reference parts used for the floor, a + b = ``available`` (m).

    They keep the proportion m : n of the comparison being judged, so that when the candidate is
    much smaller than the reference the parts are nearly the real sizes and little scaling is left.
    """
    available = n_reference if available is None else available
    a = int(round(available * n_reference / (n_reference + n_candidate)))
    a = min(max(a, 1), available - 1)
    return a, available - a


def _split_masks(rng: np.random.Generator, n_events: int, size_a: int, replicas: int) -> np.ndarray:
    """(replicas, n_events) booleans, each row a uniformly random subset of ``size_a`` events."""
    keys = rng.random((replicas, n_events))
    threshold = np.partition(keys, size_a - 1, axis=1)[:, size_a - 1:size_a]
    return keys <= threshold


def _size_scale(from_a: int, from_b: int, to_a: int, to_b: int) -> float:
    """sqrt(1/to_a + 1/to_b) / sqrt(1/from_a + 1/from_b): W1 (or its spread) at one pair of sizes -> another."""
    return float(np.sqrt((1 / to_a + 1 / to_b) / (1 / from_a + 1 / from_b)))


def _capped(rng: np.random.Generator, sample: np.ndarray) -> np.ndarray:
    """``sample``, or a random subset of MAX_RESAMPLED_EVENTS of its events (rows) when it is larger."""
    if len(sample) <= MAX_RESAMPLED_EVENTS:
        return sample
    return sample[np.sort(rng.choice(len(sample), MAX_RESAMPLED_EVENTS, replace=False))]


def dense_groups(groups: np.ndarray) -> np.ndarray:
    """Group ids renumbered 0..G-1 (in order of first sorted id), int64."""
    return np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1).astype(np.int64)


def _group_split(rng: np.random.Generator, units: np.ndarray, size_a: int, replicas: int) -> np.ndarray:
    """(replicas, n_events) booleans: each row puts a random ``size_a`` of the groups (dense ``units``) in part A."""
    return _split_masks(rng, int(units.max()) + 1, size_a, replicas)[:, units]


def _per_unit_size(values: np.ndarray, in_a: np.ndarray) -> np.ndarray:
    """W1 of each split replica divided by sqrt(1/a + 1/b) (a, b: the events in each part), so that
    replicas whose groups happened to give unequal parts estimate one scale."""
    size_a = in_a.sum(axis=1)
    return values / np.sqrt(1.0 / size_a + 1.0 / (in_a.shape[1] - size_a))


def _combined_floor(group_scale: float, event_scale: float, m: int, n: int, candidate_grouped: bool) -> float:
    """Floor at sizes (m, n) from W1 per sqrt(1/a + 1/b): the reference's part with its groups kept
    together, the candidate's with groups like the reference's or, when its events are independent
    (generated maps), with the scale of independent events."""
    candidate_scale = group_scale if candidate_grouped else event_scale
    return float(np.sqrt(group_scale**2 / m + candidate_scale**2 / n))


def grouped_noise_floor(reference: np.ndarray, groups: np.ndarray, n_candidate: int, *,
                        candidate_grouped: bool = False, n_resamples: int = 50, seed: int) -> float:
    """:func:`noise_floor` for a reference whose events come in correlated groups (maps of one box).

    Each replica splits the reference's *groups* into two parts (split_sizes of the group count) and
    computes their W1; its scale per sqrt(1/a + 1/b) events carries the box-to-box variance that a
    split of single events averages away. The reference contributes that scale at its size m; the
    candidate contributes it at size n when ``candidate_grouped``, else (independent events) the
    event-split scale of :func:`noise_floor`. The two parts add in quadrature. Needs two groups.
    """
    reference = np.asarray(reference, dtype=float)
    _check_samples(reference)
    units = dense_groups(groups)
    n_groups = int(units.max()) + 1 if len(units) else 0
    if n_groups < 2:
        raise ValueError(f"the reference needs at least 2 groups for a grouped floor, got {n_groups}")
    m, n = len(reference), int(n_candidate)
    group_seed, event_seed = (int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(2))
    rng = np.random.default_rng(group_seed)
    order = np.argsort(reference, kind="stable")
    positions, units = reference[order], units[order]
    size_a, _ = split_sizes(m, n, n_groups)
    values = []
    for replicas in _replica_blocks(n_resamples, m):
        in_a = _group_split(rng, units, size_a, replicas)
        weights = np.where(in_a, 1.0 / in_a.sum(axis=1, keepdims=True), -1.0 / (~in_a).sum(axis=1, keepdims=True))
        values.append(_per_unit_size(_w1_of_difference(positions, weights), in_a))
    event_scale = 0.0 if candidate_grouped else noise_floor(reference, n, n_resamples=n_resamples,
                                                             seed=event_seed) / np.sqrt(1 / m + 1 / n)
    return _combined_floor(_mean(values), event_scale, m, n, candidate_grouped)


def noise_floor(reference: np.ndarray, n_candidate: int, *, n_resamples: int = 50, seed: int) -> float:
    """Expected W1 between two independent samples of the reference distribution, of sizes m and n.

    m = len(reference) and n = n_candidate are the sizes of the comparison actually made. Each
    replica splits the reference at random into two disjoint parts of sizes (a, b) = split_sizes(m, n)
    -- two genuinely independent samples of the reference distribution -- and computes their W1.
    The mean over replicas is then scaled from the parts' sizes to (m, n) with the 1D law
    E[W1] ~ sqrt(1/a + 1/b) (the two-sample CDF difference is a Brownian bridge of that scale), so
    the floor shrinks like sqrt(1/m + 1/n). Unlike a bootstrap from the reference, the parts keep
    the reference's real tails, so the estimate is not biased low. Beyond MAX_RESAMPLED_EVENTS the
    parts are drawn from a random subset of that size (same law, bounded cost).
    """
    reference = np.asarray(reference, dtype=float)
    _check_samples(reference)
    m, n = len(reference), int(n_candidate)
    rng = np.random.default_rng(seed)
    subset = np.sort(_capped(rng, reference))
    size_a, size_b = split_sizes(m, n, len(subset))
    values = []
    for replicas in _replica_blocks(n_resamples, len(subset)):
        in_a = _split_masks(rng, len(subset), size_a, replicas)
        values.append(_w1_of_difference(subset, np.where(in_a, 1.0 / size_a, -1.0 / size_b)))
    return _mean(values) * _size_scale(size_a, size_b, m, n)


def permutation_floor(reference: np.ndarray, candidate: np.ndarray, *, n_resamples: int = 50, seed: int) -> float:
    """Mean W1 after randomly exchanging events between the two samples (sizes kept).

    The expected W1 if both samples came from one distribution, estimated from both. Used only when
    the reference alone is too sparse to show its noise: a handful of stray candidate events then
    gives a ratio of order one, growing like the square root of their number, not infinity.
    """
    rng = np.random.default_rng(seed)
    reference = _capped(rng, np.asarray(reference, dtype=float))
    candidate = _capped(rng, np.asarray(candidate, dtype=float))
    pooled = np.concatenate([reference, candidate])
    order = np.argsort(pooled, kind="stable")
    positions = pooled[order]
    values = []
    size_a, size_b = len(reference), len(candidate)
    for replicas in _replica_blocks(n_resamples, len(pooled)):
        in_a = _split_masks(rng, len(pooled), size_a, replicas)[:, order]
        values.append(_w1_of_difference(positions, np.where(in_a, 1.0 / size_a, -1.0 / size_b)))
    return _mean(values)


def _sample_units(rng: np.random.Generator, sample: np.ndarray,
                  groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The sample to resample and its dense group ids: capped (:func:`_capped`) when its events are
    independent (groups None), whole otherwise (a random subset of events would split groups)."""
    if groups is None:
        return _capped(rng, sample), None
    return sample, dense_groups(groups)


def bootstrap_counts(rng: np.random.Generator, units: np.ndarray | None, n_events: int,
                     replicas: int) -> np.ndarray:
    """How often each event is drawn in a bootstrap replica (replicas, n_events): events drawn n_events
    times with replacement, or, with groups (dense ``units``), whole groups drawn as often as there are."""
    if units is None:
        return _resample_counts(rng, n_events, n_events, replicas)
    n_groups = int(units.max()) + 1
    return _resample_counts(rng, n_groups, n_groups, replicas)[:, units]


def w1_bootstrap_error(reference: np.ndarray, candidate: np.ndarray, *, n_resamples: int = 50, seed: int,
                       reference_groups: np.ndarray | None = None,
                       candidate_groups: np.ndarray | None = None) -> float:
    """Standard deviation of W1 over bootstrap replicas of both samples (each resampled at its size).

    A sample with group ids is resampled by whole groups. Samples of independent events beyond
    MAX_RESAMPLED_EVENTS are bootstrapped from a random subset of that size and the spread is scaled to
    the full sizes like the floor.
    """
    reference = np.asarray(reference, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    _check_samples(reference, candidate)
    rng = np.random.default_rng(seed)
    sub_reference, reference_units = _sample_units(rng, reference, reference_groups)
    sub_candidate, candidate_units = _sample_units(rng, candidate, candidate_groups)
    m, n = len(sub_reference), len(sub_candidate)
    positions = np.concatenate([sub_reference, sub_candidate])
    order = np.argsort(positions, kind="stable")
    positions = positions[order]
    values = []
    for replicas in _replica_blocks(n_resamples, m + n):
        drawn_a = bootstrap_counts(rng, reference_units, m, replicas)
        drawn_b = bootstrap_counts(rng, candidate_units, n, replicas)
        difference = np.concatenate([drawn_a / drawn_a.sum(axis=1, keepdims=True),
                                     -drawn_b / drawn_b.sum(axis=1, keepdims=True)], axis=1)
        difference = np.ascontiguousarray(difference[:, order])  # C order: BLAS sums it as it always did
        values.append(_w1_of_difference(positions, difference))
    return _std(values) * _size_scale(m, n, len(reference), len(candidate))


def compare(reference: np.ndarray, candidate: np.ndarray, *, n_resamples: int = 50, seed: int,
            reference_groups: np.ndarray | None = None, candidate_groups: np.ndarray | None = None) -> Comparison:
    """W1 (scipy), its bootstrap error, the reference's noise floor at these sizes, and the ratio.

    A reference that is nearly constant (:func:`too_sparse`: a deep layer that few showers reach)
    cannot show its own noise; its floor
    is then :func:`permutation_floor`, so a few stray candidate events do not give huge ratios.
    With ``reference_groups`` (two groups at least) the floor is :func:`grouped_noise_floor`; groups of
    either sample are resampled whole for the error.
    """
    reference = np.asarray(reference, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    _check_samples(reference, candidate)
    floor_seed, error_seed = (int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(2))
    distance = w1(reference, candidate)
    sparse = too_sparse(reference)
    if sparse:
        floor = permutation_floor(reference, candidate, n_resamples=n_resamples, seed=floor_seed) * _size_scale(
            min(len(reference), MAX_RESAMPLED_EVENTS), min(len(candidate), MAX_RESAMPLED_EVENTS),
            len(reference), len(candidate))
    elif reference_groups is not None:
        floor = grouped_noise_floor(reference, reference_groups, len(candidate), n_resamples=n_resamples,
                                    candidate_grouped=candidate_groups is not None, seed=floor_seed)
    else:
        floor = noise_floor(reference, len(candidate), n_resamples=n_resamples, seed=floor_seed)
    error = w1_bootstrap_error(reference, candidate, n_resamples=n_resamples, seed=error_seed,
                               reference_groups=reference_groups, candidate_groups=candidate_groups)
    return Comparison(distance, error, floor, ratio_to_floor(distance, floor), sparse)


#: Random directions of the sliced Wasserstein distance (the same ones for the distance, its floor and error).
SLICED_PROJECTIONS = 50


def standardise(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both (N, F) samples in units of the reference's per-feature mean and standard deviation (a constant
    feature keeps scale 1), so that features in MeV, mm and ratios weigh alike."""
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (reference - mean) / std, (candidate - mean) / std


def sliced_w1(a: np.ndarray, b: np.ndarray, *, n_projections: int = SLICED_PROJECTIONS, seed: int) -> float:
    """Sliced Wasserstein-1 distance between samples (N, F) and (M, F): the mean over ``n_projections``
    random unit directions (fixed by ``seed``, drawn as POT draws them) of the 1D W1 of the projected
    samples, by POT's ``ot.sliced_wasserstein_distance`` with p = 1."""
    import ot

    directions = ot.sliced.get_random_projections(np.shape(a)[1], n_projections, seed=seed)
    return float(ot.sliced_wasserstein_distance(a, b, projections=directions, p=1))


def compare_sliced(reference: np.ndarray, candidate: np.ndarray, *, n_resamples: int = 50,
                   n_projections: int = SLICED_PROJECTIONS, seed: int, reference_groups: np.ndarray | None = None,
                   candidate_grouped: bool = False) -> dict[str, float]:
    """Sliced W1 between two samples of feature vectors (N, F) standardised with the reference
    (:func:`standardise`), its noise floor and their ratio: ``{"w1", "noise_floor", "ratio"}``.

    The distance is a mean of 1D W1 over directions, so its expected value for two independent
    reference samples is the mean over the same directions of each projection's :func:`noise_floor`
    (split replicas of the projected reference, carried to the sizes (m, n)), which is how the floor
    is computed: exactly, and at the cost of the 1D floors (:func:`grouped_noise_floor` with
    ``reference_groups``).
    """
    import ot

    reference, candidate = standardise(np.asarray(reference, dtype=float), np.asarray(candidate, dtype=float))
    _check_samples(reference, candidate)
    projection_seed, floor_seed = (int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(2))
    directions = ot.sliced.get_random_projections(reference.shape[1], n_projections, seed=projection_seed)
    distance = float(ot.sliced_wasserstein_distance(reference, candidate, projections=directions, p=1))
    projected = reference @ directions
    floor_seeds = np.random.SeedSequence(floor_seed).generate_state(n_projections)
    def floor_of(values: np.ndarray, seed: int) -> float:
        if reference_groups is None:
            return noise_floor(values, len(candidate), n_resamples=n_resamples, seed=seed)
        return grouped_noise_floor(values, reference_groups, len(candidate), candidate_grouped=candidate_grouped,
                                   n_resamples=n_resamples, seed=seed)

    floor = float(np.mean([floor_of(projected[:, k], int(floor_seeds[k])) for k in range(n_projections)]))
    return {"w1": distance, "noise_floor": floor, "ratio": ratio_to_floor(distance, floor)}


def informative_events(values: np.ndarray) -> int:
    """How many events differ from the most common one (values (N,), or per-event histograms (N, B))."""
    _, counts = np.unique(values, axis=0, return_counts=True)
    return int(len(values) - counts.max())


def too_sparse(values: np.ndarray) -> bool:
    """True when the reference cannot show its own noise: fewer than MIN_INFORMATIVE_EVENTS events
    differ from its most common one, and those are a minority of the sample (nearly constant)."""
    return informative_events(values) < min(MIN_INFORMATIVE_EVENTS, len(values) / 2)


def compare_pooled(edges: np.ndarray, reference_counts: np.ndarray, candidate_counts: np.ndarray, *,
                   n_resamples: int = 50, seed: int, reference_groups: np.ndarray | None = None,
                   candidate_groups: np.ndarray | None = None) -> Comparison:
    """Like :func:`compare` for values pooled over events, given per-event histograms (N, B) on ``edges``.

    The distributions are the summed histograms placed at the bin centres. The floor splits and the
    error resamples whole events (histogram rows), so entries of one event, which are correlated,
    stay together; otherwise the estimators are those of :func:`noise_floor` and
    :func:`w1_bootstrap_error`. With ``reference_groups`` (two groups at least) the floor also splits
    whole groups and combines as :func:`grouped_noise_floor` does; groups are resampled whole for the error.
    """
    edges = np.asarray(edges, dtype=float)
    centers = 0.5 * (edges[1:] + edges[:-1])
    reference_counts = np.asarray(reference_counts, dtype=float)
    candidate_counts = np.asarray(candidate_counts, dtype=float)
    _check_samples(reference_counts, candidate_counts)
    m, n = len(reference_counts), len(candidate_counts)
    reference_total = reference_counts.sum(axis=0)
    candidate_total = candidate_counts.sum(axis=0)
    if reference_total.sum() == 0 or candidate_total.sum() == 0:
        empty = reference_total.sum() == candidate_total.sum()
        return Comparison(0.0, 0.0, 0.0, 1.0 if empty else RATIO_CAP)
    distance = w1(centers, centers, reference_total, candidate_total)
    rng = np.random.default_rng(seed)
    sub_reference, reference_units = _sample_units(rng, reference_counts, reference_groups)
    sub_candidate, candidate_units = _sample_units(rng, candidate_counts, candidate_groups)
    sub_m, sub_n = len(sub_reference), len(sub_candidate)
    floors, group_floors, errors = [], [], []
    size_a, size_b = split_sizes(m, n, sub_m)
    for replicas in _replica_blocks(n_resamples, max(sub_m, sub_n)):
        in_a = _split_masks(rng, sub_m, size_a, replicas)
        floors.append(_masked_w1(centers, in_a @ sub_reference, ~in_a @ sub_reference))
        if reference_units is not None:
            in_a = _group_split(rng, reference_units, split_sizes(m, n, int(reference_units.max()) + 1)[0], replicas)
            part_a, part_b = in_a @ sub_reference, ~in_a @ sub_reference
            keep = (part_a.sum(axis=1) > 0) & (part_b.sum(axis=1) > 0)
            group_floors.append(_per_unit_size(w1_on_grid(centers, part_a[keep], part_b[keep]), in_a[keep]))
        ref_star = bootstrap_counts(rng, reference_units, sub_m, replicas) @ sub_reference
        cand_star = bootstrap_counts(rng, candidate_units, sub_n, replicas) @ sub_candidate
        errors.append(_masked_w1(centers, ref_star, cand_star))
    floor = _mean(floors) * _size_scale(size_a, size_b, m, n)
    if reference_units is not None:
        floor = _combined_floor(_mean(group_floors), floor / np.sqrt(1 / m + 1 / n), m, n,
                                candidate_units is not None)
    sparse = too_sparse(reference_counts)
    if sparse or (floor == 0 and distance > 0):  # exchange whole events between the samples instead
        both = np.concatenate([sub_reference, sub_candidate])
        exchanged = [_masked_w1(centers, in_a @ both, ~in_a @ both)
                     for in_a in (_split_masks(rng, sub_m + sub_n, sub_m, replicas)
                                  for replicas in _replica_blocks(n_resamples, sub_m + sub_n))]
        floor, sparse = _mean(exchanged) * _size_scale(sub_m, sub_n, m, n), True
    error = _std(errors) * _size_scale(sub_m, sub_n, m, n)
    return Comparison(distance, error, floor, ratio_to_floor(distance, floor), sparse)


def _mean(parts: list[np.ndarray]) -> float:
    values = np.concatenate(parts)
    return float(values.mean()) if len(values) else 0.0


def _std(parts: list[np.ndarray]) -> float:
    values = np.concatenate(parts)
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _masked_w1(positions: np.ndarray, weights_a: np.ndarray, weights_b: np.ndarray) -> np.ndarray:
    """w1_on_grid, skipping replicas where either side drew only empty events."""
    keep = (weights_a.sum(axis=1) > 0) & (weights_b.sum(axis=1) > 0)
    return w1_on_grid(positions, weights_a[keep], weights_b[keep])


def histogram_edges(reference: np.ndarray, n_bins: int = 40) -> np.ndarray:
    """Bins over the reference's central 99.8% (values outside are clipped into the end bins).

    Equal in log when the reference is positive and that range spans more than two decades
    (energies of a log-uniform incident-energy spectrum), equal in width otherwise.
    """
    reference = np.asarray(reference, dtype=float)
    low, high = np.quantile(reference, [0.001, 0.999])
    if high <= low:
        low, high = reference.min(), reference.max()
    if high <= low:
        half_width = max(abs(low) * 0.05, 0.5)
        low, high = low - half_width, low + half_width
    if low > 0 and high / low > 100:
        return np.geomspace(low, high, n_bins + 1)
    return np.linspace(low, high, n_bins + 1)


def is_log_binning(edges: np.ndarray) -> bool:
    """True for edges made by :func:`histogram_edges` equal in log."""
    return bool(edges[0] > 0 and edges[-1] / edges[0] > 100)


def clipped_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts on ``edges`` with values outside put in the first or last bin, so no entry is lost."""
    clipped = np.clip(values, edges[0], edges[-1])
    return np.histogram(clipped, bins=edges)[0].astype(float)


def separation_power(reference_hist: np.ndarray, candidate_hist: np.ndarray) -> float:
    """CaloChallenge separation power 0.5 * sum (p - q)^2 / (p + q) of two histograms on the same bins.

    p and q are the histograms normalised to unit sum: 0 for identical shapes, 1 for disjoint ones.
    """
    p = np.asarray(reference_hist, dtype=float)
    q = np.asarray(candidate_hist, dtype=float)
    p = p / p.sum()
    q = q / q.sum()
    total = p + q
    nonzero = total > 0
    return float(0.5 * np.sum((p[nonzero] - q[nonzero]) ** 2 / total[nonzero]))


def auc_mann_whitney(negative_scores: np.ndarray, positive_scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic: P(positive score > negative score), ties counting 1/2."""
    from scipy.stats import rankdata

    negative_scores = np.asarray(negative_scores, dtype=float)
    positive_scores = np.asarray(positive_scores, dtype=float)
    n_neg, n_pos = len(negative_scores), len(positive_scores)
    ranks = rankdata(np.concatenate([negative_scores, positive_scores]))
    u_statistic = ranks[n_neg:].sum() - n_pos * (n_pos + 1) / 2
    return float(u_statistic / (n_neg * n_pos))


def _rank_gauss(train: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map each column through the training columns' empirical CDF, then the normal quantile.

    A monotone per-feature transform (so nothing a classifier could use is lost) that makes
    heavy-tailed energies and bounded fractions alike well scaled; ties share their mid rank.
    """
    from scipy.special import ndtri

    out = np.empty_like(values, dtype=float)
    n_train = len(train)
    for column in range(train.shape[1]):
        ordered = np.sort(train[:, column])
        low = np.searchsorted(ordered, values[:, column], side="left")
        high = np.searchsorted(ordered, values[:, column], side="right")
        quantile = (0.5 * (low + high) + 0.5) / (n_train + 1)
        out[:, column] = ndtri(quantile)
    return out


def _grouped_split(rng: np.random.Generator, units: np.ndarray, n_test: int,
                   n_valid: int) -> list[np.ndarray]:
    """Indices (test, valid, train) with whole groups (dense ``units``) on one side each: groups in a
    random order, the test part ends at the first group boundary at or past ``n_test`` events, the
    validation part ``n_valid`` events later."""
    unit_order = rng.permutation(int(units.max()) + 1)
    rank = np.empty_like(unit_order)
    rank[unit_order] = np.arange(len(unit_order))
    order = np.argsort(rank[units], kind="stable")
    ends = np.cumsum(np.bincount(units)[unit_order])
    test_end = ends[np.searchsorted(ends, n_test)]
    valid_end = ends[min(np.searchsorted(ends, test_end + n_valid), len(ends) - 1)]
    return np.split(order, [test_end, valid_end])


class TooFewGroups(ValueError):
    """The groups cannot be split so that both samples lie on both sides of the classifier's split."""


def classifier_auc(reference: np.ndarray, candidate: np.ndarray, *, seed: int, test_fraction: float = 0.3,
                   hidden_units: int = 64, max_epochs: int = 60, patience: int = 6,
                   max_events_per_class: int = 50_000, reference_groups: np.ndarray | None = None,
                   candidate_groups: np.ndarray | None = None) -> float:
    """Classifier two-sample test: held-out ROC AUC of an MLP trained to separate the samples.

    reference, candidate: (N, F) high-level features. Both classes are subsampled to the same size
    (at most ``max_events_per_class``); a seeded split keeps ``test_fraction`` of the events for
    the AUC, and 20% of the rest for early stopping. 0.5 means the classifier finds no difference.
    With group ids for either sample, each group lies wholly in one part of the split, so the
    classifier is scored on groups (boxes) it never saw.
    """
    import torch

    reference = np.asarray(reference, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    if reference.ndim != 2 or candidate.ndim != 2 or reference.shape[1] != candidate.shape[1]:
        raise ValueError(f"features of shape {reference.shape} and {candidate.shape} do not match")
    rng = np.random.default_rng(seed)
    n_per_class = min(len(reference), len(candidate), max_events_per_class)
    if n_per_class < 20:
        raise ValueError(f"the classifier test needs at least 20 events per sample, got {n_per_class}")
    chosen_reference = rng.permutation(len(reference))[:n_per_class]
    chosen_candidate = rng.permutation(len(candidate))[:n_per_class]
    features = np.concatenate([reference[chosen_reference], candidate[chosen_candidate]])
    labels = np.repeat([0.0, 1.0], n_per_class)
    n_test = max(int(round(test_fraction * len(labels))), 2)
    n_valid = max(int(round(0.2 * (len(labels) - n_test))), 2)
    if reference_groups is None and candidate_groups is None:
        test, valid, train = np.split(rng.permutation(len(labels)), [n_test, n_test + n_valid])
    else:
        reference_units = (np.arange(n_per_class) if reference_groups is None
                           else dense_groups(np.asarray(reference_groups)[chosen_reference]))
        candidate_units = (np.arange(n_per_class) if candidate_groups is None
                           else dense_groups(np.asarray(candidate_groups)[chosen_candidate]))
        units = np.concatenate([reference_units, candidate_units + reference_units.max() + 1])
        test, valid, train = _grouped_split(rng, units, n_test, n_valid)
        if len(np.unique(labels[test])) < 2 or len(np.unique(labels[train])) < 2:
            raise TooFewGroups("too few groups to hold out both samples; the classifier test needs more groups")
    transformed = _rank_gauss(features[train], features)

    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**62)))
        model = torch.nn.Sequential(
            torch.nn.Linear(features.shape[1], hidden_units), torch.nn.SiLU(),
            torch.nn.Linear(hidden_units, hidden_units), torch.nn.SiLU(),
            torch.nn.Linear(hidden_units, 1),
        )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a network this small only loses time to thread hand-offs
    try:
        scores = _train_and_score(model, torch.from_numpy(transformed.astype(np.float32)),
                                  torch.from_numpy(labels.astype(np.float32)),
                                  train, valid, test, generator, max_epochs, patience)
    finally:
        torch.set_num_threads(threads)
    test_labels = labels[test]
    return auc_mann_whitney(scores[test_labels == 0], scores[test_labels == 1])


def classifier_auc_floor(reference: np.ndarray, n_candidate: int, *, seed: int,
                         groups: np.ndarray | None = None, **options) -> float | None:
    """The classifier test between two disjoint random halves of the reference, each of at most
    ``n_candidate`` events: the AUC that no real difference gives at about the sizes of the test being
    judged (its spread around 0.5 is the test's noise). None when a half would have fewer than 20 events.
    With ``groups`` the halves are halves of the groups (each capped at ``n_candidate`` events) and the
    test splits by group; None too when the groups are too few for that (:class:`TooFewGroups`).

    options: as :func:`classifier_auc`.
    """
    reference = np.asarray(reference, dtype=float)
    rng = np.random.default_rng(seed)
    if groups is None:
        size = min(len(reference) // 2, int(n_candidate))
        if size < 20:
            return None
        order = rng.permutation(len(reference))
        return classifier_auc(reference[order[:size]], reference[order[size:2 * size]],
                              seed=int(rng.integers(2**62)), **options)
    units = dense_groups(groups)
    in_a = _split_masks(rng, int(units.max()) + 1, (int(units.max()) + 1) // 2, 1)[0][units]
    half_a, half_b = (rng.permutation(np.flatnonzero(mask))[:int(n_candidate)] for mask in (in_a, ~in_a))
    if min(len(half_a), len(half_b)) < 20:
        return None
    try:
        return classifier_auc(reference[half_a], reference[half_b], seed=int(rng.integers(2**62)),
                              reference_groups=units[half_a], candidate_groups=units[half_b], **options)
    except TooFewGroups:
        return None


def _train_and_score(model, x, y, train: np.ndarray, valid: np.ndarray, test: np.ndarray, generator,
                     max_epochs: int, patience: int) -> np.ndarray:
    """Adam on binary cross-entropy, early stopping on the validation loss; scores of the test rows."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    train_index = torch.from_numpy(train)
    best_loss, best_state, stale = np.inf, None, 0
    for _epoch in range(max_epochs):
        model.train()
        for batch in train_index[torch.randperm(len(train_index), generator=generator)].split(256):
            optimizer.zero_grad()
            loss_fn(model(x[batch]).squeeze(1), y[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            valid_loss = float(loss_fn(model(x[valid]).squeeze(1), y[valid]))
        if valid_loss < best_loss - 1e-4:
            best_loss, stale = valid_loss, 0
            best_state = {key: value.clone() for key, value in model.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        return model(x[test]).squeeze(1).numpy()
