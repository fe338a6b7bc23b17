"""Negative binomial goals on log-linear team ratings (over-dispersed Poisson).

x ~ NB(mean λ, dispersion r), y ~ NB(mean μ, r) independently, shared r = exp(s)::

    log P(x) = lgamma(x + r) − lgamma(r) − log x! + r·log(r / (r + λ)) + x·log(λ / (r + λ))

Var x = λ + λ²/r; r → ∞ is the Poisson model. ∂log P/∂log λ = r(x − λ)/(r + λ) and
∂log P/∂r = ψ(x + r) − ψ(r) + log r − log(r + λ) + (λ − x)/(r + λ). s is bounded to
[log 1e-2, log 1000] (penaltyblog bounds r ≤ 1000 too; goals are rarely over-dispersed, so r
often sits at the bound, i.e. the fit is Poisson for practical purposes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    RatingPrior,
    RatingsFit,
    TrainingSet,
    fit_ratings,
)

MAX_DISPERSION = 1000.0


def nb_log_pmf(k: np.ndarray, mean: np.ndarray, r: float) -> np.ndarray:
    """log P(k) of the negative binomial with this mean and dispersion r (broadcast)."""
    return (
        gammaln(k + r)
        - gammaln(r)
        - gammaln(k + 1.0)
        + r * (np.log(r) - np.log(r + mean))
        + k * (np.log(mean) - np.log(r + mean))
    )


@dataclass(frozen=True)
class NegativeBinomialFamily:
    """Shared dispersion r = exp(shape[0])."""

    name: str = "negative_binomial"
    shape_init: tuple[float, ...] = (np.log(10.0),)
    shape_bounds: tuple[tuple[float, float], ...] = ((np.log(1e-2), np.log(MAX_DISPERSION)),)

    def nll(
        self, eta_h: np.ndarray, eta_a: np.ndarray, shape: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """−log P(x) − log P(y) and its derivatives in η_home, η_away and s = log r."""
        r = float(np.exp(shape[0]))
        lam, mu = np.exp(eta_h), np.exp(eta_a)
        value = -nb_log_pmf(x, lam, r) - nb_log_pmf(y, mu, r)
        d_h = -r * (x - lam) / (r + lam)
        d_a = -r * (y - mu) / (r + mu)
        base = 2.0 * (np.log(r) - digamma(r))
        d_r = (
            base
            + digamma(x + r)
            + digamma(y + r)
            - np.log(r + lam)
            - np.log(r + mu)
            + (lam - x) / (r + lam)
            + (mu - y) / (r + mu)
        )
        return value, d_h, d_a, (-r * d_r)[None, :]

    def grid(
        self, lam: np.ndarray, mu: np.ndarray, shape: np.ndarray, max_goals: int
    ) -> np.ndarray:
        """Outer product of the two negative binomial pmfs."""
        r = float(np.exp(shape[0]))
        goals = np.arange(max_goals + 1.0)
        home = np.exp(nb_log_pmf(goals[None, :], lam[:, None], r))
        away = np.exp(nb_log_pmf(goals[None, :], mu[:, None], r))
        return home[:, :, None] * away[:, None, :]


NEGATIVE_BINOMIAL = NegativeBinomialFamily()


def fit(
    data: TrainingSet, prior: RatingPrior = DEFAULT_RATING_PRIOR, init: RatingsFit | None = None
) -> RatingsFit:
    """Negative binomial ratings of a training set."""
    return fit_ratings(data, NEGATIVE_BINOMIAL, prior, init)
