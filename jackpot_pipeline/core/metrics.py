"""Probabilistic forecast metrics for 1X2 match probabilities.

Conventions shared by the core: ``probs`` is a float array of shape (n, 3) with columns
(home, draw, away), each row a probability distribution; ``outcomes`` is an int array of shape
(n,) with 0 = home win, 1 = draw, 2 = away win (``encode_results`` maps "H"/"D"/"A").
Every score is a mean over matches; lower is better except accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

OUTCOMES: tuple[str, str, str] = ("home", "draw", "away")
RESULT_CODES: dict[str, int] = {"H": 0, "D": 1, "A": 2}
N_OUTCOMES = len(OUTCOMES)
LOG_LOSS_EPS = 1e-15  # floor on the observed outcome's probability so log loss stays finite
DEFAULT_BINS = 10


@dataclass(frozen=True)
class OutcomeStats:
    """Counts for one outcome: observed, expected (Σ p_k), argmax-predicted, and hit rates.

    ``recall`` = hits / observed (accuracy on matches ending in this outcome) and
    ``precision`` = hits / predicted; both are NaN when their denominator is 0.
    """

    outcome: str
    observed: int
    expected: float
    predicted: int
    hits: int
    recall: float
    precision: float


@dataclass(frozen=True)
class ReliabilityCurve:
    """Reliability diagram of one outcome over equal-width bins on [0, 1]; empty bins omitted.

    Bin j is [j/B, (j+1)/B), the last bin also holds p = 1. Per kept bin: mean predicted
    probability, observed frequency of the outcome, and number of matches.
    """

    outcome: str
    bin_lower: tuple[float, ...]
    bin_upper: tuple[float, ...]
    mean_predicted: tuple[float, ...]
    observed_frequency: tuple[float, ...]
    count: tuple[int, ...]


@dataclass(frozen=True)
class MetricReport:
    """All metrics of one forecast on one sample (see the functions of the same names)."""

    n_matches: int
    brier: float
    log_loss: float
    rps: float
    accuracy: float
    ece: tuple[float, float, float]
    outcomes: tuple[OutcomeStats, OutcomeStats, OutcomeStats]
    reliability: tuple[ReliabilityCurve, ReliabilityCurve, ReliabilityCurve]


def encode_results(results: ArrayLike) -> np.ndarray:
    """Map results "H"/"D"/"A" (or codes 0/1/2, passed through) to int codes 0/1/2."""
    values = np.asarray(results)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int64)
    else:
        codes = np.full(values.shape, -1, dtype=np.int64)
        for letter, code in RESULT_CODES.items():
            codes[values == letter] = code
    if codes.ndim != 1 or np.any((codes < 0) | (codes >= N_OUTCOMES)):
        raise ValueError("results must be a 1-D sequence of 'H'/'D'/'A' or 0/1/2")
    return codes


def one_hot(outcomes: ArrayLike) -> np.ndarray:
    """Indicator matrix (n, 3): row i has a 1 in column outcomes[i]."""
    return np.eye(N_OUTCOMES)[encode_results(outcomes)]


def check_forecast(probs: ArrayLike, outcomes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated (probs float (n, 3) in [0, 1], outcomes int (n,)) with n ≥ 1."""
    p = np.asarray(probs, dtype=np.float64)
    y = encode_results(outcomes)
    if p.ndim != 2 or p.shape[1] != N_OUTCOMES or p.shape[0] != y.shape[0] or y.size == 0:
        raise ValueError(
            f"expected probs (n, 3) and outcomes (n,), n ≥ 1; got {p.shape}, {y.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must be finite and in [0, 1]")
    return p, y


