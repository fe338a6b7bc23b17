"""Real football-data matches for the Dixon-Coles, features and walk-forward tests.

A deliberately small reader (team id = team name) until the shared parser is used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pandas as pd

from jackpot_pipeline.settings import Settings

COLUMNS = ["Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG"]


@cache
def _load_season(league: str, season: str) -> pd.DataFrame:
    """One league-season; ``season`` like '2023-24' lives in folder '2324'."""
    path = Settings().football_data_dir / f"{season[2:4]}{season[5:7]}" / f"{league}.csv"
    raw = pd.read_csv(path, encoding="utf-8-sig", usecols=COLUMNS, dtype=str)
    raw = raw[raw["Div"].notna()]
    dates = pd.to_datetime(raw["Date"], dayfirst=True, format="mixed")
    return pd.DataFrame(
        {
            "match_id": league + "-" + dates.dt.strftime("%Y%m%d") + "-" + raw["HomeTeam"],
            "league": league,
            "season": season,
            "match_date": dates.astype("datetime64[ns]"),
            "home_team_id": raw["HomeTeam"],
            "away_team_id": raw["AwayTeam"],
            "home_goals": raw["FTHG"].astype(int),
            "away_goals": raw["FTAG"].astype(int),
        }
    ).reset_index(drop=True)


def load_real(league: str, seasons: Sequence[str]) -> pd.DataFrame:
    """Matches of ``league`` in ``seasons`` with the pipeline's match columns (fresh copy)."""
    return pd.concat([_load_season(league, s) for s in seasons], ignore_index=True)


def season_labels(first: int, last: int) -> list[str]:
    """['2019-20', …] for start years first..last."""
    return [f"{y}-{(y + 1) % 100:02d}" for y in range(first, last + 1)]
