"""Paired differences of per-match scores with a block-bootstrap interval.

Matches of one weekend (or matchday) share news, weather and the market's mood, so their score
differences are not independent. The interval resamples whole blocks (e.g. ISO weeks) with
replacement: with per-block sums S_b and counts n_b of the differences, a replicate mean is
Σ S_b* / Σ n_b* over B blocks drawn with replacement; the 95 % interval is the 2.5 and 97.5
percentiles of ``n_resamples`` replicates. The generator is seeded: same input, same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20_260_412
LEVEL = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """Mean of a − b over n matches in B blocks, with its bootstrap interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int
    n_blocks: int


def block_bootstrap(
    differences: ArrayLike,
    blocks: ArrayLike,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
) -> PairedDifference:
    """Mean paired difference and its ``level`` block-bootstrap percentile interval."""
    diff = np.asarray(differences, dtype=np.float64)
    labels = np.asarray(blocks)
    if diff.shape != labels.shape or diff.ndim != 1:
        raise ValueError("one block label per difference is required")
    if len(diff) == 0:
        raise ValueError("no differences to bootstrap")
    if not np.all(np.isfinite(diff)):
        raise ValueError("differences must be finite")
    _, index = np.unique(labels, return_inverse=True)
    sums = np.bincount(index, diff)
    counts = np.bincount(index).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(n_resamples, len(sums)))
    replicates = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return PairedDifference(float(diff.mean()), float(low), float(high), len(diff), len(sums))


def week_blocks(dates: ArrayLike) -> np.ndarray:
    """Block label per match: the Monday of its week (a weekend round stays together)."""
    days = np.asarray(dates, dtype="datetime64[D]")
    # ISO weeks start on Monday; 1970-01-01 was a Thursday, so shift by 3 days.
    monday = days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    return monday.astype(str)
