"""Market-implied expected goals and the market-ratings member: closed-form round trips, a
brute-force grid search on real closing prices, and the no-own-odds guarantee."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.goal_models.market_ratings import implied_rates, market_functions
from jackpot_pipeline.core.goal_models.poisson import POISSON
from jackpot_pipeline.core.goal_models.walk_forward import MemberSpec, walk_forward_members
from jackpot_pipeline.services.members import TARGETS, load_season, with_member_targets
from jackpot_pipeline.settings import Settings


@cache
def _e0(*seasons: str) -> pd.DataFrame:
    root = Settings().football_data_dir
    frames = [load_season(root / f"{s[2:4]}{s[5:7]}" / "E0.csv", "E0", s) for s in seasons]
    return pd.concat(frames, ignore_index=True)


def test_rates_are_recovered_from_their_own_probabilities() -> None:
    """f(λ, μ) computed forward, then inverted: the same (λ, μ) back, with and without the
    over/under price."""
    true = np.array([[1.2, 0.8], [2.6, 0.35], [0.55, 1.9], [1.45, 1.45]])
    values, _ = market_functions(np.log(true))
    np.testing.assert_allclose(implied_rates(*values.T), true, rtol=1e-9)
    no_total = implied_rates(values[:, 0], values[:, 1], np.full(4, np.nan))
    np.testing.assert_allclose(no_total, true, rtol=1e-8)


def test_jacobian_matches_finite_differences() -> None:
    point = np.log(np.array([[1.3, 0.9]]))
    _, jac = market_functions(point)
    for j in range(2):
        e = np.zeros((1, 2))
        e[0, j] = 1e-6
        diff = (market_functions(point + e)[0] - market_functions(point - e)[0]) / 2e-6
        np.testing.assert_allclose(jac[0, :, j], diff[0], rtol=1e-6, atol=1e-9)


def test_least_squares_beats_a_brute_force_grid_on_real_closing_prices() -> None:
    matches = _e0("2023-24").head(15)
    p = matches[["market_home", "market_away", "over_25"]].to_numpy()
    rates = implied_rates(*p.T)
    grid = np.linspace(0.2, 3.5, 300)
    lam, mu = np.meshgrid(grid, grid, indexing="ij")
    values, _ = market_functions(np.log(np.column_stack([lam.ravel(), mu.ravel()])))
    for row, target in enumerate(p):
        brute = ((values - target) ** 2).sum(axis=1).min()
        ours = ((market_functions(np.log(rates[row : row + 1]))[0] - target) ** 2).sum()
        assert ours <= brute + 1e-12


def test_nan_prices_give_nan_rates() -> None:
    out = implied_rates(np.array([np.nan, 0.5]), np.array([0.3, 0.2]), np.array([0.5, np.nan]))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_market_member_never_sees_the_odds_of_the_match_it_forecasts() -> None:
    """Rewriting the prices of every match from a date on leaves every forecast of matches on
    or after that date that were fitted before it unchanged, and the forecast of the first
    block after it too (its fit sees only earlier matches)."""
    history = with_member_targets(_e0("2022-23", "2023-24"))
    spec = MemberSpec("market", POISSON, "market", 0.01)
    cut = pd.Timestamp("2023-12-01")
    later = history["match_date"] >= cut
    shuffled = history.copy()
    shuffled.loc[later, ["market_home_xg", "market_away_xg"]] = [[3.0, 0.2]]
    first = walk_forward_members(history, "E0", [spec], TARGETS)
    second = walk_forward_members(shuffled, "E0", [spec], TARGETS)
    fitted_before = first["as_of"] <= np.datetime64(cut.date(), "D")
    assert fitted_before.sum() > 300
    pd.testing.assert_frame_equal(first[fitted_before], second[fitted_before])
    assert not np.allclose(
        first.loc[~fitted_before, "p_home"], second.loc[~fitted_before, "p_home"]
    )
    assert first["match_id"].is_unique
    assert (first["as_of"] <= pd.to_datetime(first["match_id"].str[3:11])).all()


@pytest.mark.parametrize("column", ["market_home", "over_25"])
def test_history_has_margin_free_probabilities(column: str) -> None:
    matches = _e0("2023-24")
    assert matches[column].between(0, 1).all()
    total = matches[["market_home", "market_draw", "market_away"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
