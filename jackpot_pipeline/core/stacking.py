"""Stacking of forecast members: a log-linear pool with weights fitted out of sample.

Pool of K members' 1X2 probabilities p_k (n, 3) with weights w ≥ 0 (their sum is free, so the
pool may sharpen or soften) and, in the *biased* form, outcome intercepts b (b_away = 0)::

    q_j ∝ exp(b_j + Σ_k w_k · log p_kj),   j ∈ {home, draw, away}

(a multinomial logistic regression on the members' log-probabilities: the intercepts correct
an average lean the members share, e.g. too few draws).

The weights minimize the mean log loss −log q_y of the *out-of-sample* member forecasts of
the seasons strictly before the season they are applied to (:func:`walk_forward_stack`), by
L-BFGS-B with the analytic gradient ∂/∂w_k = mean(Σ_j q_j log p_kj − log p_ky). The pooled
forecast is then calibrated by the pipeline's isotonic curves, also fitted on earlier seasons
only (:func:`jackpot_pipeline.core.calibration.fit_walk_forward_curves`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax

from jackpot_pipeline.core.calibration import apply_walk_forward, fit_walk_forward_curves

PROB_EPS = 1e-12


@dataclass(frozen=True)
class PoolWeights:
    """Weights of the members (same order as ``members``) and outcome intercepts (home, draw,
    away; zeros in the plain form) fitted on ``n_train`` matches."""

    members: tuple[str, ...]
    weights: tuple[float, ...]
    n_train: int
    log_loss: float
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _log_probs(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs, PROB_EPS, 1.0))


def pool(
    log_probs: np.ndarray, weights: np.ndarray, bias: Sequence[float] = (0, 0, 0)
) -> np.ndarray:
    """Log-linear pool of members' log-probabilities (K, n, 3) → probabilities (n, 3)."""
    scores = np.tensordot(weights, log_probs, axes=1) + np.asarray(bias, dtype=np.float64)
    return np.exp(log_softmax(scores, axis=1))


def pool_log_loss(
    params: np.ndarray, log_probs: np.ndarray, outcomes: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean log loss of the pool and its gradient in (w_1 … w_K[, b_home, b_draw]): ∂/∂w_k =
    mean(Σ_j q_j log p_kj − log p_ky), ∂/∂b_j = mean(q_j − [y = j])."""
    k = log_probs.shape[0]
    bias = np.zeros(3)
    bias[: len(params) - k] = params[k:]
    log_q = log_softmax(np.tensordot(params[:k], log_probs, axes=1) + bias, axis=1)
    rows = np.arange(len(outcomes))
    q = np.exp(log_q)
    expected = np.einsum("nj,knj->kn", q, log_probs)
    observed = log_probs[:, rows, outcomes]
    residual = q - np.eye(3)[outcomes]
    grad = np.concatenate(
        [(expected - observed).mean(axis=1), residual.mean(axis=0)[: len(params) - k]]
    )
    return float(-log_q[rows, outcomes].mean()), grad


def fit_pool(
    probs: Sequence[np.ndarray],
    outcomes: np.ndarray,
    members: Sequence[str],
    *,
    biased: bool = False,
) -> PoolWeights:
    """Non-negative weights (and, ``biased``, free home and draw intercepts) minimizing the
    pool's mean log loss (start: equal weights 1/K, zero intercepts)."""
    log_probs = np.stack([_log_probs(p) for p in probs])
    k = len(members)
    n_bias = 2 if biased else 0
    result = minimize(
        pool_log_loss,
        np.concatenate([np.full(k, 1.0 / k), np.zeros(n_bias)]),
        args=(log_probs, np.asarray(outcomes)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, None)] * k + [(None, None)] * n_bias,
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 1000},
    )
    bias = (*map(float, result.x[k:]), 0.0) if biased else (0.0, 0.0, 0.0)
    return PoolWeights(
        tuple(members), tuple(map(float, result.x[:k])), len(outcomes), float(result.fun), bias
    )


