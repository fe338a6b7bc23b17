"""Prediction sets A–G: properness, fallbacks, fitted parameters, closed forms, no leakage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jackpot_pipeline.core import metrics
from jackpot_pipeline.core import prediction_sets as ps

BASE_RATES = np.array([0.45, 0.26, 0.29])


def _draw_outcomes(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(len(truth))[:, None]
    return (u > np.cumsum(truth, axis=1)[:, :2]).sum(axis=1)


def _dirichlet_around(
    centre: np.ndarray, concentration: float, rng: np.random.Generator
) -> np.ndarray:
    """One Dirichlet(concentration · centre_i) draw per row, vectorized through gammas."""
    gammas = rng.gamma(concentration * centre)
    return gammas / gammas.sum(axis=1, keepdims=True)


def _realistic(
    n: int, seed: int, missing_odds: float = 0.1
) -> tuple[ps.SetInputs, np.ndarray, np.ndarray]:
    """Truth around real-ish base rates; model and market are noisy views of it."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet(25 * BASE_RATES, size=n)
    model = _dirichlet_around(truth, 60, rng)
    market = _dirichlet_around(truth, 150, rng)
    market[rng.random(n) < missing_odds] = np.nan
    league = rng.choice(["E0", "SP1", "I1"], size=n)
    periods = np.sort(rng.choice([2019, 2020, 2021], size=n))
    return ps.SetInputs(model, market, league), _draw_outcomes(truth, rng), periods


@pytest.fixture(scope="module")
def fitted() -> tuple[ps.SetInputs, np.ndarray, ps.SetParams]:
    inputs, outcomes, _ = _realistic(3000, seed=21)
    return inputs, outcomes, ps.fit_set_params(inputs, outcomes)


def test_every_set_is_a_proper_forecast_with_entropy_in_nats(
    fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams],
) -> None:
    inputs, _, params = fitted
    sets = ps.build_prediction_sets(inputs, params)
    assert list(sets) == ["A", "B", "C", "D", "E", "F", "G"]
    for built in sets.values():
        assert built.probs.shape == (3000, 3)
        assert np.all((built.probs > 0) & (built.probs < 1))
        np.testing.assert_allclose(built.probs.sum(axis=1), 1.0, atol=1e-9)
        expected = -np.sum(built.probs * np.log(built.probs), axis=1)
        np.testing.assert_allclose(built.entropy, expected, rtol=1e-12)
        assert np.all(built.entropy <= math.log(3) + 1e-12)
    np.testing.assert_allclose(sets["A"].probs, inputs.model)


def test_sets_needing_odds_fall_back_to_a_where_odds_are_missing(
    fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams],
) -> None:
    inputs, _, params = fitted
    missing = ~inputs.has_market
    assert 0 < missing.sum() < len(missing)
    sets = ps.build_prediction_sets(inputs, params)
    for name in ("B", "C", "E", "F", "G"):
        np.testing.assert_array_equal(sets[name].fell_back_to_a, missing)
    for name in ("B", "C", "E", "F"):
        np.testing.assert_allclose(sets[name].probs[missing], inputs.model[missing])
        assert not np.allclose(sets[name].probs[~missing], inputs.model[~missing])
    for name in ("A", "D"):
        assert not sets[name].fell_back_to_a.any()


def test_partially_missing_market_row_counts_as_missing() -> None:
    market = np.array([[0.5, np.nan, 0.3], [0.5, 0.3, 0.2]])
    inputs = ps.SetInputs(np.array([[0.4, 0.3, 0.3]] * 2), market, ["E0", "E0"])
    assert inputs.has_market.tolist() == [False, True]


def test_linear_and_log_pooling_closed_forms_on_one_row() -> None:
    model, market = np.array([[0.5, 0.3, 0.2]]), np.array([[0.4, 0.3, 0.3]])
    np.testing.assert_allclose(ps.pool(model, market, 0.5, "linear"), [[0.45, 0.3, 0.25]])
    geometric = [math.sqrt(0.2), math.sqrt(0.09), math.sqrt(0.06)]
    expected = [g / sum(geometric) for g in geometric]
    np.testing.assert_allclose(ps.pool(model, market, 0.5, "log"), [expected], rtol=1e-12)
    for kind in ("linear", "log"):
        np.testing.assert_allclose(ps.pool(model, market, 1.0, kind), model, rtol=1e-12)


def test_kelly_blend_closed_form_on_one_row() -> None:
    model, market = np.array([[0.5, 0.3, 0.2]]), np.array([[0.4, 0.3, 0.3]])
    stake = (0.5 * (1 / 0.4) - 1) / (1 / 0.4 - 1)  # Kelly with odds 2.5 on home
    np.testing.assert_allclose(ps.kelly_fraction(model, market), [[stake, 0.0, 0.0]])
    share = 2.0 * stake
    raw = np.array([(1 - share) * 0.4 + share * 0.5, 0.3, 0.3])
    np.testing.assert_allclose(ps.kelly_blend(model, market, 2.0), [raw / raw.sum()])
    np.testing.assert_allclose(ps.kelly_blend(model, market, 0.0), market)


def test_temper_and_draw_boost_identities() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.3, 0.3, 0.4]])
    np.testing.assert_allclose(ps.temper(probs, 1.0), probs, rtol=1e-12)
    sharp = ps.temper(probs, 0.5)
    np.testing.assert_allclose(sharp[0], np.array([0.25, 0.09, 0.04]) / 0.38)
    np.testing.assert_allclose(ps.boost_draw(probs, 0.0), probs, rtol=1e-12)
    boosted = ps.boost_draw(probs, 1.0)
    assert np.all(boosted[:, 1] > probs[:, 1])
    np.testing.assert_allclose(boosted[:, 0] / boosted[:, 2], probs[:, 0] / probs[:, 2])
    balanced_gain = boosted[1, 1] - probs[1, 1]
    assert balanced_gain > boosted[0, 1] - probs[0, 1]  # bigger boost where |h − a| is smaller


