"""Weighted Dixon-Coles (1997) goal model: fit as of a date, predict score grids and markets.

Model, per match (λ home and μ away scoring rate, goals per match)::

    log λ = attack[home] + defence[away] + home_advantage
    log μ = attack[away] + defence[home]
    P(x, y) = τ(x, y) · Pois(x; λ) · Pois(y; μ)
    τ(0,0) = 1 − λμρ,  τ(0,1) = 1 + λρ,  τ(1,0) = 1 + μρ,  τ(1,1) = 1 − ρ,  τ = 1 otherwise.

* Identifiability: attacks sum to zero. The optimizer works on free attacks and the objective
  centres them (a ↦ a − mean(a)), which keeps the fit symmetric in the teams.
* Time decay: a match played d ≥ 1 days before the as-of date has weight exp(−ξ·d); matches on
  or after the as-of date have weight 0, so a fit "as of" a date sees only earlier results.
* ρ stays where every τ is positive for every training match: L-BFGS-B keeps ρ in the box
  max(−1/λ, −1/μ) < ρ < min(1, 1/(λμ)) over the training matches' λ, μ; the box is recomputed
  from the fitted rates and the fit repeated (warm) until the fitted ρ lies inside it.
* Prior (:class:`TeamPrior`): a Gaussian (ridge) penalty ``precision/2 · Σ (attack − m_a)² +
  (defence − mean(defence) − m_d)²`` pulls every team towards the league average (m = 0) and
  teams *new to the league* towards the promoted-team average (m_a = −0.23, m_d = +0.18). A team
  is new when it plays in the latest training season but not in the season before it. With one
  match worth ≈ λ ≈ 1.4 units of Fisher information, precision 2 weighs like 1-2 matches: the
  data dominate after a few matchdays and a team without results keeps the prior mean.
* A fixture team the fit has never seen is predicted with the promoted-team average
  (``fallback_attack``/``fallback_defence``) and flagged in :class:`MatchPredictions`.
* Prediction: score grid 0..G per side, G ≥ ``max_goals`` raised until the mass beyond G is
  below ``tail_tol``; the truncated mass 1 − F_λ(G)·F_μ(G) is reported per fixture (the τ
  corrections sum to zero, so it is exact).

Everything is deterministic: inputs are put in a canonical order (date, match_id), BLAS runs on
one thread and the optimizer has no randomness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, pdtrc
from threadpoolctl import ThreadpoolController

from jackpot_pipeline.settings import Settings

DEFAULTS = Settings()
MODEL_VERSION = "dc1"
MATCH_COLUMNS: tuple[str, ...] = (
    "match_id",
    "league",
    "season",
    "match_date",
    "home_team_id",
    "away_team_id",
    "home_goals",
    "away_goals",
)
TAU_FLOOR = 1e-9  # below this τ, log τ is continued by its Taylor expansion (trial points only)
RHO_MARGIN = 1e-4  # the ρ box is shrunk by this fraction so every τ stays ≥ ~1e-4
MAX_BOX_UPDATES = 5
GRID_TAIL_TOL = 1e-10
LBFGS_OPTIONS: dict[str, float | int] = {"maxiter": 2000, "maxcor": 20, "ftol": 1e-14, "gtol": 1e-7}

DateLike = date | str | pd.Timestamp | np.datetime64


def to_day(value: DateLike) -> int:
    """Calendar date as days since 1970-01-01 (times of day are dropped)."""
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


@cache
def _blas() -> ThreadpoolController:
    """Controller of the loaded BLAS pools (scanned once; limiting through it costs ~10 µs)."""
    return ThreadpoolController()


def single_thread_blas() -> AbstractContextManager:
    """Context manager pinning BLAS to one thread (tiny optimizer steps thrash with more)."""
    return _blas().limit(limits=1)


@dataclass(frozen=True)
class TeamPrior:
    """Gaussian prior on team strengths (log-rate units); precision 0 gives the plain MLE."""

    precision: float = 2.0
    newcomer_attack: float = -0.23
    newcomer_defence: float = 0.18


NO_PRIOR = TeamPrior(precision=0.0)


@dataclass(frozen=True, eq=False)
class MatchData:
    """Matches in canonical order (match_date, match_id) as integer arrays.

    ``home``/``away`` index ``teams`` (sorted ids), ``season`` indexes ``seasons`` (sorted labels),
    ``day`` is the match date in days since 1970-01-01.
    """

    match_ids: np.ndarray
    teams: tuple[str, ...]
    seasons: tuple[str, ...]
    home: np.ndarray
    away: np.ndarray
    home_goals: np.ndarray
    away_goals: np.ndarray
    day: np.ndarray
    season: np.ndarray

    @classmethod
    def from_frame(cls, matches: pd.DataFrame) -> MatchData:
        """Validate and index a frame with the columns of :data:`MATCH_COLUMNS`."""
        missing = [c for c in MATCH_COLUMNS if c not in matches.columns]
        if missing:
            raise ValueError(f"matches lack columns: {', '.join(missing)}")
        frame = sort_matches(matches)
        if frame["match_id"].duplicated().any():
            raise ValueError("duplicate match_id")
        goals = frame[["home_goals", "away_goals"]].to_numpy(dtype=np.int64)
        if (goals < 0).any():
            raise ValueError("negative goals")
        teams, codes = np.unique(
            np.concatenate([frame["home_team_id"], frame["away_team_id"]]).astype(str),
            return_inverse=True,
        )
        seasons, season = np.unique(frame["season"].to_numpy(dtype=str), return_inverse=True)
        n = len(frame)
        return cls(
            match_ids=frame["match_id"].to_numpy(dtype=str),
            teams=tuple(teams.tolist()),
            seasons=tuple(seasons.tolist()),
            home=codes[:n],
            away=codes[n:],
            home_goals=goals[:, 0],
            away_goals=goals[:, 1],
            day=frame["match_date"].to_numpy().astype("datetime64[D]").astype(np.int64),
            season=season,
        )


def sort_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """Canonical order (match_date, match_id) with a fresh index: row order never matters."""
    return matches.sort_values(["match_date", "match_id"], kind="stable").reset_index(drop=True)


def as_match_data(matches: pd.DataFrame | MatchData) -> MatchData:
    """``matches`` itself or indexed from a frame."""
    return matches if isinstance(matches, MatchData) else MatchData.from_frame(matches)


@dataclass(frozen=True, eq=False)
class DixonColesParams:
    """A fitted model: team strengths (log-rate units) aligned with ``teams``, and fit metadata.

    ``log_likelihood`` is the time-weighted log-likelihood of the training matches, prior
    excluded (log factorials included, as in penaltyblog); ``newcomers`` got the promoted prior.
    """

    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    home_advantage: float
    rho: float
    xi: float
    as_of: date
    n_matches: int
    log_likelihood: float
    converged: bool
    iterations: int
    prior: TeamPrior
    newcomers: tuple[str, ...]

    @property
    def fallback_attack(self) -> float:
        """Attack given to a team never seen in training: the promoted-team average."""
        return self.prior.newcomer_attack

    @property
    def fallback_defence(self) -> float:
        """Defence given to a team never seen in training: the promoted-team average."""
        return float(self.defence.mean()) + self.prior.newcomer_defence

    @property
    def params_hash(self) -> str:
        """Short SHA-256 of teams, strengths, ρ, home advantage, ξ and as-of date."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.teams).encode())
        digest.update(np.concatenate([self.attack, self.defence]).tobytes())
        digest.update(np.array([self.home_advantage, self.rho, self.xi]).tobytes())
        digest.update(self.as_of.isoformat().encode())
        return digest.hexdigest()[:16]

    @property
    def version(self) -> str:
        """Model version tag: ``dc1-<params hash>``."""
        return f"{MODEL_VERSION}-{self.params_hash}"


