"""Oracle tests for the metrics: closed forms, loops, literature values, other libraries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from penaltyblog.metrics import multiclass_brier_score, rps_average
from scipy import stats

from jackpot_pipeline.core import metrics


def _random_forecast(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([4.5, 2.6, 2.9], size=n)
    outcomes = rng.integers(0, 3, size=n)
    return probs, outcomes


def test_encode_results_maps_letters_and_passes_codes() -> None:
    assert metrics.encode_results(["H", "D", "A", "H"]).tolist() == [0, 1, 2, 0]
    assert metrics.encode_results(np.array([2, 0, 1])).tolist() == [2, 0, 1]
    with pytest.raises(ValueError):
        metrics.encode_results(["H", "X"])
    with pytest.raises(ValueError):
        metrics.encode_results([0, 3])


def test_closed_forms_on_one_match() -> None:
    probs, outcome = [[0.5, 0.3, 0.2]], [1]
    assert metrics.brier_score(probs, outcome) == pytest.approx(0.25 + 0.49 + 0.04)
    assert metrics.log_loss(probs, outcome) == pytest.approx(-math.log(0.3))
    assert metrics.ranked_probability_score(probs, outcome) == pytest.approx((0.25 + 0.04) / 2)
    assert metrics.accuracy(probs, outcome) == 0.0


def test_perfect_forecast_scores_zero() -> None:
    probs = np.eye(3)
    outcomes = [0, 1, 2]
    assert metrics.ranked_probability_score(probs, outcomes) == 0.0
    assert metrics.brier_score(probs, outcomes) == 0.0
    assert metrics.log_loss(probs, outcomes) == 0.0
    assert metrics.accuracy(probs, outcomes) == 1.0


# Constantinou & Fenton (2012), JQAS 8(1), hypothetical forecasts α/β, RPS to 4 decimals.
CONSTANTINOU_FENTON = [
    ((1.0, 0.0, 0.0), "H", 0.0),
    ((0.9, 0.1, 0.0), "H", 0.005),
    ((0.8, 0.1, 0.1), "H", 0.025),
    ((0.5, 0.25, 0.25), "H", 0.1562),
    ((0.35, 0.3, 0.35), "D", 0.1225),
    ((0.6, 0.3, 0.1), "D", 0.185),
    ((0.6, 0.25, 0.15), "H", 0.0913),
    ((0.6, 0.15, 0.25), "H", 0.1113),
    ((0.57, 0.33, 0.1), "H", 0.0975),
    ((0.6, 0.2, 0.2), "H", 0.1),
]


@pytest.mark.parametrize(("probs", "result", "expected"), CONSTANTINOU_FENTON)
def test_rps_matches_constantinou_fenton(
    probs: tuple[float, float, float], result: str, expected: float
) -> None:
    assert metrics.ranked_probability_score([probs], [result]) == pytest.approx(expected, abs=5e-5)


def test_vectorized_scores_match_loops() -> None:
    probs, outcomes = _random_forecast(200, seed=1)
    brier, logs, rps = [], [], []
    for p, y in zip(probs, outcomes, strict=True):
        indicator = [1.0 if k == y else 0.0 for k in range(3)]
        brier.append(sum((p[k] - indicator[k]) ** 2 for k in range(3)))
        logs.append(-math.log(p[y]))
        cum_p = cum_o = total = 0.0
        for k in range(2):
            cum_p += p[k]
            cum_o += indicator[k]
            total += (cum_p - cum_o) ** 2
        rps.append(total / 2)
    assert metrics.brier_score(probs, outcomes) == pytest.approx(np.mean(brier), rel=1e-12)
    assert metrics.log_loss(probs, outcomes) == pytest.approx(np.mean(logs), rel=1e-12)
    assert metrics.ranked_probability_score(probs, outcomes) == pytest.approx(
        np.mean(rps), rel=1e-12
    )


def test_scores_match_independent_libraries() -> None:
    probs, outcomes = _random_forecast(300, seed=2)
    scipy_log_loss = -np.mean(stats.multinomial.logpmf(np.eye(3)[outcomes], 1, probs))
    assert metrics.log_loss(probs, outcomes) == pytest.approx(scipy_log_loss, rel=1e-10)
    assert metrics.ranked_probability_score(probs, outcomes) == pytest.approx(
        rps_average(probs, outcomes), rel=1e-10
    )
    assert metrics.brier_score(probs, outcomes) == pytest.approx(
        multiclass_brier_score(probs, outcomes), rel=1e-10
    )


def test_log_loss_is_finite_when_the_observed_outcome_had_zero_probability() -> None:
    assert metrics.log_loss([[1.0, 0.0, 0.0]], [2]) == pytest.approx(-math.log(1e-15))


def test_accuracy_breaks_ties_towards_home_then_draw() -> None:
    probs = [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.2, 0.4, 0.4]]
    assert metrics.accuracy(probs, [0, 1, 1]) == pytest.approx(2 / 3)


def test_entropy_in_nats() -> None:
    values = metrics.entropy([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(values, [math.log(3), 0.0, math.log(2)], atol=1e-15)


def test_outcome_stats_counts() -> None:
    probs = [[0.6, 0.3, 0.1], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]]
    home, draw, away = metrics.outcome_stats(probs, ["H", "A", "A", "H"])
    assert (home.observed, home.predicted, home.hits) == (2, 2, 1)
    assert home.expected == pytest.approx(1.6)
    assert (home.recall, home.precision) == (0.5, 0.5)
    assert (draw.observed, draw.predicted, draw.hits, draw.precision) == (0, 1, 0, 0.0)
    assert math.isnan(draw.recall)
    assert (away.observed, away.predicted, away.hits, away.recall) == (2, 1, 1, 0.5)


def test_reliability_bins_and_ece_by_hand() -> None:
    probs = [[0.05, 0.9, 0.05], [0.15, 0.8, 0.05], [0.12, 0.38, 0.5], [1.0, 0.0, 0.0]]
    outcomes = [1, 0, 2, 0]
    home = metrics.reliability_curves(probs, outcomes, n_bins=10)[0]
    assert home.bin_lower == (0.0, 0.1, 0.9)
    assert home.count == (1, 2, 1)  # p = 1.0 falls in the last bin; empty bins omitted
    assert home.mean_predicted == pytest.approx((0.05, 0.135, 1.0))
    assert home.observed_frequency == pytest.approx((0.0, 0.5, 1.0))
    expected_home_ece = (1 * 0.05 + 2 * abs(0.5 - 0.135) + 0) / 4
    ece = metrics.expected_calibration_error(probs, outcomes, n_bins=10)
    assert ece[0] == pytest.approx(expected_home_ece)


def test_reliability_matches_brute_force_binning() -> None:
    probs, outcomes = _random_forecast(500, seed=3)
    draw = metrics.reliability_curves(probs, outcomes, n_bins=7)[1]
    for lower, mean_p, freq, count in zip(
        draw.bin_lower, draw.mean_predicted, draw.observed_frequency, draw.count, strict=True
    ):
        members = [i for i in range(500) if lower <= probs[i, 1] < lower + 1 / 7 - 1e-12]
        assert count == len(members)
        assert mean_p == pytest.approx(np.mean(probs[members, 1]))
        assert freq == pytest.approx(np.mean(outcomes[members] == 1))
    assert sum(draw.count) == 500


def test_evaluate_bundles_the_metrics() -> None:
    probs, outcomes = _random_forecast(100, seed=4)
    report = metrics.evaluate(probs, outcomes)
    assert report.n_matches == 100
    assert report.rps == metrics.ranked_probability_score(probs, outcomes)
    assert report.log_loss == metrics.log_loss(probs, outcomes)
    assert report.ece == metrics.expected_calibration_error(probs, outcomes)
    assert [s.outcome for s in report.outcomes] == ["home", "draw", "away"]


def test_base_rate_probs_are_training_frequencies() -> None:
    baseline = metrics.base_rate_probs(["H", "H", "D", "A", "H"], n_matches=3)
    np.testing.assert_allclose(baseline, np.tile([0.6, 0.2, 0.2], (3, 1)))


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError):
        metrics.brier_score([[0.5, 0.5]], [0])
    with pytest.raises(ValueError):
        metrics.log_loss([[0.5, 0.6, -0.1]], [0])
    with pytest.raises(ValueError):
        metrics.accuracy(np.empty((0, 3)), [])
