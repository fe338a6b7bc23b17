"""Warehouse side of the model layer: load league history, store features, models, predictions.

Tables (created on first write): ``team_features`` (one row per team and match),
``models`` + ``model_team_ratings`` (fitted Dixon-Coles models with their version, training
window, ξ, ρ, home advantage, log-likelihood, convergence and input data version),
``xi_selections`` (ξ chosen per league and season with the grid's scores) and
``oos_predictions`` (walk-forward out-of-sample 1X2 per match). Each (league, season) is
replaced in one transaction, so re-running a partition leaves the tables identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import DEFAULT_PRIOR, MODEL_VERSION, DixonColesParams, fit
from jackpot_pipeline.core.seasons import previous_season
from jackpot_pipeline.core.walk_forward import WalkForwardConfig, XiSelection, log_loss_1x2
from jackpot_pipeline.services import warehouse

MATCH_FIELDS = (
    "match_id, league, season, match_date, home_team_id, away_team_id, home_goals, away_goals"
)


def load_matches(
    con: duckdb.DuckDBPyConnection, leagues: Sequence[str], until_season: str
) -> pd.DataFrame:
    """Played matches of ``leagues`` in seasons up to ``until_season``, oldest first."""
    placeholders = ", ".join("?" for _ in leagues)
    frame = con.execute(
        f"SELECT {MATCH_FIELDS} FROM matches WHERE league IN ({placeholders}) AND season <= ? "
        "AND home_goals IS NOT NULL AND away_goals IS NOT NULL ORDER BY match_date, match_id",
        [*leagues, until_season],
    ).df()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    return frame.astype({"home_goals": "int64", "away_goals": "int64"})


def data_version(matches: pd.DataFrame) -> str:
    """Short SHA-256 of the rows a model was trained on (ids, dates, goals)."""
    digest = hashlib.sha256()
    for column in ("match_id", "match_date", "home_goals", "away_goals"):
        digest.update(matches[column].astype(str).str.cat(sep="\x1f").encode())
    return digest.hexdigest()[:16]


def replace_partition(
    con: duckdb.DuckDBPyConnection, table: str, league: str, season: str, frame: pd.DataFrame
) -> int:
    """Swap the (league, season) rows of ``table`` for ``frame`` (call inside a transaction)."""
    return warehouse.replace_rows(con, table, {"league": league, "season": season}, frame)


def store_features(
    con: duckdb.DuckDBPyConnection, league: str, season: str, features: pd.DataFrame
) -> int:
    """Replace the partition's team features (the table takes the frame's columns)."""
    con.execute("CREATE TABLE IF NOT EXISTS team_features AS SELECT * FROM features LIMIT 0")
    return replace_partition(con, "team_features", league, season, features)


def model_record(
    params: DixonColesParams,
    league: str,
    season: str,
    kind: str,
    training: pd.DataFrame,
    since: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``models`` row and ``model_team_ratings`` rows of a fitted model.

    model_id = ``dc1-`` + SHA-256(code version, parameter version, input data version)[:16].
    """
    window = training[(training["match_date"].dt.date >= since)]
    window = window[window["match_date"].dt.date < params.as_of]
    data_ver = data_version(window)
    key = f"{MODEL_VERSION}|{params.version}|{data_ver}"
    model_id = f"{MODEL_VERSION}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    row = {
        "model_id": model_id,
        "league": league,
        "season": season,
        "kind": kind,
        "model_type": "dixon-coles",
        "as_of": params.as_of,
        "training_since": since,
        "n_matches": params.n_matches,
        "xi": params.xi,
        "rho": params.rho,
        "home_advantage": params.home_advantage,
        "log_likelihood": params.log_likelihood,
        "converged": params.converged,
        "iterations": params.iterations,
        "params_version": params.version,
        "code_version": MODEL_VERSION,
        "data_version": data_ver,
        "prior": json.dumps(
            {
                "precision": params.prior.precision,
                "newcomer_attack": params.prior.newcomer_attack,
                "newcomer_defence": params.prior.newcomer_defence,
            }
        ),
        "newcomers": json.dumps(list(params.newcomers)),
    }
    ratings = pd.DataFrame(
        {
            "model_id": model_id,
            "team_id": list(params.teams),
            "attack": np.asarray(params.attack, dtype=float),
            "defence": np.asarray(params.defence, dtype=float),
        }
    )
    return pd.DataFrame([row]), ratings


