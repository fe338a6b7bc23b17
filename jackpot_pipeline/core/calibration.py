"""Isotonic calibration of 1X2 probabilities, one curve per outcome (home, draw, away).

Fitting: for outcome k, the weighted isotonic (non-decreasing) least-squares regression of the
indicator 1[y = k] on the out-of-sample prediction p_k (pool adjacent violators,
``scipy.optimize.isotonic_regression``; tied p_k values are pooled first). Each fitted block
becomes one breakpoint: x = weighted mean of p_k over the block (its centre), y = the block's
observed frequency. Applying: ``np.interp`` between breakpoints (piecewise linear, hence
continuous and non-decreasing), constant beyond the first/last centre; then every probability
is clipped to [eps, 1 − eps] with ``eps = CLIP_EPS`` = 1e-4 and the row renormalized to sum 1.
With fewer than ``min_samples`` training rows the curve is the identity (flag ``is_identity``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import isotonic_regression

from jackpot_pipeline.core.metrics import (
    DEFAULT_BINS,
    N_OUTCOMES,
    OUTCOMES,
    ReliabilityCurve,
    check_forecast,
    one_hot,
    reliability_curves,
)

CLIP_EPS = 1e-4
DEFAULT_MIN_SAMPLES = 30
POOLED = "pooled"
#: Scope of the identity map chosen as a candidate ("no calibration"), not a fallback.
NO_CALIBRATION = "none"
PROB_COLUMNS = ("p_home", "p_draw", "p_away")

Scope = Literal["pooled", "league"]


@dataclass(frozen=True)
class OutcomeCurve:
    """Breakpoints of one outcome's calibration map: strictly increasing x, non-decreasing y."""

    outcome: str
    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: ArrayLike) -> np.ndarray:
        """Calibrated probability: linear between breakpoints, constant beyond the ends."""
        return np.interp(p, self.x, self.y)


