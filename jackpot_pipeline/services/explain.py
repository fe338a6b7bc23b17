"""Explain a stored forecast: every number of one fixture, traced to the versions that made it.

Read-only, from STORED rows only (never refitted), so an explanation shows what was delivered:

* a coupon fixture (:func:`explain_fixture`): ``jackpots`` (versions, calibration breakpoints,
  set parameters), ``jackpot_fixtures`` (ratings, λ, raw and calibrated 1X2, market) and
  ``predictions`` (sets A–G with their blend weights);
* a historical match (:func:`explain_match`): ``oos_predictions`` (the walk-forward forecast),
  ``models`` and ``model_team_ratings`` (the fit it came from), ``prediction_sets`` (A–G),
  ``market_probabilities``, ``calibration_curves`` and ``prediction_set_params`` of its
  league and season.

The score grid's top scores are the Dixon-Coles grid of the stored λ, μ and ρ
(:func:`core.dixon_coles.score_grid`); λ is checked against the stored ratings:
λ = exp(attack_home + defence_away + home_advantage), μ = exp(attack_away + defence_home).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from jackpot_pipeline.core.dixon_coles import grid_size, score_grid
from jackpot_pipeline.core.prediction_sets import (
    MARKET_DOMINANT_MODEL_WEIGHT,
    MEMBER_NAMES,
    PREDICTION_SETS,
)
from jackpot_pipeline.services import warehouse

TOP_SCORES = 5
OUTCOMES = ("home", "draw", "away")
JACKPOT_KEYS = (
    "jackpot_version", "coupon_id", "coupon_name", "source", "content_sha256", "created_at",
    "code_version", "margin_method", "data_version", "calibration_version", "set_params_version",
)  # fmt: skip
MATCH_KEYS = (
    "match_id", "league", "season", "match_date", "home_team", "away_team", "home_team_id",
    "away_team_id", "home_goals", "away_goals", "result",
)  # fmt: skip


class ExplainError(LookupError):
    """Nothing stored to explain (unknown coupon, version, fixture or match)."""


# ------------------------------------------------------------------------------ lookups


def find_jackpot_version(con: duckdb.DuckDBPyConnection, reference: str) -> str:
    """The stored version a reference names: a coupon file (its latest version by content
    SHA-256), a version ``jp-…``, or a coupon id (its latest version)."""
    _require(con, "jackpots", "no jackpot has been predicted yet (run `jackpot predict FILE`)")
    path = Path(reference)
    if path.is_file():
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        query, what = "content_sha256 = ?", f"coupon file {reference}"
        value = sha
    elif reference.startswith("jp-"):
        query, what, value = "jackpot_version = ?", f"version {reference}", reference
    else:
        query, what, value = "coupon_id = ?", f"coupon {reference!r}", reference
    row = con.execute(
        f"SELECT jackpot_version FROM jackpots WHERE {query} ORDER BY created_at DESC LIMIT 1",
        [value],
    ).fetchone()
    if row is None:
        hint = f" (run `jackpot predict {reference}` first)" if path.is_file() else ""
        raise ExplainError(f"no stored prediction for {what}{hint}")
    return str(row[0])


# ------------------------------------------------------------------------- coupon fixture


def explain_fixture(con: duckdb.DuckDBPyConnection, version: str, fixture: int) -> dict[str, Any]:
    """The decomposition of fixture ``fixture`` (1-based coupon row) of a stored version."""
    jackpot = _one(con, "SELECT * FROM jackpots WHERE jackpot_version = ?", [version])
    if jackpot is None:
        raise ExplainError(f"no stored jackpot version {version}")
    row = _one(
        con,
        "SELECT * FROM jackpot_fixtures WHERE jackpot_version = ? AND match_order = ?",
        [version, fixture],
    )
    if row is None:
        raise ExplainError(
            f"{version} has no fixture {fixture} (it has fixtures 1-{jackpot['n_fixtures']})"
        )
    sets = _all(
        con,
        "SELECT * FROM predictions WHERE jackpot_version = ? AND match_order = ? ORDER BY set_id",
        [version, fixture],
    )
    calibrations = json.loads(jackpot["calibrations"])
    set_params = json.loads(jackpot["set_params"])
    return {
        "kind": "coupon_fixture",
        "jackpot": {key: jackpot[key] for key in JACKPOT_KEYS},
        "fixture": {
            "row": fixture,
            "home": row["home_team"],
            "away": row["away_team"],
            "home_team_id": row["home_team_id"],
            "away_team_id": row["away_team_id"],
            "league": row["league"],
            "league_inferred": row["league_inferred"],
            "kickoff": row["kickoff"],
            "season": row["season"],
            "flags": json.loads(row["flags"]),
            "name_matches": json.loads(row.get("name_matches") or "[]"),
        },
        "model": _model_part(row, row["model_id"], row["params_version"]),
        "members": json.loads(row.get("members") or "null"),
        "calibration": {
            "version": row["calibration_version"],
            "calibrated": row["calibrated"],
            "before": _stack_or_dc(json.loads(row.get("members") or "null"), row),
            "after": _triple(row, "calibrated_prob"),
            "curve": _curve_summary(calibrations.get(row["calibration_version"])),
        },
        "market": {
            "source": row["market_source"],
            "margin_method": jackpot["margin_method"] if row["odds_home"] is not None else None,
            "odds": None if row["odds_home"] is None else _triple(row, "odds"),
            "overround": row["overround"],
            "probs": None if row["market_prob_home"] is None else _triple(row, "market_prob"),
        },
        "set_params": {
            "version": row["set_params_version"],
            "params": set_params.get(row["set_params_version"]),
        },
        "sets": [
            {
                "set": s["set_id"],
                "label": PREDICTION_SETS[s["set_id"]].label,
                "probs": _triple(s, "prob"),
                "pick": s["pick"],
                "entropy": s["entropy"],
                "model_weight": s["blend_alpha"],
                "fell_back_to_a": s["fell_back_to_a"],
                "detail": json.loads(s["detail"]),
            }
            for s in sets
        ],
    }


# ------------------------------------------------------------------------------- members


def _stack_or_dc(members: dict[str, Any] | None, row: dict[str, Any]) -> list[float]:
    """Calibration's input: the stacked members, else (no stack) Dixon-Coles."""
    if members and members.get("source") == "stack":
        return list(members["stack"])
    return _triple(row, "dc_prob")


