"""Warehouse side of the model layer: load league history, store features, models, predictions.

Tables: ``team_features`` (one row per team and match), ``models`` + ``model_team_ratings``
(every walk-forward refit that predicted a block: version, training window, ξ, ρ, home
advantage, prior with its newcomer offsets, log-likelihood, convergence and input data
version; ``kind`` = ``block <as-of date>``), ``xi_selections`` (ξ chosen per league and season
with the grid's scores), ``xi_scores`` (every grid ξ's walk-forward log loss per season),
``prior_selections`` (team-prior precision chosen per league and season with the grid's scores,
and the newcomer centre the season's fits used), ``precision_scores`` (every grid precision's
walk-forward log loss per season) and ``oos_predictions`` (walk-forward out-of-sample 1X2
per match; ``model_version`` is the ``models.model_id`` that made it). Each (league, season)
is replaced in one transaction, so re-running a partition leaves the tables identical.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import MODEL_VERSION, DixonColesParams, TeamPrior
from jackpot_pipeline.core.walk_forward import (
    PRECISION_SCORE_COLUMNS,
    SCORE_COLUMNS,
    BlockFit,
    PrecisionSelection,
    SelectedWalk,
    WalkForwardConfig,
    XiSelection,
    log_loss_1x2,
    walk_forward_selected,
)
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


BLOCK_KIND = "block"
#: The walk-forward configuration of the pipeline (defaults: 3 seasons of history, weekly
#: refits, 60 matches before the first prediction, the no-evidence team prior; precision and
#: newcomer centre are chosen per season inside the walk).
WALK_CONFIG = WalkForwardConfig()


def model_record(block: BlockFit) -> tuple[dict[str, object], pd.DataFrame]:
    """The ``models`` row and ``model_team_ratings`` rows of one walk-forward fit."""
    params = block.params
    row = {
        "model_id": block.model_id,
        "league": block.league,
        "season": block.season,
        "kind": f"{BLOCK_KIND} {params.as_of.isoformat()}",
        "model_type": "dixon-coles",
        "as_of": params.as_of,
        "training_since": np.datetime64(int(block.since), "D").astype(date),
        "n_matches": params.n_matches,
        "xi": params.xi,
        "rho": params.rho,
        "home_advantage": params.home_advantage,
        "log_likelihood": params.log_likelihood,
        "converged": params.converged,
        "iterations": params.iterations,
        "params_version": params.version,
        "code_version": MODEL_VERSION,
        "data_version": block.data_version,
        "prior": json.dumps(
            {
                "precision": params.prior.precision,
                "newcomer_attack": params.prior.newcomer_attack,
                "newcomer_defence": params.prior.newcomer_defence,
                "newcomer_offsets": [list(o) for o in block.offsets],
            }
        ),
        "newcomers": json.dumps(list(params.newcomers)),
    }
    ratings = pd.DataFrame(
        {
            "model_id": block.model_id,
            "team_id": list(params.teams),
            "attack": np.asarray(params.attack, dtype=float),
            "defence": np.asarray(params.defence, dtype=float),
        }
    )
    return row, ratings


def store_models(
    con: duckdb.DuckDBPyConnection, league: str, season: str, blocks: Sequence[BlockFit]
) -> int:
    """Replace the partition's models and their team ratings (inside a transaction)."""
    con.execute(
        "DELETE FROM model_team_ratings WHERE model_id IN "
        "(SELECT model_id FROM models WHERE league = ? AND season = ?)",
        [league, season],
    )
    records = [model_record(block) for block in blocks]
    replace_partition(con, "models", league, season, pd.DataFrame([r for r, _ in records]))
    if records:
        warehouse.insert_frame(con, "model_team_ratings", pd.concat([r for _, r in records]))
    return len(records)


def load_fits(con: duckdb.DuckDBPyConnection, league: str) -> list[BlockFit]:
    """The stored walk-forward fits of ``league`` in as-of order, parameters rebuilt exactly
    (teams in sorted order, as the fit orders them)."""
    models = con.execute(
        "SELECT * FROM models WHERE league = ? AND kind LIKE ? ORDER BY as_of",
        [league, f"{BLOCK_KIND} %"],
    ).df()
    if models.empty:
        return []
    ratings = con.execute(
        "SELECT r.model_id, r.team_id, r.attack, r.defence FROM model_team_ratings r "
        "JOIN models m USING (model_id) WHERE m.league = ? ORDER BY r.model_id, r.team_id",
        [league],
    ).df()
    by_model = dict(tuple(ratings.groupby("model_id")))
    return [_block_from_row(row, by_model[row.model_id]) for row in models.itertuples()]


