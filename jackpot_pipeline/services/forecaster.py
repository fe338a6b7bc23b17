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

Set A's other members join at piece 1 (:func:`member_inputs`): the odds ratings and Elo of
the fixture, fitted as the member stage fits them for the same block, pooled with the
Dixon-Coles forecast by the season's stack choice (``services.stack``) before piece 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.calibration import CalibrationCurve, apply_calibration
from jackpot_pipeline.core.dixon_coles import MatchData, single_thread_blas, to_day
from jackpot_pipeline.core.goal_models import elo
from jackpot_pipeline.core.goal_models.ratings import History
from jackpot_pipeline.core.goal_models.walk_forward import fit_member
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
from jackpot_pipeline.services import members, model_store
from jackpot_pipeline.services import stack as stack_service
from jackpot_pipeline.services.members import ELO
from jackpot_pipeline.services.stack import DC, ODDS, STACK_MEMBERS, StackChoice

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


@dataclass(frozen=True, eq=False)
class MemberInputs:
    """A fixture's forecasts by set A's members other than Dixon-Coles, and the season's stack
    choice that pools them with the Dixon-Coles forecast (piece 1 of set A)."""

    choice: StackChoice
    odds_ratings: np.ndarray  # (3,)
    elo: np.ndarray  # (3,)

    def stack(self, dc: np.ndarray) -> tuple[np.ndarray, str]:
        """Set A's raw 1X2 (3,) from the Dixon-Coles forecast and its source (``stack`` or
        ``dc``)."""
        forecasts = {DC: dc[None, :], ODDS: self.odds_ratings[None, :], ELO: self.elo[None, :]}
        pooled, source = self.choice.combine(forecasts)
        return pooled[0], source

    def version_key(self) -> dict[str, object]:
        """What a jackpot's version depends on: the stack choice and the members' forecasts."""
        return {
            "stack_version": self.choice.version,
            ODDS: [round(float(p), 12) for p in self.odds_ratings],
            ELO: [round(float(p), 12) for p in self.elo],
        }

    def describe(self, dc: np.ndarray) -> dict[str, object]:
        """The members, weights and result as stored with a jackpot fixture."""
        pooled, source = self.stack(dc)
        weights = self.choice.weights
        return {
            "source": source,
            "stack_version": self.choice.version,
            "odds_variant": self.choice.odds_variant,
            "form": self.choice.form,
            "weights": None if weights is None else dict(zip(STACK_MEMBERS, weights, strict=True)),
            "bias": list(self.choice.bias),
            **{
                name: [float(p) for p in probs]
                for name, probs in (
                    (DC, dc),
                    (ODDS, self.odds_ratings),
                    (ELO, self.elo),
                    ("stack", pooled),
                )
            },
        }


def member_inputs(
    con: duckdb.DuckDBPyConnection,
    requests: Sequence[tuple[str, date, str, str, BlockFit]],
) -> list[MemberInputs]:
    """:class:`MemberInputs` of fixtures (league, decision day, home id, away id, Dixon-Coles
    model): each member fitted as the walk fits it for the same block — as of the model's as-of
    day on the same window, with the results known on the decision day. Fixtures sharing a
    league, decision day and season share one history read, one Elo walk and, per block, one
    odds-ratings fit."""
    groups: dict[tuple[str, date, str], list[int]] = {}
    for i, (league, day, _, _, block) in enumerate(requests):
        groups.setdefault((league, day, block.season), []).append(i)
    out: dict[int, MemberInputs] = {}
    choices: dict[str, StackChoice] = {}
    for (league, day, season), rows in groups.items():
        if season not in choices:
            choices[season] = stack_service.choice_for(con, season)
        choice = choices[season]
        divisions = [league, *members.linked_divisions(league)]
        history = members.warehouse_history(con, divisions, season)
        known = history[history["match_date"] < pd.Timestamp(day)]
        fixtures = [requests[i] for i in rows]
        rated = _elo_members(con, known, league, season, fixtures)
        odds = _odds_members(known, league, choice.odds_variant, fixtures)
        for j, i in enumerate(rows):
            out[i] = MemberInputs(choice, odds[j], rated[j])
    return [out[i] for i in range(len(requests))]


def _odds_members(
    known: pd.DataFrame,
    league: str,
    variant: str,
    fixtures: Sequence[tuple[str, date, str, str, BlockFit]],
) -> np.ndarray:
    """The odds-ratings variant's 1X2 (n, 3) of ``fixtures``, one fit per distinct block."""
    spec = next(s for s in members.PIPELINE_SPECS if s.name == variant)
    history = History.from_frame(known, members.MARKET_TARGETS)
    division = history.divisions.index(league)
    fits = {}
    out = np.empty((len(fixtures), 3))
    with single_thread_blas():
        for j, (_, _, home, away, block) in enumerate(fixtures):
            if block.model_id not in fits:
                as_of = to_day(block.params.as_of)
                fits[block.model_id] = fit_member(history, spec, as_of, int(block.since))
            out[j] = fits[block.model_id].predict(np.array([home]), np.array([away]), division)[0]
    return out


def _elo_members(
    con: duckdb.DuckDBPyConnection,
    known: pd.DataFrame,
    league: str,
    season: str,
    fixtures: Sequence[tuple[str, date, str, str, BlockFit]],
) -> np.ndarray:
    """Elo's 1X2 (n, 3) of ``fixtures`` as the member stage rates them, in one walk: earlier
    matches as of their blocks' as-of days (the stored walk's), each fixture as of its
    model's."""
    own = known[known["league"] == league]
    blocks = con.execute(
        "SELECT match_id, as_of FROM oos_predictions WHERE league = ?", [league]
    ).df()
    as_of = own["match_id"].map(blocks.set_index("match_id")["as_of"])
    rows = own.assign(as_of=pd.to_datetime(as_of).fillna(own["match_date"]))
    days = [pd.Timestamp(block.params.as_of) for *_, block in fixtures]
    unplayed = pd.DataFrame(
        {
            "match_id": [f"fixture-{j}" for j in range(len(fixtures))],
            "league": league,
            "season": season,
            "match_date": days,
            "home_team_id": [home for _, _, home, _, _ in fixtures],
            "away_team_id": [away for _, _, _, away, _ in fixtures],
            "home_goals": np.nan,
            "away_goals": np.nan,
            "as_of": days,
        }
    )
    frame = pd.concat([rows.astype({"home_goals": float, "away_goals": float}), unplayed])
    probs = elo.walk_forward(frame.reset_index(drop=True))
    return probs.iloc[len(rows) :][["p_home", "p_draw", "p_away"]].to_numpy(float)
