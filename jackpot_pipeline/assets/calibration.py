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
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from jackpot_pipeline import calibration_store as store
from jackpot_pipeline import report, warehouse
from jackpot_pipeline.assets.modelling import EAGER, SAME_LEAGUE_EARLIER_SEASONS, keys_by_league
from jackpot_pipeline.core.calibration import POOLED, CalibrationCurve, apply_calibration
from jackpot_pipeline.core.calibration import fit_calibration as fit_curve
from jackpot_pipeline.core.dixon_coles import single_thread_blas
from jackpot_pipeline.core.prediction_sets import (
    MEMBER_NAMES,
    SetInputs,
    SetParams,
    build_prediction_sets,
    fit_set_params,
)
from jackpot_pipeline.partitions import LEAGUE_CODES as LEAGUES
from jackpot_pipeline.partitions import SEASONS, league_season_partitions
from jackpot_pipeline.resources import WarehouseResource
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
COMMON = {
    "partitions_def": league_season_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": "duckdb_warehouse",
}


def reports_dir(warehouse_db: WarehouseResource) -> Path:
    """PNG reports live next to the warehouse: ``<warehouse folder>/reports``."""
    return Path(warehouse_db.path).parent / "reports"


# ---------------------------------------------------------------------------------------------
# Pure partition logic (no Dagster): fit on seasons < S, apply to S
# ---------------------------------------------------------------------------------------------


def training_window(rows: pd.DataFrame) -> tuple[date | None, date | None, str]:
    """First and last match date and the season span of training rows."""
    if rows.empty:
        return None, None, ""
    seasons = sorted(rows["season"].unique())
    span = seasons[0] if len(seasons) == 1 else f"{seasons[0]}..{seasons[-1]}"
    return rows["match_date"].min().date(), rows["match_date"].max().date(), span


def played_before(oos: pd.DataFrame, season: str) -> pd.DataFrame:
    """Rows of seasons strictly before ``season`` that have a result."""
    return oos[(oos["season"] < season) & oos["result"].isin(["H", "D", "A"])]


def partition_curves(
    oos: pd.DataFrame, league: str, season: str, settings: Settings
) -> list[dict[str, object]]:
    """The pooled and the league's own curve for ``league`` × ``season`` (rows to store)."""
    earlier = played_before(oos, season)
    rows = []
    for scope, train in ((POOLED, earlier), (league, earlier[earlier["league"] == league])):
        start, end, span = training_window(train)
        curve = fit_curve(
            store.probs_of(train),
            train["result"].to_numpy(),
            min_samples=settings.min_calibration_samples,
            scope=scope,
            trained_on_end=end,
            n_bins=settings.calibration_bins,
        )
        selected = (scope == POOLED) == (store.CALIBRATION_SCOPE == POOLED)
        rows.append(store.curve_row(curve, league, season, selected, start, span))
    return rows


def curve_league(row_league: str, partition_league: str) -> str:
    """Whose stored curve calibrates a row: the partition's (pooled curves are the same for
    every league) or the row's own league (league-scope curves)."""
    return partition_league if store.CALIBRATION_SCOPE == POOLED else row_league


def calibrate(
    rows: pd.DataFrame,
    curves: Mapping[tuple[str, str], CalibrationCurve],
    partition_league: str,
) -> np.ndarray:
    """Set A: each row's Dixon-Coles probabilities mapped by the curve of its season."""
    out = np.empty((len(rows), 3))
    groups = rows.groupby(["league", "season"]).indices if len(rows) else {}
    for (league, season), index in groups.items():
        key = (curve_league(league, partition_league), season)
        if key not in curves:
            raise LookupError(
                f"no stored calibration curve for {key[0]} {season}: materialize "
                "calibration_curves for that partition first"
            )
        out[index] = apply_calibration(curves[key], store.probs_of(rows.iloc[index]))
    return out


