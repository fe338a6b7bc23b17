"""Model-layer assets per league × season: team features, Dixon-Coles models, walk-forward
out-of-sample predictions.

Each partition reads its league's matches of that season and every earlier one (the partition
mapping says so), so a season's outputs never depend on later data.
"""

from collections.abc import Iterator

import dagster as dg

from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.partitions import SEASONS, league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.settings import Settings

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
    todo = incremental.stale_partitions(context, warehouse_db, "team_features", Settings.from_env())
    for league, seasons in todo.by_league.items():
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
    incremental.record_done(context, warehouse_db, todo)
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
            description="Dixon-Coles models as of the season's start and end (ξ chosen per "
            "league from earlier seasons), with team ratings, version and input data version.",
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

    from jackpot_pipeline.core.walk_forward import WalkForwardConfig, walk_forward_selected
    from jackpot_pipeline.services import model_store, warehouse

    settings = Settings.from_env()
    config = WalkForwardConfig(xi=settings.xi)
    summary: list[dict[str, object]] = []
    todo = incremental.stale_partitions(context, warehouse_db, "dixon_coles", settings)
    for league, seasons in todo.by_league.items():
        with warehouse_db.connect() as con:
            matches = model_store.load_matches(con, [league], seasons[-1])
        if matches.empty:
            context.log.warning(f"{league} {', '.join(seasons)}: no data for this partition")
            continue
        predictions, selections = walk_forward_selected(matches, config)
        chosen = {s.season: s for s in selections}
        for season in seasons:
            if not (matches["season"] == season).any():
                context.log.warning(f"{league} {season}: no data for this partition")
                continue
            fitted = model_store.fit_season_models(league, season, matches, chosen, settings.xi)
            with warehouse_db.connect() as con, warehouse.transaction(con):
                row = model_store.store_season(con, fitted, matches, predictions)
            summary.append(row)
            context.log.info(
                f"{league} {season}: {row['predicted']} OOS predictions, ξ={row['xi']}, "
                f"log loss {row['log_loss']}"
            )
    incremental.record_done(context, warehouse_db, todo)
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