def brier_score(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Multi-class Brier score: mean over matches of Σ_k (p_k − 1[y = k])², range [0, 2].

    This is Brier's original (1950) sum over the 3 outcomes, not the one-vs-rest mean.
    """
    p, y = check_forecast(probs, outcomes)
    return float(np.mean(np.sum((p - one_hot(y)) ** 2, axis=1)))


def log_loss(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Log loss (ignorance in nats): −mean ln p_y, with p_y floored at ``LOG_LOSS_EPS``."""
    p, y = check_forecast(probs, outcomes)
    observed = p[np.arange(y.size), y]
    return float(-np.mean(np.log(np.maximum(observed, LOG_LOSS_EPS))))


def ranked_probability_score(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Ranked probability score for the ordered outcomes H < D < A, range [0, 1].

    RPS = mean over matches of 1/(r − 1) Σ_{i=1}^{r−1} (Σ_{j≤i} (p_j − 1[y = j]))², r = 3
    (Epstein 1969; Constantinou & Fenton 2012).
    """
    p, y = check_forecast(probs, outcomes)
    cumulative = np.cumsum(p - one_hot(y), axis=1)[:, :-1]
    return float(np.mean(np.sum(cumulative**2, axis=1) / (N_OUTCOMES - 1)))


def accuracy(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Share of matches whose argmax outcome happened; ties go to home, then draw."""
    p, y = check_forecast(probs, outcomes)
    return float(np.mean(np.argmax(p, axis=1) == y))


def entropy(probs: ArrayLike) -> np.ndarray:
    """Shannon entropy per row in nats, −Σ_k p_k ln p_k (0 ln 0 = 0), range [0, ln 3]."""
    p = np.asarray(probs, dtype=np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -np.sum(p * logs, axis=1)


def outcome_stats(
    probs: ArrayLike, outcomes: ArrayLike
) -> tuple[OutcomeStats, OutcomeStats, OutcomeStats]:
    """Per-outcome observed, expected and argmax-predicted counts with recall and precision."""
    p, y = check_forecast(probs, outcomes)
    predicted = np.argmax(p, axis=1)
    observed_counts = np.bincount(y, minlength=N_OUTCOMES)
    predicted_counts = np.bincount(predicted, minlength=N_OUTCOMES)
    hit_counts = np.bincount(y[predicted == y], minlength=N_OUTCOMES)
    expected = p.sum(axis=0)
    return tuple(
        OutcomeStats(
            outcome=OUTCOMES[k],
            observed=int(observed_counts[k]),
            expected=float(expected[k]),
            predicted=int(predicted_counts[k]),
            hits=int(hit_counts[k]),
            recall=_ratio(hit_counts[k], observed_counts[k]),
            precision=_ratio(hit_counts[k], predicted_counts[k]),
        )
        for k in range(N_OUTCOMES)
    )


def reliability_curves(
    probs: ArrayLike, outcomes: ArrayLike, n_bins: int = DEFAULT_BINS
) -> tuple[ReliabilityCurve, ReliabilityCurve, ReliabilityCurve]:
    """Reliability curve of each outcome (p_k vs 1[y = k]) over ``n_bins`` equal-width bins."""
    p, y = check_forecast(probs, outcomes)
    hits = one_hot(y)
    return tuple(_reliability(OUTCOMES[k], p[:, k], hits[:, k], n_bins) for k in range(N_OUTCOMES))


def expected_calibration_error(
    probs: ArrayLike, outcomes: ArrayLike, n_bins: int = DEFAULT_BINS
) -> tuple[float, float, float]:
    """Per-outcome ECE = Σ_bins (count / n) · |observed frequency − mean predicted|."""
    return tuple(_ece(curve) for curve in reliability_curves(probs, outcomes, n_bins))


def evaluate(probs: ArrayLike, outcomes: ArrayLike, n_bins: int = DEFAULT_BINS) -> MetricReport:
    """Every metric of this module for one forecast, bundled."""
    p, y = check_forecast(probs, outcomes)
    curves = reliability_curves(p, y, n_bins)
    return MetricReport(
        n_matches=int(y.size),
        brier=brier_score(p, y),
        log_loss=log_loss(p, y),
        rps=ranked_probability_score(p, y),
        accuracy=accuracy(p, y),
        ece=tuple(_ece(curve) for curve in curves),
        outcomes=outcome_stats(p, y),
        reliability=curves,
    )


def base_rate_probs(train_outcomes: ArrayLike, n_matches: int) -> np.ndarray:
    """Baseline forecast (n_matches, 3): every row equals the training outcome frequencies."""
    y = encode_results(train_outcomes)
    if y.size == 0:
        raise ValueError("the training set is empty")
    frequencies = np.bincount(y, minlength=N_OUTCOMES) / y.size
    return np.tile(frequencies, (n_matches, 1))


def _reliability(outcome: str, p: np.ndarray, hit: np.ndarray, n_bins: int) -> ReliabilityCurve:
    """Binned mean prediction and observed frequency of one outcome."""
    if n_bins < 1:
        raise ValueError("n_bins must be ≥ 1")
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    kept = np.flatnonzero(count)
    sum_p = np.bincount(index, weights=p, minlength=n_bins)[kept]
    sum_hit = np.bincount(index, weights=hit, minlength=n_bins)[kept]
    return ReliabilityCurve(
        outcome=outcome,
        bin_lower=_floats(kept / n_bins),
        bin_upper=_floats((kept + 1) / n_bins),
        mean_predicted=_floats(sum_p / count[kept]),
        observed_frequency=_floats(sum_hit / count[kept]),
        count=tuple(int(c) for c in count[kept]),
    )


def _ece(curve: ReliabilityCurve) -> float:
    """Count-weighted mean absolute gap between observed frequency and mean prediction."""
    count = np.asarray(curve.count, dtype=np.float64)
    gap = np.abs(np.subtract(curve.observed_frequency, curve.mean_predicted))
    return float(np.sum(count * gap) / np.sum(count))


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def _floats(values: Sequence[float] | np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
