"""Elo member against penaltyblog's Elo, and its ordered logit against a derivative-free fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import penaltyblog as pb
import pytest
from scipy.optimize import minimize

from jackpot_pipeline.core.goal_models import elo
from jackpot_pipeline_tests.dc_real_data import load_real


def _matches() -> pd.DataFrame:
    return load_real("E0", ["2022-23", "2023-24"]).assign(league="E0")


def test_ratings_equal_penaltyblog_elo_match_by_match() -> None:
    matches = _matches()
    ours = elo.pre_match_differences(matches, elo.EloConfig(carry_newcomers=False))
    reference = pb.ratings.Elo(k=20.0, home_field_advantage=100.0)
    order = matches.sort_values("match_date", kind="stable").index
    expected = np.empty(len(matches))
    for i in order:
        row = matches.loc[i]
        home, away = row.home_team_id, row.away_team_id
        expected[i] = reference.get_team_rating(home) + 100.0 - reference.get_team_rating(away)
        margin = row.home_goals - row.away_goals
        reference.update_ratings(home, away, 0 if margin > 0 else 1 if margin == 0 else 2)
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_newcomers_start_from_the_clubs_they_replace() -> None:
    matches = _matches()
    carried = elo.pre_match_differences(matches)
    plain = elo.pre_match_differences(matches, elo.EloConfig(carry_newcomers=False))
    first_season = (matches["season"] == "2022-23").to_numpy()
    np.testing.assert_array_equal(carried[first_season], plain[first_season])
    # Burnley (promoted 2023) starts well below 1500 + the mean of the three relegated clubs.
    opener = matches[(matches.season == "2023-24") & (matches.home_team_id == "Burnley")].index[0]
    assert carried[opener] < plain[opener] - 10


def test_ordered_logit_gradient_and_optimum() -> None:
    matches = _matches()
    d = elo.pre_match_differences(matches)
    y = np.sign(matches.away_goals - matches.home_goals).to_numpy() + 1
    params = np.array([0.8, -1.1, np.log(1.0)])
    _, grad = elo.ordered_logit_nll(params, d, y)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        numeric = (
            elo.ordered_logit_nll(params + e, d, y)[0] - elo.ordered_logit_nll(params - e, d, y)[0]
        ) / 2e-6
        assert numeric == pytest.approx(grad[i], rel=1e-5)
    fitted = elo.fit_ordered_logit(d, y)
    brute = minimize(
        lambda p: elo.ordered_logit_nll(p, d, y)[0],
        params,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000},
    )
    ours = np.array([fitted.beta, fitted.cut_away, np.log(fitted.cut_draw - fitted.cut_away)])
    assert elo.ordered_logit_nll(ours, d, y)[0] <= brute.fun + 1e-7
    probs = fitted.predict(d)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs > 0).all()


def test_walk_forward_uses_earlier_seasons_only() -> None:
    matches = _matches()
    out = elo.walk_forward(matches)
    first = (matches["season"] == "2022-23").to_numpy()
    assert out.loc[first, "p_home"].isna().all() and out.loc[~first, "p_home"].notna().all()
    flipped = matches.copy()
    flipped.loc[~first, "home_goals"] = 0  # later results change nothing before they happen
    again = elo.walk_forward(flipped)
    season_start = matches.loc[~first, "match_date"].min()
    opening_day = (matches["match_date"] == season_start).to_numpy()
    np.testing.assert_array_equal(out.loc[opening_day, "p_home"], again.loc[opening_day, "p_home"])


def test_fixtures_without_results_are_rated_and_change_nothing() -> None:
    matches = _matches()
    last_day = matches["match_date"].max()
    fixtures = pd.DataFrame(
        {
            "match_id": ["f1", "f2"],
            "league": "E0",
            "season": "2023-24",
            "match_date": [last_day + pd.Timedelta(days=3)] * 2,
            "home_team_id": ["Arsenal", "Luton"],
            "away_team_id": ["Chelsea", "Everton"],
            "home_goals": pd.array([None, None], dtype="Int64"),
            "away_goals": pd.array([None, None], dtype="Int64"),
        }
    )
    both = pd.concat([matches.astype({"home_goals": "Int64", "away_goals": "Int64"}), fixtures])
    both = both.reset_index(drop=True)
    rated = elo.pre_match_differences(both)
    np.testing.assert_array_equal(rated[: len(matches)], elo.pre_match_differences(matches))
    reference = pb.ratings.Elo(k=20.0, home_field_advantage=100.0)
    for row in matches.sort_values("match_date", kind="stable").itertuples():
        margin = row.home_goals - row.away_goals
        reference.update_ratings(
            row.home_team_id, row.away_team_id, 0 if margin > 0 else 1 if margin == 0 else 2
        )
    plain = elo.pre_match_differences(both, elo.EloConfig(carry_newcomers=False))
    arsenal = reference.get_team_rating("Arsenal") + 100 - reference.get_team_rating("Chelsea")
    assert plain[len(matches)] == pytest.approx(arsenal, abs=1e-9)
    assert np.isfinite(rated[len(matches) :]).all()


def test_as_of_rates_each_row_with_only_results_before_its_decision_day() -> None:
    """Oracle: rate the row as an unplayed fixture appended to the results dated before its
    as_of (weekly blocks, so most rows are decided days before they are played)."""
    matches = _matches().sort_values("match_date", kind="stable").reset_index(drop=True)
    days = pd.to_datetime(matches["match_date"])
    start = days.min()
    as_of = start + pd.to_timedelta(((days - start).dt.days // 7) * 7, unit="D")
    first = days.groupby(as_of).transform("min")  # a block's decision day is its first match day
    frozen = elo.pre_match_differences(matches.assign(as_of=first))
    typed = matches.astype({"home_goals": "Int64", "away_goals": "Int64"})
    for i in range(0, len(matches), 37):
        known = typed[days < first[i]]
        unplayed = pd.array([pd.NA], dtype="Int64")
        row = typed.iloc[[i]].assign(home_goals=unplayed, away_goals=unplayed)
        oracle = elo.pre_match_differences(pd.concat([known, row], ignore_index=True))[-1]
        assert frozen[i] == pytest.approx(oracle, abs=1e-9)
    assert not np.allclose(frozen, elo.pre_match_differences(matches))
