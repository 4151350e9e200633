"""Known answers for surrogate.core.stats: W1, noise floor, bootstrap error, separation power, AUC."""
import numpy as np
import ot
import pytest

from surrogate.core import stats


def test_w1_matches_pot_on_random_data():
    rng = np.random.default_rng(0)
    for size_a, size_b in ((500, 500), (300, 800), (1, 50)):
        a, b = rng.normal(size=size_a), rng.exponential(2.0, size=size_b)
        assert stats.w1(a, b) == pytest.approx(ot.wasserstein_1d(a, b, p=1), abs=1e-10)


def test_weighted_w1_on_grid_matches_scipy_and_pot():
    rng = np.random.default_rng(1)
    positions = np.sort(rng.normal(size=40))
    weights_a, weights_b = rng.random(40), rng.random(40)
    expected = stats.w1(positions, positions, weights_a, weights_b)
    assert stats.w1_on_grid(positions, weights_a, weights_b) == pytest.approx(expected, abs=1e-12)
    pot = ot.wasserstein_1d(positions, positions, weights_a / weights_a.sum(), weights_b / weights_b.sum(), p=1)
    assert expected == pytest.approx(pot, abs=1e-10)


def test_w1_between_constant_samples_is_their_difference():
    assert stats.w1(np.full(10, 2.0), np.full(7, 5.5)) == pytest.approx(3.5)
    comparison = stats.compare(np.full(100, 1.0), np.full(50, 1.0), seed=0)
    assert (comparison.w1, comparison.noise_floor, comparison.ratio) == (0.0, 0.0, 1.0)


def test_noise_floor_matches_the_expected_w1_of_two_samples():
    """The floor estimated from one reference equals the mean W1 of genuinely independent samples."""
    rng = np.random.default_rng(2)
    m, n = 2000, 500
    truth = np.mean([stats.w1(rng.gamma(2.0, size=m), rng.gamma(2.0, size=n)) for _ in range(300)])
    floors = [stats.noise_floor(rng.gamma(2.0, size=m), n, seed=seed) for seed in range(10)]
    assert np.mean(floors) == pytest.approx(truth, rel=0.08)


def test_noise_floor_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(3)
    small = np.mean([stats.noise_floor(rng.normal(size=1000), 1000, seed=s) for s in range(8)])
    large = np.mean([stats.noise_floor(rng.normal(size=16000), 16000, seed=s) for s in range(8)])
    assert small / large == pytest.approx(4.0, rel=0.12)


def test_noise_floor_of_a_large_sample_matches_the_asymptotic_formula():
    """Beyond MAX_RESAMPLED_EVENTS the floor comes from a subset; it must still hit the 1D law
    E[W1] = sqrt(2/pi) * sqrt(1/m + 1/n) * integral sqrt(F (1 - F)) dx (here F the standard normal CDF)."""
    from scipy.integrate import quad
    from scipy.stats import norm

    m, n = 3 * stats.MAX_RESAMPLED_EVENTS, 2 * stats.MAX_RESAMPLED_EVENTS
    integral = quad(lambda x: np.sqrt(norm.cdf(x) * norm.sf(x)), -12, 12)[0]
    expected = np.sqrt(2 / np.pi) * np.sqrt(1 / m + 1 / n) * integral
    rng = np.random.default_rng(11)
    floors = [stats.noise_floor(rng.normal(size=m), n, seed=seed) for seed in range(4)]
    assert np.mean(floors) == pytest.approx(expected, rel=0.06)


def test_unequal_sizes_use_both_sizes():
    """Floor at (m, n) scales like sqrt(1/m + 1/n): a tiny candidate dominates."""
    reference = np.random.default_rng(4).normal(size=20000)
    at_100 = stats.noise_floor(reference, 100, seed=0)
    at_400 = stats.noise_floor(reference, 400, seed=0)
    expected = np.sqrt((1 / 20000 + 1 / 100) / (1 / 20000 + 1 / 400))
    assert at_100 / at_400 == pytest.approx(expected, rel=0.15)
    assert stats.split_sizes(20000, 100) == (19900, 100)


def test_same_seed_same_numbers_and_seed_matters():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=300), rng.normal(0.1, size=300)
    assert stats.compare(a, b, seed=7) == stats.compare(a, b, seed=7)
    assert stats.compare(a, b, seed=7).noise_floor != stats.compare(a, b, seed=8).noise_floor


def test_ratio_sees_a_shift_and_not_a_resample():
    rng = np.random.default_rng(6)
    reference = rng.normal(size=5000)
    same = stats.compare(reference, rng.normal(size=5000), seed=0)
    shifted = stats.compare(reference, rng.normal(0.2, size=5000), seed=0)
    assert 0.3 < same.ratio < 2.5
    assert shifted.ratio > 5
    assert shifted.w1 == pytest.approx(0.2, abs=3 * shifted.w1_err + 0.01)


