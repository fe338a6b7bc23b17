"""Reference assets: leagues, teams seen in the shipped history, and the team aliases."""

import dagster as dg

from jackpot_pipeline.core.teams import ALIASES_PATH, LEAGUES, load_aliases
from jackpot_pipeline.defs.conventions import DATA_OWNERS, KINDS, POOL
from jackpot_pipeline.defs.resources import WarehouseResource


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "leagues",
            description="The league registry (data/leagues.csv): country, tier, sport key, "
            "enabled (team ids are per country, so ingestion reads it).",
            kinds=KINDS,
            owners=DATA_OWNERS,
        ),
        dg.AssetSpec(
            "team_aliases",
            description="Every known spelling of a club (football-data, The Odds API) → team id; "
            "read to resolve Odds API events and coupon team names.",
            kinds=KINDS,
            owners=DATA_OWNERS,
        ),
    ],
    group_name="reference",
    pool=POOL,
)
def reference_data(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource):
    """Replace the leagues and team_aliases tables with the shipped reference data."""
    import pandas as pd

    from jackpot_pipeline.services import warehouse

    leagues = pd.DataFrame(
        [
            {"code": lg.code, "name": lg.name, "country": lg.country, "tier": lg.tier}
            for lg in LEAGUES.values()
        ]
    )
    resolver = load_aliases(ALIASES_PATH)
    aliases = pd.DataFrame(
        [{"alias": a.alias, "team_id": a.team_id, "source": a.source} for a in resolver.aliases]
    )
    with warehouse_db.connect() as con, warehouse.transaction(con):
        con.execute("DELETE FROM leagues")
        warehouse.insert_frame(con, "leagues", leagues)
        con.execute("DELETE FROM team_aliases")
        warehouse.insert_frame(con, "team_aliases", aliases)
    context.log.info(f"{len(leagues)} leagues, {len(aliases)} team aliases")
    yield dg.MaterializeResult(asset_key="leagues", metadata={"dagster/row_count": len(leagues)})
    yield dg.MaterializeResult(
        asset_key="team_aliases",
        metadata={
            "dagster/row_count": len(aliases),
            "by_source": dg.MetadataValue.json(aliases["source"].value_counts().to_dict()),
        },
    )