def match_members(
    con: duckdb.DuckDBPyConnection, match_id: str, season: str, row: dict[str, Any]
) -> dict[str, Any] | None:
    """The stored members of a historical match as a coupon fixture stores them: Dixon-Coles,
    the season's odds-ratings variant, Elo, the stack with its weights, intercepts and source
    (None before the stacking stage ran)."""
    if not warehouse.table_exists(con, "stacked_predictions"):
        return None
    stacked = _one(con, "SELECT * FROM stacked_predictions WHERE match_id = ?", [match_id])
    choice = _one(con, "SELECT * FROM stack_choices WHERE season = ?", [season])
    if stacked is None or choice is None:
        return None
    forecasts = {
        m["member"]: _triple(m, "p")
        for m in _all(con, "SELECT * FROM member_predictions WHERE match_id = ?", [match_id])
    }
    weights = json.loads(choice["weights"])
    return {
        "source": stacked["source"],
        "stack_version": choice["version"],
        "odds_variant": choice["odds_variant"],
        "form": choice["form"],
        "weights": None
        if weights is None
        else dict(zip(json.loads(choice["members"]), weights, strict=True)),
        "bias": json.loads(choice["bias"]),
        "dc": _triple(row, "dc_prob"),
        "odds_ratings": forecasts.get(choice["odds_variant"]),
        "elo": forecasts.get("elo"),
        "stack": _triple(stacked, "p"),
    }


# ---------------------------------------------------------------------------- past match


