"""Partitions: league × season for ingestion and modelling, computed when the code loads.

Leagues are the enabled lines of the registry (``data/leagues.csv``); seasons run from the
earliest ``first_season`` of those leagues through the season containing today (the clock of
:func:`today`: ``JACKPOT_TODAY`` if set, else the machine's UTC date; the boundary is the
``season_boundary`` setting, 1 July by default). The Dagster daemon reloads the code location
every minute, so a new season's partitions appear on the first load after its boundary, with no
code change or redeploy (see the README, "The calendar").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import dagster as dg

from jackpot_pipeline.core.leagues import League
from jackpot_pipeline.core.seasons import season_of, seasons_through
from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.settings import Settings


def today(settings: Settings | None = None) -> date:
    """The pipeline's clock: the ``today`` setting (ISO date) if given, else today in UTC."""
    return (settings or Settings.from_env()).today_date()


def current_season(at: date | None = None, settings: Settings | None = None) -> str:
    """Season containing ``at`` (default: :func:`today`) under the season boundary setting."""
    settings = settings or Settings.from_env()
    return season_of(at or today(settings), settings.season_boundary)


def league_seasons(
    leagues: Mapping[str, League], at: date, boundary: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(league codes, seasons) of the partitions on day ``at``: the leagues in registry order,
    the seasons from the earliest ``first_season`` through the season containing ``at``."""
    if not leagues:
        raise ValueError("no league is enabled in the league registry")
    first = min(league.first_season for league in leagues.values())
    return tuple(leagues), seasons_through(first, at, boundary)


def build_partitions(
    league_codes: Sequence[str], seasons: Sequence[str]
) -> dg.MultiPartitionsDefinition:
    """The league × season partitions definition."""
    return dg.MultiPartitionsDefinition(
        {
            "league": dg.StaticPartitionsDefinition(list(league_codes)),
            "season": dg.StaticPartitionsDefinition(list(seasons)),
        }
    )


_SETTINGS = Settings.from_env()
LEAGUE_CODES, SEASONS = league_seasons(LEAGUES, today(_SETTINGS), _SETTINGS.season_boundary)
CURRENT_SEASON: str = SEASONS[-1]
league_season_partitions = build_partitions(LEAGUE_CODES, SEASONS)


def partition_key(league: str, season: str) -> dg.MultiPartitionKey:
    """The multi-partition key of ``league`` × ``season`` (never build the string by hand)."""
    return dg.MultiPartitionKey({"league": league, "season": season})


def split_key(key: str) -> tuple[str, str]:
    """(league, season) of a league × season partition key."""
    dims = league_season_partitions.get_partition_key_from_str(str(key)).keys_by_dimension
    return dims["league"], dims["season"]


def _seasons_mapping(strictly_earlier: bool) -> dg.MultiPartitionMapping:
    """Every league's seasons before S (``strictly_earlier``) or up to S feed season S."""
    later = {s: [t for t in SEASONS if (t > s if strictly_earlier else t >= s)] for s in SEASONS}
    return dg.MultiPartitionMapping(
        {
            "league": dg.DimensionPartitionMapping("league", dg.AllPartitionMapping()),
            "season": dg.DimensionPartitionMapping("season", dg.StaticPartitionMapping(later)),
        }
    )


ALL_LEAGUES_EARLIER_SEASONS = _seasons_mapping(strictly_earlier=True)
ALL_LEAGUES_UP_TO_SEASON = _seasons_mapping(strictly_earlier=False)
