"""Walk-forward calibration, prediction sets A–G and validation per league × season (no Dagster).

What the calibration and validation assets do, for a partition league × season S (the season
everything is *applied to*), fitting only on the out-of-sample rows of seasons strictly before S:

- ``partition_curves``: the candidate isotonic curves (pooled over every league or the league's
  own rows; every earlier season or the last ``CALIBRATION_WINDOWS``), with the training window
  and, marked ``selected``, the one whose curves had the lowest out-of-sample log loss on the
  league's earlier seasons (``curve_scores``, ``choose_curve``);
- ``season_params`` + ``partition_sets``: set parameters fitted on every league's earlier
  rows (each calibrated by its own season's stored curve; pooling chosen and G stacked on
  the earlier seasons' out-of-sample forecasts), then sets A–G for every match of S as the
  forecaster delivers them (``forecaster.deliver``, market input = pre-closing line);
- ``validate_run`` / ``validate_pooled``: metrics of the sets, the uncalibrated model, the
  market and a base rate, stored in ``validation_results``, with the report text (per
  partition; pooled also the reliability diagram, a file under ``reports_dir``).

The ``run_*`` and ``validate_*`` functions take a connection factory (``WarehouseResource.
connect``), store each partition in its own transaction and return what the asset publishes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.calibration import (
    NO_CALIBRATION,
    POOLED,
    CalibrationCurve,
    apply_calibration,
    no_calibration,
)
from jackpot_pipeline.core.calibration import fit_calibration as fit_curve
from jackpot_pipeline.core.dixon_coles import single_thread_blas
from jackpot_pipeline.core.metrics import encode_results, log_loss
from jackpot_pipeline.core.prediction_sets import (
    MEMBER_NAMES,
    SetInputs,
    SetParams,
    fit_ensemble_weights,
    fit_set_params,
    member_probs,
)
from jackpot_pipeline.defs.partitions import LEAGUE_CODES as LEAGUES
from jackpot_pipeline.services import calibration_store as store
from jackpot_pipeline.services import forecaster, report, warehouse
from jackpot_pipeline.settings import Settings

#: Poolings of model and market compared, per season, on earlier seasons (nested choice).
POOLINGS = ("log", "linear")
#: Calibration training windows compared per season: every earlier season (None) or the last 3.
CALIBRATION_WINDOWS: tuple[int | None, ...] = (None, 3)
#: Candidate curves by (season applied to, training scope, window), shared across leagues.
CurveCache = dict[tuple[str, str, int | None], tuple[CalibrationCurve, pd.DataFrame]]
#: A ``WarehouseResource.connect``: a short-lived connection as a context manager.
Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
#: The columns of ``calibration_curves`` shown in the asset's summary.
CURVE_SUMMARY = (
    "league",
    "season",
    "scope",
    "selected",
    "selection_log_loss",
    "n_samples",
    "trained_seasons",
    "trained_on_end",
    "is_identity",
)


# ---------------------------------------------------------------------------------------------
# One partition: fit on seasons < S, apply to S
# ---------------------------------------------------------------------------------------------


def training_window(rows: pd.DataFrame) -> tuple[date | None, date | None, str]:
    """First and last match date and the season span of training rows."""
    if rows.empty:
        return None, None, ""
    span = season_span(rows["season"].unique())
    return rows["match_date"].min().date(), rows["match_date"].max().date(), span


def season_span(seasons: Iterable[str]) -> str:
    """'2019-20' for one season, '2012-13..2025-26' (first..last) for several."""
    ordered = sorted(set(seasons))
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]}"


def played_before(oos: pd.DataFrame, season: str) -> pd.DataFrame:
    """Rows of seasons strictly before ``season`` that have a result."""
    return oos[(oos["season"] < season) & oos["result"].isin(["H", "D", "A"])]


def candidate_label(scope: str, window: int | None) -> str:
    """Stored ``scope`` of a candidate curve: "pooled" or the league, "|last<k>" if windowed."""
    return scope if window is None else f"{scope}|last{window}"


def candidate_curves(
    oos: pd.DataFrame, league: str, season: str, settings: Settings, cache: CurveCache
) -> list[tuple[str, CalibrationCurve, pd.DataFrame]]:
    """Every candidate curve for ``league`` × ``season`` with its training rows: for scope
    pooled (every league's rows) and the league's own, for each of ``CALIBRATION_WINDOWS``,
    fitted on the played rows of seasons strictly before ``season`` (pooled ones cached), and
    no calibration at all (the identity, last: ties go to a fitted curve)."""
    earlier = played_before(oos, season)
    out = []
    for scope in (POOLED, league):
        for window in CALIBRATION_WINDOWS:
            key = (season, scope, window)
            if key not in cache:
                train = earlier if scope == POOLED else earlier[earlier["league"] == league]
                if window is not None:
                    train = train[train["season"].isin(sorted(train["season"].unique())[-window:])]
                curve = fit_curve(
                    store.probs_of(train),
                    train["result"].to_numpy(),
                    min_samples=settings.min_calibration_samples,
                    scope=candidate_label(scope, window),
                    trained_on_end=training_window(train)[1],
                    n_bins=settings.calibration_bins,
                )
                cache[key] = (curve, train)
            out.append((candidate_label(scope, window), *cache[key]))
    identity = no_calibration(training_window(earlier)[1], settings.calibration_bins)
    out.append((NO_CALIBRATION, identity, earlier.iloc[:0]))
    return out


def curve_scores(
    oos: pd.DataFrame, league: str, settings: Settings, cache: CurveCache
) -> pd.DataFrame:
    """Out-of-sample 1X2 log loss of every candidate on each season T of the league: its curve
    for T (fitted on seasons before T) applied to the league's played rows of T. Columns
    season, scope (candidate label), n, log_loss."""
    played = oos[(oos["league"] == league) & oos["result"].isin(["H", "D", "A"])]
    rows = []
    for season, group in played.groupby("season"):
        for label, curve, _ in candidate_curves(oos, league, str(season), settings, cache):
            calibrated = apply_calibration(curve, store.probs_of(group))
            loss = log_loss(calibrated, group["result"].to_numpy())
            rows.append((season, label, len(group), loss))
    return pd.DataFrame(rows, columns=["season", "scope", "n", "log_loss"])


def choose_curve(scores: pd.DataFrame, season: str) -> tuple[str, dict[str, float]]:
    """The candidate with the lowest mean log loss (weighted by matches) over the league's
    seasons strictly before ``season`` (``curve_scores`` rows), with every candidate's score;
    without any earlier season, ``store.CALIBRATION_SCOPE`` (pooled over every earlier
    season). Ties go to the earlier candidate (pooled before own, all seasons before last k)."""
    before = scores[scores["season"] < season]
    if before.empty:
        return store.CALIBRATION_SCOPE, {}
    order = list(dict.fromkeys(before["scope"]))
    total = (before["n"] * before["log_loss"]).groupby(before["scope"]).sum()
    mean = (total / before.groupby("scope")["n"].sum()).reindex(order)
    return str(mean.idxmin()), {label: float(v) for label, v in mean.items()}


def partition_curves(
    oos: pd.DataFrame,
    league: str,
    season: str,
    settings: Settings,
    scores: pd.DataFrame,
    cache: CurveCache,
) -> list[dict[str, object]]:
    """Every candidate curve for ``league`` × ``season`` (rows to store), the one chosen by
    ``choose_curve`` from the league's earlier seasons marked ``selected``."""
    chosen, score = choose_curve(scores, season)
    rows = []
    for label, curve, train in candidate_curves(oos, league, season, settings, cache):
        start, _, span = training_window(train)
        row = store.curve_row(curve, league, season, label == chosen, start, span)
        rows.append(row | {"selection_log_loss": score.get(label)})
    return rows


def calibrate(
    rows: pd.DataFrame,
    curves: Mapping[tuple[str, str], CalibrationCurve],
) -> np.ndarray:
    """Set A: each row's Dixon-Coles probabilities mapped by the selected curve of its league
    and season."""
    out = np.empty((len(rows), 3))
    groups = rows.groupby(["league", "season"]).indices if len(rows) else {}
    for key, index in groups.items():
        out[index] = apply_calibration(_curve(curves, key), store.probs_of(rows.iloc[index]))
    return out


def _curve(
    curves: Mapping[tuple[str, str], CalibrationCurve], key: tuple[str, str]
) -> CalibrationCurve:
    """The selected curve of (league, season), or a clear error naming the missing partition."""
    if key not in curves:
        raise LookupError(
            f"no stored calibration curve for {key[0]} {key[1]}: materialize "
            "calibration_curves for that partition first"
        )
    return curves[key]


def set_inputs(
    rows: pd.DataFrame, curves: Mapping[tuple[str, str], CalibrationCurve], league: str
) -> SetInputs:
    """Calibrated model, margin-free market and league of each row (index 0..n-1)."""
    return SetInputs(
        calibrate(rows, curves),
        store.probs_of(rows, store.MARKET_COLUMNS),
        rows["league"].to_numpy(),
    )


@dataclass(frozen=True, eq=False)
class SeasonParams:
    """Set parameters applied to a season, the training rows' window and the pooling scores
    (mean log loss of set B on earlier seasons' out-of-sample rows) behind the pooling choice."""

    params: SetParams
    window: tuple[date | None, date | None, str]
    pooling_scores: Mapping[str, float]


def season_params(
    oos: pd.DataFrame,
    league: str,
    curves: Mapping[tuple[str, str], CalibrationCurve],
    settings: Settings,
) -> dict[str, SeasonParams]:
    """Set parameters for every season of ``oos``, each fitted on the played rows of strictly
    earlier seasons (every league's, or the league's own, per ``PARAMS_SCOPE``), calibrated by
    their own season's curve. Nested choices, from earlier seasons only:

    - pooling (``POOLINGS``): the one whose set B had the lower log loss on the earlier
      seasons' out-of-sample rows with a market (each built with its own season's
      parameters); ``store.POOLING`` while fewer than ``min_calibration_samples`` such rows;
    - G is stacked on *out-of-sample* members: its weights for season S are fitted on the A–F
      forecasts of the rows before S, each built with the parameters of its own season."""
    played = oos[oos["result"].isin(["H", "D", "A"])]
    if store.PARAMS_SCOPE != POOLED:
        played = played[played["league"] == league]
    played = played.reset_index(drop=True)
    inputs = set_inputs(played, curves, league)
    y = played["result"].to_numpy()
    seasons = played["season"].to_numpy()
    members = {p: np.empty((len(MEMBER_NAMES), len(played), 3)) for p in POOLINGS}
    observed = encode_results(y) if len(y) else np.empty(0, dtype=int)
    out = {}
    for season in sorted(oos["season"].unique()):
        earlier = seasons < season
        fitted = {
            pooling: fit_set_params(
                inputs.take(earlier),
                y[earlier],
                pooling=pooling,
                max_market_weight=settings.max_market_weight,
                min_samples=settings.min_calibration_samples,
                default_model_weight=settings.blend_alpha,
            )
            for pooling in POOLINGS
        }
        scored = earlier & inputs.has_market
        enough = scored.sum() >= settings.min_calibration_samples
        scores = {p: _b_log_loss(members[p], scored, observed) for p in POOLINGS} if enough else {}
        chosen = min(scores, key=scores.get) if scores else store.POOLING
        params = fitted[chosen]
        if earlier.sum() >= settings.min_calibration_samples:
            weights = fit_ensemble_weights(members[chosen][:, earlier], y[earlier])
            params = dataclasses.replace(params, ensemble_weights=weights)
        current = seasons == season
        if current.any():
            for pooling in POOLINGS:
                members[pooling][:, current] = member_probs(inputs.take(current), fitted[pooling])
        out[season] = SeasonParams(params, training_window(played[earlier]), scores)
    return out


def _b_log_loss(members: np.ndarray, rows: np.ndarray, observed: np.ndarray) -> float:
    """Mean −log p(observed) of set B (member 1) over ``rows``."""
    chosen = members[1, rows][np.arange(int(rows.sum())), observed[rows]]
    return float(-np.mean(np.log(chosen)))


def partition_sets(
    oos: pd.DataFrame,
    league: str,
    season: str,
    curves: Mapping[tuple[str, str], CalibrationCurve],
    params: SetParams,
) -> pd.DataFrame:
    """Every set A–G for every match of ``league`` × ``season`` as delivered by the forecaster
    (long rows to store): decision instant = the model's as-of date, market input = the
    football-data pre-closing line (``market_source``; NULL without one)."""
    rows = oos[(oos["league"] == league) & (oos["season"] == season)].reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame()
    curve = _curve(curves, (league, season))
    market = store.probs_of(rows, store.MARKET_COLUMNS)
    _, sets = forecaster.deliver(
        store.probs_of(rows), market, rows["league"].to_numpy(), curve, params
    )
    frames = []
    for name, built in sets.items():
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
                    "decision_at": rows["as_of"],
                    "market_source": rows["market_source"],
                    "market_home": market[:, 0],
                    "market_draw": market[:, 1],
                    "market_away": market[:, 2],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_curves_for(
    con: duckdb.DuckDBPyConnection, oos: pd.DataFrame, settings: Settings
) -> dict[tuple[str, str], CalibrationCurve]:
    """The selected curve of every (league, season) of ``oos``, keyed as ``calibrate`` wants:
    the stored one, else (its partition not materialized yet, e.g. a league later in the run)
    chosen and fitted in memory by the same rule, so a result never depends on the order in
    which partitions run."""
    curves: dict[tuple[str, str], CalibrationCurve] = {}
    cache: CurveCache = {}
    for league, group in oos.groupby("league"):
        stored = store.load_curves(con, str(league))
        missing = sorted(set(group["season"]) - set(stored))
        scores = curve_scores(oos, str(league), settings, cache) if missing else None
        for season in missing:
            chosen, _ = choose_curve(scores, season)
            candidates = candidate_curves(oos, str(league), season, settings, cache)
            stored[season] = next(c for label, c, _ in candidates if label == chosen)
        curves |= {(str(league), season): curve for season, curve in stored.items()}
    return curves


# ---------------------------------------------------------------------------------------------
# A run's partitions (seasons grouped by league): fit, store, summarize
# ---------------------------------------------------------------------------------------------


@contextmanager
def writing(connect: Connect) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection inside one transaction (a partition is replaced all or nothing)."""
    with connect() as con, warehouse.transaction(con):
        yield con


def load_run_oos(connect: Connect, by_league: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Every league's out-of-sample rows up to the run's last season (none for no season)."""
    last = max((season for seasons in by_league.values() for season in seasons), default=None)
    if last is None:
        return pd.DataFrame()
    with connect() as con:
        return store.load_oos(con, last)


def run_curves(
    connect: Connect,
    by_league: Mapping[str, Sequence[str]],
    settings: Settings,
    log: logging.Logger,
) -> pd.DataFrame:
    """Fit, choose and store the candidate curves of every partition; one summary row per
    curve."""
    oos = load_run_oos(connect, by_league)
    summary = []
    cache: CurveCache = {}
    with single_thread_blas():
        for league, seasons in by_league.items():
            scores = curve_scores(oos[oos["season"] <= seasons[-1]], league, settings, cache)
            for season in seasons:
                rows = partition_curves(oos, league, season, settings, scores, cache)
                with writing(connect) as con:
                    store.store_curves(con, league, season, rows)
                summary += [{key: row[key] for key in CURVE_SUMMARY} for row in rows]
                chosen = next(row for row in rows if row["selected"])
                log.info(
                    f"{league} {season}: calibration {chosen['scope']} chosen "
                    f"(trained on {chosen['n_samples']} rows up to {chosen['trained_on_end']})"
                )
    return pd.DataFrame(summary)


def run_prediction_sets(
    connect: Connect,
    by_league: Mapping[str, Sequence[str]],
    settings: Settings,
    log: logging.Logger,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and store the set parameters and the sets of every partition; one summary row per
    partition for each (parameters, sets)."""
    oos = load_run_oos(connect, by_league)
    param_rows, set_rows = [], []
    shared: dict[str, dict[str, SeasonParams]] = {}  # pooled scopes: the same for every league
    pooled = store.PARAMS_SCOPE == POOLED  # each row calibrated by its own league's curve
    with single_thread_blas():
        for league, seasons in by_league.items():
            with connect() as con:
                curves = load_curves_for(con, oos, settings)
            rows = oos[oos["season"] <= seasons[-1]]
            if not pooled or seasons[-1] not in shared:
                shared[seasons[-1]] = season_params(rows, league, curves, settings)
            fitted = shared[seasons[-1]]
            for season in seasons:
                chosen = fitted[season]
                params = chosen.params
                scope = POOLED if store.PARAMS_SCOPE == POOLED else league
                row = store.params_row(params, league, season, scope, *chosen.window)
                sets = partition_sets(oos, league, season, curves, params)
                with writing(connect) as con:
                    store.store_set_params(con, league, season, row)
                    store.store_prediction_sets(con, league, season, sets)
                param_rows.append(params_summary(row, params))
                set_rows.append(sets_summary(league, season, sets))
                log.info(
                    f"{league} {season}: params from {row['n_train']} rows "
                    f"({row['trained_seasons'] or 'none'}), {len(sets)} set rows"
                )
    return pd.DataFrame(param_rows), pd.DataFrame(set_rows)


def params_summary(row: Mapping[str, object], params: SetParams) -> dict[str, object]:
    """A partition's parameters in one line of the asset's summary table."""
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


def sets_summary(league: str, season: str, sets: pd.DataFrame) -> dict[str, object]:
    """A partition's sets in one line: rows, matches, fall-backs and mean entropy per set."""
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


# ---------------------------------------------------------------------------------------------
# Validation: per partition (the run's partitions reported together) and pooled
# ---------------------------------------------------------------------------------------------


class NoPredictionSets(LookupError):
    """The evaluation window has no stored prediction sets to score."""


@dataclass(frozen=True)
class ValidationReport:
    """What the pooled validation asset publishes: the stored row count, the matches scored,
    the markdown report (reliability diagram inline), the diagram's file, the best-set lines
    and the headline RPS and log loss."""

    n_rows: int
    n_matches: int
    text: str
    png_path: Path
    best: list[str]
    numbers: dict[str, float]


def reports_dir(warehouse_path: Path | str) -> Path:
    """PNG reports live next to the warehouse: ``<warehouse folder>/reports``."""
    return Path(warehouse_path).parent / "reports"


@dataclass(frozen=True)
class PartitionValidation:
    """One partition's validation: its stored rows, matches scored, markdown table, best-set
    lines and headline RPS and log loss."""

    league: str
    season: str
    n_rows: int
    n_matches: int
    text: str
    best: list[str]
    numbers: dict[str, float]


def validate_run(
    connect: Connect,
    by_league: Mapping[str, Sequence[str]],
    settings: Settings,
    log: logging.Logger,
) -> list[PartitionValidation]:
    """Score and store every partition of the run; one result per partition with a played
    match with prediction sets (each describes that partition only)."""
    results = []
    for league, seasons in by_league.items():
        with connect() as con:
            forecasts = report.load_forecasts(con, [league], seasons)
        for season in seasons:
            sample = forecasts.take((forecasts.matches["season"] == season).to_numpy())
            rows = report.validation_rows(
                sample.evaluate(settings.calibration_bins), league, season
            )
            with writing(connect) as con:
                store.store_validation(con, league, season, rows)
            if not rows:
                log.warning(f"{league} {season}: no played match with prediction sets")
                continue
            frame = pd.DataFrame(rows)
            best = report.best_set_lines(frame)
            text = "\n".join(
                [
                    f"### Validation {league} {season}: {len(sample.matches):,} matches",
                    *[f"- {line}" for line in best],
                    "",
                    report.markdown(report.metrics_table(frame)),
                ]
            )
            results.append(
                PartitionValidation(
                    league,
                    season,
                    len(rows),
                    len(sample.matches),
                    text,
                    best,
                    headline_numbers(frame),
                )
            )
            log.info(f"{league} {season}: {len(sample.matches)} matches scored")
    return results


def validate_pooled(
    connect: Connect, settings: Settings, reports: Path, log: logging.Logger
) -> ValidationReport:
    """Score the evaluation window pooled, by season and by league (with the design
    alternatives), store the rows and write the diagram and ``validation_pooled.md`` to
    ``reports``. Raises ``NoPredictionSets`` when the window has none stored."""
    with connect() as con:
        forecasts = report.load_forecasts(con, list(LEAGUES), list(report.REPORT_SEASONS))
        oos = store.load_oos(con, report.REPORT_SEASONS[-1])
    if forecasts.matches.empty:
        raise NoPredictionSets(
            f"no stored prediction sets for {report.REPORT_WINDOW}: materialize prediction_sets"
        )
    missing = missing_partitions(forecasts)
    if missing:
        log.warning(f"no prediction sets for {len(missing)} partitions: {missing}")
    alternatives = design_alternatives(oos, settings)
    scored = alternatives.matches["match_id"].isin(forecasts.matches["match_id"]).to_numpy()
    alternatives = alternatives.take(scored)
    samples = pooled_samples(forecasts, alternatives, settings.calibration_bins)
    with writing(connect) as con:
        for (league, season), rows in samples.items():
            store.store_validation(con, league, season, rows)
    rows = pd.DataFrame([row for sample in samples.values() for row in sample])
    pooled = rows[(rows["league"] == report.POOLED) & (rows["season"] == report.REPORT_WINDOW)]
    png = report.reliability_png(
        pooled,
        f"Reliability {report.REPORT_WINDOW}, {len(forecasts.matches):,} matches, "
        f"{len(LEAGUES)} leagues",
    )
    path = report.save_png(png, reports, "reliability_pooled.png")
    image = report.image_markdown(png, "pooled reliability diagram")
    text = report.pooled_markdown(rows, image, alternatives)
    (path.parent / "validation_pooled.md").write_text(
        report.pooled_markdown(rows, f"![reliability]({path.name})", alternatives)
    )
    best = report.best_set_lines(pooled)
    for line in best + report.target_lines(pooled):
        log.info(line)
    return ValidationReport(
        len(rows), len(forecasts.matches), text, path, best, headline_numbers(pooled)
    )


def design_alternatives(oos: pd.DataFrame, settings: Settings) -> report.Forecasts:
    """``report.design_alternatives`` of the evaluation window with the settings' fitting
    parameters (BLAS on one thread)."""
    with single_thread_blas():
        return report.design_alternatives(
            oos,
            report.REPORT_SEASONS,
            min_samples=settings.min_calibration_samples,
            n_bins=settings.calibration_bins,
            max_market_weight=settings.max_market_weight,
        )


def pooled_samples(
    forecasts: report.Forecasts, alternatives: report.Forecasts, bins: int
) -> dict[tuple[str, str], list[dict[str, object]]]:
    """Validation rows keyed by (league, season): the window pooled (with the alternatives),
    each season pooled over leagues and each league pooled over the window."""
    samples = {
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
    return samples


def missing_partitions(forecasts: report.Forecasts) -> list[str]:
    """'league season' of the evaluation window's partitions without prediction sets."""
    have = set(zip(forecasts.matches["league"], forecasts.matches["season"], strict=True))
    return [
        f"{league} {season}"
        for league in LEAGUES
        for season in report.REPORT_SEASONS
        if (league, season) not in have
    ]


def headline_numbers(rows: pd.DataFrame) -> dict[str, float]:
    """RPS and log loss of the headline forecasts (numeric metadata, plottable in the UI)."""
    by_name = rows.set_index("forecast")
    numbers = {}
    for name in (*report.SET_NAMES, report.DIXON_COLES, report.MARKET, report.BASE_RATE):
        if name in by_name.index:
            numbers[f"rps {name}"] = float(by_name.loc[name, "rps"])
            numbers[f"log_loss {name}"] = float(by_name.loc[name, "log_loss"])
    return numbers