def partition_params(
    oos: pd.DataFrame,
    league: str,
    season: str,
    curves: Mapping[tuple[str, str], CalibrationCurve],
    settings: Settings,
) -> tuple[SetParams, dict[str, object]]:
    """Set parameters for ``league`` × ``season`` fitted on earlier seasons only (every
    league's, or the league's own, per ``PARAMS_SCOPE``) and their row to store."""
    train = played_before(oos, season)
    if store.PARAMS_SCOPE != POOLED:
        train = train[train["league"] == league]
    train = train.reset_index(drop=True)
    inputs = SetInputs(
        calibrate(train, curves, league),
        store.probs_of(train, store.MARKET_COLUMNS),
        train["league"].to_numpy(),
    )
    params = fit_set_params(
        inputs,
        train["result"].to_numpy(),
        pooling=store.POOLING,
        max_market_weight=settings.max_market_weight,
        min_samples=settings.min_calibration_samples,
    )
    start, end, span = training_window(train)
    scope = POOLED if store.PARAMS_SCOPE == POOLED else league
    return params, store.params_row(params, league, season, scope, start, end, span)


def partition_sets(
    oos: pd.DataFrame,
    league: str,
    season: str,
    curves: Mapping[tuple[str, str], CalibrationCurve],
    params: SetParams,
) -> pd.DataFrame:
    """Every set A–G for every match of ``league`` × ``season`` (long rows to store)."""
    rows = oos[(oos["league"] == league) & (oos["season"] == season)].reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame()
    inputs = SetInputs(
        calibrate(rows, curves, league),
        store.probs_of(rows, store.MARKET_COLUMNS),
        rows["league"].to_numpy(),
    )
    frames = []
    for name, built in build_prediction_sets(inputs, params).items():
        frames.append(
            pd.DataFrame(
                {
                    "match_id": rows["match_id"],
                    "league": league,
                    "season": season,
                    "match_date": rows["match_date"].dt.date,
                    "set_name": name,
                    "p_home": built.probs[:, 0],
                    "p_draw": built.probs[:, 1],
                    "p_away": built.probs[:, 2],
                    "entropy": built.entropy,
                    "fell_back_to_a": built.fell_back_to_a,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_curves_for(
    con, partition_league: str, leagues: Sequence[str]
) -> dict[tuple[str, str], CalibrationCurve]:
    """Stored curves of the chosen scope keyed by (league, season) as ``calibrate`` wants."""
    owners = [partition_league] if store.CALIBRATION_SCOPE == POOLED else list(leagues)
    return {
        (owner, season): curve
        for owner in owners
        for season, curve in store.load_curves(con, owner, store.CALIBRATION_SCOPE).items()
    }


# ---------------------------------------------------------------------------------------------
# Assets
# ---------------------------------------------------------------------------------------------


@dg.asset(
    deps=[
        dg.AssetDep("oos_predictions", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
        dg.AssetDep("matches", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
    ],
    automation_condition=EAGER,
    group_name="calibration",
    description="Isotonic calibration maps (home, draw, away) for the season, fitted on the "
    "out-of-sample predictions of strictly earlier seasons: pooled over every league "
    "(applied) and the league's own (stored for comparison), with the training window.",
    **COMMON,
)
def calibration_curves(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Fit and store both curve scopes of every partition of the run."""
    settings = Settings.from_env()
    by_league = keys_by_league(context)
    last = max(season for seasons in by_league.values() for season in seasons)
    with warehouse_db.connect() as con:
        store.ensure_schema(con)
        oos = store.load_oos(con, last)
    summary = []
    with single_thread_blas():
        for league, seasons in by_league.items():
            for season in seasons:
                rows = partition_curves(oos, league, season, settings)
                with warehouse_db.connect() as con, warehouse.transaction(con):
                    store.store_curves(con, league, season, rows)
                for row in rows:
                    summary.append(
                        {
                            key: row[key]
                            for key in (
                                "league",
                                "season",
                                "scope",
                                "selected",
                                "n_samples",
                                "trained_seasons",
                                "trained_on_end",
                                "is_identity",
                            )
                        }
                    )
                context.log.info(
                    f"{league} {season}: curves trained on {rows[0]['n_samples']} pooled / "
                    f"{rows[1]['n_samples']} own rows up to {rows[0]['trained_on_end']}"
                )
    table = pd.DataFrame(summary)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "chosen_scope": store.CALIBRATION_SCOPE,
            "curves": dg.MetadataValue.md(table.to_markdown(index=False)),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "prediction_set_params",
            deps=[
                dg.AssetDep("calibration_curves", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS),
                dg.AssetDep("oos_predictions", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
                dg.AssetDep("matches", partition_mapping=ALL_LEAGUES_EARLIER_SEASONS),
            ],
            automation_condition=EAGER,
            group_name="calibration",
            description="Parameters of sets B–G (model weight ≥ 0.3, temperature, Kelly scale, "
            "draw boost per league, ensemble weights) fitted on every league's calibrated "
            "out-of-sample rows of strictly earlier seasons; logarithmic pooling.",
        ),
        dg.AssetSpec(
            "prediction_sets",
            deps=[
                dg.AssetDep("calibration_curves", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS),
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
    settings = Settings.from_env()
    by_league = keys_by_league(context)
    last = max(season for seasons in by_league.values() for season in seasons)
    with warehouse_db.connect() as con:
        store.ensure_schema(con)
        oos = store.load_oos(con, last)
    leagues = sorted(oos["league"].unique())
    param_rows, set_rows = [], []
    with single_thread_blas():
        for league, seasons in by_league.items():
            with warehouse_db.connect() as con:
                curves = load_curves_for(con, league, leagues)
            for season in seasons:
                params, row = partition_params(oos, league, season, curves, settings)
                sets = partition_sets(oos, league, season, curves, params)
                with warehouse_db.connect() as con, warehouse.transaction(con):
                    store.store_set_params(con, league, season, row)
                    store.store_prediction_sets(con, league, season, sets)
                param_rows.append(_params_summary(row, params))
                set_rows.append(_sets_summary(league, season, sets))
                context.log.info(
                    f"{league} {season}: params from {row['n_train']} rows "
                    f"({row['trained_seasons'] or 'none'}), {len(sets)} set rows"
                )
    params_table = pd.DataFrame(param_rows)
    sets_table = pd.DataFrame(set_rows)
    yield dg.MaterializeResult(
        asset_key="prediction_set_params",
        metadata={
            "dagster/row_count": len(params_table),
            "pooling": store.POOLING,
            "scope": store.PARAMS_SCOPE,
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


def _params_summary(row: Mapping[str, object], params: SetParams) -> dict[str, object]:
    weights = dict(zip(MEMBER_NAMES, params.ensemble_weights, strict=True))
    return {
        "league": row["league"],
        "season": row["season"],
        "trained": row["trained_seasons"],
        "n_train": row["n_train"],
        "w_model": params.model_weight,
        "T": params.temperature,
        "kelly": params.kelly_scale,
        "draw_boost": row["draw_boost"],
        "G weights": ", ".join(f"{k} {v:.2f}" for k, v in weights.items() if v >= 0.005),
    }


def _sets_summary(league: str, season: str, sets: pd.DataFrame) -> dict[str, object]:
    summary: dict[str, object] = {"league": league, "season": season, "rows": len(sets)}
    if len(sets):
        matches = sets["match_id"].nunique()
        fallbacks = sets.groupby("match_id")["fell_back_to_a"].any().sum()
        summary.update(
            {
                "matches": matches,
                "fell_back_matches": int(fallbacks),
                **sets.groupby("set_name")["entropy"].mean().add_prefix("entropy ").to_dict(),
            }
        )
    return summary


@dg.asset(
    deps=[
        dg.AssetDep("prediction_sets"),
        dg.AssetDep("oos_predictions"),
        dg.AssetDep("matches", partition_mapping=SAME_LEAGUE_EARLIER_SEASONS),
    ],
    automation_condition=EAGER,
    group_name="validation",
    description="Out-of-sample metrics of the season (Brier, log loss, RPS, accuracy, "
    "per-outcome counts, reliability and ECE) for sets A–G, the uncalibrated Dixon-Coles "
    "model, the closing market and a base rate; stored in validation_results.",
    **COMMON,
)
def validation_reports(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Score every partition of the run; the metadata shows the run's partitions together."""
    settings = Settings.from_env()
    by_league = keys_by_league(context)
    frames, all_forecasts = [], []
    for league, seasons in by_league.items():
        with warehouse_db.connect() as con:
            store.ensure_schema(con)
            forecasts = report.load_forecasts(con, [league], seasons)
        all_forecasts.append(forecasts)
        for season in seasons:
            sample = forecasts.take((forecasts.matches["season"] == season).to_numpy())
            rows = report.validation_rows(
                sample.evaluate(settings.calibration_bins), league, season
            )
            with warehouse_db.connect() as con, warehouse.transaction(con):
                store.store_validation(con, league, season, rows)
            if not rows:
                context.log.warning(f"{league} {season}: no played match with prediction sets")
                continue
            frames.append(pd.DataFrame(rows))
            context.log.info(f"{league} {season}: {len(sample.matches)} matches scored")
    if not frames:
        return dg.MaterializeResult(metadata={"dagster/row_count": 0})
    stored = pd.concat(frames, ignore_index=True)
    run = report.Forecasts(
        pd.concat([f.matches for f in all_forecasts], ignore_index=True),
        {
            name: np.concatenate([f.probs[name] for f in all_forecasts])
            for name in all_forecasts[0].probs
        },
    )
    label = _run_label(by_league)
    run_rows = pd.DataFrame(report.validation_rows(run.evaluate(settings.calibration_bins), "", ""))
    png = report.reliability_png(run_rows, f"Reliability, {label} ({len(run.matches):,} matches)")
    path = report.save_png(
        png, reports_dir(warehouse_db), f"reliability_{_file_label(by_league)}.png"
    )
    by_partition = stored.pivot_table(index=["league", "season"], columns="forecast", values="rps")
    by_partition = by_partition[[n for n in report.HEADLINE if n in by_partition.columns]]
    text = "\n".join(
        [
            f"### Validation {label}: {len(run.matches):,} matches",
            *[f"- {line}" for line in report.best_set_lines(run_rows)],
            "",
            report.markdown(report.metrics_table(run_rows)),
            "",
            "#### RPS per partition",
            report.markdown(by_partition),
            "",
            report.image_markdown(png, f"reliability {label}"),
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(stored),
            "report": dg.MetadataValue.md(text),
            "reliability_diagram": dg.MetadataValue.path(str(path)),
            **_headline_numbers(run_rows),
        }
    )


@dg.asset(
    deps=[dg.AssetDep("prediction_sets"), dg.AssetDep("oos_predictions"), dg.AssetDep("matches")],
    group_name="validation",
    pool="duckdb_warehouse",
    description=f"Walk-forward validation {report.REPORT_WINDOW} pooled over the six leagues "
    "(also by season and by league): sets A–G vs the uncalibrated model, the closing market "
    "and a base rate, the design choices re-validated, and which set is best.",
)
def validation_report_pooled(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Score the evaluation window, store the pooled rows and publish the report."""
    settings = Settings.from_env()
    with warehouse_db.connect() as con:
        store.ensure_schema(con)
        forecasts = report.load_forecasts(con, list(LEAGUES), list(report.REPORT_SEASONS))
        oos = store.load_oos(con, report.REPORT_SEASONS[-1])
    if forecasts.matches.empty:
        raise dg.Failure(
            f"no stored prediction sets for {report.REPORT_WINDOW}: materialize prediction_sets"
        )
    missing = _missing_partitions(forecasts)
    if missing:
        context.log.warning(f"no prediction sets for {len(missing)} partitions: {missing}")
    with single_thread_blas():
        alternatives = report.design_alternatives(
            oos,
            report.REPORT_SEASONS,
            min_samples=settings.min_calibration_samples,
            n_bins=settings.calibration_bins,
            max_market_weight=settings.max_market_weight,
        )
    scored = alternatives.matches["match_id"].isin(forecasts.matches["match_id"]).to_numpy()
    alternatives = alternatives.take(scored)
    bins = settings.calibration_bins
    samples: dict[tuple[str, str], list[dict[str, object]]] = {
        (report.POOLED, report.REPORT_WINDOW): report.validation_rows(
            {**forecasts.evaluate(bins), **alternatives.evaluate(bins)},
            report.POOLED,
            report.REPORT_WINDOW,
        )
    }
    for key, values in (("season", report.REPORT_SEASONS), ("league", LEAGUES)):
        for value in values:
            sample = forecasts.take((forecasts.matches[key] == value).to_numpy())
            league, season = (
                (report.POOLED, value) if key == "season" else (value, report.REPORT_WINDOW)
            )
            samples[(league, season)] = report.validation_rows(
                sample.evaluate(bins), league, season
            )
    with warehouse_db.connect() as con, warehouse.transaction(con):
        for (league, season), rows in samples.items():
            store.store_validation(con, league, season, rows)
    rows = pd.DataFrame([row for sample in samples.values() for row in sample])
    pooled = rows[(rows["league"] == report.POOLED) & (rows["season"] == report.REPORT_WINDOW)]
    png = report.reliability_png(
        pooled,
        f"Reliability {report.REPORT_WINDOW}, {len(forecasts.matches):,} matches, "
        f"{len(LEAGUES)} leagues",
    )
    path = report.save_png(png, reports_dir(warehouse_db), "reliability_pooled.png")
    image = report.image_markdown(png, "pooled reliability diagram")
    text = report.pooled_markdown(rows, image, alternatives)
    (path.parent / "validation_pooled.md").write_text(
        report.pooled_markdown(rows, f"![reliability]({path.name})", alternatives)
    )
    for line in report.best_set_lines(pooled) + report.target_lines(pooled):
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "matches": len(forecasts.matches),
            "report": dg.MetadataValue.md(text),
            "reliability_diagram": dg.MetadataValue.path(str(path)),
            "best_set": dg.MetadataValue.text(" | ".join(report.best_set_lines(pooled))),
            **_headline_numbers(pooled),
        }
    )


def _missing_partitions(forecasts: report.Forecasts) -> list[str]:
    have = set(zip(forecasts.matches["league"], forecasts.matches["season"], strict=True))
    return [
        f"{league} {season}"
        for league in LEAGUES
        for season in report.REPORT_SEASONS
        if (league, season) not in have
    ]


def _headline_numbers(rows: pd.DataFrame) -> dict[str, float]:
    """RPS and log loss of the headline forecasts as numeric metadata (plottable in the UI)."""
    by_name = rows.set_index("forecast")
    numbers = {}
    for name in (*report.SET_NAMES, report.DIXON_COLES, report.MARKET, report.BASE_RATE):
        if name in by_name.index:
            numbers[f"rps {name}"] = float(by_name.loc[name, "rps"])
            numbers[f"log_loss {name}"] = float(by_name.loc[name, "log_loss"])
    return numbers


def _run_label(by_league: Mapping[str, Sequence[str]]) -> str:
    """'E0 2019-20' or 'E0, SP1 2012-13..2025-26' (the run's leagues and season span)."""
    seasons = sorted(s for values in by_league.values() for s in values)
    span = seasons[0] if seasons[0] == seasons[-1] else f"{seasons[0]}..{seasons[-1]}"
    return f"{', '.join(by_league)} {span}"


def _file_label(by_league: Mapping[str, Sequence[str]]) -> str:
    """'E0_2019-20' or 'E0-SP1_2012-13..2025-26' (a short, file-system safe name)."""
    seasons = sorted(s for values in by_league.values() for s in values)
    span = seasons[0] if seasons[0] == seasons[-1] else f"{seasons[0]}..{seasons[-1]}"
    return f"{'-'.join(sorted(by_league))}_{span}"


CALIBRATION_ASSETS = [
    calibration_curves,
    prediction_sets,
    validation_reports,
    validation_report_pooled,
]
