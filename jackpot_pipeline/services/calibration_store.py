"""Warehouse side of calibration, prediction sets A–G and validation (no Dagster here).

Tables (DDL in :mod:`services.schema`; each (league, season) is replaced in one transaction):

``calibration_curves``
    One row per partition league × season the curve is *applied to* and per candidate:
    ``scope`` = "pooled" (every league's out-of-sample rows) or the league code (its own rows),
    "|last3" appended when trained on the last 3 earlier seasons only. Every candidate is
    stored; ``selected`` marks the one chosen from the league's earlier seasons (lowest
    ``selection_log_loss``: out-of-sample 1X2 log loss of that candidate's curves on them;
    NULL and ``CALIBRATION_SCOPE`` chosen where there is no earlier season).
    ``trained_on_start``/``trained_on_end`` bound the training window (all of it strictly
    before the season), ``curve`` is ``CalibrationCurve.to_dict()`` as JSON, ``breakpoints``
    the isotonic maps per outcome and ``bins`` the reliability (mean predicted, observed
    frequency, count per bin) of the raw training predictions.
``prediction_set_params``
    The ``SetParams`` fitted for a league × season on earlier seasons only (JSON plus the
    headline numbers), with the pooling kind and the training window.
``prediction_sets``
    One row per match × set A–G *as delivered* by the forecaster: p_home, p_draw, p_away
    strictly inside (0, 1) and summing to 1 within 1e-9 (CHECK constraints), entropy in nats,
    ``fell_back_to_a``, the decision instant ``decision_at`` (the model's as-of date), the
    ``market_source`` used (football-data pre-closing line; NULL without one) and its
    margin-free ``market_home/draw/away``.
``validation_results``
    Metrics of one forecast on one sample: ``league`` is a league code or "pooled", ``season``
    a season or a window such as "2015-16..2024-25"; ``forecast`` a set A–G, a reference
    (``dixon_coles_uncalibrated``, ``market``, ``base_rate``) or an alternative design
    (``A|calibration=league``, ``B|pooling=linear``, …) used to justify the choices below.

The design (numbers in ``benchmarks/validation.py`` and the pooled report): calibration
scope and window chosen per league and season from earlier seasons (``validation.
choose_curve``; ``CALIBRATION_SCOPE`` without evidence), prediction-set parameters fitted on
every league's earlier rows (``PARAMS_SCOPE``); the pooling of model and market is chosen per
season from earlier seasons (``validation.season_params``), ``POOLING`` only while there is too
little history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.calibration import POOLED, CalibrationCurve
from jackpot_pipeline.core.decision_market import CLOSING_SOURCES, DECISION_SOURCES, choose_market
from jackpot_pipeline.core.metrics import MetricReport
from jackpot_pipeline.core.prediction_sets import MEMBER_NAMES, Pooling, SetParams
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.settings import Settings

#: Calibration curve applied where no earlier season can choose one: pooled over every league's
#: earlier rows (all of them).
CALIBRATION_SCOPE = POOLED
#: Training scope of the prediction-set parameters: every league's earlier rows.
PARAMS_SCOPE = POOLED
#: Pooling of model and market in sets B, C and E while earlier seasons are too few to choose.
POOLING: Pooling = "log"


SET_COLUMNS = ("p_home", "p_draw", "p_away")
#: The decision-time market (pre-closing) and the closing benchmark in ``load_oos`` rows.
MARKET_COLUMNS = ("market_home", "market_draw", "market_away")
CLOSING_COLUMNS = ("closing_home", "closing_draw", "closing_away")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def load_oos(
    con: duckdb.DuckDBPyConnection,
    until_season: str,
    leagues: Sequence[str] | None = None,
    since_season: str | None = None,
) -> pd.DataFrame:
    """Walk-forward out-of-sample model forecasts (set A's input: the stacked members,
    ``stacked_predictions``) with the match result, the decision-time market and the closing
    benchmark, oldest first.

    Columns: match_id, league, season, match_date (datetime64), as_of (the model's as-of
    date), p_home, p_draw, p_away, result ('H'/'D'/'A', None if not played);
    market_source and market_home/draw/away: the margin-free football-data *pre-closing* line
    (:data:`decision_market.DECISION_SOURCES`, the only market a forecast may use);
    closing_source and closing_home/draw/away: the closing line (the benchmark). NaN and
    None where the match has no such line."""
    where = ["o.season <= ?"]
    params: list[Any] = [until_season]
    if since_season is not None:
        where.append("o.season >= ?")
        params.append(since_season)
    if leagues is not None:
        where.append(f"o.league IN ({', '.join('?' for _ in leagues)})")
        params.extend(leagues)
    frame = con.execute(
        "SELECT o.match_id, o.league, o.season, o.match_date, o.as_of, o.p_home, o.p_draw, "
        "o.p_away, m.result FROM stacked_predictions o JOIN matches m USING (match_id) "
        f"WHERE {' AND '.join(where)} ORDER BY o.match_date, o.match_id",
        params,
    ).df()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    triples = load_triples(con)
    ids = frame["match_id"].tolist()
    method = Settings.from_env().margin_method
    for prefix, sources in (("market", DECISION_SOURCES), ("closing", CLOSING_SOURCES)):
        chosen = choose_market(triples, ids, sources, method)
        frame[f"{prefix}_source"] = chosen["source"].to_numpy()
        for outcome in ("home", "draw", "away"):
            frame[f"{prefix}_{outcome}"] = chosen[f"p_{outcome}"].to_numpy()
    return frame


def load_triples(
    con: duckdb.DuckDBPyConnection, match_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """1X2 prices of the decision and closing sources, one row per match, bookmaker, phase
    (of ``match_ids`` only, when given)."""
    books = sorted({b for b, _ in (*DECISION_SOURCES, *CLOSING_SOURCES)})
    only = "" if match_ids is None else f" AND match_id IN ({', '.join('?' for _ in match_ids)})"
    return con.execute(
        "SELECT match_id, bookmaker, phase, "
        "max(price) FILTER (WHERE outcome = 'home') AS home, "
        "max(price) FILTER (WHERE outcome = 'draw') AS draw, "
        "max(price) FILTER (WHERE outcome = 'away') AS away "
        f"FROM match_odds WHERE market = '1X2' AND bookmaker IN ({', '.join('?' for _ in books)})"
        f"{only} GROUP BY match_id, bookmaker, phase",
        [*books, *(match_ids or [])],
    ).df()


def outcome_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Played matches per league and season with their home/draw/away counts."""
    return con.execute(
        "SELECT league, season, count(*) FILTER (WHERE result = 'H') AS home, "
        "count(*) FILTER (WHERE result = 'D') AS draw, "
        "count(*) FILTER (WHERE result = 'A') AS away "
        "FROM matches WHERE result IN ('H', 'D', 'A') GROUP BY league, season"
    ).df()


