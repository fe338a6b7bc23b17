"""The one forecaster: every number a user sees, for fixtures at a decision instant.

A forecast of a fixture of league L decided on day d (results known strictly before d) is made
of three pieces, each computed by exactly one function used by the walk-forward, the
validation, ``jackpot predict`` and the inbox runs alike:

1. **Goal model** (:func:`model_at`): the league's walk-forward model for a kickoff on k
   decided on d ≤ k — the latest refit made by d if its block covers k
   (``walk_forward.in_force``: same season, as_of ≤ k < as_of + refit days); otherwise the
   walk's next refit as of k on the results known on d (``walk_forward.next_fit``: same
   window, league prior, season's ξ, warm-started from the latest refit). A league without a
   stored walk is walked in memory on its matches before d (``model_store.walk_league``, the
   modelling asset's own configuration). So a past fixture gets exactly the stored
   out-of-sample model, a future one the walk's next step.
2. **Market input** at d: a coupon's own odds, else the latest odds snapshot before d (both
   in ``jackpot_model``), else, replaying a past round, the match's football-data pre-closing
   line (``core.decision_market``); never a closing price. Its label is ``market_source``.
3. **Sets** (:func:`deliver`): the raw 1X2 through the season's calibration curve (set A),
   then every set A–G with the season's parameters (``core.prediction_sets``), both fitted
   on earlier seasons only.

Other goal models (issue 13) join as members of set A at piece 1: anything with
``fit``/``predict`` producing raw 1X2 per fixture feeds :func:`deliver` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.calibration import CalibrationCurve, apply_calibration
from jackpot_pipeline.core.dixon_coles import MatchData, to_day
from jackpot_pipeline.core.prediction_sets import (
    PredictionSet,
    SetInputs,
    SetParams,
    build_prediction_sets,
)
from jackpot_pipeline.core.seasons import season_of
from jackpot_pipeline.core.walk_forward import (
    BlockFit,
    SelectedWalk,
    data_version,
    in_force,
    next_fit,
    select_precision,
    select_xi,
)
from jackpot_pipeline.services import model_store

FIT_COLUMNS = (
    "match_id, league, season, match_date, home_team_id, away_team_id, home_goals, away_goals"
)


class NoHistory(LookupError):
    """The league has no played match before the decision day to fit on."""


@dataclass(frozen=True, eq=False)
class LeagueWalk:
    """A league's walk-forward state: its fits (as-of order), grid scores and ξ and prior
    precision choices."""

    fits: tuple[BlockFit, ...]
    scores: pd.DataFrame
    xi_by_season: dict[str, float]
    other_scores: pd.DataFrame
    precision_scores: pd.DataFrame
    precision_by_season: dict[str, float]
    other_precision_scores: pd.DataFrame


def league_matches(con: duckdb.DuckDBPyConnection, league: str, before: date) -> pd.DataFrame:
    """The league's played matches dated strictly before ``before``, oldest first."""
    frame = con.execute(
        f"SELECT {FIT_COLUMNS} FROM matches WHERE league = ? AND match_date < ? "
        "AND home_goals IS NOT NULL AND away_goals IS NOT NULL ORDER BY match_date, match_id",
        [league, before],
    ).df()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    return frame.astype({"home_goals": "int64", "away_goals": "int64"})


def league_walk(con: duckdb.DuckDBPyConnection, league: str, matches: pd.DataFrame) -> LeagueWalk:
    """The stored walk of ``league``, or (none stored) its walk in memory on ``matches``."""
    others = model_store.load_scores(con, exclude_league=league)
    other_precisions = model_store.load_precision_scores(con, exclude_league=league)
    fits = model_store.load_fits(con, league)
    if fits:
        stored = con.execute(
            "SELECT season, xi FROM xi_selections WHERE league = ?", [league]
        ).fetchall()
        precisions = con.execute(
            "SELECT season, precision FROM prior_selections WHERE league = ?", [league]
        ).fetchall()
        scores = model_store.load_scores(con).query("league == @league")
        precision_scores = model_store.load_precision_scores(con).query("league == @league")
        return LeagueWalk(
            tuple(fits),
            scores,
            dict(stored),
            others,
            precision_scores,
            dict(precisions),
            other_precisions,
        )
    walk = memory_walk(matches, others, other_precisions)
    return LeagueWalk(
        walk.fits,
        walk.scores,
        {s.season: s.xi for s in walk.selections},
        others,
        walk.precision_scores,
        {s.season: s.precision for s in walk.precision_selections},
        other_precisions,
    )


