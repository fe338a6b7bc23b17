"""Set A's members and their stack, per league × season.

- ``member_predictions``: the walk-forward forecasts of the members besides Dixon-Coles — every
  odds-ratings variant (team ratings fitted to the expected goals implied by *earlier* matches'
  closing 1X2 and over/under 2.5 prices, trained with the partner divisions of the registry)
  and Elo — on the Dixon-Coles splits (same blocks, same as-of days).
- ``stacked_predictions``: per season, the odds variant and the log-linear pool weights of
  Dixon-Coles, odds ratings and Elo, fitted on every league's earlier seasons, applied to the
  season's matches: the model forecast that calibration and the sets read (set A's input).

The work is in ``services.members`` and ``services.stack``.
"""

from typing import Any

import dagster as dg

from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.conventions import KINDS, MODEL_OWNERS, POOL, publish_rows
from jackpot_pipeline.defs.modelling.assets import EAGER, SAME_COUNTRY_EARLIER_SEASONS
from jackpot_pipeline.defs.partitions import ALL_LEAGUES_UP_TO_SEASON, league_season_partitions
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource

COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": "modelling",
    "pool": POOL,
    "kinds": KINDS,
    "owners": MODEL_OWNERS,
    "automation_condition": EAGER,
}


@dg.asset(
    deps=[dg.AssetDep("matches", partition_mapping=SAME_COUNTRY_EARLIER_SEASONS)],
    description="Walk-forward forecasts of set A's members besides Dixon-Coles: every "
    "odds-ratings variant (ratings fitted to earlier matches' market-implied goals, never the "
    "match's own odds; partner divisions of the registry included) and Elo with an ordered "
    "logit, on the Dixon-Coles splits.",
    **COMMON,
)
def member_predictions(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Walk each league of the run once and store its partition seasons' member rows."""
    from jackpot_pipeline.services import members

    todo = incremental.stale_partitions(
        context, warehouse_db, "member_forecasts", settings.settings()
    )
    rows = members.run_members(warehouse_db.connect, todo.by_league, context.log)
    incremental.record_done(context, warehouse_db, todo)

    def describe(mine: list[dict[str, Any]]) -> dict[str, Any]:
        (row,) = mine
        return {
            "dagster/row_count": row["rows"],
            "matches": row["matches"],
            "members": row["members"],
        }

    publish_rows(context, todo.by_league, "member_predictions", rows, describe)
    return dg.MaterializeResult()


@dg.asset(
    deps=[
        dg.AssetDep("oos_predictions", partition_mapping=ALL_LEAGUES_UP_TO_SEASON),
        dg.AssetDep("member_predictions", partition_mapping=ALL_LEAGUES_UP_TO_SEASON),
        dg.AssetDep("matches", partition_mapping=ALL_LEAGUES_UP_TO_SEASON),
    ],
    description="Set A's input: Dixon-Coles, the season's odds-ratings variant and Elo pooled "
    "log-linearly with weights fitted on every league's earlier seasons (Dixon-Coles alone "
    "where a member or the weights are missing); the choices per season in stack_choices.",
    **COMMON,
)
def stacked_predictions(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Choose each season of the run from earlier seasons and store its stacked forecasts."""
    from jackpot_pipeline.services import stack

    todo = incremental.stale_partitions(
        context, warehouse_db, "stacked_forecasts", settings.settings()
    )
    rows, chosen = stack.run_stack(warehouse_db.connect, todo.by_league, context.log)
    incremental.record_done(context, warehouse_db, todo)

    def describe(mine: list[dict[str, Any]]) -> dict[str, Any]:
        (row,) = mine
        choice = chosen[str(row["season"])]
        weights = dict(zip(stack.STACK_MEMBERS, choice.weights or (), strict=False))
        return {
            "dagster/row_count": row["rows"],
            "stacked": row["stacked"],
            "odds_variant": choice.odds_variant,
            "weights": dg.MetadataValue.json({k: round(v, 6) for k, v in weights.items()}),
            "trained_on_rows": choice.n_train,
            "stack_version": choice.version,
        }

    publish_rows(context, todo.by_league, "stacked_predictions", rows, describe)
    return dg.MaterializeResult()


MEMBER_ASSETS = [member_predictions, stacked_predictions]