def test_bootstrap_error_is_the_spread_of_w1():
    rng = np.random.default_rng(7)
    spread = np.std([stats.w1(rng.normal(size=1000), rng.normal(0.3, size=1000)) for _ in range(300)])
    error = stats.w1_bootstrap_error(rng.normal(size=1000), rng.normal(0.3, size=1000), n_resamples=200, seed=1)
    assert error == pytest.approx(spread, rel=0.3)


def test_constant_reference_falls_back_to_exchanging_events():
    reference = np.zeros(1000)
    one_stray = np.zeros(1000)
    one_stray[0] = 5.0
    many_stray = np.zeros(1000)
    many_stray[:100] = 5.0
    assert stats.compare(reference, one_stray, seed=0).ratio < 3
    assert stats.compare(reference, many_stray, seed=0).ratio > 5


def test_pooled_comparison_resamples_whole_events():
    rng = np.random.default_rng(8)
    edges = np.linspace(0, 10, 21)

    def histograms(n_events, shift):
        counts = np.zeros((n_events, 20))
        for row in counts:
            values = rng.normal(5 + shift + rng.normal(0, 0.5), 1.0, size=rng.integers(5, 30))
            row += np.histogram(np.clip(values, 0, 9.999), edges)[0]
        return counts

    reference = histograms(800, 0.0)
    same = stats.compare_pooled(edges, reference, histograms(800, 0.0), seed=0)
    shifted = stats.compare_pooled(edges, reference, histograms(800, 0.3), seed=0)
    assert 0.3 < same.ratio < 2.5
    assert shifted.ratio > 5
    total = reference.sum(axis=0)
    centers = 0.5 * (edges[1:] + edges[:-1])
    assert same.w1 == pytest.approx(stats.w1(centers, centers, total, histograms(800, 0.0).sum(axis=0)), rel=1.0)


def test_separation_power_known_values():
    assert stats.separation_power([1, 2, 3], [2, 4, 6]) == 0.0
    assert stats.separation_power([1, 0], [0, 1]) == pytest.approx(1.0)
    # p = (0.5, 0.5), q = (1, 0): 0.5 * (0.25 / 1.5 + 0.25 / 0.5)
    assert stats.separation_power([1, 1], [1, 0]) == pytest.approx(0.5 * (0.25 / 1.5 + 0.5))


def test_histogram_edges_switch_to_log_for_wide_positive_ranges():
    rng = np.random.default_rng(9)
    assert stats.is_log_binning(stats.histogram_edges(np.exp(rng.uniform(0, 10, 1000))))
    assert not stats.is_log_binning(stats.histogram_edges(rng.normal(size=1000)))
    constant = stats.histogram_edges(np.full(10, 3.0))
    assert constant[0] < 3.0 < constant[-1]


def test_auc_mann_whitney_known_values():
    assert stats.auc_mann_whitney([0, 1, 2], [3, 4]) == 1.0
    assert stats.auc_mann_whitney([3, 4], [0, 1, 2]) == 0.0
    assert stats.auc_mann_whitney([1, 1], [1, 1]) == 0.5
    # pairs (neg, pos): (0,1) win, (0,0.5) win, (2,1) loss, (2,0.5) loss -> 2 / 4
    assert stats.auc_mann_whitney([0, 2], [1, 0.5]) == 0.5


def test_classifier_auc_near_half_for_same_distribution_and_high_for_different():
    rng = np.random.default_rng(10)
    covariance = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 1.0]])
    reference = rng.multivariate_normal(np.zeros(3), covariance, size=3000)
    same = rng.multivariate_normal(np.zeros(3), covariance, size=3000)
    # same marginals, different correlation: invisible to 1D distances, visible to the classifier
    decorrelated = rng.multivariate_normal(np.zeros(3), np.eye(3), size=3000)
    assert stats.classifier_auc(reference, same, seed=0) == pytest.approx(0.5, abs=0.05)
    assert stats.classifier_auc(reference, decorrelated, seed=0) > 0.65
    assert stats.classifier_auc(reference, same, seed=3) == stats.classifier_auc(reference, same, seed=3)


def test_sliced_w1_of_a_shifted_sample_is_the_mean_projected_shift():
    # shifting every event by d moves each projection by theta . d: W1 = |theta . d| exactly, per direction
    rng = np.random.default_rng(11)
    sample = rng.normal(size=(500, 4))
    shift = np.array([0.5, -1.0, 0.0, 2.0])
    directions = ot.sliced.get_random_projections(4, stats.SLICED_PROJECTIONS, seed=5)  # (F, P), as POT draws
    expected = np.mean(np.abs(shift @ directions))
    assert stats.sliced_w1(sample, sample + shift, seed=5) == pytest.approx(expected, rel=1e-9)
    assert stats.sliced_w1(sample, sample, seed=5) == 0.0


