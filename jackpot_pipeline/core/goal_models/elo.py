"""Elo ratings mapped to 1X2 by an ordered logit: a cheap, independent member.

Ratings (Elo 1978, as in penaltyblog's ``Elo``): before a match, the home side's expected
score is E = 1 / (1 + 10^((R_away − R_home − H)/400)); after it, R_home += K·(S − E) and
R_away −= K·(S − E) with S = 1, ½, 0 for a home win, draw, away win. Each team plays at most
once a day, so the pre-match ratings of a day's matches are the ratings after every earlier
day: a forecast never sees its own result. Each league is rated on its own. A club entering a
league season starts from the mean rating of the clubs that left the league after the
previous season (the relegated clubs it replaces; 1500 in the first season), so the league
mean stays put; ``carry_newcomers=False`` starts every unseen club at 1500 (penaltyblog's
convention, used by the oracle test).

1X2 (:class:`OrderedLogit`): with d = R_home + H − R_away and s = β·d/400,
P(away) = σ(c₁ − s), P(away or draw) = σ(c₂ − s), c₁ < c₂, fitted by maximum likelihood
(L-BFGS-B, analytic gradient) on earlier seasons only (:func:`walk_forward`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

INITIAL_RATING = 1500.0


@dataclass(frozen=True)
class EloConfig:
    """K factor and home advantage in rating points (penaltyblog's defaults)."""

    k: float = 20.0
    home_advantage: float = 100.0
    carry_newcomers: bool = True


def pre_match_differences(frame: pd.DataFrame, config: EloConfig = EloConfig()) -> np.ndarray:
    """d = R_home + H − R_away before each match of ``frame`` (row order kept).

    ``frame`` holds league, season, match_date, home_team_id, away_team_id, home_goals and
    away_goals. A row without goals (a fixture not played yet) gets the ratings after every
    earlier result and updates nothing: append a coupon's fixtures to the history to rate them.
    With an ``as_of`` column (≤ match_date), a row is rated with the ratings after every result
    dated strictly before its as_of instead (a forecast decided on that day).
    """
    out = np.empty(len(frame))
    for _, league in frame.groupby("league", sort=True):
        order = league.sort_values(["match_date"], kind="stable").index
        out[frame.index.get_indexer(order)] = _league_differences(frame.loc[order], config)
    return out


def _day(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]")


def _league_differences(league: pd.DataFrame, config: EloConfig) -> np.ndarray:
    day = _day(league["match_date"])
    as_of = _day(league["as_of"]) if "as_of" in league.columns else day
    pending = list(np.unique(as_of))  # decision days whose ratings are still to be frozen
    frozen: dict[np.datetime64, dict[str, float]] = {}
    home = league["home_team_id"].to_numpy(dtype=str)
    away = league["away_team_id"].to_numpy(dtype=str)
    margin = np.sign(
        league["home_goals"].to_numpy(dtype=float, na_value=np.nan)
        - league["away_goals"].to_numpy(dtype=float, na_value=np.nan)
    )
    season = league["season"].to_numpy(dtype=str)
    ratings: dict[str, float] = {}
    teams_of = {
        s: set(home[season == s]) | set(away[season == s]) for s in sorted(set(season.tolist()))
    }
    seasons = sorted(teams_of)
    entry = INITIAL_RATING
    current = None
    out = np.empty(len(league))
    for i, (h, a, m, s) in enumerate(zip(home, away, margin, season, strict=True)):
        while pending and pending[0] <= day[i]:  # every result before that day is in
            frozen[pending.pop(0)] = dict(ratings)
        if s != current:  # first match of a season: the clubs that left set the entry rating
            current, index = s, seasons.index(s)
            leaving = teams_of[seasons[index - 1]] - teams_of[s] if index else set()
            known = [ratings[t] for t in leaving if t in ratings]
            entry = float(np.mean(known)) if known and config.carry_newcomers else INITIAL_RATING
        r_home = ratings.setdefault(h, entry)
        r_away = ratings.setdefault(a, entry)
        rated = frozen[as_of[i]]
        out[i] = rated.get(h, entry) + config.home_advantage - rated.get(a, entry)
        diff = r_home + config.home_advantage - r_away
        if np.isnan(m):  # a fixture without a result (not played yet): no update
            continue
        expected = 1.0 / (1.0 + 10.0 ** (-diff / 400.0))
        change = config.k * ((m + 1) / 2.0 - expected)
        ratings[h] = r_home + change
        ratings[a] = r_away - change
    return out


@dataclass(frozen=True)
class OrderedLogit:
    """P(away) = σ(c₁ − β·d/400), P(away or draw) = σ(c₂ − β·d/400)."""

    beta: float
    cut_away: float
    cut_draw: float

    def predict(self, differences: np.ndarray) -> np.ndarray:
        """1X2 probabilities (n, 3) for rating differences d."""
        s = self.beta * np.asarray(differences, dtype=float) / 400.0
        away = expit(self.cut_away - s)
        not_home = expit(self.cut_draw - s)
        return np.column_stack([1.0 - not_home, not_home - away, away])


def ordered_logit_nll(
    params: np.ndarray, differences: np.ndarray, outcomes: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of (β, c₁, log(c₂ − c₁)) and its gradient.

    ``outcomes``: 0 home, 1 draw, 2 away. With F = σ: P(H) = 1 − F(c₂ − s),
    P(D) = F(c₂ − s) − F(c₁ − s), P(A) = F(c₁ − s); F' = F(1 − F).
    """
    beta, c1, log_gap = params
    c2 = c1 + np.exp(log_gap)
    u = differences / 400.0
    s = beta * u
    f1, f2 = expit(c1 - s), expit(c2 - s)
    d1, d2 = f1 * (1 - f1), f2 * (1 - f2)
    p = np.select([outcomes == 0, outcomes == 1], [1 - f2, f2 - f1], f1)
    # ∂p/∂c1, ∂p/∂c2 per outcome; ∂p/∂s = −(∂p/∂c1 + ∂p/∂c2)
    dp_c1 = np.select([outcomes == 0, outcomes == 1], [0.0 * d1, -d1], d1)
    dp_c2 = np.select([outcomes == 0, outcomes == 1], [-d2, d2], 0.0 * d2)
    weight = 1.0 / np.maximum(p, 1e-300)
    g_c1, g_c2 = -(weight * dp_c1).sum(), -(weight * dp_c2).sum()
    g_beta = ((weight * (dp_c1 + dp_c2)) * u).sum()
    grad = np.array([g_beta, g_c1 + g_c2, g_c2 * np.exp(log_gap)])
    return float(-np.log(np.maximum(p, 1e-300)).sum()), grad


def fit_ordered_logit(differences: np.ndarray, outcomes: np.ndarray) -> OrderedLogit:
    """Maximum-likelihood ordered logit of outcomes (0/1/2) on rating differences."""
    start = np.array([1.0, -1.0, np.log(1.2)])
    result = minimize(
        ordered_logit_nll,
        start,
        args=(np.asarray(differences, float), np.asarray(outcomes)),
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000},
    )
    beta, c1, log_gap = result.x
    return OrderedLogit(float(beta), float(c1), float(c1 + np.exp(log_gap)))


def walk_forward(frame: pd.DataFrame, config: EloConfig = EloConfig()) -> pd.DataFrame:
    """1X2 of every match of the seasons after the first: Elo differences before each match,
    mapped by an ordered logit fitted on all leagues' matches of the earlier seasons.

    Returns match_id, p_home, p_draw, p_away in ``frame`` row order (NaN for the first season).
    """
    differences = pre_match_differences(frame, config)
    outcomes = np.sign(frame["away_goals"].to_numpy() - frame["home_goals"].to_numpy()) + 1
    season = frame["season"].to_numpy(dtype=str)
    probs = np.full((len(frame), 3), np.nan)
    for s in sorted(set(season.tolist()))[1:]:
        train = season < s
        model = fit_ordered_logit(differences[train], outcomes[train])
        rows = season == s
        probs[rows] = model.predict(differences[rows])
    return pd.DataFrame(
        {
            "match_id": frame["match_id"].to_numpy(),
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
        }
    )
