"""Conventions shared by every domain of the Dagster shell: the warehouse pool, kinds, owners,
and how a partitioned asset reports per partition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dagster as dg

from jackpot_pipeline.defs.partitions import partition_key, split_key

#: One DuckDB writer at a time: every asset that writes the warehouse takes a slot of this pool.
POOL = "duckdb_warehouse"
#: Asset kinds shown in the UI: where the data lives and what computes it.
KINDS = frozenset({"duckdb", "python"})
CHECKED_KINDS = KINDS | {"great_expectations"}
#: Owners (Dagster's ``team:`` form) by layer.
DATA_OWNERS = ("team:data-platform",)
MODEL_OWNERS = ("team:modelling",)
PRODUCT_OWNERS = ("team:jackpot-product",)
NO_DATA = "no data"


def seasons_by_league(keys: Iterable[str]) -> dict[str, list[str]]:
    """League × season partition keys grouped by league, each league's seasons in order."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        league, season = split_key(key)
        grouped[league].append(season)
    return {league: sorted(seasons) for league, seasons in grouped.items()}


def partition_metadata(
    context: dg.AssetExecutionContext,
    asset_key: str,
    partition: dg.MultiPartitionKey | str,
    metadata: Mapping[str, Any],
) -> None:
    """Attach ``metadata`` to one partition's materialization of ``asset_key`` (in a range run
    every partition gets its own figures, never the run's totals)."""
    context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=str(partition))


def no_data_metadata(league: str, season: str, reason: str) -> dict[str, Any]:
    """Metadata of a partition materialized without data: the reason, zero rows."""
    return {
        "league": league,
        "season": season,
        "status": NO_DATA,
        "reason": reason,
        "dagster/row_count": 0,
    }


def publish_rows(
    context: dg.AssetExecutionContext,
    computed: Mapping[str, list[str]],
    asset: str,
    rows: list[Mapping[str, Any]],
    describe: Callable[[list[Mapping[str, Any]]], dict[str, Any]],
    no_data: str = "no out-of-sample rows for this season",
) -> None:
    """Attach each partition the run computed (``computed``: league → seasons; unchanged ones
    were skipped) its own rows' metadata (``describe(rows)``), or the ``no_data`` reason when
    the run produced none for it."""
    by_partition: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_partition.setdefault((str(row["league"]), str(row["season"])), []).append(row)
    for league, seasons in computed.items():
        for season in seasons:
            mine = by_partition.get((league, season))
            metadata = (
                {"league": league, "season": season, **describe(mine)}
                if mine
                else no_data_metadata(league, season, no_data)
            )
            partition_metadata(context, asset, partition_key(league, season), metadata)
