"""Bivariate Poisson goals (Karlis & Ntzoufras 2003) on log-linear team ratings.

X = W1 + W3, Y = W2 + W3 with independent W_j ~ Pois(λ_j), log λ1 = η_home,
log λ2 = η_away, λ3 = exp(s) shared (Cov(X, Y) = λ3)::

    P(x, y) = e^{−(λ1+λ2+λ3)} Σ_{k=0}^{min(x,y)} λ1^{x−k} λ2^{y−k} λ3^k / ((x−k)! (y−k)! k!)

With E3 = E[W3 | x, y] (the posterior mean of the shared part, a softmax over k):
∂log P/∂η_home = x − E3 − λ1, ∂log P/∂η_away = y − E3 − λ2, ∂log P/∂s = E3 − λ3.
Targets must be whole goals. s is bounded to [−8, 1] (λ3 between 3e-4 and 2.7 goals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp

from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    RatingPrior,
    RatingsFit,
    TrainingSet,
    fit_ratings,
)


def _log_terms(
    x: np.ndarray, y: np.ndarray, eta_1: np.ndarray, eta_2: np.ndarray, s: float, k: np.ndarray
) -> np.ndarray:
    """log of the k-th term of the sum (−∞ where k > min(x, y)); broadcast over k's last axis."""
    valid = k <= np.minimum(x, y)[..., None]
    xk = np.where(valid, x[..., None] - k, 0.0)
    yk = np.where(valid, y[..., None] - k, 0.0)
    terms = (
        xk * eta_1[..., None]
        - gammaln(xk + 1.0)
        + yk * eta_2[..., None]
        - gammaln(yk + 1.0)
        + k * s
        - gammaln(k + 1.0)
    )
    return np.where(valid, terms, -np.inf)


@dataclass(frozen=True)
class BivariatePoissonFamily:
    """Shared covariance λ3 = exp(shape[0])."""

    name: str = "bivariate_poisson"
    shape_init: tuple[float, ...] = (np.log(0.1),)
    shape_bounds: tuple[tuple[float, float], ...] = ((-8.0, 1.0),)

    def nll(
        self, eta_h: np.ndarray, eta_a: np.ndarray, shape: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """−log P(x, y) and its derivatives in η_home, η_away and s = log λ3."""
        if np.any(x != np.round(x)) or np.any(y != np.round(y)):
            raise ValueError("the bivariate Poisson model needs whole-goal targets")
        s = float(shape[0])
        lam1, lam2, lam3 = np.exp(eta_h), np.exp(eta_a), np.exp(s)
        k = np.arange(int(np.minimum(x, y).max(initial=0)) + 1, dtype=float)
        terms = _log_terms(x, y, eta_h, eta_a, s, k)
        log_sum = logsumexp(terms, axis=-1)
        e3 = np.exp(terms - log_sum[:, None]) @ k
        value = lam1 + lam2 + lam3 - log_sum
        return value, lam1 - (x - e3), lam2 - (y - e3), (lam3 - e3)[None, :]

    def grid(
        self, lam: np.ndarray, mu: np.ndarray, shape: np.ndarray, max_goals: int
    ) -> np.ndarray:
        """P(x, y) on 0..G per side by the closed-form sum."""
        s = float(shape[0])
        goals = np.arange(max_goals + 1, dtype=float)
        x = np.broadcast_to(goals[None, :, None], (len(lam), len(goals), len(goals)))
        y = np.broadcast_to(goals[None, None, :], x.shape)
        eta_1 = np.broadcast_to(np.log(lam)[:, None, None], x.shape)
        eta_2 = np.broadcast_to(np.log(mu)[:, None, None], x.shape)
        log_sum = logsumexp(_log_terms(x, y, eta_1, eta_2, s, goals), axis=-1)
        return np.exp(log_sum - (lam + mu + np.exp(s))[:, None, None])


BIVARIATE_POISSON = BivariatePoissonFamily()


def fit(
    data: TrainingSet, prior: RatingPrior = DEFAULT_RATING_PRIOR, init: RatingsFit | None = None
) -> RatingsFit:
    """Bivariate Poisson ratings of a training set."""
    return fit_ratings(data, BIVARIATE_POISSON, prior, init)
