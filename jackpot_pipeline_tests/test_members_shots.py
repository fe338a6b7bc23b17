"""Shots-based expected-goals proxy: closed-form least squares, earlier seasons only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jackpot_pipeline.core.goal_models.shots import (
    PROXY_COLUMNS,
    expected_goals_proxy,
    shot_coefficients,
)
from jackpot_pipeline.services.members import load_season
from jackpot_pipeline.settings import Settings


def _matches() -> pd.DataFrame:
    root = Settings().football_data_dir
    return pd.concat(
        [
            load_season(root / f"{f}/E0.csv", "E0", s)
            for f, s in (("2122", "2021-22"), ("2223", "2022-23"))
        ],
        ignore_index=True,
    )


def test_coefficients_solve_the_normal_equations() -> None:
    matches = _matches()
    on = np.concatenate([matches.home_shots_on_target, matches.away_shots_on_target]).astype(float)
    off = np.concatenate([matches.home_shots, matches.away_shots]).astype(float) - on
    goals = np.concatenate([matches.home_goals, matches.away_goals]).astype(float)
    x = np.column_stack([on, off])
    ok = (x >= 0).all(axis=1)  # a few source rows list fewer shots than shots on target
    assert 0 < (~ok).sum() < 10
    x, goals = x[ok], goals[ok]
    expected = np.linalg.solve(x.T @ x, x.T @ goals)
    np.testing.assert_allclose(shot_coefficients(matches), expected, rtol=1e-10)
    assert 0.2 < expected[0] < 0.5 and abs(expected[1]) < 0.1  # ≈ 1 goal per 3 shots on target


def test_proxy_of_a_season_uses_earlier_seasons_only() -> None:
    matches = _matches()
    proxy = expected_goals_proxy(matches)
    later = (matches.season == "2022-23").to_numpy()
    coef = shot_coefficients(matches[~later])
    expected = coef[0] * matches.home_shots_on_target + coef[1] * (
        matches.home_shots - matches.home_shots_on_target
    )
    np.testing.assert_allclose(proxy.loc[later, PROXY_COLUMNS[0]], expected[later], rtol=1e-12)
    # Goals of the later season do not move its own proxy.
    changed = matches.assign(home_goals=np.where(later, 0, matches.home_goals))
    np.testing.assert_array_equal(
        expected_goals_proxy(changed).loc[later, PROXY_COLUMNS[1]],
        proxy.loc[later, PROXY_COLUMNS[1]],
    )


def test_missing_or_inconsistent_shots_give_no_target() -> None:
    matches = _matches()
    broken = matches.copy()
    broken.loc[5, "home_shots_on_target"] = np.nan
    broken.loc[6, "away_shots"] = 0.0  # fewer shots than shots on target
    proxy = expected_goals_proxy(broken)
    assert np.isnan(proxy.loc[5, PROXY_COLUMNS[0]]) and np.isnan(proxy.loc[6, PROXY_COLUMNS[1]])
    known = expected_goals_proxy(matches)[list(PROXY_COLUMNS)].notna().sum().sum()
    assert proxy[list(PROXY_COLUMNS)].notna().sum().sum() == known - 2
