"""Model-layer assets per league × season: team features, Dixon-Coles models, walk-forward
out-of-sample predictions.

A season's outputs read that season's matches and earlier ones only (the partition mappings
say which): the league's own for the models, every league of its country for the features
(promoted and relegated teams carry their form across divisions). Each partition of a run gets
its own metadata: its rows, its season's models (ρ, home advantage, convergence, versions, team
ratings) and ξ choice; a partition without matches is materialized with ``status: no data``.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.defs.conventions import (
    KINDS,
    MODEL_OWNERS,
    POOL,
    no_data_metadata,
    partition_metadata,
    seasons_by_league,
)
from jackpot_pipeline.defs.partitions import (
    LEAGUE_CODES,
    SEASONS,
    league_season_partitions,
    partition_key,
)
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource

if TYPE_CHECKING:
    from jackpot_pipeline.services.model_store import SeasonModels

#: Season S of a downstream partition reads seasons ≤ S upstream.
UP_TO_SEASON = dg.DimensionPartitionMapping(
    "season", dg.StaticPartitionMapping({s: [t for t in SEASONS if t >= s] for s in SEASONS})
)
#: matches of a league's season S and of every earlier season feed season S downstream.
SAME_LEAGUE_EARLIER_SEASONS = dg.MultiPartitionMapping(
    {
        "league": dg.DimensionPartitionMapping("league", dg.IdentityPartitionMapping()),
        "season": UP_TO_SEASON,
    }
)
#: matches of every league of the league's country, seasons ≤ S, feed its team features.
SAME_COUNTRY_EARLIER_SEASONS = dg.MultiPartitionMapping(
    {
        "league": dg.DimensionPartitionMapping(
            "league",
            dg.StaticPartitionMapping(
                {
                    upstream: [
                        league
                        for league in LEAGUE_CODES
                        if LEAGUES[league].country == LEAGUES[upstream].country
                    ]
                    for upstream in LEAGUE_CODES
                }
            ),
        ),
        "season": UP_TO_SEASON,
    }
)
EAGER = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
MATCHES_DEP = dg.AssetDep("matches", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS)
COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": "modelling",
    "pool": POOL,
}
RATINGS_SHOWN = 30


def keys_by_league(context: dg.AssetExecutionContext) -> dict[str, list[str]]:
    """The run's seasons grouped by league, in season order."""
    return seasons_by_league(context.partition_keys)