IDENTITY_POINTS = ((0.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True)
class CalibrationCurve:
    """Per-outcome isotonic maps fitted on ``n_samples`` rows dated up to ``trained_on_end``.

    ``scope`` is a league code or "pooled"; ``reliability`` describes the raw training
    predictions; ``is_identity`` flags the fallback used below ``min_samples`` rows.
    """

    scope: str
    trained_on_end: date | None
    n_samples: int
    is_identity: bool
    outcomes: tuple[OutcomeCurve, OutcomeCurve, OutcomeCurve]
    reliability: tuple[ReliabilityCurve, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (date as ISO string); ``from_dict`` inverts it exactly."""
        data = asdict(self)
        data["trained_on_end"] = None if self.trained_on_end is None else str(self.trained_on_end)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationCurve:
        """Rebuild a curve from ``to_dict`` output, also after a JSON round trip."""
        end = data["trained_on_end"]
        return cls(
            scope=data["scope"],
            trained_on_end=None if end is None else date.fromisoformat(end),
            n_samples=int(data["n_samples"]),
            is_identity=bool(data["is_identity"]),
            outcomes=tuple(OutcomeCurve(**_tuples(c)) for c in data["outcomes"]),
            reliability=tuple(ReliabilityCurve(**_tuples(r)) for r in data["reliability"]),
        )


def isotonic_breakpoints(
    p: np.ndarray, hit: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(block centres, block values) of the weighted isotonic regression of ``hit`` on ``p``."""
    xs, inverse = np.unique(p, return_inverse=True)
    w = np.bincount(inverse, weights=weights)
    mean_hit = np.bincount(inverse, weights=weights * hit) / w
    result = isotonic_regression(mean_hit, weights=w)
    starts = result.blocks[:-1]
    centres = np.add.reduceat(w * xs, starts) / np.add.reduceat(w, starts)
    return centres, result.x[starts]


def no_calibration(
    trained_on_end: date | None = None, n_bins: int = DEFAULT_BINS
) -> CalibrationCurve:
    """The identity map as a deliberate choice (scope :data:`NO_CALIBRATION`, no rows), made
    with the information up to ``trained_on_end``."""
    return fit_calibration(
        np.empty((0, 3)),
        np.empty(0, dtype=object),
        scope=NO_CALIBRATION,
        trained_on_end=trained_on_end,
        n_bins=n_bins,
    )


def fit_calibration(
    probs: ArrayLike,
    outcomes: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    scope: str = POOLED,
    trained_on_end: date | None = None,
    n_bins: int = DEFAULT_BINS,
) -> CalibrationCurve:
    """Fit the three isotonic maps on out-of-sample ``probs`` (n, 3) and their ``outcomes``.

    ``weights`` are positive case weights (default 1). Below ``min_samples`` rows (including
    none at all) the identity curve is returned with ``is_identity=True``.
    """
    n = len(outcomes)
    if n < min_samples:
        reliability = reliability_curves(probs, outcomes, n_bins) if n else ()
        return CalibrationCurve(scope, trained_on_end, n, True, _identity_outcomes(), reliability)
    p, y = check_forecast(probs, outcomes)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w <= 0):
        raise ValueError("weights must be positive, one per row")
    hits = one_hot(y)
    curves = tuple(
        OutcomeCurve(OUTCOMES[k], *map(_floats, isotonic_breakpoints(p[:, k], hits[:, k], w)))
        for k in range(N_OUTCOMES)
    )
    return CalibrationCurve(
        scope, trained_on_end, n, False, curves, reliability_curves(p, y, n_bins)
    )


def apply_calibration(
    curve: CalibrationCurve, probs: ArrayLike, eps: float = CLIP_EPS
) -> np.ndarray:
    """Calibrated probs (n, 3): map each column, clip to [eps, 1 − eps], renormalize rows."""
    p = np.asarray(probs, dtype=np.float64)
    mapped = np.column_stack([c(p[:, k]) for k, c in enumerate(curve.outcomes)])
    clipped = np.clip(mapped, eps, 1 - eps)
    return clipped / clipped.sum(axis=1, keepdims=True)


def fit_walk_forward_curves(
    df: pd.DataFrame,
    period_col: str,
    *,
    scope: Scope = "pooled",
    prob_cols: Sequence[str] = PROB_COLUMNS,
    outcome_col: str = "result",
    league_col: str = "league",
    date_col: str | None = "date",
    weight_col: str | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    n_bins: int = DEFAULT_BINS,
) -> dict[tuple[str, Hashable], CalibrationCurve]:
    """Curves keyed by (scope value, period P), each fitted only on rows with period < P.

    Periods must be orderable (e.g. season "2019-2020" or a year). ``scope="league"`` fits one
    curve per league on that league's earlier rows; "pooled" uses every league's earlier rows
    and the key's scope value is "pooled". The earliest period gets the identity fallback.
    """
    keys = _scope_keys(df, scope, league_col)
    periods = df[period_col].to_numpy()
    curves: dict[tuple[str, Hashable], CalibrationCurve] = {}
    for scope_value in np.unique(keys):
        in_scope = keys == scope_value
        for period in sorted(set(periods[in_scope].tolist())):
            train = df[in_scope & (periods < period)]
            curves[(str(scope_value), period)] = fit_calibration(
                train[list(prob_cols)].to_numpy(dtype=np.float64),
                train[outcome_col].to_numpy(),
                weights=None if weight_col is None else train[weight_col].to_numpy(),
                min_samples=min_samples,
                scope=str(scope_value),
                trained_on_end=_last_date(train, date_col),
                n_bins=n_bins,
            )
    return curves


def apply_walk_forward(
    df: pd.DataFrame,
    curves: Mapping[tuple[str, Hashable], CalibrationCurve],
    period_col: str,
    *,
    scope: Scope = "pooled",
    prob_cols: Sequence[str] = PROB_COLUMNS,
    league_col: str = "league",
) -> np.ndarray:
    """Calibrated probs (n, 3) in ``df`` row order, each row mapped by its (scope, period) curve."""
    probs = df[list(prob_cols)].to_numpy(dtype=np.float64)
    keys = pd.DataFrame({"scope": _scope_keys(df, scope, league_col), "period": df[period_col]})
    out = np.empty_like(probs)
    for key, rows in keys.groupby(["scope", "period"]).indices.items():
        out[rows] = apply_calibration(curves[key], probs[rows])
    return out


def _scope_keys(df: pd.DataFrame, scope: Scope, league_col: str) -> np.ndarray:
    """Per-row scope value: the league code, or "pooled"."""
    if scope == "league":
        return df[league_col].astype(str).to_numpy()
    if scope == POOLED:
        return np.full(len(df), POOLED)
    raise ValueError(f"scope must be 'pooled' or 'league', got {scope!r}")


def _last_date(rows: pd.DataFrame, date_col: str | None) -> date | None:
    if date_col is None or rows.empty:
        return None
    return pd.Timestamp(rows[date_col].max()).date()


def _identity_outcomes() -> tuple[OutcomeCurve, OutcomeCurve, OutcomeCurve]:
    return tuple(OutcomeCurve(name, *IDENTITY_POINTS) for name in OUTCOMES)


def _tuples(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Lists (as JSON returns them) back to the tuples the frozen dataclasses hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
