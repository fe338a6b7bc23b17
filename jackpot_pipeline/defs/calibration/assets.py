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

``validation_report_pooled`` (unpartitioned) scores the evaluation window of every league
together, re-validates the design choices and says which set is best; league-wide figures
live there, each partition's metadata describes that partition only.

The work (pandas, NumPy, DuckDB, matplotlib) is in ``services.validation``, imported
inside the asset bodies so the code location loads without it.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.conventions import (
    KINDS,
    MODEL_OWNERS,
    POOL,
    publish_rows,
)
from jackpot_pipeline.defs.modelling.assets import (
    EAGER,
    SAME_LEAGUE_EARLIER_SEASONS,
)
from jackpot_pipeline.defs.partitions import (
    ALL_LEAGUES_EARLIER_SEASONS,
    league_season_partitions,
)
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource

#: Every league's model forecasts (set A's input) and results of the seasons strictly before S.
EARLIER_ROWS = (
    dg.AssetDep("stacked_predictions", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
    dg.AssetDep("matches", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
)
#: The curves of the league's seasons up to S (each earlier row is calibrated by its own).
CURVES_UP_TO_SEASON = dg.AssetDep(
    "calibration_curves", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS
)
COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": POOL,
    "kinds": KINDS,
    "owners": MODEL_OWNERS,
}
SPEC_COMMON = {"kinds": KINDS, "owners": MODEL_OWNERS, "automation_condition": EAGER}


def scalar(value: Any) -> Any:
    """A summary cell as metadata: numbers rounded, missing as "none", the rest as text."""
    if hasattr(value, "item"):  # NumPy scalar
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return "none"
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 6)
    return str(value)