def _block_from_row(row: object, ratings: pd.DataFrame) -> BlockFit:
    """A :class:`BlockFit` from its ``models`` row and ratings."""
    prior = json.loads(row.prior)
    order = sorted(range(len(ratings)), key=lambda i: ratings["team_id"].iloc[i])
    ratings = ratings.iloc[order]
    params = DixonColesParams(
        teams=tuple(ratings["team_id"]),
        attack=_frozen(ratings["attack"]),
        defence=_frozen(ratings["defence"]),
        home_advantage=float(row.home_advantage),
        rho=float(row.rho),
        xi=float(row.xi),
        as_of=pd.Timestamp(row.as_of).date(),
        n_matches=int(row.n_matches),
        log_likelihood=float(row.log_likelihood),
        converged=bool(row.converged),
        iterations=int(row.iterations),
        prior=TeamPrior(prior["precision"], prior["newcomer_attack"], prior["newcomer_defence"]),
        newcomers=tuple(json.loads(row.newcomers)),
    )
    if params.version != row.params_version:
        raise ValueError(f"stored model {row.model_id} does not rebuild to its parameters")
    since = int(np.datetime64(pd.Timestamp(row.training_since).date(), "D").astype(np.int64))
    offsets = tuple(tuple(o) for o in prior.get("newcomer_offsets", []))
    return BlockFit(row.league, row.season, since, params, offsets, row.model_id, row.data_version)


def _frozen(values: pd.Series) -> np.ndarray:
    out = values.to_numpy(dtype=np.float64).copy()
    out.setflags(write=False)
    return out


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


def prior_frame(
    selection: PrecisionSelection, blocks: Sequence[BlockFit], league: str
) -> pd.DataFrame:
    """The ``prior_selections`` row of one season: the precision choice and the newcomer
    centre of the season's fits (from ``newcomer_seasons`` seasons of newcomer offsets)."""
    prior, offsets = blocks[0].params.prior, blocks[0].offsets
    return pd.DataFrame(
        [
            {
                "league": league,
                "season": selection.season,
                "precision": selection.precision,
                "newcomer_attack": prior.newcomer_attack,
                "newcomer_defence": prior.newcomer_defence,
                "newcomer_seasons": len(offsets),
                "validation_seasons": ",".join(selection.validation_seasons),
                "n_validation_matches": selection.n_validation_matches,
                "scores": json.dumps({f"{p:g}": round(score, 6) for p, score in selection.scores}),
            }
        ]
    )


def load_scores(con: duckdb.DuckDBPyConnection, exclude_league: str | None = None) -> pd.DataFrame:
    """Stored ``xi_scores`` rows (every league's, or all but ``exclude_league``)."""
    return _scores(con, "xi_scores", SCORE_COLUMNS, exclude_league)


def load_precision_scores(
    con: duckdb.DuckDBPyConnection, exclude_league: str | None = None
) -> pd.DataFrame:
    """Stored ``precision_scores`` rows (every league's, or all but ``exclude_league``)."""
    return _scores(con, "precision_scores", PRECISION_SCORE_COLUMNS, exclude_league)


def _scores(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    exclude_league: str | None,
) -> pd.DataFrame:
    return con.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE league IS DISTINCT FROM ? "
        f"ORDER BY league, season, {columns[2]}",
        [exclude_league],
    ).df()


def store_season(
    con: duckdb.DuckDBPyConnection,
    league: str,
    season: str,
    walk: SelectedWalk,
    matches: pd.DataFrame,
) -> dict[str, object]:
    """Store a season's fits, ξ choice, grid scores and OOS predictions (call inside a
    transaction); returns a summary row with the season's walk-forward 1X2 log loss."""
    predictions = walk.predictions[walk.predictions["season"] == season]
    blocks = [b for b in walk.fits if b.season == season]
    n_models = store_models(con, league, season, blocks)
    replace_partition(con, "oos_predictions", league, season, predictions)
    replace_partition(
        con, "xi_scores", league, season, walk.scores[walk.scores["season"] == season]
    )
    replace_partition(
        con,
        "precision_scores",
        league,
        season,
        walk.precision_scores[walk.precision_scores["season"] == season],
    )
    selection = next((s for s in walk.selections if s.season == season), None)
    if selection is not None:
        replace_partition(con, "xi_selections", league, season, selection_frame(selection, league))
    precision = next((s for s in walk.precision_selections if s.season == season), None)
    if precision is not None and blocks:
        replace_partition(
            con, "prior_selections", league, season, prior_frame(precision, blocks, league)
        )
    log_loss = log_loss_1x2(predictions, matches).mean() if len(predictions) else None
    return {
        "league": league,
        "season": season,
        "xi": None if selection is None else selection.xi,
        "precision": None if precision is None else precision.precision,
        "predicted": len(predictions),
        "models": n_models,
        "log_loss": None if log_loss is None else round(float(log_loss), 4),
    }


def walk_league(
    matches: pd.DataFrame,
    other_scores: pd.DataFrame | None = None,
    other_precision_scores: pd.DataFrame | None = None,
) -> SelectedWalk:
    """The league's walk-forward with ξ and prior precision selected per season (the one
    configuration used by the modelling asset and the forecaster); ``other_*``: the other
    leagues' stored scores, which a league's first season borrows its choices from."""
    return walk_forward_selected(
        matches,
        WALK_CONFIG,
        other_scores=other_scores,
        other_precision_scores=other_precision_scores,
    )
