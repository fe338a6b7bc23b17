"""Team features: brute-force recomputation on real data and proof of no look-ahead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.features import VENUE_WINDOW, WINDOWS, team_features
from jackpot_pipeline_tests.dc_real_data import load_real

SEASONS = ["2022-23", "2023-24"]


@pytest.fixture(scope="module")
def matches() -> pd.DataFrame:
    return load_real("E0", SEASONS)


@pytest.fixture(scope="module")
def features(matches: pd.DataFrame) -> pd.DataFrame:
    return team_features(matches)


def brute_force_row(matches: pd.DataFrame, team: str, match_id: str) -> dict[str, float]:
    """Every feature of one (team, match) from plain loops over earlier matches."""
    match = matches.set_index("match_id").loc[match_id]
    day = match["match_date"]
    history = []  # (date, match_id, is_home, goals for, goals against)
    for row in matches.itertuples():
        if row.match_date >= day:
            continue
        if row.home_team_id == team:
            history.append((row.match_date, row.match_id, True, row.home_goals, row.away_goals))
        elif row.away_team_id == team:
            history.append((row.match_date, row.match_id, False, row.away_goals, row.home_goals))
    history.sort()
    out: dict[str, float] = {"matches_before": len(history)}
    for window in WINDOWS:
        last = history[-window:]
        count = len(last) or math.nan
        out[f"goals_for_avg_{window}"] = sum(h[3] for h in last) / count
        out[f"goals_against_avg_{window}"] = sum(h[4] for h in last) / count
        out[f"win_rate_{window}"] = sum(h[3] > h[4] for h in last) / count
        out[f"draw_rate_{window}"] = sum(h[3] == h[4] for h in last) / count
    for venue, is_home in (("home", True), ("away", False)):
        last = [h for h in history if h[2] == is_home][-VENUE_WINDOW:]
        out[f"{venue}_win_rate_{VENUE_WINDOW}"] = sum(h[3] > h[4] for h in last) / (
            len(last) or math.nan
        )
    out["rest_days"] = (day - history[-1][0]).days if history else math.nan
    out |= brute_force_table(matches, match["league"], match["season"], day, team)
    return out


def brute_force_table(
    matches: pd.DataFrame, league: str, season: str, day: pd.Timestamp, team: str
) -> dict[str, float]:
    """League table of the season before ``day``: the team's line and position."""
    season_matches = matches[(matches["league"] == league) & (matches["season"] == season)]
    table = {
        t: [0, 0, 0, 0]  # played, points, goal difference, goals for
        for t in set(season_matches["home_team_id"]) | set(season_matches["away_team_id"])
    }
    for row in season_matches.itertuples():
        if row.match_date >= day:
            continue
        for side, gf, ga in (
            (row.home_team_id, row.home_goals, row.away_goals),
            (row.away_team_id, row.away_goals, row.home_goals),
        ):
            line = table[side]
            line[0] += 1
            line[1] += 3 if gf > ga else 1 if gf == ga else 0
            line[2] += gf - ga
            line[3] += gf
    ranking = sorted(table, key=lambda t: (-table[t][1], -table[t][2], -table[t][3], t))
    played, points, difference, goals = table[team]
    return {
        "league_played": played,
        "league_points": points,
        "league_goal_difference": difference,
        "league_goals_for": goals,
        "league_position": ranking.index(team) + 1,
    }


def assert_brute_force(row: object, expected: dict[str, float]) -> None:
    """Every feature of a row equals its brute-force value (NaN where there is no history)."""
    for name, value in expected.items():
        actual = getattr(row, name)
        if math.isnan(value):
            assert math.isnan(actual), (row, name)
        else:
            assert actual == pytest.approx(value, abs=1e-12), (row, name)


def test_two_rows_per_match_and_identity_columns(
    matches: pd.DataFrame, features: pd.DataFrame
) -> None:
    assert len(features) == 2 * len(matches)
    assert not features.duplicated(["team_id", "match_id"]).any()
    home = features[features["is_home"]].set_index("match_id")
    indexed = matches.set_index("match_id")
    assert (home.loc[indexed.index, "team_id"] == indexed["home_team_id"]).all()
    assert (home.loc[indexed.index, "opponent_id"] == indexed["away_team_id"]).all()


def test_features_match_brute_force_recomputation(
    matches: pd.DataFrame, features: pd.DataFrame
) -> None:
    sample = features.iloc[np.linspace(0, len(features) - 1, 120).astype(int)]
    for row in sample.itertuples():
        assert_brute_force(row, brute_force_row(matches, row.team_id, row.match_id))


def test_league_positions_are_a_permutation_each_date(features: pd.DataFrame) -> None:
    season = features[features["season"] == "2023-24"]
    for _, rows in season.groupby("match_date"):
        positions = rows["league_position"]
        assert positions.between(1, 20).all()
        assert positions.is_unique


def test_changing_a_later_result_changes_no_earlier_feature(
    matches: pd.DataFrame, features: pd.DataFrame
) -> None:
    cut = pd.Timestamp("2023-11-04")  # a Saturday with seven matches
    later = matches["match_date"] >= cut
    changed = matches.assign(
        home_goals=np.where(later, matches["away_goals"] + 3, matches["home_goals"]),
        away_goals=np.where(later, 0, matches["away_goals"]),
    )
    recomputed = team_features(changed)
    before = features["match_date"] <= cut  # includes the matches on the cut date themselves
    pd.testing.assert_frame_equal(recomputed[before], features[before])
    assert not recomputed[~before].equals(features[~before])  # the change is visible later


def test_same_day_matches_never_see_each_other() -> None:
    day = pd.Timestamp("2024-01-01")
    matches = pd.DataFrame(
        {
            "match_id": ["a", "b", "c"],
            "league": "X",
            "season": "2023-24",
            "match_date": [day, day, day + pd.Timedelta(days=3)],
            "home_team_id": ["T", "T", "T"],
            "away_team_id": ["U", "V", "U"],
            "home_goals": [5, 1, 0],
            "away_goals": [0, 1, 0],
        }
    )
    features = team_features(matches).set_index(["team_id", "match_id"])
    assert features.loc[("T", "a"), "matches_before"] == 0
    assert features.loc[("T", "b"), "matches_before"] == 0
    assert math.isnan(features.loc[("T", "b"), "goals_for_avg_5"])
    assert features.loc[("T", "c"), "goals_for_avg_5"] == 3.0
    assert features.loc[("T", "c"), "rest_days"] == 3
    assert features.loc[("T", "c"), "league_points"] == 4


def test_fixture_without_result_gets_features_and_changes_nothing(
    matches: pd.DataFrame, features: pd.DataFrame
) -> None:
    fixture = pd.DataFrame(
        {
            "match_id": ["upcoming"],
            "league": "E0",
            "season": "2023-24",
            "match_date": [matches["match_date"].max() + pd.Timedelta(days=7)],
            "home_team_id": ["Arsenal"],
            "away_team_id": ["Chelsea"],
            "home_goals": pd.array([pd.NA], dtype="Int64"),
            "away_goals": pd.array([pd.NA], dtype="Int64"),
        }
    )
    combined = pd.concat([matches, fixture], ignore_index=True)
    out = team_features(combined)
    upcoming = out["match_id"] == "upcoming"
    pd.testing.assert_frame_equal(out[~upcoming].reset_index(drop=True), features)
    for row in out[upcoming].itertuples():
        assert_brute_force(row, brute_force_row(combined, row.team_id, "upcoming"))