# ---------------------------------------------------------------------------------------------
# Calibration curves
# ---------------------------------------------------------------------------------------------


def curve_row(
    curve: CalibrationCurve,
    league: str,
    season: str,
    selected: bool,
    trained_on_start: date | None,
    trained_seasons: str,
) -> dict[str, Any]:
    """The ``calibration_curves`` row of ``curve`` applied to ``league`` × ``season``."""
    return {
        "league": league,
        "season": season,
        "scope": curve.scope,
        "selected": selected,
        "trained_on_start": trained_on_start,
        "trained_on_end": curve.trained_on_end,
        "trained_seasons": trained_seasons,
        "n_samples": curve.n_samples,
        "is_identity": curve.is_identity,
        "curve": json.dumps(curve.to_dict()),
        "breakpoints": json.dumps({c.outcome: {"x": c.x, "y": c.y} for c in curve.outcomes}),
        "bins": json.dumps([asdict(r) for r in curve.reliability]),
    }


def store_curves(
    con: duckdb.DuckDBPyConnection, league: str, season: str, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Replace the partition's curves (call inside a transaction)."""
    frame = pd.DataFrame(list(rows))
    return warehouse.replace_rows(con, "calibration_curves", _where(league, season), frame)


def load_curves(con: duckdb.DuckDBPyConnection, league: str) -> dict[str, CalibrationCurve]:
    """The selected stored curve applied to each season of ``league``, keyed by season."""
    rows = con.execute(
        "SELECT season, curve FROM calibration_curves WHERE league = ? AND selected",
        [league],
    ).fetchall()
    return {season: CalibrationCurve.from_dict(json.loads(curve)) for season, curve in rows}


def load_calibration(
    con: duckdb.DuckDBPyConnection, league: str, before: date
) -> CalibrationCurve | None:
    """The curve to apply to a fixture of ``league`` kicking off on ``before``: the latest
    selected curve of the league whose training window ended before that day; for a league
    without one (no partition of its own), the latest ``CALIBRATION_SCOPE`` curve of any
    league (pooled: the same for every league). None if there is none (or no table yet)."""
    if not warehouse.table_exists(con, "calibration_curves"):
        return None
    row = con.execute(
        "SELECT curve FROM calibration_curves WHERE league = ? AND selected "
        "AND trained_on_end < ? ORDER BY trained_on_end DESC, season DESC LIMIT 1",
        [league, before],
    ).fetchone()
    if row is not None:
        return CalibrationCurve.from_dict(json.loads(row[0]))
    stored = _latest_json(con, "calibration_curves", "curve", CALIBRATION_SCOPE, league, before)
    return None if stored is None else CalibrationCurve.from_dict(stored)


# ---------------------------------------------------------------------------------------------
# Prediction-set parameters and prediction sets
# ---------------------------------------------------------------------------------------------


def params_to_dict(params: SetParams) -> dict[str, Any]:
    """JSON-ready ``SetParams`` (``params_from_dict`` inverts it)."""
    data = asdict(params)
    data["draw_boost"] = dict(params.draw_boost)
    data["ensemble_weights"] = list(params.ensemble_weights)
    return data


def params_from_dict(data: Mapping[str, Any]) -> SetParams:
    """``SetParams`` from ``params_to_dict`` output, also after a JSON round trip."""
    return SetParams(
        pooling=data["pooling"],
        model_weight=float(data["model_weight"]),
        temperature=float(data["temperature"]),
        kelly_scale=float(data["kelly_scale"]),
        draw_boost={str(k): float(v) for k, v in data["draw_boost"].items()},
        pooled_draw_boost=float(data["pooled_draw_boost"]),
        ensemble_weights=tuple(float(w) for w in data["ensemble_weights"]),
        n_train=int(data["n_train"]),
        n_train_with_market=int(data["n_train_with_market"]),
    )


def params_row(
    params: SetParams,
    league: str,
    season: str,
    scope: str,
    trained_on_start: date | None,
    trained_on_end: date | None,
    trained_seasons: str,
) -> dict[str, Any]:
    """The ``prediction_set_params`` row of ``params`` applied to ``league`` × ``season``."""
    return {
        "league": league,
        "season": season,
        "scope": scope,
        "pooling": params.pooling,
        "trained_on_start": trained_on_start,
        "trained_on_end": trained_on_end,
        "trained_seasons": trained_seasons,
        "n_train": params.n_train,
        "n_train_with_market": params.n_train_with_market,
        "model_weight": params.model_weight,
        "temperature": params.temperature,
        "kelly_scale": params.kelly_scale,
        "draw_boost": params.draw_boost.get(league, params.pooled_draw_boost),
        "ensemble_weights": json.dumps(
            dict(zip(MEMBER_NAMES, params.ensemble_weights, strict=True))
        ),
        "params": json.dumps(params_to_dict(params)),
    }


def store_set_params(
    con: duckdb.DuckDBPyConnection, league: str, season: str, row: Mapping[str, Any]
) -> int:
    """Replace the partition's prediction-set parameters (call inside a transaction)."""
    frame = pd.DataFrame([dict(row)])
    return warehouse.replace_rows(con, "prediction_set_params", _where(league, season), frame)


def load_set_params(con: duckdb.DuckDBPyConnection, league: str, before: date) -> SetParams | None:
    """The prediction-set parameters for a fixture of ``league`` kicking off on ``before``:
    the latest stored parameters whose training window ended before that day (None if none).

    Pooled parameters are fitted on every league's rows (with a draw boost per league and a
    pooled one for the others), so a league without its own row gets the latest of any."""
    stored = _latest_json(con, "prediction_set_params", "params", PARAMS_SCOPE, league, before)
    return None if stored is None else params_from_dict(stored)


def store_prediction_sets(
    con: duckdb.DuckDBPyConnection, league: str, season: str, frame: pd.DataFrame
) -> int:
    """Replace the partition's prediction-set rows (call inside a transaction)."""
    return warehouse.replace_rows(con, "prediction_sets", _where(league, season), frame)


def load_prediction_sets(
    con: duckdb.DuckDBPyConnection,
    leagues: Sequence[str] | None = None,
    seasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Stored prediction-set rows (long: one per match × set) of the given partitions."""
    where, params = ["TRUE"], []
    for column, values in (("league", leagues), ("season", seasons)):
        if values is not None:
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return con.execute(
        "SELECT match_id, league, season, match_date, set_name, p_home, p_draw, p_away, "
        "entropy, fell_back_to_a, decision_at, market_source, market_home, market_draw, "
        f"market_away FROM prediction_sets WHERE {' AND '.join(where)} "
        "ORDER BY match_date, match_id, set_name",
        params,
    ).df()


# ---------------------------------------------------------------------------------------------
# Validation results
# ---------------------------------------------------------------------------------------------


def validation_row(
    report: MetricReport, league: str, season: str, forecast: str, kind: str
) -> dict[str, Any]:
    """The ``validation_results`` row of one forecast's metrics on one sample."""
    return {
        "league": league,
        "season": season,
        "forecast": forecast,
        "kind": kind,
        "n": report.n_matches,
        "brier": report.brier,
        "log_loss": report.log_loss,
        "rps": report.rps,
        "accuracy": report.accuracy,
        "ece_home": report.ece[0],
        "ece_draw": report.ece[1],
        "ece_away": report.ece[2],
        "outcomes": json.dumps([_no_nan(asdict(s)) for s in report.outcomes]),
        "reliability": json.dumps([asdict(r) for r in report.reliability]),
    }


def store_validation(
    con: duckdb.DuckDBPyConnection,
    league: str,
    season: str,
    rows: Iterable[Mapping[str, Any]],
) -> int:
    """Replace every validation row of ``league`` × ``season`` (call inside a transaction)."""
    frame = pd.DataFrame([dict(r) for r in rows])
    return warehouse.replace_rows(con, "validation_results", _where(league, season), frame)


def load_validation(
    con: duckdb.DuckDBPyConnection, league: str | None = None, season: str | None = None
) -> pd.DataFrame:
    """Stored validation rows, optionally of one league (or "pooled") and season/window."""
    where, params = ["TRUE"], []
    for column, value in (("league", league), ("season", season)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return con.execute(
        f"SELECT * FROM validation_results WHERE {' AND '.join(where)} "
        "ORDER BY league, season, forecast",
        params,
    ).df()


def _latest_json(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    scope: str,
    league: str,
    before: date,
) -> Any:
    """The JSON in ``column`` of ``table``'s latest row for ``league`` whose training window
    ended before ``before`` (None if none, or no table yet). Pooled ``scope``: the latest of any
    league (the league's own first on a tie); otherwise the league's own-scope rows only."""
    if not warehouse.table_exists(con, table):
        return None
    if scope == POOLED:
        sql = (
            f"SELECT {column} FROM {table} WHERE scope = ? AND trained_on_end < ? "
            "ORDER BY trained_on_end DESC, (league = ?) DESC, season DESC LIMIT 1"
        )
        params: list[Any] = [POOLED, before, league]
    else:
        sql = (
            f"SELECT {column} FROM {table} WHERE league = ? AND scope = ? "
            "AND trained_on_end < ? ORDER BY trained_on_end DESC, season DESC LIMIT 1"
        )
        params = [league, league, before]
    row = con.execute(sql, params).fetchone()
    return None if row is None else json.loads(row[0])


def _where(league: str, season: str) -> dict[str, str]:
    return {"league": league, "season": season}


def _no_nan(fields: dict[str, Any]) -> dict[str, Any]:
    """NaN ratios (empty denominators) as None so the JSON stays standard."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in fields.items()}


def probs_of(frame: pd.DataFrame, columns: Sequence[str] = SET_COLUMNS) -> np.ndarray:
    """The (n, 3) float array of ``columns``."""
    return frame[list(columns)].to_numpy(dtype=np.float64)
