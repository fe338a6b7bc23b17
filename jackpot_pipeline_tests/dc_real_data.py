"""Real football-data matches for the Dixon-Coles, features and walk-forward tests.

``load_real`` is a deliberately small reader (team id = team name, readable in assertions);
``load_parsed`` goes through the pipeline's parser, to check the model on its frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pandas as pd

from jackpot_pipeline.core.football_data import parse_football_data
from jackpot_pipeline.settings import Settings

COLUMNS = ["Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG"]


def season_path(league: str, season: str) -> Path:
    """File of a league-season: season '2023-24' lives in folder '2324'."""
    return Settings().football_data_dir / f"{season[2:4]}{season[5:7]}" / f"{league}.csv"


@cache
def _load_season(league: str, season: str) -> pd.DataFrame:
    """One league-season read with plain pandas."""
    raw = pd.read_csv(season_path(league, season), encoding="utf-8-sig", usecols=COLUMNS, dtype=str)
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


def load_parsed(league: str, seasons: Sequence[str]) -> pd.DataFrame:
    """The same seasons through the pipeline's parser (string/Int64 dtypes, slug team ids)."""
    frames = [
        parse_football_data(season_path(league, s).read_bytes(), league, s).matches for s in seasons
    ]
    return pd.concat(frames, ignore_index=True)


def season_labels(first: int, last: int) -> list[str]:
    """['2019-20', …] for start years first..last."""
    return [f"{y}-{(y + 1) % 100:02d}" for y in range(first, last + 1)]
