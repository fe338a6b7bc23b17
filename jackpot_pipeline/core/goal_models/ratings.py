"""Shared fit of log-linear team ratings under any goal distribution (the members' engine).

Per training match m (home team h, away team a, division v)::

    η_home = attack[h] + defence[a] + home_advantage[v]      (log of the home rate)
    η_away = attack[a] + defence[h]                          (log of the away rate)

and the targets (x, y) follow a :class:`Family` (Poisson, negative binomial, bivariate
Poisson, …) with shared shape parameters. Targets may be real-valued (quasi-likelihood): an
expected-goals proxy or market-implied expected goals are fitted by the same code as goals.

Objective (minimized, θ = [attack, defence, home_advantage, γ_attack, γ_defence, δ, shape])::

    Σ_m w_m · nll(x_m, y_m | η_home, η_away, shape)
    + precision/2 · Σ_i (attack_i − γa[v_i] − δa·new_i)² + (defence_i − γd[v_i] − δd·new_i)²
    + κ₀/2 · (‖γa‖² + ‖γd‖²) + κ_δ/2 · ‖δ − δ₀‖² + ½(Σ attack)²

* w_m = exp(−ξ·days before as_of) for matches since ≤ date < as_of, else 0 (never the future).
* The prior pulls each team towards its group centre: its division's mean (γ, nearly flat
  hyper-prior κ₀) plus, for a team new to the data's latest season (``new_i``), the newcomer
  offset δ (hyper-prior centred on the promoted-team average δ₀ = (−0.2, +0.15) of
  :data:`jackpot_pipeline.core.dixon_coles.DEFAULT_PRIOR`, precision κ_δ). δ is learned from the
  newcomers' own results; a team the fit never saw is predicted at its division's newcomer
  centre γ + δ.
* ½(Σ attack)² fixes the flat direction (attack + c, defence − c) of the likelihood.
* Precision 0 with κ₀ = κ_δ = 0 is the plain maximum likelihood of penaltyblog's models (the
  oracle of the tests).
* Minimized by L-BFGS-B with the analytic gradient (per-match derivatives in (η_home,
  η_away, shape) scattered onto θ by ``np.bincount``); warm start from an earlier fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from jackpot_pipeline.core.dixon_coles import DEFAULT_PRIOR, grid_size, single_thread_blas

MAX_GOALS = 10
LBFGS_OPTIONS = {"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7}
NEWTON_MAX_ITER = 100
NEWTON_TOL = 1e-10


class Family(Protocol):
    """A goal distribution for (x, y) given log-rates (η_home, η_away) and shape parameters."""

    name: str
    shape_init: tuple[float, ...]
    shape_bounds: tuple[tuple[float, float], ...]

    def nll(
        self, eta_h: np.ndarray, eta_a: np.ndarray, shape: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per match: negative log-likelihood, its derivative in η_home, in η_away, and in each
        shape parameter (array (k, n))."""
        ...

    def grid(
        self, lam: np.ndarray, mu: np.ndarray, shape: np.ndarray, max_goals: int
    ) -> np.ndarray:
        """Score grids P(x, y), x, y = 0..max_goals, shape (n, G+1, G+1)."""
        ...


@dataclass(frozen=True)
class RatingPrior:
    """Team prior (see module docstring); :data:`NO_RATING_PRIOR` is the plain MLE."""

    precision: float = DEFAULT_PRIOR.precision
    division_precision: float = 0.01
    newcomer_precision: float = 25.0
    newcomer_attack: float = DEFAULT_PRIOR.newcomer_attack
    newcomer_defence: float = DEFAULT_PRIOR.newcomer_defence


DEFAULT_RATING_PRIOR = RatingPrior()
NO_RATING_PRIOR = RatingPrior(precision=0.0, division_precision=0.0, newcomer_precision=0.0)


