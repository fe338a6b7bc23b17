"""Block bootstrap of paired differences: normal-theory oracle, block structure, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from jackpot_pipeline.core.bootstrap import block_bootstrap, week_blocks


def test_independent_blocks_match_the_normal_interval() -> None:
    """One match per block: the percentile interval ≈ mean ± 1.96·s/√n (CLT oracle)."""
    rng = np.random.default_rng(3)
    diff = rng.normal(0.01, 0.2, size=4000)
    result = block_bootstrap(diff, np.arange(len(diff)), n_resamples=4000)
    half = 1.959964 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert result.mean == pytest.approx(diff.mean(), abs=1e-15)
    assert result.low == pytest.approx(diff.mean() - half, abs=0.12 * half)
    assert result.high == pytest.approx(diff.mean() + half, abs=0.12 * half)
    assert (result.n, result.n_blocks) == (4000, 4000)


def test_correlated_matches_inside_a_block_count_once() -> None:
    """Each value repeated 5 times inside its block gives exactly the interval of the values
    alone (same draws), which is √5 wider than treating the 5 copies as independent."""
    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 1.0, size=300)
    alone = block_bootstrap(values, np.arange(300))
    repeated = block_bootstrap(np.repeat(values, 5), np.repeat(np.arange(300), 5))
    assert (repeated.low, repeated.high) == pytest.approx((alone.low, alone.high), abs=1e-12)
    naive = block_bootstrap(np.repeat(values, 5), np.arange(1500))
    ratio = (repeated.high - repeated.low) / (naive.high - naive.low)
    assert ratio == pytest.approx(np.sqrt(5), rel=0.15)


def test_same_input_same_interval_and_bad_input_is_refused() -> None:
    diff = np.linspace(-1, 1, 101)
    blocks = np.arange(101) // 10
    assert block_bootstrap(diff, blocks) == block_bootstrap(diff, blocks)
    with pytest.raises(ValueError, match="one block label"):
        block_bootstrap(diff, blocks[:-1])
    with pytest.raises(ValueError, match="finite"):
        block_bootstrap(np.array([0.1, np.nan]), np.array([0, 1]))
    with pytest.raises(ValueError, match="no differences"):
        block_bootstrap(np.array([]), np.array([]))


def test_week_blocks_keep_a_weekend_together() -> None:
    days = np.array(["2025-04-11", "2025-04-12", "2025-04-13", "2025-04-14"], dtype="datetime64[D]")
    labels = week_blocks(days)
    assert labels.tolist() == ["2025-04-07", "2025-04-07", "2025-04-07", "2025-04-14"]
