"""Partitions: league × season for ingestion and modelling."""

from __future__ import annotations

import dagster as dg

from jackpot_pipeline.core.seasons import season_label
from jackpot_pipeline.core.teams import LEAGUES

FIRST_SEASON_START = 2012
LAST_SEASON_START = 2025
SEASONS: tuple[str, ...] = tuple(
    season_label(year) for year in range(FIRST_SEASON_START, LAST_SEASON_START + 1)
)
LEAGUE_CODES: tuple[str, ...] = tuple(LEAGUES)

league_season_partitions = dg.MultiPartitionsDefinition(
    {
        "league": dg.StaticPartitionsDefinition(list(LEAGUE_CODES)),
        "season": dg.StaticPartitionsDefinition(list(SEASONS)),
    }
)


def partition_key(league: str, season: str) -> dg.MultiPartitionKey:
    """The multi-partition key of ``league`` × ``season`` (never build the string by hand)."""
    return dg.MultiPartitionKey({"league": league, "season": season})


def split_key(key: str) -> tuple[str, str]:
    """(league, season) of a league × season partition key."""
    dims = league_season_partitions.get_partition_key_from_str(str(key)).keys_by_dimension
    return dims["league"], dims["season"]
