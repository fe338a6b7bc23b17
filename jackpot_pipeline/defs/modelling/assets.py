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
from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.conventions import (
    KINDS,
    MODEL_OWNERS,
    POOL,
    no_data_metadata,
    partition_metadata,
)
from jackpot_pipeline.defs.partitions import (
    LEAGUE_CODES,
    SEASONS,
    league_season_partitions,
    partition_key,
)
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource

if TYPE_CHECKING:
    from jackpot_pipeline.core.walk_forward import SelectedWalk

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
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Features of every team and match of the partition (history: the country's leagues)."""
    from jackpot_pipeline.core.features import team_features as compute_team_features
    from jackpot_pipeline.services import model_store, warehouse

    todo = incremental.stale_partitions(context, warehouse_db, "team_features", settings.settings())
    for league, seasons in todo.by_league.items():
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
    incremental.record_done(context, warehouse_db, todo)
    return dg.MaterializeResult()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "dixon_coles_models",
            deps=[MATCHES_DEP],
            automation_condition=EAGER,
            description="Every walk-forward refit (ξ chosen per league from earlier seasons), "
            "with team ratings, prior, version and input data version: the models that made "
            "oos_predictions (its model_version joins models.model_id); read by the jackpots.",
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
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, settings: SettingsResource
) -> Iterator[dg.MaterializeResult]:
    """Walk each league forward once over its history and store the partition seasons."""
    from jackpot_pipeline.services import model_store, warehouse

    todo = incremental.stale_partitions(context, warehouse_db, "dixon_coles", settings.settings())
    for league, seasons in todo.by_league.items():
        with warehouse_db.connect() as con:
            matches = model_store.load_matches(con, [league], seasons[-1])
            others = model_store.load_scores(con, exclude_league=league)
            other_precisions = model_store.load_precision_scores(con, exclude_league=league)
        walk = model_store.walk_league(matches, others, other_precisions) if len(matches) else None
        for season in seasons:
            key = partition_key(league, season)
            if walk is None or not (matches["season"] == season).any():
                reason = f"no matches of {league} {season} in the warehouse"
                context.log.warning(f"{league} {season}: no data for this partition")
                for asset in ("dixon_coles_models", "oos_predictions"):
                    partition_metadata(
                        context, asset, key, no_data_metadata(league, season, reason)
                    )
                continue
            with warehouse_db.connect() as con, warehouse.transaction(con):
                row = model_store.store_season(con, league, season, walk, matches)
            partition_metadata(
                context, "dixon_coles_models", key, model_metadata(walk, league, season)
            )
            partition_metadata(
                context,
                "oos_predictions",
                key,
                {
                    "league": league,
                    "season": season,
                    "dagster/row_count": int(row["predicted"]),
                    "log_loss_1x2": row["log_loss"],
                    "xi": row["xi"],
                    "prior_precision": row["precision"],
                },
            )
            context.log.info(
                f"{league} {season}: {row['predicted']} OOS predictions by {row['models']} "
                f"stored fits, ξ={row['xi']}, prior precision {row['precision']}, "
                f"log loss {row['log_loss']}"
            )
    incremental.record_done(context, warehouse_db, todo)
    yield dg.MaterializeResult(asset_key="dixon_coles_models")
    yield dg.MaterializeResult(asset_key="oos_predictions")


def model_metadata(walk: "SelectedWalk", league: str, season: str) -> dict[str, Any]:
    """One season's models: how many refits, the ξ and prior-precision choices with their
    grids' scores (each from earlier seasons only), the newcomer prior centre, the last
    refit's ρ, home advantage, convergence and versions, and its team ratings."""
    fits = [fit for fit in walk.fits if fit.season == season]
    selection = next((s for s in walk.selections if s.season == season), None)
    metadata: dict[str, Any] = {
        "league": league,
        "season": season,
        "dagster/row_count": len(fits),
        "xi": None if selection is None else float(selection.xi),
    }
    if selection is not None:
        metadata["xi_scores"] = dg.MetadataValue.json(
            {f"{xi:g}": round(score, 6) for xi, score in selection.scores}
        )
    precision = next((s for s in walk.precision_selections if s.season == season), None)
    if precision is not None:
        metadata["prior_precision"] = float(precision.precision)
        metadata["prior_precision_scores"] = dg.MetadataValue.json(
            {f"{p:g}": round(score, 6) for p, score in precision.scores}
        )
    if fits:
        prior = fits[0].params.prior
        metadata |= {
            "newcomer_attack": round(float(prior.newcomer_attack), 6),
            "newcomer_defence": round(float(prior.newcomer_defence), 6),
            "newcomer_seasons": len(fits[0].offsets),
        }
        last = fits[-1]
        params = last.params
        metadata |= {
            "last_fit/model_id": last.model_id,
            "last_fit/as_of": params.as_of.isoformat(),
            "last_fit/n_matches": int(params.n_matches),
            "last_fit/rho": round(float(params.rho), 6),
            "last_fit/home_advantage": round(float(params.home_advantage), 6),
            "last_fit/converged": bool(params.converged),
            "last_fit/iterations": int(params.iterations),
            "last_fit/data_version": last.data_version,
        }
        strength = [
            (team, float(a), float(d))
            for team, a, d in zip(params.teams, params.attack, params.defence, strict=True)
        ]
        strength.sort(key=lambda row: row[1] - row[2], reverse=True)
        lines = ["| team_id | attack | defence |", "|---|---|---|"]
        lines += [f"| {t} | {a:.3f} | {d:.3f} |" for t, a, d in strength[:RATINGS_SHOWN]]
        metadata["ratings"] = dg.MetadataValue.md("\n".join(lines))
    return metadata