@dg.asset(deps=EARLIER_ROWS, automation_condition=EAGER, group_name="calibration", **COMMON)
def calibration_curves(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Isotonic calibration maps (home, draw, away) for the season, fitted on the
    out-of-sample predictions of strictly earlier seasons: every candidate (pooled over every
    league or the league's own; all earlier seasons or the last 3) with its training window,
    the one with the lowest out-of-sample log loss on the league's earlier seasons selected."""
    from jackpot_pipeline.services import validation

    options = settings.settings()
    todo = incremental.stale_partitions(context, warehouse_db, "calibration_curves", options)
    table = validation.run_curves(warehouse_db.connect, todo.by_league, options, context.log)
    incremental.record_done(context, warehouse_db, todo)

    def describe(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        chosen = next(row for row in rows if row["selected"])
        metadata: dict[str, Any] = {
            "dagster/row_count": len(rows),
            "chosen_scope": chosen["scope"],
            "candidate_log_loss": dg.MetadataValue.json(
                {row["scope"]: scalar(row["selection_log_loss"]) for row in rows}
            ),
        }
        metadata |= {
            f"chosen/{key}": scalar(chosen[key])
            for key in ("n_samples", "trained_seasons", "trained_on_end", "is_identity")
        }
        return metadata

    publish_rows(context, todo.by_league, "calibration_curves", table.to_dict("records"), describe)
    return dg.MaterializeResult()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "prediction_set_params",
            deps=[CURVES_UP_TO_SEASON, *EARLIER_ROWS],
            group_name="calibration",
            description="Parameters of sets B–G (model weight ≥ 0.3, temperature, Kelly scale, "
            "draw boost per league, ensemble weights) fitted on every league's calibrated "
            "out-of-sample rows of strictly earlier seasons; logarithmic pooling.",
            **SPEC_COMMON,
        ),
        dg.AssetSpec(
            "prediction_sets",
            deps=[
                CURVES_UP_TO_SEASON,
                dg.AssetDep("stacked_predictions"),
                dg.AssetDep("matches"),
            ],
            group_name="calibration",
            description="Prediction sets A–G for every match: probabilities in (0, 1) summing "
            "to 1, entropy, and a flag where a set needing odds fell back to A (the market is "
            "the margin-free closing probability stored with each match).",
            **SPEC_COMMON,
        ),
    ],
    partitions_def=league_season_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=POOL,
)
def prediction_sets(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> Iterator[dg.MaterializeResult]:
    """Fit the parameters and build the sets of every partition of the run."""
    from jackpot_pipeline.services import calibration_store, validation

    options = settings.settings()
    todo = incremental.stale_partitions(context, warehouse_db, "prediction_sets", options)
    params_table, sets_table = validation.run_prediction_sets(
        warehouse_db.connect, todo.by_league, options, context.log
    )
    incremental.record_done(context, warehouse_db, todo)

    def describe_params(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        (row,) = rows
        return {
            "dagster/row_count": 1,
            "pooling": calibration_store.POOLING,
            "scope": calibration_store.PARAMS_SCOPE,
            **{k: scalar(v) for k, v in row.items() if k not in ("league", "season")},
        }

    def describe_sets(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        (row,) = rows
        extra = {k: scalar(v) for k, v in row.items() if k not in ("league", "season", "rows")}
        return {"dagster/row_count": int(row["rows"]), **extra}

    publish_rows(
        context,
        todo.by_league,
        "prediction_set_params",
        params_table.to_dict("records"),
        describe_params,
    )
    publish_rows(
        context, todo.by_league, "prediction_sets", sets_table.to_dict("records"), describe_sets
    )
    yield dg.MaterializeResult(asset_key="prediction_set_params")
    yield dg.MaterializeResult(asset_key="prediction_sets")


@dg.asset(
    deps=[
        dg.AssetDep("prediction_sets"),
        dg.AssetDep("stacked_predictions"),
        dg.AssetDep("matches", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS),
    ],
    automation_condition=EAGER,
    group_name="validation",
    **COMMON,
)
def validation_reports(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Out-of-sample metrics of the season (Brier, log loss, RPS, accuracy, per-outcome
    counts, reliability and ECE) for sets A–G, the uncalibrated Dixon-Coles model, the closing
    market and a base rate; stored in validation_results. Each partition's metadata is that
    season's report; the pooled figures and the reliability diagram are in
    ``validation_report_pooled``."""
    from jackpot_pipeline.services import validation

    options = settings.settings()
    todo = incremental.stale_partitions(context, warehouse_db, "validation_reports", options)
    results = validation.validate_run(warehouse_db.connect, todo.by_league, options, context.log)
    incremental.record_done(context, warehouse_db, todo)
    rows = [
        {
            "league": r.league,
            "season": r.season,
            "dagster/row_count": r.n_rows,
            "matches": r.n_matches,
            "report": dg.MetadataValue.md(r.text),
            "best_set": dg.MetadataValue.text(" | ".join(r.best)),
            **r.numbers,
        }
        for r in results
    ]

    def describe(mine: list[Mapping[str, Any]]) -> dict[str, Any]:
        (row,) = mine
        return {k: v for k, v in row.items() if k not in ("league", "season")}

    publish_rows(
        context,
        todo.by_league,
        "validation_reports",
        rows,
        describe,
        "no played match with prediction sets",
    )
    return dg.MaterializeResult()


@dg.asset(
    deps=[
        dg.AssetDep("prediction_sets"),
        dg.AssetDep("stacked_predictions"),
        dg.AssetDep("oos_predictions"),
        dg.AssetDep("matches"),
    ],
    group_name="validation",
    pool=POOL,
    kinds=KINDS,
    owners=MODEL_OWNERS,
)
def validation_report_pooled(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Walk-forward validation of the evaluation window pooled over every league (also by
    season and by league): sets A–G vs the uncalibrated model, the closing market and a base
    rate, the design choices re-validated, and which set is best.

    The pooled rows are stored; the reliability diagram and ``validation_pooled.md`` are files
    in ``data/reports/`` (next to the warehouse), referenced from the metadata."""
    from jackpot_pipeline.services import validation

    try:
        result = validation.validate_pooled(
            warehouse_db.connect,
            settings.settings(),
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
            "report_file": dg.MetadataValue.path(
                str(result.png_path.parent / "validation_pooled.md")
            ),
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
