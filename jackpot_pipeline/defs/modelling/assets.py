"""Model-layer assets per league × season: team features, Dixon-Coles models, walk-forward
out-of-sample predictions.

Each partition reads its league's matches of that season and every earlier one (the partition
mapping says so), so a season's outputs never depend on later data.
"""

from collections import defaultdict
from collections.abc import Iterator

import dagster as dg

from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.defs.partitions import SEASONS, league_season_partitions, split_key
from jackpot_pipeline.defs.resources import WarehouseResource

#: matches of a league's season S and of every earlier season feed season S downstream.
SAME_LEAGUE_EARLIER_SEASONS = dg.MultiPartitionMapping(
    {
        "league": dg.DimensionPartitionMapping("league", dg.IdentityPartitionMapping()),
        "season": dg.DimensionPartitionMapping(
            "season",
            dg.StaticPartitionMapping({s: [t for t in SEASONS if t >= s] for s in SEASONS}),
        ),
    }
)
EAGER = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
MATCHES_DEP = dg.AssetDep("matches", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS)
COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": "modelling",
    "pool": "duckdb_warehouse",
}


def keys_by_league(context: dg.AssetExecutionContext) -> dict[str, list[str]]:
    """The run's seasons grouped by league, in season order."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in context.partition_keys:
        league, season = split_key(key)
        grouped[league].append(season)
    return {league: sorted(seasons) for league, seasons in grouped.items()}


@dg.asset(
    deps=[MATCHES_DEP],
    automation_condition=EAGER,
    description="Rolling 5/10/20-match form, venue win rates, rest days and league position "
    "per team and match, from matches strictly before the match date.",
    **COMMON,
)
def team_features(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Features of every team and match of the partition (history: the country's leagues)."""
    from jackpot_pipeline.core.features import team_features as compute_team_features
    from jackpot_pipeline.services import model_store, warehouse

    written: dict[str, int] = {}
    for league, seasons in keys_by_league(context).items():
        country = [c for c, info in LEAGUES.items() if info.country == LEAGUES[league].country]
        with warehouse_db.connect() as con:
            history = model_store.load_matches(con, country, seasons[-1])
            features = compute_team_features(history)
            for season in seasons:
                rows = features[(features["league"] == league) & (features["season"] == season)]
                with warehouse.transaction(con):
                    written[f"{league} {season}"] = model_store.store_features(
                        con, league, season, rows
                    )
                context.log.info(f"{league} {season}: {len(rows)} team-feature rows")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "rows_by_partition": dg.MetadataValue.json(written),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "dixon_coles_models",
            deps=[MATCHES_DEP],
            automation_condition=EAGER,
            description="Every walk-forward refit (ξ chosen per league from earlier seasons), "
            "with team ratings, prior, version and input data version: the models that made "
            "oos_predictions (its model_version joins models.model_id).",
        ),
        dg.AssetSpec(
            "oos_predictions",
            deps=[MATCHES_DEP],
            automation_condition=EAGER,
            description="Walk-forward: every match predicted by a model fitted only on matches "
            "strictly before its date (weekly refits, warm-started).",
        ),
    ],
    **COMMON,
)
def dixon_coles(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Walk each league forward once over its history and store the partition seasons."""
    import pandas as pd

    from jackpot_pipeline.services import model_store, warehouse

    summary: list[dict[str, object]] = []
    for league, seasons in keys_by_league(context).items():
        with warehouse_db.connect() as con:
            matches = model_store.load_matches(con, [league], seasons[-1])
            others = model_store.load_scores(con, exclude_league=league)
        if matches.empty:
            context.log.warning(f"{league} {', '.join(seasons)}: no data for this partition")
            continue
        walk = model_store.walk_league(matches, others)
        for season in seasons:
            if not (matches["season"] == season).any():
                context.log.warning(f"{league} {season}: no data for this partition")
                continue
            with warehouse_db.connect() as con, warehouse.transaction(con):
                row = model_store.store_season(con, league, season, walk, matches)
            summary.append(row)
            context.log.info(
                f"{league} {season}: {row['predicted']} OOS predictions by {row['models']} "
                f"stored fits, ξ={row['xi']}, log loss {row['log_loss']}"
            )
    table = pd.DataFrame(summary)
    metadata = {
        "partitions": len(summary),
        "summary": dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "none"),
    }
    yield dg.MaterializeResult(asset_key="dixon_coles_models", metadata=metadata)
    yield dg.MaterializeResult(
        asset_key="oos_predictions",
        metadata={
            **metadata,
            "dagster/row_count": int(table["predicted"].sum()) if len(table) else 0,
        },
    )
