"""Calibration curves, prediction sets A–G and validation reports.

Per league × season S (the season everything is *applied to*):

- ``calibration_curves``: isotonic maps per outcome fitted on the walk-forward out-of-sample
  predictions of seasons strictly before S — of every league ("pooled", the validated choice)
  and of the league alone (stored for comparison) — with the training window.
- ``prediction_set_params`` + ``prediction_sets``: set parameters fitted on every league's
  seasons < S (each earlier season calibrated by its own stored curve, so the training rows are
  out-of-sample too), then sets A–G for every match of S from its calibrated prediction and
  the margin-free closing market.
- ``validation_reports``: metrics of A–G, the uncalibrated model, the market and a base rate
  on the season's played matches.

``validation_report_pooled`` (unpartitioned) scores 2015-16 … 2024-25 of the six leagues
together, re-validates the design choices and says which set is best.

The work (pandas, NumPy, DuckDB, matplotlib) is in ``services.validation``, imported
inside the asset bodies so the code location loads without it.
"""

from collections.abc import Iterator

import dagster as dg

from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.modelling.assets import EAGER, SAME_LEAGUE_EARLIER_SEASONS
from jackpot_pipeline.defs.partitions import SEASONS, league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.settings import Settings


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
#: Every league's out-of-sample rows and results of the seasons strictly before S.
EARLIER_ROWS = (
    dg.AssetDep("oos_predictions", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
    dg.AssetDep("matches", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
)
#: The curves of the league's seasons up to S (each earlier row is calibrated by its own).
CURVES_UP_TO_SEASON = dg.AssetDep(
    "calibration_curves", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS
)
COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": "duckdb_warehouse",
}


@dg.asset(deps=EARLIER_ROWS, automation_condition=EAGER, group_name="calibration", **COMMON)
def calibration_curves(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Isotonic calibration maps (home, draw, away) for the season, fitted on the
    out-of-sample predictions of strictly earlier seasons: pooled over every league (applied)
    and the league's own (stored for comparison), with the training window.

    Both scopes of every partition of the run are fitted and stored."""
    from jackpot_pipeline.services import calibration_store, validation

    settings = Settings.from_env()
    todo = incremental.stale_partitions(context, warehouse_db, "calibration_curves", settings)
    table = validation.run_curves(warehouse_db.connect, todo.by_league, settings, context.log)
    incremental.record_done(context, warehouse_db, todo)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "chosen_scope": calibration_store.CALIBRATION_SCOPE,
            "curves": dg.MetadataValue.md(table.to_markdown(index=False)),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "prediction_set_params",
            deps=[CURVES_UP_TO_SEASON, *EARLIER_ROWS],
            automation_condition=EAGER,
            group_name="calibration",
            description="Parameters of sets B–G (model weight ≥ 0.3, temperature, Kelly scale, "
            "draw boost per league, ensemble weights) fitted on every league's calibrated "
            "out-of-sample rows of strictly earlier seasons; logarithmic pooling.",
        ),
        dg.AssetSpec(
            "prediction_sets",
            deps=[
                CURVES_UP_TO_SEASON,
                dg.AssetDep("oos_predictions"),
                dg.AssetDep("matches"),
            ],
            automation_condition=EAGER,
            group_name="calibration",
            description="Prediction sets A–G for every match: probabilities in (0, 1) summing "
            "to 1, entropy, and a flag where a set needing odds fell back to A.",
        ),
    ],
    **COMMON,
)
def prediction_sets(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Fit the parameters and build the sets of every partition of the run."""
    from jackpot_pipeline.services import calibration_store, validation

    settings = Settings.from_env()
    todo = incremental.stale_partitions(context, warehouse_db, "prediction_sets", settings)
    params_table, sets_table = validation.run_prediction_sets(
        warehouse_db.connect, todo.by_league, settings, context.log
    )
    incremental.record_done(context, warehouse_db, todo)
    yield dg.MaterializeResult(
        asset_key="prediction_set_params",
        metadata={
            "dagster/row_count": len(params_table),
            "pooling": calibration_store.POOLING,
            "scope": calibration_store.PARAMS_SCOPE,
            "params": dg.MetadataValue.md(params_table.to_markdown(index=False, floatfmt=".4f")),
        },
    )
    yield dg.MaterializeResult(
        asset_key="prediction_sets",
        metadata={
            "dagster/row_count": int(sets_table["rows"].sum()) if len(sets_table) else 0,
            "sets": dg.MetadataValue.md(sets_table.to_markdown(index=False, floatfmt=".4f")),
        },
    )


@dg.asset(
    deps=[
        dg.AssetDep("prediction_sets"),
        dg.AssetDep("oos_predictions"),
        dg.AssetDep("matches", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS),
    ],
    automation_condition=EAGER,
    group_name="validation",
    **COMMON,
)
def validation_reports(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Out-of-sample metrics of the season (Brier, log loss, RPS, accuracy, per-outcome
    counts, reliability and ECE) for sets A–G, the uncalibrated Dixon-Coles model, the closing
    market and a base rate; stored in validation_results.

    Every partition of the run is scored; the metadata shows the run's partitions together."""
    from jackpot_pipeline.services import validation

    settings = Settings.from_env()
    todo = incremental.stale_partitions(context, warehouse_db, "validation_reports", settings)
    result = validation.validate_run(
        warehouse_db.connect,
        todo.by_league,
        settings,
        validation.reports_dir(warehouse_db.path),
        context.log,
    )
    incremental.record_done(context, warehouse_db, todo)
    if result is None:
        return dg.MaterializeResult(metadata={"dagster/row_count": 0})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.n_rows,
            "report": dg.MetadataValue.md(result.text),
            "reliability_diagram": dg.MetadataValue.path(str(result.png_path)),
            **result.numbers,
        }
    )


@dg.asset(
    deps=[dg.AssetDep("prediction_sets"), dg.AssetDep("oos_predictions"), dg.AssetDep("matches")],
    group_name="validation",
    pool="duckdb_warehouse",
)
def validation_report_pooled(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Walk-forward validation 2015-16 … 2024-25 pooled over the
    six leagues (also by season and by league): sets A–G vs the uncalibrated model, the
    closing market and a base rate, the design choices re-validated, and which set is best.

    The pooled rows are stored and the report is written next to the warehouse."""
    from jackpot_pipeline.services import validation

    try:
        result = validation.validate_pooled(
            warehouse_db.connect,
            Settings.from_env(),
            validation.reports_dir(warehouse_db.path),
            context.log,
        )
    except validation.NoPredictionSets as error:
        raise dg.Failure(str(error)) from None
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.n_rows,
            "matches": result.n_matches,
            "report": dg.MetadataValue.md(result.text),
            "reliability_diagram": dg.MetadataValue.path(str(result.png_path)),
            "best_set": dg.MetadataValue.text(" | ".join(result.best)),
            **result.numbers,
        }
    )


CALIBRATION_ASSETS = [
    calibration_curves,
    prediction_sets,
    validation_reports,
    validation_report_pooled,
]
