"""Walk-forward out-of-sample forecasts of the rating members, on the Dixon-Coles splits.

Splits are those of :func:`jackpot_pipeline.core.walk_forward.walk_forward` (one league at a
time): each target season is cut into blocks of ``refit_days`` consecutive days from the first
not-yet-predicted match date d; every member is refitted as of d (matches strictly before d,
from the first match of the previous ``history_seasons`` seasons, started from moment values —
not from its previous fit — so a decision-time fit of the same block reproduces it to rounding)
and predicts the block; a block is predicted once ``min_train_matches`` matches of the
league precede it in the window. Every member sees the same blocks, so comparisons are paired.

A *linked* member (second-tier history) trains on the league and its partner divisions at
once (:mod:`.second_tier`); its window and blocks are still those of the target league.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import single_thread_blas
from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    Family,
    History,
    RatingPrior,
    RatingsFit,
    fit_ratings,
    training_set,
)
from jackpot_pipeline.core.walk_forward import WalkForwardConfig

DEFAULT_CONFIG = WalkForwardConfig()
FORECAST_COLUMNS = ("match_id", "member", "as_of", "p_home", "p_draw", "p_away", "unseen")


@dataclass(frozen=True)
class MemberSpec:
    """A rating member: its family, target (a key of the targets mapping), ξ per day and
    whether it trains on linked divisions."""

    name: str
    family: Family
    target: str
    xi: float
    linked: bool = False
    prior: RatingPrior = DEFAULT_RATING_PRIOR


def walk_forward_members(
    matches: pd.DataFrame,
    league: str,
    specs: Sequence[MemberSpec],
    targets: Mapping[str, tuple[str, str]],
    *,
    links: Sequence[str] = (),
    config: WalkForwardConfig = DEFAULT_CONFIG,
) -> pd.DataFrame:
    """OOS forecasts of every member for every predicted match of ``league``.

    ``matches`` holds the league's matches and those of its ``links`` (partner divisions)
    with the target columns; returns :data:`FORECAST_COLUMNS` rows (one per match and member).
    """
    own = matches[matches["league"] == league]
    linked = matches[matches["league"].isin([league, *links])]
    histories = {
        False: History.from_frame(own, dict(targets)),
        True: History.from_frame(linked, dict(targets)),
    }
    base = histories[False]
    division = {flag: h.divisions.index(league) for flag, h in histories.items()}
    ids = own.sort_values("match_date", kind="stable")["match_id"].to_numpy(dtype=str)
    teams = np.array(base.teams)
    parts: list[tuple[np.ndarray, str, int, np.ndarray, np.ndarray]] = []
    with single_thread_blas():
        for as_of, since, block in walk_blocks(base, config):
            for spec in specs:
                fit = fit_member(histories[spec.linked], spec, as_of, since)
                home, away = teams[base.home[block]], teams[base.away[block]]
                probs = fit.predict(home, away, division[spec.linked])
                unseen = fit.log_rates(home, away, division[spec.linked])[2]
                parts.append((ids[block], spec.name, as_of, probs, unseen))
    return _frame(parts)


def fit_member(
    history: History,
    spec: MemberSpec,
    as_of_day: int,
    since_day: int | None = None,
    init: RatingsFit | None = None,
) -> RatingsFit:
    """A member fitted as of a day (days since 1970-01-01): matches since ≤ day < as_of.

    The decision-time path: build ``history`` with :meth:`History.from_frame` from the
    league's matches (and its partner divisions for a linked member) with the member's target
    columns, then call ``fit.predict(home_ids, away_ids, history.divisions.index(league))``.
    """
    data = training_set(history, spec.target, as_of_day, xi=spec.xi, since_day=since_day)
    return fit_ratings(data, spec.family, spec.prior, init)


def walk_blocks(
    history: History, config: WalkForwardConfig
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(as_of day, since day, match indices) of every predicted block, as in the DC walk."""
    for season in np.unique(history.season):
        since = history.day[history.season >= season - config.history_seasons].min()
        in_season = np.flatnonzero(history.season == season)
        start = 0
        while start < len(in_season):
            as_of = int(history.day[in_season[start]])
            stop = np.searchsorted(history.day[in_season], as_of + config.refit_days)
            block = in_season[start:stop]
            start = stop
            n_train = int(((history.day >= since) & (history.day < as_of)).sum())
            if n_train >= config.min_train_matches:
                yield as_of, int(since), block


def _frame(parts: list[tuple[np.ndarray, str, int, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One frame of :data:`FORECAST_COLUMNS` from the blocks' (ids, member, as_of, probs,
    unseen)."""
    if not parts:
        return pd.DataFrame(columns=list(FORECAST_COLUMNS))
    sizes = [len(p[0]) for p in parts]
    probs = np.vstack([p[3] for p in parts])
    return pd.DataFrame(
        {
            "match_id": np.concatenate([p[0] for p in parts]),
            "member": np.repeat([p[1] for p in parts], sizes),
            "as_of": np.repeat([p[2] for p in parts], sizes).astype("datetime64[D]"),
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
            "unseen": np.concatenate([p[4] for p in parts]),
        }
    )