def _log_tau(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log τ and d(log τ)/dτ; below TAU_FLOOR continued by the 2nd-order Taylor expansion.

    The continuation keeps trial points of the line search outside the feasible region finite
    (and very unlikely) instead of NaN; fitted parameters never use it (see ``_rho_box``).
    """
    safe = np.maximum(tau, TAU_FLOOR)
    z = (tau - safe) / safe
    return np.log(safe) + z - 0.5 * z * z, (1.0 - z) / safe


@dataclass(frozen=True, eq=False)
class DixonColesProblem:
    """Weighted negative log-posterior of one fit, aggregated by (home, away) pair.

    θ = [attack (n), defence (n), home_advantage, ρ]. Per pair p the sufficient statistics are
    w = Σ weights, wx/wy = Σ weight·goals and w00/w01/w10 = Σ weight over 0-0/0-1/1-0 results;
    w11 sums the 1-1 weights (τ(1,1) is the same for every pair).
    """

    teams: tuple[str, ...]
    newcomers: tuple[str, ...]
    pair_home: np.ndarray
    pair_away: np.ndarray
    w: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    w00: np.ndarray
    w01: np.ndarray
    w10: np.ndarray
    w11: float
    log_factorials: float
    mean_away_goals: float
    prior_attack: np.ndarray
    prior_defence: np.ndarray
    prior: TeamPrior
    xi: float
    as_of: date
    n_matches: int

    @property
    def n_teams(self) -> int:
        return len(self.teams)

    def log_rates(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log λ and log μ of every pair."""
        n = self.n_teams
        attack = theta[:n] - theta[:n].mean()
        defence = theta[n : 2 * n]
        eta_home = attack[self.pair_home] + defence[self.pair_away] + theta[2 * n]
        eta_away = attack[self.pair_away] + defence[self.pair_home]
        return eta_home, eta_away

    def log_likelihood(self, theta: np.ndarray) -> float:
        """Weighted log-likelihood at θ (no prior)."""
        return -self._evaluate(theta, with_gradient=False)[0]

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-posterior and its analytic gradient in θ."""
        value, gradient = self._evaluate(theta, with_gradient=True)
        n = self.n_teams
        attack = theta[:n] - theta[:n].mean()
        defence = theta[n : 2 * n] - theta[n : 2 * n].mean()
        res_attack = attack - self.prior_attack
        res_defence = defence - self.prior_defence
        precision = self.prior.precision
        value += 0.5 * precision * (res_attack @ res_attack + res_defence @ res_defence)
        gradient[:n] += precision * res_attack
        gradient[:n] -= gradient[:n].mean()  # chain rule through the centring of attacks
        gradient[n : 2 * n] += precision * (res_defence - res_defence.mean())
        return value, gradient

    def _evaluate(self, theta: np.ndarray, with_gradient: bool) -> tuple[float, np.ndarray]:
        """−log-likelihood and (optionally) its gradient, vectorized over pairs."""
        n = self.n_teams
        rho = theta[2 * n + 1]
        eta_home, eta_away = self.log_rates(theta)
        lam, mu = np.exp(eta_home), np.exp(eta_away)
        lam_mu = lam * mu
        log00, dlog00 = _log_tau(1.0 - lam_mu * rho)
        log01, dlog01 = _log_tau(1.0 + lam * rho)
        log10, dlog10 = _log_tau(1.0 + mu * rho)
        log11, dlog11 = _log_tau(np.array([1.0 - rho]))
        ll = (
            self.wx @ eta_home
            + self.wy @ eta_away
            - self.w @ (lam + mu)
            + self.w00 @ log00
            + self.w01 @ log01
            + self.w10 @ log10
            + self.w11 * log11[0]
            - self.log_factorials
        )
        if not with_gradient:
            return -float(ll), np.empty(0)
        c00, c01, c10 = self.w00 * dlog00, self.w01 * dlog01, self.w10 * dlog10
        g_home = self.wx - self.w * lam - c00 * lam_mu * rho + c01 * lam * rho
        g_away = self.wy - self.w * mu - c00 * lam_mu * rho + c10 * mu * rho
        g_rho = -(c00 @ lam_mu) + c01 @ lam + c10 @ mu - self.w11 * dlog11[0]
        h, a = self.pair_home, self.pair_away
        gradient = np.concatenate(
            [
                np.bincount(h, g_home, n) + np.bincount(a, g_away, n),
                np.bincount(a, g_home, n) + np.bincount(h, g_away, n),
                [g_home.sum(), g_rho],
            ]
        )
        return -float(ll), -gradient

    def theta_from(self, params: DixonColesParams | None) -> np.ndarray:
        """Start point: ``params`` where they know the team, else the prior mean.

        Without ``params``: attack = prior mean, defence = log(mean away goals) + prior mean,
        home advantage and ρ from the settings defaults.
        """
        if params is None:
            return np.concatenate(
                [
                    self.prior_attack,
                    np.log(self.mean_away_goals) + self.prior_defence,
                    [DEFAULTS.home_advantage, DEFAULTS.rho],
                ]
            )
        known = {team: i for i, team in enumerate(params.teams)}
        idx = np.array([known.get(team, -1) for team in self.teams])
        seen = idx >= 0
        attack = np.where(seen, params.attack[idx], self.prior_attack)
        defence = np.where(seen, params.defence[idx], params.defence.mean() + self.prior_defence)
        return np.concatenate([attack, defence, [params.home_advantage, params.rho]])


def build_problem(
    matches: pd.DataFrame | MatchData,
    as_of: DateLike,
    *,
    xi: float = DEFAULTS.xi,
    since: DateLike | None = None,
    prior: TeamPrior = TeamPrior(),
) -> DixonColesProblem:
    """The fit's objective on matches with ``since`` ≤ date < ``as_of``, weights exp(−ξ·days)."""
    data = as_match_data(matches)
    end = to_day(as_of)
    keep = data.day < end
    if since is not None:
        keep &= data.day >= to_day(since)
    if not keep.any():
        raise ValueError(f"no matches before {as_of} to fit on")
    used, inverse = np.unique(
        np.concatenate([data.home[keep], data.away[keep]]), return_inverse=True
    )
    n_kept = int(keep.sum())
    home, away = inverse[:n_kept], inverse[n_kept:]
    x, y = data.home_goals[keep], data.away_goals[keep]
    weight = np.exp(-xi * (end - data.day[keep]))
    pair, pair_index = np.unique(home * len(used) + away, return_inverse=True)

    def per_pair(values: np.ndarray) -> np.ndarray:
        return np.bincount(pair_index, values, len(pair))

    teams = tuple(data.teams[i] for i in used)
    newcomers = _newcomers(data.season[keep], home, away, len(used))
    prior_attack = np.where(newcomers, prior.newcomer_attack, 0.0)
    prior_defence = np.where(newcomers, prior.newcomer_defence, 0.0)
    return DixonColesProblem(
        teams=teams,
        newcomers=tuple(t for t, new in zip(teams, newcomers, strict=True) if new),
        pair_home=pair // len(used),
        pair_away=pair % len(used),
        w=per_pair(weight),
        wx=per_pair(weight * x),
        wy=per_pair(weight * y),
        w00=per_pair(weight * ((x == 0) & (y == 0))),
        w01=per_pair(weight * ((x == 0) & (y == 1))),
        w10=per_pair(weight * ((x == 1) & (y == 0))),
        w11=float(weight @ ((x == 1) & (y == 1))),
        log_factorials=float(weight @ (gammaln(x + 1.0) + gammaln(y + 1.0))),
        mean_away_goals=max(float(weight @ y / weight.sum()), 0.1),
        prior_attack=prior_attack,
        prior_defence=prior_defence,
        prior=prior,
        xi=xi,
        as_of=pd.Timestamp(as_of).date(),
        n_matches=n_kept,
    )


def _newcomers(season: np.ndarray, home: np.ndarray, away: np.ndarray, n: int) -> np.ndarray:
    """Teams playing in the latest season of the data but not in the season before it."""
    latest = season.max()
    earlier = season[season < latest]
    if earlier.size == 0:
        return np.zeros(n, dtype=bool)
    previous = earlier.max()

    def plays_in(s: int) -> np.ndarray:
        mask = season == s
        return np.bincount(np.concatenate([home[mask], away[mask]]), minlength=n) > 0

    return plays_in(latest) & ~plays_in(previous)


def rho_bounds(lam: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Open interval of ρ with every τ > 0 for these rates: max(−1/λ, −1/μ) < ρ < min(1, 1/λμ)."""
    return -1.0 / max(lam.max(), mu.max()), min(1.0, 1.0 / (lam * mu).max())


def _rho_box(problem: DixonColesProblem, theta: np.ndarray) -> tuple[float, float]:
    """:func:`rho_bounds` at θ, shrunk by RHO_MARGIN."""
    eta_home, eta_away = problem.log_rates(theta)
    low, high = rho_bounds(np.exp(eta_home), np.exp(eta_away))
    return low * (1.0 - RHO_MARGIN), high * (1.0 - RHO_MARGIN)


def fit(
    matches: pd.DataFrame | MatchData,
    as_of: DateLike,
    *,
    xi: float = DEFAULTS.xi,
    since: DateLike | None = None,
    prior: TeamPrior = TeamPrior(),
    init: DixonColesParams | None = None,
) -> DixonColesParams:
    """Fit on matches with ``since`` ≤ date < ``as_of`` (weights exp(−ξ·days before as_of)).

    L-BFGS-B on the analytic gradient with one BLAS thread, started from ``init`` (warm start,
    matched by team id) or from the prior means.
    """
    problem = build_problem(matches, as_of, xi=xi, since=since, prior=prior)
    return solve(problem, problem.theta_from(init))


def solve(problem: DixonColesProblem, theta: np.ndarray) -> DixonColesParams:
    """Minimize the problem from θ, refreshing the ρ box until the fitted ρ lies inside it.

    If the box has not settled after MAX_BOX_UPDATES fits, ρ is clipped into the last box
    (every τ stays positive) and ``converged`` is False.
    """
    n = problem.n_teams
    iterations = 0
    with single_thread_blas():
        theta = np.array(theta, dtype=np.float64)
        box = _rho_box(problem, theta)
        for _ in range(MAX_BOX_UPDATES):
            theta[-1] = np.clip(theta[-1], *box)
            result = minimize(
                problem.value_and_gradient,
                theta,
                jac=True,
                method="L-BFGS-B",
                bounds=[(None, None)] * (2 * n + 1) + [box],
                options=LBFGS_OPTIONS,
            )
            theta, iterations = result.x.copy(), iterations + result.nit
            box = _rho_box(problem, theta)
            inside = box[0] <= theta[-1] <= box[1]
            if inside:
                break
        theta[-1] = np.clip(theta[-1], *box)  # feasible even if the box never settled
        log_likelihood = problem.log_likelihood(theta)
    attack = theta[:n] - theta[:n].mean()
    return DixonColesParams(
        teams=problem.teams,
        attack=_frozen(attack),
        defence=_frozen(theta[n : 2 * n]),
        home_advantage=float(theta[2 * n]),
        rho=float(theta[2 * n + 1]),
        xi=problem.xi,
        as_of=problem.as_of,
        n_matches=problem.n_matches,
        log_likelihood=log_likelihood,
        converged=bool(result.success and inside),
        iterations=iterations,
        prior=problem.prior,
        newcomers=problem.newcomers,
    )


def _frozen(values: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class MatchPredictions:
    """Score grids of many fixtures: ``grid[i, x, y]`` = P(home scores x, away scores y).

    ``truncated_mass`` is the probability beyond the grid (0..G per side); ``*_fallback`` flag
    teams the model never saw, predicted with the promoted-team average.
    """

    home_team_ids: tuple[str, ...]
    away_team_ids: tuple[str, ...]
    lambda_home: np.ndarray
    lambda_away: np.ndarray
    grid: np.ndarray
    truncated_mass: np.ndarray
    home_fallback: np.ndarray
    away_fallback: np.ndarray

    @property
    def _margin(self) -> np.ndarray:
        """x − y over the grid."""
        goals = np.arange(self.grid.shape[1])
        return np.subtract.outer(goals, goals)

    @property
    def _total(self) -> np.ndarray:
        """x + y over the grid."""
        goals = np.arange(self.grid.shape[1])
        return np.add.outer(goals, goals)

    def _sum_where(self, mask: np.ndarray) -> np.ndarray:
        return (self.grid * mask).sum(axis=(1, 2))

    @property
    def p_home(self) -> np.ndarray:
        """P(x > y)."""
        return self._sum_where(self._margin > 0)

    @property
    def p_draw(self) -> np.ndarray:
        """P(x = y)."""
        return self._sum_where(self._margin == 0)

    @property
    def p_away(self) -> np.ndarray:
        """P(x < y)."""
        return self._sum_where(self._margin < 0)

    @property
    def btts(self) -> np.ndarray:
        """P(both teams score) = P(x ≥ 1, y ≥ 1)."""
        return self.grid[:, 1:, 1:].sum(axis=(1, 2))

    def over(self, line: float) -> np.ndarray:
        """P(x + y > line); for a whole-number line the rest splits into under and push."""
        return self._sum_where(self._total > line)

    def under(self, line: float) -> np.ndarray:
        """P(x + y < line)."""
        return self._sum_where(self._total < line)

    @property
    def expected_goals_home(self) -> np.ndarray:
        """Σ x·P(x, y) over the grid (= λ up to the truncated mass)."""
        return self.grid.sum(axis=2) @ np.arange(self.grid.shape[1])

    @property
    def expected_goals_away(self) -> np.ndarray:
        """Σ y·P(x, y) over the grid (= μ up to the truncated mass)."""
        return self.grid.sum(axis=1) @ np.arange(self.grid.shape[1])

    @property
    def most_likely_score(self) -> np.ndarray:
        """(home, away) goals of the most likely score, shape (n, 2)."""
        flat = self.grid.reshape(len(self.grid), -1).argmax(axis=1)
        return np.stack(np.unravel_index(flat, self.grid.shape[1:]), axis=1)

    def to_frame(self, lines: Sequence[float] = (2.5,)) -> pd.DataFrame:
        """One row per fixture: rates, 1X2, over/under per line, BTTS, xG, top score, flags."""
        top = self.most_likely_score
        columns: dict[str, object] = {
            "home_team_id": self.home_team_ids,
            "away_team_id": self.away_team_ids,
            "lambda_home": self.lambda_home,
            "lambda_away": self.lambda_away,
            "p_home": self.p_home,
            "p_draw": self.p_draw,
            "p_away": self.p_away,
        }
        for line in lines:
            columns[f"p_over_{line:g}"] = self.over(line)
            columns[f"p_under_{line:g}"] = self.under(line)
        columns |= {
            "p_btts": self.btts,
            "xg_home": self.expected_goals_home,
            "xg_away": self.expected_goals_away,
            "likely_home_goals": top[:, 0],
            "likely_away_goals": top[:, 1],
            "truncated_mass": self.truncated_mass,
            "home_fallback": self.home_fallback,
            "away_fallback": self.away_fallback,
        }
        return pd.DataFrame(columns)


def grid_size(
    max_rate: float, max_goals: int = DEFAULTS.max_goals, tail_tol: float = GRID_TAIL_TOL
) -> int:
    """Smallest G ≥ max_goals with P(Pois(max_rate) > G) < tail_tol."""
    goals = max_goals
    while pdtrc(goals, max_rate) >= tail_tol:
        goals += 1
    return goals


def score_grid(lam: np.ndarray, mu: np.ndarray, rho: float, max_goals: int) -> np.ndarray:
    """Dixon-Coles grids P(x, y), x, y = 0..max_goals, shape (n, G+1, G+1).

    τ is clipped at 0 for fixtures whose rates lie outside the fit's ρ region (never negative).
    """
    goals = np.arange(max_goals + 1)
    log_factorial = gammaln(goals + 1.0)
    home = np.exp(np.outer(np.log(lam), goals) - lam[:, None] - log_factorial)
    away = np.exp(np.outer(np.log(mu), goals) - mu[:, None] - log_factorial)
    grid = home[:, :, None] * away[:, None, :]
    grid[:, 0, 0] *= np.maximum(1.0 - lam * mu * rho, 0.0)
    grid[:, 0, 1] *= np.maximum(1.0 + lam * rho, 0.0)
    grid[:, 1, 0] *= np.maximum(1.0 + mu * rho, 0.0)
    grid[:, 1, 1] *= max(1.0 - rho, 0.0)
    return grid


def predict(
    params: DixonColesParams,
    home_team_ids: Sequence[str],
    away_team_ids: Sequence[str],
    *,
    max_goals: int = DEFAULTS.max_goals,
    tail_tol: float = GRID_TAIL_TOL,
) -> MatchPredictions:
    """Score grids and market probabilities for fixtures (vectorized)."""
    index = {team: i for i, team in enumerate(params.teams)}
    home_idx = np.array([index.get(t, -1) for t in home_team_ids], dtype=np.int64)
    away_idx = np.array([index.get(t, -1) for t in away_team_ids], dtype=np.int64)
    if len(home_idx) != len(away_idx):
        raise ValueError("home and away team lists differ in length")
    attack = np.append(params.attack, params.fallback_attack)
    defence = np.append(params.defence, params.fallback_defence)
    lam = np.exp(attack[home_idx] + defence[away_idx] + params.home_advantage)
    mu = np.exp(attack[away_idx] + defence[home_idx])
    goals = grid_size(max(lam.max(initial=0.0), mu.max(initial=0.0)), max_goals, tail_tol)
    tail_home, tail_away = pdtrc(goals, lam), pdtrc(goals, mu)
    return MatchPredictions(
        home_team_ids=tuple(home_team_ids),
        away_team_ids=tuple(away_team_ids),
        lambda_home=_frozen(lam),
        lambda_away=_frozen(mu),
        grid=_frozen(score_grid(lam, mu, params.rho, goals)),
        truncated_mass=_frozen(tail_home + tail_away - tail_home * tail_away),
        home_fallback=home_idx < 0,
        away_fallback=away_idx < 0,
    )