def test_sliced_comparison_ratio_near_one_for_the_same_law_and_large_for_a_shift():
    rng = np.random.default_rng(12)
    covariance = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.2], [0.0, 0.2, 1.0]])
    scales = np.array([1.0, 1e3, 1e-2])  # standardisation makes units irrelevant
    reference = rng.multivariate_normal(np.zeros(3), covariance, size=4000) * scales
    ratios = [stats.compare_sliced(reference, rng.multivariate_normal(np.zeros(3), covariance, size=2000) * scales,
                                   n_resamples=30, seed=seed)["ratio"] for seed in range(6)]
    assert 0.7 < np.mean(ratios) < 1.4 and max(ratios) < 2.5
    shifted = (rng.multivariate_normal(np.zeros(3), covariance, size=2000) + [0.0, 0.5, 0.0]) * scales
    result = stats.compare_sliced(reference, shifted, n_resamples=30, seed=0)
    assert result["ratio"] > 5 and result["noise_floor"] > 0
    assert stats.compare_sliced(reference, shifted, n_resamples=30, seed=0) == result


def test_classifier_auc_floor_is_the_test_between_reference_halves():
    rng = np.random.default_rng(13)
    reference = rng.normal(size=(2000, 3))
    floor = stats.classifier_auc_floor(reference, 800, seed=0)
    assert floor == pytest.approx(0.5, abs=0.06)
    assert stats.classifier_auc_floor(reference, 800, seed=0) == floor
    assert stats.classifier_auc_floor(reference[:30], 800, seed=0) is None  # halves of 15 events


def _binned_simulation(rng, n_events, shift=0.0):
    """A known 'simulator': energies log-uniform in 1-20, a scalar response and pooled per-event
    histograms whose shape depends on the energy (as a shower's cell spectrum does)."""
    energies = np.exp(rng.uniform(0.0, np.log(20.0), n_events))
    scalar = rng.gamma(4.0, np.sqrt(energies) / 4.0) + shift
    edges = np.linspace(-1.0, 4.0, 26)
    counts = np.zeros((n_events, 25))
    for row, energy in zip(counts, energies):
        values = rng.normal(np.log10(energy) + shift + rng.normal(0, 0.1), 0.6, size=rng.integers(20, 60))
        row += stats.clipped_histogram(values, edges)
    return energies, scalar, edges, counts


def _per_bin_comparisons(reference, candidate, seed):
    from surrogate.calorimeter.observables import energy_bins

    (ref_e, ref_scalar, edges, ref_counts), (cand_e, cand_scalar, _, cand_counts) = reference, candidate
    for _label, ref_rows, cand_rows in energy_bins(ref_e, cand_e):
        yield (stats.compare(ref_scalar[ref_rows], cand_scalar[cand_rows], seed=seed),
               stats.compare_pooled(edges, ref_counts[ref_rows], cand_counts[cand_rows], seed=seed))


def test_floors_bin_by_bin_are_calibrated():
    """Simulation against simulation in condition bins of ~100 events (the quickstart's sizes):
    the mean ratio over seeds is near 1 in every bin, for scalar and pooled observables alike."""
    ratios = []
    for seed in range(16):
        rng = np.random.default_rng(100 + seed)
        reference, candidate = _binned_simulation(rng, 500), _binned_simulation(rng, 500)
        ratios.append([[c.ratio for c in pair] for pair in _per_bin_comparisons(reference, candidate, seed)])
    mean_by_bin = np.mean(ratios, axis=0)  # (bins, scalar/pooled)
    assert mean_by_bin.shape == (5, 2)
    assert np.all((mean_by_bin > 0.7) & (mean_by_bin < 1.4)), mean_by_bin


def test_floor_of_a_small_bin_comes_from_the_reference_alone():
    """A bin of ~100 distinct events shows its own noise: its floor must not grow with the candidate's
    error (a floor from both samples made one bin's floor 6x smaller than its neighbours')."""
    rng = np.random.default_rng(7)
    reference = _binned_simulation(rng, 500)
    same, shifted = _binned_simulation(rng, 500), _binned_simulation(rng, 500, shift=0.5)
    for (same_scalar, same_pooled), (bad_scalar, bad_pooled) in zip(
            _per_bin_comparisons(reference, same, 0), _per_bin_comparisons(reference, shifted, 0)):
        assert not (bad_scalar.floor_from_both or bad_pooled.floor_from_both)
        assert bad_scalar.noise_floor == pytest.approx(same_scalar.noise_floor, rel=0.5)
        assert bad_pooled.noise_floor == pytest.approx(same_pooled.noise_floor, rel=0.5)
        assert bad_pooled.ratio > 5