@dataclass(frozen=True, eq=False)
class History:
    """Matches in date order as arrays, indexed once for many fits.

    ``home``/``away`` index ``teams``; ``division`` indexes ``divisions`` (0 for one league);
    ``season`` is an ordinal (any increasing integer per season); ``day`` days since 1970-01-01;
    ``targets`` maps a name to an (n, 2) array of home/away targets (NaN = not available).
    """

    teams: tuple[str, ...]
    divisions: tuple[str, ...]
    home: np.ndarray
    away: np.ndarray
    division: np.ndarray
    season: np.ndarray
    day: np.ndarray
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, targets: dict[str, tuple[str, str]], division_col: str = "league"
    ) -> History:
        """Index a frame with match_date, season, home_team_id, away_team_id, ``division_col``
        and the target columns (``targets`` maps a name to its (home, away) columns)."""
        day = frame["match_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.argsort(day, kind="stable")
        sides = np.concatenate(
            [frame[c].to_numpy(dtype=str)[order] for c in ("home_team_id", "away_team_id")]
        )
        codes, teams = pd.factorize(sides, sort=True)
        division, divisions = pd.factorize(
            frame[division_col].to_numpy(dtype=str)[order], sort=True
        )
        season = pd.factorize(frame["season"].to_numpy(dtype=str)[order], sort=True)[0]
        n = len(frame)
        return cls(
            teams=tuple(map(str, teams)),
            divisions=tuple(map(str, divisions)),
            home=codes[:n],
            away=codes[n:],
            division=division,
            season=season,
            day=day[order],
            targets={
                name: np.column_stack(
                    [frame[h].to_numpy(dtype=float)[order], frame[a].to_numpy(dtype=float)[order]]
                )
                for name, (h, a) in targets.items()
            },
        )


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """The weighted training matches of one fit, teams re-indexed to those present."""

    teams: tuple[str, ...]
    n_divisions: int
    home: np.ndarray
    away: np.ndarray
    division: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    team_division: np.ndarray
    newcomer: np.ndarray
    as_of: date


def training_set(
    history: History, target: str, as_of_day: int, *, xi: float, since_day: int | None = None
) -> TrainingSet:
    """Matches with since ≤ day < as_of and both targets known, weighted exp(−ξ·(as_of − day)).

    A team's division is that of its latest training match; it is a newcomer if it plays in
    the latest training season but in no division of the season before it.
    """
    xy = history.targets[target]
    keep = (history.day < as_of_day) & np.isfinite(xy).all(axis=1)
    if since_day is not None:
        keep &= history.day >= since_day
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise ValueError("no training matches before the as-of date")
    used, local = np.unique(
        np.concatenate([history.home[idx], history.away[idx]]), return_inverse=True
    )
    n, m = len(used), len(idx)
    home, away = local[:m], local[m:]
    division = history.division[idx]
    team_division = np.zeros(n, dtype=np.int64)
    team_division[home] = division  # later matches overwrite earlier ones (date order)
    team_division[away] = division
    season = history.season[idx]
    latest = season.max()

    def plays_in(s: int) -> np.ndarray:
        mask = season == s
        return np.bincount(np.concatenate([home[mask], away[mask]]), minlength=n) > 0

    previous = season[season < latest]
    newcomer = (
        plays_in(latest) & ~plays_in(previous.max()) if previous.size else np.zeros(n, dtype=bool)
    )
    return TrainingSet(
        teams=tuple(history.teams[i] for i in used),
        n_divisions=len(history.divisions),
        home=home,
        away=away,
        division=division,
        x=xy[idx, 0],
        y=xy[idx, 1],
        weight=np.exp(-xi * (as_of_day - history.day[idx])),
        team_division=team_division,
        newcomer=newcomer,
        as_of=pd.Timestamp(np.datetime64(int(as_of_day), "D")).date(),
    )


@dataclass(frozen=True, eq=False)
class RatingsFit:
    """A fitted rating model: strengths aligned with ``teams``, per-division home advantage
    and newcomer centre (``fallback_*``, for teams never seen), the family's shape."""

    family: Family
    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    home_advantage: np.ndarray
    fallback_attack: np.ndarray
    fallback_defence: np.ndarray
    shape: np.ndarray
    as_of: date
    n_matches: int
    objective: float
    log_likelihood: float
    converged: bool
    theta: np.ndarray

    def log_rates(
        self, home_ids: np.ndarray, away_ids: np.ndarray, division: int | np.ndarray = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(η_home, η_away, unseen) per fixture; unseen flags a side the fit never saw."""
        index = {team: i for i, team in enumerate(self.teams)}
        h = np.array([index.get(t, -1) for t in home_ids], dtype=np.int64)
        a = np.array([index.get(t, -1) for t in away_ids], dtype=np.int64)
        div = np.broadcast_to(np.asarray(division, dtype=np.int64), h.shape)
        attack_h = np.where(h >= 0, self.attack[h], self.fallback_attack[div])
        attack_a = np.where(a >= 0, self.attack[a], self.fallback_attack[div])
        defence_h = np.where(h >= 0, self.defence[h], self.fallback_defence[div])
        defence_a = np.where(a >= 0, self.defence[a], self.fallback_defence[div])
        eta_h = attack_h + defence_a + self.home_advantage[div]
        return eta_h, attack_a + defence_h, (h < 0) | (a < 0)

    def grid(
        self, home_ids: np.ndarray, away_ids: np.ndarray, division: int | np.ndarray = 0
    ) -> np.ndarray:
        """Score grids (n, G+1, G+1), G ≥ 10 raised until the rates' tails are < 1e-10."""
        eta_h, eta_a, _ = self.log_rates(home_ids, away_ids, division)
        lam, mu = np.exp(eta_h), np.exp(eta_a)
        goals = grid_size(max(lam.max(initial=0.0), mu.max(initial=0.0)) + 1.0, MAX_GOALS)
        return self.family.grid(lam, mu, self.shape, goals)

    def predict(
        self, home_ids: np.ndarray, away_ids: np.ndarray, division: int | np.ndarray = 0
    ) -> np.ndarray:
        """1X2 probabilities (n, 3), columns home, draw, away (normalized over the grid)."""
        return outcome_probabilities(self.grid(home_ids, away_ids, division))


def outcome_probabilities(grid: np.ndarray) -> np.ndarray:
    """(P(x > y), P(x = y), P(x < y)) per grid, renormalized to sum to 1."""
    home = np.tril(grid, -1).sum(axis=(1, 2))
    draw = np.trace(grid, axis1=1, axis2=2)
    away = np.triu(grid, 1).sum(axis=(1, 2))
    probs = np.column_stack([home, draw, away])
    return probs / probs.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Offsets of the blocks of θ."""

    n: int
    n_div: int
    n_shape: int

    @property
    def hfa(self) -> slice:
        return slice(2 * self.n, 2 * self.n + self.n_div)

    @property
    def gamma_a(self) -> slice:
        start = 2 * self.n + self.n_div
        return slice(start, start + self.n_div)

    @property
    def gamma_d(self) -> slice:
        start = 2 * self.n + 2 * self.n_div
        return slice(start, start + self.n_div)

    @property
    def delta(self) -> slice:
        start = 2 * self.n + 3 * self.n_div
        return slice(start, start + 2)

    @property
    def shape(self) -> slice:
        start = 2 * self.n + 3 * self.n_div + 2
        return slice(start, start + self.n_shape)

    @property
    def size(self) -> int:
        return 2 * self.n + 3 * self.n_div + 2 + self.n_shape


def fit_ratings(
    data: TrainingSet,
    family: Family,
    prior: RatingPrior = DEFAULT_RATING_PRIOR,
    init: RatingsFit | None = None,
) -> RatingsFit:
    """Minimize the objective of the module docstring from ``init`` (warm start).

    A family without shape parameters that gives its curvature (Poisson) is solved by damped
    Newton with the exact Hessian (3-5 steps from a warm start); the others by L-BFGS-B.
    """
    layout = _Layout(len(data.teams), data.n_divisions, len(family.shape_init))
    theta0 = _start(data, family, prior, layout, init)
    problem = _Objective.build(data, family, prior, layout)
    with single_thread_blas():
        if hasattr(family, "curvature") and layout.n_shape == 0:
            theta, value, converged = _newton(problem, theta0)
        else:
            bounds = [(None, None)] * (layout.size - layout.n_shape) + list(family.shape_bounds)
            result = minimize(
                problem.value_and_gradient,
                theta0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options=LBFGS_OPTIONS,
            )
            theta, value, converged = result.x, float(result.fun), bool(result.success)
    return _ratings_fit(data, family, layout, theta, value, converged)


@dataclass(frozen=True, eq=False)
class _Objective:
    """The objective of the module docstring: value, gradient and (Poisson) Hessian."""

    data: TrainingSet
    family: Family
    prior: RatingPrior
    layout: _Layout
    q: np.ndarray
    b: np.ndarray
    hessian_index: np.ndarray

    @classmethod
    def build(
        cls, data: TrainingSet, family: Family, prior: RatingPrior, layout: _Layout
    ) -> _Objective:
        """The objective with its constant parts: prior Q, b and the Hessian scatter index
        (flat (row, column) of every match's 3×3 home and 2×2 away η blocks)."""
        q, b = _prior_quadratic(data, prior, layout)
        n, size = layout.n, layout.size
        home = np.stack([data.home, n + data.away, layout.hfa.start + data.division], axis=1)
        away = np.stack([data.away, n + data.home], axis=1)
        index = np.concatenate(
            [
                (home[:, :, None] * size + home[:, None, :]).reshape(len(home), -1),
                (away[:, :, None] * size + away[:, None, :]).reshape(len(away), -1),
            ],
            axis=1,
        )
        return cls(data, family, prior, layout, q, b, index.ravel())

    def etas(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, data = self.layout.n, self.data
        eta_h = theta[data.home] + theta[n + data.away] + theta[self.layout.hfa][data.division]
        return eta_h, theta[data.away] + theta[n + data.home]

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad, _ = self.evaluate(theta, hessian=False)
        return value, grad

    def evaluate(
        self, theta: np.ndarray, hessian: bool = True
    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        lay, data = self.layout, self.data
        n, w = lay.n, data.weight
        eta_h, eta_a = self.etas(theta)
        shape = theta[lay.shape]
        value, g_h, g_a, g_s = self.family.nll(eta_h, eta_a, shape, data.x, data.y)
        g_h, g_a = w * g_h, w * g_a
        grad = np.zeros_like(theta)
        grad[:n] = np.bincount(data.home, g_h, n) + np.bincount(data.away, g_a, n)
        grad[n : 2 * n] = np.bincount(data.away, g_h, n) + np.bincount(data.home, g_a, n)
        grad[lay.hfa] = np.bincount(data.division, g_h, lay.n_div)
        if lay.n_shape:
            grad[lay.shape] = g_s @ w
        q, b = self.q, self.b
        quad = q @ theta
        total = float(w @ value) + 0.5 * theta @ quad - b @ theta
        grad += quad - b
        if not hessian:
            return total, grad, None
        c_h, c_a = self.family.curvature(eta_h, eta_a, shape, data.x, data.y)
        weights = np.repeat(np.column_stack([w * c_h, w * c_a]), [9, 4], axis=1)
        hess = np.bincount(self.hessian_index, weights.ravel(), lay.size**2).reshape(
            lay.size, lay.size
        )
        return total, grad, hess + q


def _prior_design(data: TrainingSet, lay: _Layout) -> np.ndarray:
    """A with (res_a, res_d) = Aθ: the residuals of the team prior around the group centres."""
    n = lay.n
    rows = np.arange(n)
    design = np.zeros((2 * n, lay.size))
    design[rows, rows] = 1.0
    design[rows, lay.gamma_a.start + data.team_division] = -1.0
    design[rows, lay.delta.start] = -data.newcomer.astype(float)
    design[n + rows, n + rows] = 1.0
    design[n + rows, lay.gamma_d.start + data.team_division] = -1.0
    design[n + rows, lay.delta.start + 1] = -data.newcomer.astype(float)
    return design


def _prior_quadratic(
    data: TrainingSet, prior: RatingPrior, lay: _Layout
) -> tuple[np.ndarray, np.ndarray]:
    """Q, b of the prior and gauge terms ½θᵀQθ − bᵀθ (+ const)."""
    design = _prior_design(data, lay)
    q = prior.precision * design.T @ design
    hyper = np.zeros(lay.size)
    hyper[lay.gamma_a] = hyper[lay.gamma_d] = prior.division_precision
    hyper[lay.delta] = prior.newcomer_precision
    q[np.diag_indices(lay.size)] += hyper
    q[: lay.n, : lay.n] += 1.0  # gauge ½(Σ attack)²
    b = np.zeros(lay.size)
    b[lay.delta] = prior.newcomer_precision * np.array(
        [prior.newcomer_attack, prior.newcomer_defence]
    )
    return q, b


def _newton(problem: _Objective, theta: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Damped Newton with Armijo backtracking; stops when the Newton decrement is below
    NEWTON_TOL·(1 + |value|). Returns (θ, value, converged)."""
    value, grad, hess = problem.evaluate(theta)
    for _ in range(NEWTON_MAX_ITER):
        step = _solve_pd(hess, grad)
        decrement = float(grad @ step)
        if decrement <= NEWTON_TOL * (1.0 + abs(value)):
            return theta, value, True
        length = 1.0
        while True:
            trial = theta - length * step
            trial_value = problem.value_and_gradient(trial)[0]
            if np.isfinite(trial_value) and trial_value <= value - 1e-4 * length * decrement:
                break
            length *= 0.5
            if length < 1e-8:
                return theta, value, False
        theta = trial
        value, grad, hess = problem.evaluate(theta)
    return theta, value, False


def _solve_pd(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """(M + δI)⁻¹v with the smallest δ ∈ {0, 1e-10·s, 1e-9·s, …} making M + δI positive
    definite (s = max |diag M|); a plain MLE has flat prior blocks, hence the damping."""
    scale = max(float(np.abs(np.diag(matrix)).max()), 1.0)
    damping = 0.0
    while True:
        try:
            factor = cho_factor(matrix + damping * np.eye(len(vector)))
            return cho_solve(factor, vector)
        except np.linalg.LinAlgError:
            damping = 1e-10 * scale if damping == 0.0 else 10.0 * damping


def _start(
    data: TrainingSet,
    family: Family,
    prior: RatingPrior,
    layout: _Layout,
    init: RatingsFit | None,
) -> np.ndarray:
    """θ₀: ``init``'s values where it knows the team/block, else moment values."""
    n = layout.n
    theta = np.zeros(layout.size)
    mean_x = max(float(data.weight @ data.x / data.weight.sum()), 1e-3)
    mean_y = max(float(data.weight @ data.y / data.weight.sum()), 1e-3)
    theta[n : 2 * n] = np.log(mean_y)
    theta[layout.hfa] = np.log(mean_x / mean_y)
    theta[layout.gamma_d] = np.log(mean_y)
    theta[layout.delta] = (prior.newcomer_attack, prior.newcomer_defence)
    theta[layout.shape] = family.shape_init
    if (
        init is not None
        and init.family.name == family.name
        and len(init.home_advantage) == layout.n_div
    ):
        index = {team: i for i, team in enumerate(init.teams)}
        known = np.array([index.get(t, -1) for t in data.teams])
        seen = known >= 0
        theta[:n][seen] = init.attack[known[seen]]
        theta[n : 2 * n][seen] = init.defence[known[seen]]
        previous = _Layout(len(init.teams), layout.n_div, layout.n_shape)
        for block in ("hfa", "gamma_a", "gamma_d", "delta", "shape"):
            theta[getattr(layout, block)] = init.theta[getattr(previous, block)]
    lower = np.array([b[0] for b in family.shape_bounds])
    upper = np.array([b[1] for b in family.shape_bounds])
    theta[layout.shape] = np.clip(theta[layout.shape], lower, upper)
    return theta


def _ratings_fit(
    data: TrainingSet,
    family: Family,
    layout: _Layout,
    theta: np.ndarray,
    objective: float,
    converged: bool,
) -> RatingsFit:
    n = layout.n
    attack, defence = theta[:n], theta[n : 2 * n]
    shape = theta[layout.shape]
    eta_h = attack[data.home] + defence[data.away] + theta[layout.hfa][data.division]
    eta_a = attack[data.away] + defence[data.home]
    value = family.nll(eta_h, eta_a, shape, data.x, data.y)[0]
    delta = theta[layout.delta]
    return RatingsFit(
        family=family,
        teams=data.teams,
        attack=_frozen(attack),
        defence=_frozen(defence),
        home_advantage=_frozen(theta[layout.hfa]),
        fallback_attack=_frozen(theta[layout.gamma_a] + delta[0]),
        fallback_defence=_frozen(theta[layout.gamma_d] + delta[1]),
        shape=_frozen(shape),
        as_of=data.as_of,
        n_matches=len(data.x),
        objective=objective,
        log_likelihood=-float(data.weight @ value),
        converged=converged,
        theta=_frozen(theta),
    )


def _frozen(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out
