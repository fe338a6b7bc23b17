"""Market-implied ratings: team strengths fitted to the goal expectations of earlier odds.

Step 1 (per past match, :func:`implied_rates`): the expected goals (λ, μ) under independent
Poisson scoring that reproduce the margin-free closing prices of that match — P(home win),
P(away win) and, where priced, P(over 2.5 goals) — by least squares in (log λ, log μ)::

    min Σ_j (f_j(λ, μ) − p_j)²,  f = (P(x > y), P(x < y), P(x + y > 2.5))

solved for all matches at once by Levenberg-damped Gauss-Newton with the analytic Jacobian
(∂P_λ(k)/∂log λ = λ·(P_λ(k − 1) − P_λ(k))).

Step 2 (:func:`fit`): Poisson ratings (:mod:`.poisson`, real-valued targets) fitted to these
(λ, μ) with the usual time weights, so a forecast as of day d uses only the odds of matches
played before d — never the odds of the match it forecasts.
"""

from __future__ import annotations

import numpy as np

from jackpot_pipeline.core.goal_models import poisson
from jackpot_pipeline.core.goal_models.poisson import poisson_pmf
from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    RatingPrior,
    RatingsFit,
    TrainingSet,
)

GRID_GOALS = 15
MAX_ITER = 50
TOL = 1e-12
START = (1.45, 1.15)


def _masks(goals: int) -> np.ndarray:
    """(3, G+1, G+1) indicators of home win, away win and over 2.5."""
    x, y = np.meshgrid(np.arange(goals + 1), np.arange(goals + 1), indexing="ij")
    return np.stack([x > y, x < y, x + y > 2.5]).astype(float)


def market_functions(
    log_rates: np.ndarray, goals: int = GRID_GOALS
) -> tuple[np.ndarray, np.ndarray]:
    """f = (P(home), P(away), P(over 2.5)) per row (n, 3) and the Jacobian (n, 3, 2) in
    (log λ, log μ) under independent Poisson goals."""
    lam, mu = np.exp(log_rates[:, 0]), np.exp(log_rates[:, 1])
    ph, pa = poisson_pmf(lam, goals), poisson_pmf(mu, goals)
    shifted_h = np.concatenate([np.zeros((len(lam), 1)), ph[:, :-1]], axis=1)
    shifted_a = np.concatenate([np.zeros((len(mu), 1)), pa[:, :-1]], axis=1)
    dph = lam[:, None] * (shifted_h - ph)
    dpa = mu[:, None] * (shifted_a - pa)
    masks = _masks(goals)

    def contract(home: np.ndarray, away: np.ndarray) -> np.ndarray:
        return np.stack([((home @ m) * away).sum(axis=1) for m in masks], axis=1)

    values = contract(ph, pa)
    jac = np.stack([contract(dph, pa), contract(ph, dpa)], axis=2)
    return values, jac


def implied_rates(p_home: np.ndarray, p_away: np.ndarray, p_over: np.ndarray) -> np.ndarray:
    """(λ, μ) per match (n, 2) fitting the margin-free probabilities by least squares.

    ``p_over`` may be NaN (no over/under price): the match is then fitted to its 1X2 alone
    (two equations, two unknowns). Rows with a NaN 1X2 come back NaN.
    """
    targets = np.column_stack([p_home, p_away, p_over]).astype(float)
    known = np.isfinite(targets)
    usable = known[:, :2].all(axis=1)
    target = np.where(known, targets, 0.0)[usable]
    mask = known[usable].astype(float)
    theta = np.tile(np.log(START), (len(target), 1))
    damping = np.full(len(target), 1e-3)
    values, jac = market_functions(theta)
    cost = (((values - target) * mask) ** 2).sum(axis=1)
    active = np.arange(len(target))
    for _ in range(MAX_ITER):
        if active.size == 0:
            break
        m, t = mask[active], target[active]
        j = jac[active] * m[:, :, None]
        normal = np.einsum("nki,nkj->nij", j, j) + damping[active, None, None] * np.eye(2)
        gradient = np.einsum("nki,nk->ni", j, (values[active] - t) * m)
        trial = theta[active] - np.linalg.solve(normal, gradient[..., None])[..., 0]
        trial_values, trial_jac = market_functions(trial)
        trial_cost = (((trial_values - t) * m) ** 2).sum(axis=1)
        better = trial_cost <= cost[active]
        done = better & (cost[active] - trial_cost <= TOL * (trial_cost + TOL))
        moved = active[better]
        theta[moved], values[moved], jac[moved] = (
            trial[better],
            trial_values[better],
            trial_jac[better],
        )
        cost[moved] = trial_cost[better]
        damping[active] = np.where(better, damping[active] / 3.0, damping[active] * 4.0)
        active = active[~done]
    out = np.full((len(targets), 2), np.nan)
    out[usable] = np.exp(theta)
    return out


def fit(
    data: TrainingSet, prior: RatingPrior = DEFAULT_RATING_PRIOR, init: RatingsFit | None = None
) -> RatingsFit:
    """Poisson ratings of a training set whose targets are market-implied (λ, μ)."""
    return poisson.fit(data, prior, init)
