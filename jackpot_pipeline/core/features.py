"""Team form and league-table features as of each match date, with no look-ahead.

For each match and each of its two teams, features are computed from that team's matches
played strictly before the match date (same-day matches are never used):

* ``goals_for_avg_N``, ``goals_against_avg_N``, ``win_rate_N``, ``draw_rate_N`` for N in
  :data:`WINDOWS`: means over the team's last N earlier matches (fewer if it has fewer; NaN if
  none). Form windows span seasons and leagues: a team's history is every match in the input.
* ``home_win_rate_N``/``away_win_rate_N`` (N = :data:`VENUE_WINDOW`): win rate over the team's
  last N earlier home / away matches.
* ``rest_days``: days since the team's previous match (NaN if none); ``matches_before``.
* League table of the match's league and season before that date: ``league_played``,
  ``league_points`` (3 a win, 1 a draw), ``league_goal_difference``, ``league_goals_for`` and
  ``league_position`` among the season's teams, ordered by points, goal difference, goals
  for, then team id (so positions are unique; before the first matchday they follow team ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS: tuple[int, ...] = (5, 10, 20)
VENUE_WINDOW = 10
KEY_SPAN = 1 << 20  # > any day number (days since 1970) a match can have
ID_COLUMNS: tuple[str, ...] = (
    "team_id",
    "match_id",
    "league",
    "season",
    "match_date",
    "is_home",
    "opponent_id",
)


def team_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """Two rows per match, one per team, sorted by (team_id, match_date, match_id).

    Columns: ID_COLUMNS, goals_for, goals_against (NaN if not played), played, win, draw,
    points, day (days since 1970).
    """
    sides = []
    for is_home, team, opponent, scored, conceded in (
        (True, "home_team_id", "away_team_id", "home_goals", "away_goals"),
        (False, "away_team_id", "home_team_id", "away_goals", "home_goals"),
    ):
        sides.append(
            pd.DataFrame(
                {
                    "team_id": matches[team].astype(str),
                    "match_id": matches["match_id"].astype(str),
                    "league": matches["league"],
                    "season": matches["season"],
                    "match_date": matches["match_date"],
                    "is_home": is_home,
                    "opponent_id": matches[opponent].astype(str),
                    "goals_for": _goals(matches[scored]),
                    "goals_against": _goals(matches[conceded]),
                }
            )
        )
    rows = pd.concat(sides, ignore_index=True)
    rows["played"] = rows["goals_for"].notna() & rows["goals_against"].notna()
    margin = rows["goals_for"] - rows["goals_against"]
    rows["win"] = (margin > 0).astype(np.float64)
    rows["draw"] = (margin == 0).astype(np.float64)
    rows["points"] = 3 * (margin > 0) + (margin == 0)
    rows["day"] = rows["match_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return rows.sort_values(["team_id", "day", "match_id"], kind="stable").reset_index(drop=True)


def _goals(values: pd.Series) -> np.ndarray:
    """Goals as floats, NaN where the result is missing (a fixture not yet played)."""
    return pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)


def team_features(matches: pd.DataFrame) -> pd.DataFrame:
    """One row per (team_id, match_id) with the module's features, sorted by date, match, team.

    ``matches`` has the pipeline's match columns (match_id, league, season, match_date,
    home/away_team_id, home/away_goals). Every feature of a row uses only matches dated before
    the row's match_date. Fixtures without a result (goals missing) get features too and are
    left out of every history.
    """
    rows = team_matches(matches)
    team = pd.factorize(rows["team_id"])[0]  # ascending: rows are sorted by team_id
    played = rows["played"].to_numpy()
    table = _league_table(rows, played)
    features = pd.concat(
        [rows[list(ID_COLUMNS)], _form(rows, team, played), _venue_form(rows, team, played)],
        axis=1,
    ).assign(day=rows["day"])
    features = features.merge(table, on=["league", "season", "team_id", "day"], how="left")
    return (
        features.drop(columns="day")
        .sort_values(["match_date", "match_id", "team_id"], kind="stable")
        .reset_index(drop=True)
    )


def _last_before(
    group: np.ndarray, day: np.ndarray, query_group: np.ndarray, query_day: np.ndarray
) -> np.ndarray:
    """Per query, index of the last history row of its group with day < query day, else −1.

    History rows must be sorted by (group, day).
    """
    key = group * KEY_SPAN + day
    pos = np.searchsorted(key, query_group * KEY_SPAN + query_day, side="left") - 1
    found = (pos >= 0) & (group[np.maximum(pos, 0)] == query_group)
    return np.where(found, pos, -1)


def _window_sums(
    values: np.ndarray, group: np.ndarray, window: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of each row and up to window − 1 rows before it in its group (None: all).

    Rows must be sorted by group.
    """
    index = np.arange(len(values))
    start = np.searchsorted(group, group, side="left")
    if window is not None:
        start = np.maximum(index + 1 - window, start)
    total = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return total[index + 1] - total[start], (index + 1 - start).astype(np.float64)


