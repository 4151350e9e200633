"""Groups of correlated events (maps of one N-body box): floors, errors and the classifier split by group.

The synthetic boxes have a known structure: every event of a group shares the group's offset (the
box-to-box variance, sd 1) plus its own scatter (sd 0.5), so events of one group are far from independent.
"""
import numpy as np
import pytest

from surrogate.core import stats

GROUPS, PER_GROUP = 12, 12


def boxes(rng: np.random.Generator, n_groups: int = GROUPS, per_group: int = PER_GROUP, scatter: float = 0.5):
    """(values, group ids, group offsets) of ``n_groups`` boxes of ``per_group`` events each."""
    offsets = rng.normal(size=n_groups)
    groups = np.repeat(np.arange(n_groups), per_group)
    return offsets[groups] + scatter * rng.normal(size=len(groups)), groups, offsets


def mean_ratio(pairs, grouped: bool, candidate_grouped: bool = True) -> float:
    ratios = [stats.compare(ref, cand, seed=seed, reference_groups=ref_groups if grouped else None,
                            candidate_groups=cand_groups if grouped and candidate_grouped else None).ratio
              for seed, (ref, ref_groups, cand, cand_groups) in enumerate(pairs)]
    return float(np.mean(ratios))


def test_two_independent_sets_of_boxes_sit_at_the_grouped_floor():
    rng = np.random.default_rng(0)
    pairs = [(*boxes(rng)[:2], *boxes(rng)[:2]) for _ in range(40)]
    assert mean_ratio(pairs, grouped=True) == pytest.approx(1.0, abs=0.25)
    assert mean_ratio(pairs, grouped=False) > 1.8  # single-map resampling: the floor is far too small


def test_independent_events_against_boxes_sit_at_the_combined_floor():
    """A generator's maps are independent draws of the marginal: the reference's part of the floor keeps
    its boxes, the candidate's is that of independent events."""
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(40):
        reference, groups, _ = boxes(rng)
        candidate = rng.normal(size=GROUPS * PER_GROUP) + 0.5 * rng.normal(size=GROUPS * PER_GROUP)
        pairs.append((reference, groups, candidate, None))
    assert mean_ratio(pairs, grouped=True, candidate_grouped=False) == pytest.approx(1.0, abs=0.25)


def test_maps_of_the_same_boxes_do_not_pass_as_independent():
    """Half the maps of each box against the other half of the same boxes: with single-map resampling they
    look like independent samples (ratio ~1); with box resampling they are far closer than independent
    boxes would be."""
    rng = np.random.default_rng(2)
    pairs = []
    for _ in range(40):
        values, groups, _ = boxes(rng)
        first = np.tile(np.arange(PER_GROUP) < PER_GROUP // 2, GROUPS)
        pairs.append((values[first], groups[first], values[~first], groups[~first]))
    assert mean_ratio(pairs, grouped=False) == pytest.approx(1.0, abs=0.3)
    assert mean_ratio(pairs, grouped=True) < 0.5


def test_grouped_bootstrap_error_holds_the_spread_between_independent_sets_of_boxes():
    rng = np.random.default_rng(3)
    samples = [(*boxes(rng)[:2], *boxes(rng)[:2]) for _ in range(200)]
    spread = np.std([stats.w1(ref, cand) for ref, _, cand, _ in samples])
    ref, ref_groups, cand, cand_groups = samples[0]
    grouped = np.mean([stats.w1_bootstrap_error(ref, cand, seed=seed, reference_groups=ref_groups,
                                                candidate_groups=cand_groups)
                       for seed, (ref, ref_groups, cand, cand_groups) in enumerate(samples[:20])])
    single = np.mean([stats.w1_bootstrap_error(ref, cand, seed=seed) for seed, (ref, _, cand, _) in
                      enumerate(samples[:20])])
    assert grouped == pytest.approx(spread, rel=0.35)
    assert single < 0.6 * spread


def test_grouped_pooled_floor_keeps_boxes_together():
    """Per-event histograms whose entries share their box's offset: the same verdicts as for scalars."""
    rng = np.random.default_rng(4)
    edges = np.linspace(-4, 4, 33)

    def histograms(values):
        entries = values[:, None] + 0.3 * rng.normal(size=(len(values), 50))
        return np.stack([np.histogram(row, edges)[0] for row in entries]).astype(float)

    grouped, single = [], []
    for seed in range(30):
        (ref, ref_groups, _), (cand, cand_groups, _) = boxes(rng), boxes(rng)
        ref_counts, cand_counts = histograms(ref), histograms(cand)
        grouped.append(stats.compare_pooled(edges, ref_counts, cand_counts, seed=seed, reference_groups=ref_groups,
                                            candidate_groups=cand_groups).ratio)
        single.append(stats.compare_pooled(edges, ref_counts, cand_counts, seed=seed).ratio)
    assert np.mean(grouped) == pytest.approx(1.0, abs=0.3)
    assert np.mean(single) > 1.8


def test_classifier_split_by_group_does_not_learn_the_boxes():
    """Two independent sets of boxes whose maps carry their box's fingerprint: a split of single maps lets the
    classifier learn which boxes are the reference's; a split by box does not."""
    rng = np.random.default_rng(5)

    def features(n_groups):
        offsets = rng.normal(size=(n_groups, 3))
        groups = np.repeat(np.arange(n_groups), 10)
        return offsets[groups] + 0.02 * rng.normal(size=(len(groups), 3)), groups

    (reference, ref_groups), (candidate, cand_groups) = features(30), features(30)
    single = stats.classifier_auc(reference, candidate, seed=0)
    by_group = stats.classifier_auc(reference, candidate, seed=0, reference_groups=ref_groups,
                                    candidate_groups=cand_groups)
    assert single > 0.65
    assert by_group == pytest.approx(0.5, abs=0.15)
    floor = stats.classifier_auc_floor(np.concatenate([reference, candidate]), 150, seed=0,
                                       groups=np.concatenate([ref_groups, cand_groups + 30]))
    assert floor == pytest.approx(0.5, abs=0.15)


def test_grouped_floor_needs_two_groups():
    with pytest.raises(ValueError, match="2 groups"):
        stats.grouped_noise_floor(np.random.default_rng(6).normal(size=50), np.zeros(50, int), 50, seed=0)


def test_too_few_groups_give_no_classifier_floor_instead_of_an_error():
    """Two boxes: each half of the reference is one box, so no split by box can put both halves on both
    sides; the floor is then unknown (None), as for too few events, and the test itself says why."""
    features = np.random.default_rng(0).normal(size=(60, 3))
    groups = np.repeat([0, 1], 30)
    assert stats.classifier_auc_floor(features, 60, groups=groups, seed=1) is None
    with pytest.raises(stats.TooFewGroups):
        stats.classifier_auc(features[:30], features[30:], seed=1, reference_groups=groups[:30],
                             candidate_groups=groups[30:])