#: In-memory walks by their inputs' digest (the walk is deterministic in them).
_WALKS: dict[str, SelectedWalk] = {}
MAX_CACHED_WALKS = 16


def memory_walk(
    matches: pd.DataFrame, others: pd.DataFrame, other_precisions: pd.DataFrame
) -> SelectedWalk:
    """``model_store.walk_league`` on ``matches``, remembered per process by input digest."""
    data = MatchData.from_frame(matches)
    key = data_version(data, int(data.day.min()), int(data.day.max()) + 1)
    for frame in (others, other_precisions):
        key += str(pd.util.hash_pandas_object(frame, index=False).sum())
    if key not in _WALKS:
        if len(_WALKS) >= MAX_CACHED_WALKS:
            _WALKS.pop(next(iter(_WALKS)))
        _WALKS[key] = model_store.walk_league(matches, others, other_precisions)
    return _WALKS[key]


def model_at(walk: LeagueWalk, matches: pd.DataFrame, day: date, kickoff: date) -> BlockFit:
    """The goal model of a fixture kicking off on ``kickoff``, decided on ``day`` ≤ kickoff
    (piece 1); ``matches``: the league's played matches before ``day``.

    Only refits made by ``day`` count. The latest one is used when the walk would still
    predict a match on the kickoff date with it (same season, within its refit period);
    otherwise the walk's next refit as of the kickoff date on the matches known on ``day``
    (what the walk does when the fixture opens a new block and nothing is played before it)."""
    season = season_of(kickoff)
    known = [f for f in walk.fits if to_day(f.params.as_of) <= to_day(day)]
    if not known:
        raise NoHistory(f"no walk-forward model of the league by {day}")
    last = known[-1]
    if in_force(last, to_day(kickoff), season, model_store.WALK_CONFIG.refit_days):
        return last
    xi = walk.xi_by_season.get(season)
    if xi is None:
        xi = select_xi(walk.scores, season, other_scores=walk.other_scores).xi
    precision = walk.precision_by_season.get(season)
    if precision is None:
        precision = select_precision(
            walk.precision_scores, season, other_scores=walk.other_precision_scores
        ).precision
    data = MatchData.from_frame(matches)
    config = model_store.WALK_CONFIG
    return next_fit(data, last, to_day(kickoff), season, xi, config, precision)


def models_for(
    con: duckdb.DuckDBPyConnection, requests: Sequence[tuple[str, date, date]]
) -> dict[tuple[str, date, date], BlockFit]:
    """:func:`model_at` for every distinct (league, decision day, kickoff date). One walk per
    league, over its matches before the league's latest decision day (a fit depends only on
    matches before its own as-of date, so this walk holds every refit the earlier days need)."""
    out: dict[tuple[str, date, date], BlockFit] = {}
    by_league: dict[str, list[tuple[date, date]]] = {}
    for league, day, kickoff in sorted(set(requests)):
        by_league.setdefault(league, []).append((day, kickoff))
    for league, days in by_league.items():
        matches = league_matches(con, league, max(day for day, _ in days))
        walk = league_walk(con, league, matches) if not matches.empty else None
        for day, kickoff in days:
            before = matches[matches["match_date"] < pd.Timestamp(day)]
            if walk is None or before.empty:
                raise NoHistory(f"no {league} results before {day} in the warehouse")
            out[(league, day, kickoff)] = model_at(walk, before, day, kickoff)
    return out


def calibrate(raw: np.ndarray, curve: CalibrationCurve | None) -> np.ndarray:
    """Set A's input: raw 1X2 (n, 3) through ``curve`` (renormalized raw without one)."""
    raw = np.asarray(raw, dtype=np.float64)
    if curve is None:
        return raw / raw.sum(axis=1, keepdims=True)
    return apply_calibration(curve, raw)


def deliver(
    raw: np.ndarray,
    market: np.ndarray,
    leagues: Sequence[str] | np.ndarray,
    curve: CalibrationCurve | None,
    params: SetParams,
) -> tuple[np.ndarray, dict[str, PredictionSet]]:
    """Calibrated model (set A's input) and every set A–G of fixtures sharing one season's
    curve and parameters (piece 3)."""
    calibrated = calibrate(raw, curve)
    inputs = SetInputs(calibrated, np.asarray(market, dtype=np.float64), np.asarray(leagues))
    return calibrated, build_prediction_sets(inputs, params)
