"""The checkpoint score that picks model_best.pt: the default mean over summaries and the showers' physics
score (response chi2 per energy bin + the worst summary over its noise floor)."""
import math

import numpy as np
import pytest

from surrogate.calorimeter.domain import DOMAIN
from surrogate.calorimeter.selection import ResponseAndWorstScore, response_chi2
from surrogate.core.selection import SummaryScore
from surrogate.core.stats import w1
from training_helpers import tiny_showers


def summaries_and_w1(reference, generated):
    return {name: w1(reference[name], generated[name]) for name in reference}


def test_the_response_chi2_is_about_one_for_equal_laws_and_grows_with_a_shift_or_a_wider_width():
    rng = np.random.default_rng(3)
    bins = [np.arange(4000) < 2000, np.arange(4000) >= 2000]
    reference = rng.normal(1.0, 0.05, 4000)
    same = np.mean([response_chi2(reference, rng.normal(1.0, 0.05, 4000), bins) for _ in range(20)])
    assert 0.5 < same < 1.6  # each of the 4 pulls squared has mean 1
    shifted = response_chi2(reference, rng.normal(1.01, 0.05, 4000), bins)  # 6 errors of the mean: ~20
    wider = response_chi2(reference, rng.normal(1.0, 0.07, 4000), bins)
    assert shifted > 10 and wider > 10
    assert response_chi2(reference, reference, bins) == 0.0
    assert math.isinf(response_chi2(reference, np.full(4000, np.nan), bins))


def test_the_shower_score_is_zero_for_the_held_out_showers_and_names_its_parts():
    holdout = tiny_showers(400, seed=1)
    reference = DOMAIN.training_summaries(holdout)
    score = DOMAIN.checkpoint_score(holdout, reference, seed=0)
    assert isinstance(score, ResponseAndWorstScore)
    perfect = score(reference, summaries_and_w1(reference, reference))
    assert perfect == {"score": 0.0, "response_chi2_ndf": 0.0, "worst_ratio": 0.0}

    other = DOMAIN.training_summaries(tiny_showers(400, seed=2))  # same law, other showers
    fair = score(other, summaries_and_w1(reference, other))
    assert fair["worst_ratio"] < 4 and fair["response_chi2_ndf"] < 4
    assert fair["score"] == pytest.approx(fair["response_chi2_ndf"] + fair["worst_ratio"])


def test_a_wrong_response_at_one_energy_costs_more_than_its_share_of_a_mean():
    holdout = tiny_showers(400, seed=1)
    reference = DOMAIN.training_summaries(holdout)
    generated = DOMAIN.training_summaries(tiny_showers(400, seed=2))
    low = holdout.conditions[:, 0] < 2000  # one energy range only: the response 10% low there
    generated["etot_over_einc"] = np.where(low, 0.9, 1.0) * generated["etot_over_einc"]
    shower_score = ResponseAndWorstScore(reference, holdout.conditions[:, 0], seed=0)
    good = shower_score(reference, summaries_and_w1(reference, reference))["score"]
    bad = shower_score(generated, summaries_and_w1(reference, generated))
    assert bad["response_chi2_ndf"] > 10 and bad["score"] > good + 10
    mean_score = SummaryScore(reference)  # the default dilutes it over every summary
    assert mean_score(generated, summaries_and_w1(reference, generated))["score"] < 1


def test_the_default_score_is_the_mean_w1_over_the_spread_and_inf_for_a_non_finite_w1():
    reference = {"a": np.array([0.0, 2.0]), "b": np.array([1.0, 1.0])}  # std 1, and 0 (scale 1 then)
    score = SummaryScore(reference)
    assert score({}, {"a": 0.5, "b": 1.5})["score"] == pytest.approx(1.0)
    assert math.isinf(score({}, {"a": math.nan, "b": 0.0})["score"])
