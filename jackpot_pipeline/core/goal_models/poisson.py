"""Independent Poisson goals (Maher 1982) on log-linear team ratings.

x ~ Pois(λ), y ~ Pois(μ) independently, log λ = η_home, log μ = η_away (see
:mod:`.ratings`). Targets may be real-valued: the quasi-likelihood λ − x·log λ keeps its
optimum at the weighted mean rate, which lets the same fit take an expected-goals proxy or
market-implied expected goals as targets (:mod:`.shots`, :mod:`.market_ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    RatingPrior,
    RatingsFit,
    TrainingSet,
    fit_ratings,
)


def poisson_pmf(rate: np.ndarray, max_goals: int) -> np.ndarray:
    """P(k; rate) for k = 0..max_goals, shape (n, G+1)."""
    goals = np.arange(max_goals + 1)
    return np.exp(np.outer(np.log(rate), goals) - rate[:, None] - gammaln(goals + 1.0))


@dataclass(frozen=True)
class PoissonFamily:
    """Independent Poisson sides, no shape parameter."""

    name: str = "poisson"
    shape_init: tuple[float, ...] = ()
    shape_bounds: tuple[tuple[float, float], ...] = ()

    def nll(
        self, eta_h: np.ndarray, eta_a: np.ndarray, shape: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """−log P = λ − x·η_h + log x! + μ − y·η_a + log y!; derivatives λ − x, μ − y."""
        lam, mu = np.exp(eta_h), np.exp(eta_a)
        value = lam - x * eta_h + mu - y * eta_a + gammaln(x + 1.0) + gammaln(y + 1.0)
        return value, lam - x, mu - y, np.empty((0, len(x)))

    def curvature(
        self, eta_h: np.ndarray, eta_a: np.ndarray, shape: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Second derivatives of the nll in η_home and η_away: λ and μ (no cross term)."""
        return np.exp(eta_h), np.exp(eta_a)

    def grid(
        self, lam: np.ndarray, mu: np.ndarray, shape: np.ndarray, max_goals: int
    ) -> np.ndarray:
        """Outer product of the two Poisson pmfs."""
        return poisson_pmf(lam, max_goals)[:, :, None] * poisson_pmf(mu, max_goals)[:, None, :]


POISSON = PoissonFamily()


def fit(
    data: TrainingSet, prior: RatingPrior = DEFAULT_RATING_PRIOR, init: RatingsFit | None = None
) -> RatingsFit:
    """Poisson ratings of a training set."""
    return fit_ratings(data, POISSON, prior, init)