@pytest.mark.parametrize("pooling", ["linear", "log"])
def test_market_weight_is_capped(pooling: ps.Pooling) -> None:
    rng = np.random.default_rng(22)
    market = rng.dirichlet(20 * BASE_RATES, size=4000)
    model = rng.dirichlet(20 * BASE_RATES, size=4000)  # pure noise; the market is the truth
    outcomes = _draw_outcomes(market, rng)
    weight = ps.fit_pool_weight(model, market, outcomes, pooling, max_market_weight=0.7)
    assert 0.3 <= weight < 0.3 + 1e-5
    inputs = ps.SetInputs(model, market, np.full(4000, "E0"))
    assert ps.fit_set_params(inputs, outcomes, pooling=pooling).model_weight >= 0.3


@pytest.mark.parametrize("pooling", ["linear", "log"])
def test_pool_weight_recovered_from_a_known_mixture(pooling: ps.Pooling) -> None:
    rng = np.random.default_rng(23)
    model = rng.dirichlet(8 * BASE_RATES, size=20000)
    market = rng.dirichlet(8 * BASE_RATES, size=20000)
    outcomes = _draw_outcomes(ps.pool(model, market, 0.6, pooling), rng)
    weight = ps.fit_pool_weight(model, market, outcomes, pooling)
    assert weight == pytest.approx(0.6, abs=0.04)


def test_temperature_recovered_from_an_overconfident_forecast() -> None:
    rng = np.random.default_rng(24)
    truth = rng.dirichlet(8 * BASE_RATES, size=20000)
    outcomes = _draw_outcomes(truth, rng)
    overconfident = ps.temper(truth, 0.7)
    assert ps.fit_temperature(overconfident, outcomes) == pytest.approx(1 / 0.7, rel=0.05)


def test_draw_boost_matches_each_league_draw_rate_exactly(
    fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams],
) -> None:
    inputs, outcomes, params = fitted
    boosted = ps.set_d(inputs, params)
    assert set(params.draw_boost) == {"E0", "SP1", "I1"}
    for league in ("E0", "SP1", "I1"):
        rows = inputs.league == league
        assert boosted[rows, 1].mean() == pytest.approx(np.mean(outcomes[rows] == 1), abs=1e-9)


def test_draw_boost_uses_pooled_strength_for_unseen_leagues(
    fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams],
) -> None:
    _, _, params = fitted
    unseen = ps.SetInputs(np.array([[0.4, 0.3, 0.3]]), np.full((1, 3), np.nan), ["N1"])
    expected = ps.boost_draw(unseen.model, params.pooled_draw_boost)
    np.testing.assert_allclose(ps.set_d(unseen, params), expected)


def test_ensemble_weights_on_simplex_and_never_worse_than_members(
    fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams],
) -> None:
    inputs, outcomes, params = fitted
    weights = np.array(params.ensemble_weights)
    assert weights.shape == (6,)
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0, abs=1e-12)
    sets = ps.build_prediction_sets(inputs, params)
    ensemble_loss = metrics.log_loss(sets["G"].probs, outcomes)
    for name in ps.MEMBER_NAMES:
        assert ensemble_loss <= metrics.log_loss(sets[name].probs, outcomes) + 1e-12


def test_fit_is_deterministic(fitted: tuple[ps.SetInputs, np.ndarray, ps.SetParams]) -> None:
    inputs, outcomes, params = fitted
    assert ps.fit_set_params(inputs, outcomes) == params


def test_too_little_data_keeps_defaults() -> None:
    inputs, outcomes, _ = _realistic(20, seed=25)
    params = ps.fit_set_params(inputs, outcomes, min_samples=30)
    assert params == ps.SetParams(n_train=20, n_train_with_market=int(inputs.has_market.sum()))
    sets = ps.build_prediction_sets(inputs, params)
    np.testing.assert_allclose(sets["D"].probs, inputs.model, rtol=1e-12)


def test_walk_forward_params_use_only_earlier_periods() -> None:
    inputs, outcomes, periods = _realistic(1500, seed=26)
    params = ps.fit_walk_forward_params(inputs, outcomes, periods)
    assert list(params) == [2019, 2020, 2021]
    assert params[2019] == ps.SetParams(n_train=0)
    altered = outcomes.copy()
    altered[periods >= 2021] = 1
    assert ps.fit_walk_forward_params(inputs, altered, periods)[2021] == params[2021]
    altered[periods == 2020] = 1
    assert ps.fit_walk_forward_params(inputs, altered, periods)[2021] != params[2021]


def test_walk_forward_sets_apply_each_period_params() -> None:
    inputs, outcomes, periods = _realistic(1500, seed=27)
    params = ps.fit_walk_forward_params(inputs, outcomes, periods)
    sets = ps.build_walk_forward_sets(inputs, periods, params)
    rows = periods == 2021
    direct = ps.build_prediction_sets(inputs.take(rows), params[2021])
    for name in ps.PREDICTION_SETS:
        np.testing.assert_allclose(sets[name].probs[rows], direct[name].probs)
        expected = ~inputs.has_market & ps.PREDICTION_SETS[name].needs_market
        np.testing.assert_array_equal(sets[name].fell_back_to_a, expected)


def test_registry_describes_every_set() -> None:
    for name, spec in ps.PREDICTION_SETS.items():
        assert spec.name == name and spec.label and spec.formula
    assert [n for n, s in ps.PREDICTION_SETS.items() if not s.needs_market] == ["A", "D"]