def explain_match(
    con: duckdb.DuckDBPyConnection, match_id: str, margin_method: str = "shin"
) -> dict[str, Any]:
    """The walk-forward forecast of a historical match and the stored fit, calibration and
    set parameters of its league and season; the market by ``margin_method`` first (every
    stored method under ``market.methods``)."""
    _require(con, "oos_predictions", "no walk-forward predictions yet (run `jackpot run`)")
    match = _one(con, "SELECT * FROM matches WHERE match_id = ?", [match_id])
    oos = _one(con, "SELECT * FROM oos_predictions WHERE match_id = ?", [match_id])
    if match is None or oos is None:
        what = "no match" if match is None else "no walk-forward prediction for match"
        raise ExplainError(f"{what} {match_id!r} (match ids look like {_example_id(con)})")
    fit = _one(con, "SELECT * FROM models WHERE model_id = ?", [oos["model_version"]]) or {}
    ratings = {
        team: (attack, defence)
        for team, attack, defence in con.execute(
            "SELECT team_id, attack, defence FROM model_team_ratings WHERE model_id = ? "
            "AND team_id IN (?, ?)",
            [oos["model_version"], match["home_team_id"], match["away_team_id"]],
        ).fetchall()
    }
    row = {
        **oos,
        "home_advantage": fit.get("home_advantage"),
        "rho": fit.get("rho"),
        "home_attack": ratings.get(match["home_team_id"], (None, None))[0],
        "home_defence": ratings.get(match["home_team_id"], (None, None))[1],
        "away_attack": ratings.get(match["away_team_id"], (None, None))[0],
        "away_defence": ratings.get(match["away_team_id"], (None, None))[1],
        "model_as_of": oos["as_of"],
        "training_since": fit.get("training_since"),
        "data_version": fit.get("data_version"),
        "xi_source": None,
        "prior": json.loads(fit["prior"]) if fit.get("prior") else None,
        **{f"dc_prob_{o}": oos[f"p_{o}"] for o in OUTCOMES},
    }
    sets = _all(
        con,
        "SELECT * FROM prediction_sets WHERE match_id = ? ORDER BY set_name",
        [match_id],
    )
    market = sorted(  # the configured margin method first
        _all(con, "SELECT * FROM market_probabilities WHERE match_id = ?", [match_id]),
        key=lambda m: m["method"] != margin_method,
    )
    curve = _one(
        con,
        "SELECT scope, trained_on_start, trained_on_end, n_samples, is_identity, "
        "selection_log_loss FROM calibration_curves WHERE league = ? AND season = ? "
        "AND selected",
        [match["league"], match["season"]],
    )
    params = _one(
        con,
        "SELECT * FROM prediction_set_params WHERE league = ? AND season = ?",
        [match["league"], match["season"]],
    )
    a = next((s for s in sets if s["set_name"] == "A"), None)
    stored_params = None if params is None else json.loads(params["params"])
    members = match_members(con, match_id, match["season"], row)
    return {
        "kind": "historical_match",
        "match": {key: match[key] for key in MATCH_KEYS},
        "model": _model_part(row, oos["model_version"], fit.get("params_version")),
        "members": members,
        "calibration": {
            "version": None if curve is None else f"{match['league']} {match['season']}",
            "calibrated": curve is not None and not curve["is_identity"],
            "before": _stack_or_dc(members, row),
            "after": None if a is None else _triple(a, "p"),
            "curve": curve,
        },
        "market": decision_market(sets, market),
        "set_params": {
            "version": None if params is None else f"{match['league']} {match['season']}",
            "params": stored_params,
        },
        "sets": [
            {
                "set": s["set_name"],
                "label": PREDICTION_SETS[s["set_name"]].label,
                "probs": _triple(s, "p"),
                "pick": "1X2"[int(np.argmax(_triple(s, "p")))],
                "entropy": s["entropy"],
                "fell_back_to_a": s["fell_back_to_a"],
                **season_set_rule(s["set_name"], stored_params, match["league"]),
            }
            for s in sets
        ],
    }


def season_set_rule(name: str, params: dict[str, Any] | None, league: str) -> dict[str, Any]:
    """``model_weight`` and ``detail`` of set ``name`` from a league-season's stored set
    parameters (the walk-forward stores them per season, not per match)."""
    if name == "A":
        return {"model_weight": 1.0, "detail": {"formula": "calibrated model"}}
    if params is None:
        return {"model_weight": None, "detail": {}}
    pooling = {"pooling": params["pooling"]}
    rules: dict[str, tuple[float | None, dict[str, Any]]] = {
        "B": (params["model_weight"], pooling),
        "C": (MARKET_DOMINANT_MODEL_WEIGHT, pooling),
        "D": (None, {
            "draw_boost": params["draw_boost"].get(league, params["pooled_draw_boost"]),
            "draw_boost_scope": league if league in params["draw_boost"] else "pooled",
        }),
        "E": (params["model_weight"], {**pooling, "temperature": params["temperature"]}),
        "F": (None, {"kelly_scale": params["kelly_scale"]}),
        "G": (None, {"ensemble_weights": dict(
            zip(MEMBER_NAMES, params["ensemble_weights"], strict=True)
        )}),
    }  # fmt: skip
    weight, detail = rules[name]
    return {"model_weight": weight, "detail": detail}