@dg.asset(
    deps=[dg.AssetDep("matches", partition_mapping=SAME_COUNTRY_EARLIER_SEASONS)],
    automation_condition=EAGER,
    description="Rolling 5/10/20-match form, venue win rates, rest days and league position "
    "per team and match, from matches strictly before the match date (history: every league "
    "of the country). A published feature table: no asset of this project reads it yet.",
    kinds=KINDS,
    owners=MODEL_OWNERS,
    **COMMON,
)
def team_features(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Features of every team and match of the partition (history: the country's leagues)."""
    from jackpot_pipeline.core.features import team_features as compute_team_features
    from jackpot_pipeline.services import model_store, warehouse

    for league, seasons in keys_by_league(context).items():
        country = [c for c, info in LEAGUES.items() if info.country == LEAGUES[league].country]
        with warehouse_db.connect() as con:
            history = model_store.load_matches(con, country, seasons[-1])
            features = compute_team_features(history) if len(history) else None
            for season in seasons:
                rows = (
                    features[(features["league"] == league) & (features["season"] == season)]
                    if features is not None
                    else history
                )
                key = partition_key(league, season)
                if rows.empty:
                    reason = f"no matches of {league} {season} in the warehouse"
                    partition_metadata(
                        context, "team_features", key, no_data_metadata(league, season, reason)
                    )
                    continue
                with warehouse.transaction(con):
                    written = model_store.store_features(con, league, season, rows)
                partition_metadata(
                    context,
                    "team_features",
                    key,
                    {
                        "league": league,
                        "season": season,
                        "dagster/row_count": written,
                        "teams": int(rows["team_id"].nunique()),
                        "history_leagues": dg.MetadataValue.json(sorted(country)),
                    },
                )
                context.log.info(f"{league} {season}: {written} team-feature rows")
    return dg.MaterializeResult()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "dixon_coles_models",
            deps=[MATCHES_DEP],
            automation_condition=EAGER,
            description="Dixon-Coles models as of the season's start and end (ξ chosen per "
            "league from earlier seasons), with team ratings, version and input data version; "
            "the ξ choice is read by the jackpot models.",
            kinds=KINDS,
            owners=MODEL_OWNERS,
        ),
        dg.AssetSpec(
            "oos_predictions",
            deps=[MATCHES_DEP],
            automation_condition=EAGER,
            description="Walk-forward: every match predicted by a model fitted only on matches "
            "strictly before its date (weekly refits, warm-started).",
            kinds=KINDS,
            owners=MODEL_OWNERS,
        ),
    ],
    **COMMON,
)
def dixon_coles(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> Iterator[dg.MaterializeResult]:
    """Walk each league forward once over its history and store the partition seasons."""
    from jackpot_pipeline.core.walk_forward import WalkForwardConfig, walk_forward_selected
    from jackpot_pipeline.services import model_store, warehouse

    xi = settings.settings().xi
    config = WalkForwardConfig(xi=xi)
    for league, seasons in keys_by_league(context).items():
        with warehouse_db.connect() as con:
            matches = model_store.load_matches(con, [league], seasons[-1])
        predictions, selections = (
            walk_forward_selected(matches, config) if len(matches) else (None, [])
        )
        chosen = {s.season: s for s in selections}
        for season in seasons:
            key = partition_key(league, season)
            if matches.empty or not (matches["season"] == season).any():
                reason = f"no matches of {league} {season} in the warehouse"
                context.log.warning(f"{league} {season}: no data for this partition")
                for asset in ("dixon_coles_models", "oos_predictions"):
                    partition_metadata(
                        context, asset, key, no_data_metadata(league, season, reason)
                    )
                continue
            fitted = model_store.fit_season_models(league, season, matches, chosen, xi)
            with warehouse_db.connect() as con, warehouse.transaction(con):
                row = model_store.store_season(con, fitted, matches, predictions)
            partition_metadata(context, "dixon_coles_models", key, model_metadata(fitted))
            partition_metadata(
                context,
                "oos_predictions",
                key,
                {
                    "league": league,
                    "season": season,
                    "dagster/row_count": int(row["predicted"]),
                    "log_loss_1x2": row["log_loss"],
                    "xi": float(fitted.xi),
                },
            )
            context.log.info(
                f"{league} {season}: {row['predicted']} OOS predictions, ξ={row['xi']}, "
                f"log loss {row['log_loss']}"
            )
    yield dg.MaterializeResult(asset_key="dixon_coles_models")
    yield dg.MaterializeResult(asset_key="oos_predictions")


def model_metadata(fitted: "SeasonModels") -> dict[str, Any]:
    """One season's models: per model its ρ, home advantage, convergence and versions, the
    end-of-season team ratings and the ξ choice."""
    models = fitted.models
    metadata: dict[str, Any] = {
        "league": fitted.league,
        "season": fitted.season,
        "dagster/row_count": len(models),
        "xi": float(fitted.xi),
        "xi_source": "selected on earlier seasons" if fitted.selection else "default",
    }
    if fitted.selection is not None:
        metadata["xi_scores"] = dg.MetadataValue.json(
            {f"{xi:g}": round(score, 6) for xi, score in fitted.selection.scores}
        )
    for model in models.to_dict("records"):
        prefix = str(model["kind"])  # season_start / season_end
        metadata |= {
            f"{prefix}/model_id": str(model["model_id"]),
            f"{prefix}/as_of": str(model["as_of"]),
            f"{prefix}/n_matches": int(model["n_matches"]),
            f"{prefix}/rho": round(float(model["rho"]), 6),
            f"{prefix}/home_advantage": round(float(model["home_advantage"]), 6),
            f"{prefix}/converged": bool(model["converged"]),
            f"{prefix}/iterations": int(model["iterations"]),
            f"{prefix}/data_version": str(model["data_version"]),
            f"{prefix}/code_version": str(model["code_version"]),
        }
    if len(models):
        last = models.iloc[-1]["model_id"]
        ratings = fitted.ratings[fitted.ratings["model_id"] == last]
        table = (
            ratings.assign(strength=ratings["attack"] - ratings["defence"])
            .sort_values("strength", ascending=False)
            .head(RATINGS_SHOWN)[["team_id", "attack", "defence"]]
        )
        metadata["ratings"] = dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".3f"))
    return metadata