def store_models(
    con: duckdb.DuckDBPyConnection,
    league: str,
    season: str,
    models: pd.DataFrame,
    ratings: pd.DataFrame,
) -> None:
    """Replace the partition's models and their team ratings (inside a transaction)."""
    con.execute(
        "DELETE FROM model_team_ratings WHERE model_id IN "
        "(SELECT model_id FROM models WHERE league = ? AND season = ?)",
        [league, season],
    )
    replace_partition(con, "models", league, season, models)
    warehouse.insert_frame(con, "model_team_ratings", ratings)


def selection_frame(selection: XiSelection, league: str) -> pd.DataFrame:
    """The ``xi_selections`` row of one season's ξ choice."""
    return pd.DataFrame(
        [
            {
                "league": league,
                "season": selection.season,
                "xi": selection.xi,
                "validation_seasons": ",".join(selection.validation_seasons),
                "n_validation_matches": selection.n_validation_matches,
                "scores": json.dumps(
                    {f"{xi:g}": round(score, 6) for xi, score in selection.scores}
                ),
            }
        ]
    )


def season_window(matches: pd.DataFrame, season: str) -> tuple[date, date]:
    """First match date of ``season`` and the day after its last match."""
    days = matches.loc[matches["season"] == season, "match_date"]
    return days.min().date(), days.max().date() + timedelta(days=1)


@dataclass(frozen=True)
class SeasonModels:
    """A season's fitted start/end models and its ξ choice, ready to store."""

    league: str
    season: str
    xi: float
    selection: XiSelection | None
    models: pd.DataFrame
    ratings: pd.DataFrame


def fit_season_models(
    league: str,
    season: str,
    matches: pd.DataFrame,
    selections: Mapping[str, XiSelection],
    default_xi: float,
) -> SeasonModels:
    """Models as of the season's first match and the day after its last, with the season's
    chosen ξ, trained on the walk-forward window (the previous seasons + the current one).

    The stored models use the default newcomer prior (the walk-forward refines the newcomer
    centre per league from earlier seasons)."""
    selection = selections.get(season)
    xi = selection.xi if selection is not None else default_xi
    start, end = season_window(matches, season)
    first = previous_season(season, WalkForwardConfig.history_seasons)
    since = matches.loc[matches["season"] >= first, "match_date"].min().date()
    models, ratings = [], []
    for kind, as_of in (("season_start", start), ("season_end", end)):
        if not (matches["match_date"].dt.date < as_of).any():
            continue  # the first season in the data has no history before its start
        params = fit(matches, as_of, xi=xi, since=since, prior=DEFAULT_PRIOR)
        model, rating = model_record(params, league, season, kind, matches, since)
        models.append(model)
        ratings.append(rating)
    return SeasonModels(
        league,
        season,
        xi,
        selection,
        pd.concat(models, ignore_index=True) if models else pd.DataFrame(),
        pd.concat(ratings, ignore_index=True) if ratings else pd.DataFrame(),
    )


def store_season(
    con: duckdb.DuckDBPyConnection,
    fitted: SeasonModels,
    matches: pd.DataFrame,
    predictions: pd.DataFrame,
) -> dict[str, object]:
    """Store a season's models, ξ choice and OOS predictions (call inside a transaction);
    returns a summary row with the season's walk-forward 1X2 log loss."""
    league, season = fitted.league, fitted.season
    season_predictions = predictions[predictions["season"] == season]
    store_models(con, league, season, fitted.models, fitted.ratings)
    replace_partition(con, "oos_predictions", league, season, season_predictions)
    if fitted.selection is not None:
        replace_partition(
            con, "xi_selections", league, season, selection_frame(fitted.selection, league)
        )
    log_loss = log_loss_1x2(season_predictions, matches).mean() if len(season_predictions) else None
    return {
        "league": league,
        "season": season,
        "xi": fitted.xi,
        "predicted": len(season_predictions),
        "models": len(fitted.models),
        "log_loss": None if log_loss is None else round(float(log_loss), 4),
    }