# ------------------------------------------------------------------------------- helpers


def _model_part(row: dict[str, Any], model_id: str, params_version: str | None) -> dict[str, Any]:
    """Ratings, λ (stored and recomputed from the ratings), top scores, raw 1X2."""
    lam, mu, rho = row["lambda_home"], row["lambda_away"], row.get("rho")
    ratings = [row.get(k) for k in ("home_attack", "away_defence", "away_attack", "home_defence")]
    home_adv = row.get("home_advantage")
    recomputed = None
    if None not in ratings and home_adv is not None:
        recomputed = {
            "lambda_home": math.exp(ratings[0] + ratings[1] + home_adv),
            "lambda_away": math.exp(ratings[2] + ratings[3]),
        }
    return {
        "model_id": model_id,
        "params_version": params_version,
        "data_version": row.get("data_version"),
        "as_of": row.get("model_as_of"),
        "training_since": row.get("training_since"),
        "n_train_matches": row.get("n_train_matches"),
        "xi": row.get("xi"),
        "xi_source": row.get("xi_source"),
        "prior": row.get("prior"),
        "rho": rho,
        "home_advantage": home_adv,
        "home": {"attack": row.get("home_attack"), "defence": row.get("home_defence")},
        "away": {"attack": row.get("away_attack"), "defence": row.get("away_defence")},
        "lambda_home": lam,
        "lambda_away": mu,
        "lambda_from_ratings": recomputed,
        "top_scores": [] if rho is None else top_scores(lam, mu, rho),
        "probs": _triple(row, "dc_prob"),
    }


def top_scores(lam: float, mu: float, rho: float, n: int = TOP_SCORES) -> list[dict[str, Any]]:
    """The ``n`` likeliest scores of the Dixon-Coles grid of λ, μ, ρ, likeliest first."""
    grid = score_grid(np.array([lam]), np.array([mu]), rho, grid_size(max(lam, mu)))[0]
    order = np.argsort(-grid, axis=None, kind="stable")[:n]
    cells = [np.unravel_index(i, grid.shape) for i in order]
    return [{"score": f"{h}-{a}", "prob": float(grid[h, a])} for h, a in cells]


def _curve_summary(curve: dict[str, Any] | None) -> dict[str, Any] | None:
    """Scope, training end and sample count of a stored curve (its breakpoints omitted)."""
    if curve is None:
        return None
    keep = ("scope", "trained_on_end", "n_samples", "is_identity")
    return {key: curve.get(key) for key in keep}


def _triple(row: dict[str, Any], prefix: str) -> list[float]:
    return [float(row[f"{prefix}_{o}"]) for o in OUTCOMES]


def decision_market(sets: list[dict[str, Any]], closing: list[dict[str, Any]]) -> dict[str, Any]:
    """The market the sets used: the decision-time line stored with them (its source and
    margin-free probabilities); the closing line's methods beside it, as the benchmark."""
    used = next((s for s in sets if s.get("market_source")), None)
    return {
        "source": None if used is None else used["market_source"],
        "margin_method": None if not closing else closing[0]["method"],
        "odds": None,
        "overround": None,
        "probs": None if used is None else _triple(used, "market"),
        "closing_source": None if not closing else closing[0]["odds_source"],
        "closing_methods": {m["method"]: _triple(m, "prob") for m in closing},
    }


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = _all(con, sql, params)
    return rows[0] if rows else None


def _all(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _require(con: duckdb.DuckDBPyConnection, table: str, message: str) -> None:
    if not warehouse.table_exists(con, table) or not warehouse.table_count(con, table):
        raise ExplainError(message)


def _example_id(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT match_id FROM oos_predictions LIMIT 1").fetchone()
    return "-" if row is None else repr(row[0])
