"""Over/under 2.5 from a stored Dixon-Coles forecast (λ, μ and its 1X2), without the model.

The walk-forward stores per match the rates λ (home), μ (away) and the grid's 1X2, not ρ.
With Poisson cells ``P_x = Pois(x; λ)``, ``Q_y = Pois(y; μ)`` the Dixon-Coles grid multiplies
(0,0) by ``1 − λμρ``, (0,1) by ``1 + λρ``, (1,0) by ``1 + μρ``, (1,1) by ``1 − ρ``, so

- ``p_home = H₀ + ρ·μ·P₁Q₀``  (H₀ = Σ_{x>y} P_x Q_y) gives ρ exactly;
- ``p_draw = D₀ − ρ·(λμ·P₀Q₀ + P₁Q₁)`` checks it (a grid whose τ was clipped fails);
- ``P(under 2.5) = Σ_{x+y≤2} P_x Q_y + ρ·(−λμ·P₀Q₀ + λ·P₀Q₁ + μ·P₁Q₀ − P₁Q₁)``.

Grids are summed to the same bound as ``core.dixon_coles.grid_size`` (tail mass < 1e-10).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from jackpot_pipeline.core.dixon_coles import grid_size

#: Largest |p_draw(reconstructed) − p_draw(stored)| accepted.
DRAW_TOLERANCE = 1e-7


def over_under_25(
    lam: np.ndarray, mu: np.ndarray, p_home: np.ndarray, p_draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(P(over 2.5), recovered ρ) per match; NaN where the stored 1X2 is not reproduced
    within ``DRAW_TOLERANCE`` (clipped τ, or not a Dixon-Coles forecast)."""
    lam, mu = np.asarray(lam, dtype=float), np.asarray(mu, dtype=float)
    if len(lam) == 0:
        return np.array([]), np.array([])
    goals = np.arange(grid_size(float(max(lam.max(), mu.max()))) + 1)
    log_factorial = gammaln(goals + 1.0)
    home = np.exp(np.outer(np.log(lam), goals) - lam[:, None] - log_factorial)
    away = np.exp(np.outer(np.log(mu), goals) - mu[:, None] - log_factorial)
    cells = home[:, :, None] * away[:, None, :]
    margin = np.subtract.outer(goals, goals)
    total = np.add.outer(goals, goals)
    h0 = (cells * (margin > 0)).sum(axis=(1, 2))
    d0 = (cells * (margin == 0)).sum(axis=(1, 2))
    u0 = (cells * (total <= 2)).sum(axis=(1, 2))
    p00, p01, p10, p11 = cells[:, 0, 0], cells[:, 0, 1], cells[:, 1, 0], cells[:, 1, 1]
    rho = (np.asarray(p_home, dtype=float) - h0) / (mu * p10)
    draw = d0 - rho * (lam * mu * p00 + p11)
    under = u0 + rho * (-lam * mu * p00 + lam * p01 + mu * p10 - p11)
    valid = np.abs(draw - np.asarray(p_draw, dtype=float)) <= DRAW_TOLERANCE
    return np.where(valid, 1.0 - under, np.nan), np.where(valid, rho, np.nan)