def _rolling_mean(values: np.ndarray, group: np.ndarray, window: int) -> np.ndarray:
    """Mean over each row and the window − 1 rows before it in its group."""
    total, count = _window_sums(values, group, window)
    return total / count


def _asof(
    group: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    query_group: np.ndarray,
    query_day: np.ndarray,
) -> pd.DataFrame:
    """``values`` (aligned with history rows) at each query's last earlier row; NaN if none."""
    pos = _last_before(group, day, query_group, query_day)
    found = pos >= 0
    return pd.DataFrame(
        {
            name: np.where(found, column[np.maximum(pos, 0)], np.nan)
            for name, column in values.items()
        }
    )


def _form(rows: pd.DataFrame, team: np.ndarray, played: np.ndarray) -> pd.DataFrame:
    """Rolling form, rest days and number of played matches before each row's date."""
    day = rows["day"].to_numpy()
    history = rows[played]
    values: dict[str, np.ndarray] = {}
    for window in WINDOWS:
        for name, column in (
            ("goals_for_avg", "goals_for"),
            ("goals_against_avg", "goals_against"),
            ("win_rate", "win"),
            ("draw_rate", "draw"),
        ):
            mean = _rolling_mean(history[column].to_numpy(), team[played], window)
            values[f"{name}_{window}"] = mean
    values["last_day"] = day[played].astype(np.float64)
    values["matches_before"] = _window_sums(np.ones(len(history)), team[played], None)[0]
    form = _asof(team[played], day[played], values, team, day)
    form["rest_days"] = day - form.pop("last_day")
    form["matches_before"] = form["matches_before"].fillna(0).astype(np.int64)
    return form


def _venue_form(rows: pd.DataFrame, team: np.ndarray, played: np.ndarray) -> pd.DataFrame:
    """Win rate over the last VENUE_WINDOW earlier home and away matches of each row's team."""
    day = rows["day"].to_numpy()
    out = {}
    for venue, is_home in (("home", True), ("away", False)):
        mask = (rows["is_home"].to_numpy() == is_home) & played
        name = f"{venue}_win_rate_{VENUE_WINDOW}"
        rate = _rolling_mean(rows["win"].to_numpy()[mask], team[mask], VENUE_WINDOW)
        out[name] = _asof(team[mask], day[mask], {name: rate}, team, day)[name].to_numpy()
    return pd.DataFrame(out)


TABLE_KEYS = ["league", "season", "team_id"]


def _league_table(rows: pd.DataFrame, played: np.ndarray) -> pd.DataFrame:
    """Table before every match date of every league-season, for all of its teams.

    Columns: league, season, team_id, day, league_played, league_points,
    league_goal_difference, league_goals_for, league_position.
    """
    codes, entries = pd.factorize(pd.MultiIndex.from_frame(rows[TABLE_KEYS]))
    history = rows[played]
    day = history["day"].to_numpy()
    order = np.lexsort((history["match_id"].to_numpy(), day, codes[played]))
    group = codes[played][order]
    per_match = {
        "league_played": np.ones(len(history)),
        "league_points": history["points"].to_numpy(np.float64),
        "league_goal_difference": (history["goals_for"] - history["goals_against"]).to_numpy(),
        "league_goals_for": history["goals_for"].to_numpy(),
    }
    running = {name: _window_sums(v[order], group, None)[0] for name, v in per_match.items()}
    dates = rows[["league", "season", "day"]].drop_duplicates()
    grid = dates.merge(rows[TABLE_KEYS].drop_duplicates(), on=["league", "season"])
    grid_group = entries.get_indexer(pd.MultiIndex.from_frame(grid[TABLE_KEYS]))
    table = _asof(group, day[order], running, grid_group, grid["day"].to_numpy()).fillna(0.0)
    table = pd.concat([grid.reset_index(drop=True), table], axis=1).sort_values(
        [
            "league",
            "season",
            "day",
            "league_points",
            "league_goal_difference",
            "league_goals_for",
            "team_id",
        ],
        ascending=[True, True, True, False, False, False, True],
        kind="stable",
    )
    table["league_position"] = table.groupby(["league", "season", "day"]).cumcount() + 1
    counts = ["league_played", "league_points", "league_goal_difference", "league_goals_for"]
    table[counts] = table[counts].astype(np.int64)
    return table