def walk_forward_stack(
    frame: pd.DataFrame,
    members: Sequence[str],
    *,
    period_col: str = "season",
    outcome_col: str = "outcome",
    min_train: int = 1000,
) -> tuple[np.ndarray, dict[str, PoolWeights]]:
    """Pooled probabilities (n, 3) of every row whose period has ≥ ``min_train`` earlier rows
    (NaN otherwise), weights of period P fitted on all rows of periods < P (every league).

    ``frame`` has, per member m, columns ``{m}_home``, ``{m}_draw``, ``{m}_away`` and the
    outcome column (0 home, 1 draw, 2 away).
    """
    periods = frame[period_col].to_numpy()
    outcomes = frame[outcome_col].to_numpy()
    stacked = {m: frame[[f"{m}_home", f"{m}_draw", f"{m}_away"]].to_numpy(float) for m in members}
    out = np.full((len(frame), 3), np.nan)
    weights: dict[str, PoolWeights] = {}
    for period in sorted(set(periods.tolist())):
        train = periods < period
        if train.sum() < min_train:
            continue
        fitted = fit_pool([stacked[m][train] for m in members], outcomes[train], members)
        weights[period] = fitted
        rows = periods == period
        log_probs = np.stack([_log_probs(stacked[m][rows]) for m in members])
        out[rows] = pool(log_probs, np.array(fitted.weights))
    return out, weights


@dataclass(frozen=True)
class VariantSelection:
    """Variant chosen for ``period`` and the mean log loss of each on the validation periods."""

    period: str
    chosen: str
    scores: tuple[tuple[str, float], ...]
    validation_periods: tuple[str, ...]


def select_variants(
    frame: pd.DataFrame,
    variants: Sequence[str],
    *,
    default: str,
    period_col: str = "season",
    outcome_col: str = "outcome",
    validation_periods: int = 2,
    extra_periods: Sequence[str] = (),
) -> tuple[np.ndarray, tuple[VariantSelection, ...]]:
    """Per period P, the probabilities (n, 3) of the variant with the lowest mean log loss over
    the ``validation_periods`` periods before P (all leagues; ties to the earlier-listed
    variant); the first period takes ``default``. Rows of a variant must be complete.
    ``extra_periods`` (later periods without rows yet) get a selection too.

    Columns as in :func:`walk_forward_stack`: ``{variant}_home/_draw/_away``.
    """
    periods = frame[period_col].to_numpy()
    rows = np.arange(len(frame))
    outcomes = frame[outcome_col].to_numpy()
    probs = {v: frame[[f"{v}_home", f"{v}_draw", f"{v}_away"]].to_numpy(float) for v in variants}
    losses = {v: -np.log(np.clip(p[rows, outcomes], PROB_EPS, 1.0)) for v, p in probs.items()}
    present = sorted(set(periods.tolist()))
    out = np.full((len(frame), 3), np.nan)
    selections = []
    for period in sorted(set(present) | set(extra_periods)):
        earlier = [p for p in present if p < period][-validation_periods:]
        train = np.isin(periods, earlier)
        scores = tuple((v, float(losses[v][train].mean())) for v in variants) if earlier else ()
        chosen = min(scores, key=lambda item: item[1])[0] if scores else default
        selections.append(VariantSelection(period, chosen, scores, tuple(earlier)))
        target = periods == period
        out[target] = probs[chosen][target]
    return out, tuple(selections)


def calibrate_walk_forward(
    frame: pd.DataFrame, probs: np.ndarray, *, period_col: str = "season", min_samples: int = 30
) -> np.ndarray:
    """Isotonic calibration (pooled scope) of ``probs``, curves of period P fitted on the rows
    of periods < P only. ``frame`` has league, match_date, result ('H'/'D'/'A') and the period."""
    data = pd.DataFrame(
        {
            "league": frame["league"].to_numpy(),
            "date": frame["match_date"].to_numpy(),
            "result": frame["result"].to_numpy(),
            period_col: frame[period_col].to_numpy(),
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
        }
    )
    curves = fit_walk_forward_curves(data, period_col, scope="pooled", min_samples=min_samples)
    return apply_walk_forward(data, curves, period_col, scope="pooled")
