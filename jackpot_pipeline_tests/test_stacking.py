"""Log-linear stacking against a brute-force weight grid, and its out-of-sample discipline."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from jackpot_pipeline.core import stacking
from jackpot_pipeline.core.metrics import encode_results
from jackpot_pipeline.services.members import load_season
from jackpot_pipeline.settings import Settings


@cache
def _members() -> tuple[pd.DataFrame, list[str]]:
    """Real E0 matches with two genuinely different forecasts: the closing market and the
    home/draw/away frequencies of the season before (a base rate)."""
    root = Settings().football_data_dir
    frames = [
        load_season(root / f, "E0", s)
        for f, s in (("2223/E0.csv", "2022-23"), ("2324/E0.csv", "2023-24"))
    ]
    matches = pd.concat(frames, ignore_index=True)
    base = np.array([0.46, 0.23, 0.31])
    frame = matches.assign(
        outcome=encode_results(matches["result"].to_numpy()),
        market_home=matches["market_home"],
        base_home=base[0],
        base_draw=base[1],
        base_away=base[2],
    )
    return frame, ["market", "base"]


def test_weights_minimize_log_loss_like_a_brute_force_grid() -> None:
    frame, names = _members()
    probs = [frame[[f"{m}_home", f"{m}_draw", f"{m}_away"]].to_numpy() for m in names]
    fitted = stacking.fit_pool(probs, frame["outcome"].to_numpy(), names)
    log_probs = np.stack([np.log(p) for p in probs])
    grid = np.linspace(0.0, 2.0, 201)
    brute = min(
        stacking.pool_log_loss(np.array([a, b]), log_probs, frame["outcome"].to_numpy())[0]
        for a in grid
        for b in grid
    )
    assert fitted.log_loss <= brute + 1e-9
    assert fitted.weights[0] > 0.5


def test_gradient_matches_finite_differences() -> None:
    frame, names = _members()
    log_probs = np.stack(
        [np.log(frame[[f"{m}_home", f"{m}_draw", f"{m}_away"]].to_numpy()) for m in names]
    )
    y = frame["outcome"].to_numpy()
    w = np.array([0.7, 0.4])
    _, grad = stacking.pool_log_loss(w, log_probs, y)
    assert central_differences(w, log_probs, y) == pytest.approx(grad, rel=1e-6)


def central_differences(params: np.ndarray, log_probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The pool's log-loss gradient by central differences (step 1e-6)."""
    out = np.empty(len(params))
    for k in range(len(params)):
        e = np.zeros(len(params))
        e[k] = 1e-6
        out[k] = (
            stacking.pool_log_loss(params + e, log_probs, y)[0]
            - stacking.pool_log_loss(params - e, log_probs, y)[0]
        ) / 2e-6
    return out


def test_pool_of_one_member_with_weight_one_is_that_member() -> None:
    frame, _ = _members()
    market = frame[["market_home", "market_draw", "market_away"]].to_numpy()
    np.testing.assert_allclose(stacking.pool(np.log(market)[None], np.array([1.0])), market)


def test_walk_forward_weights_come_from_earlier_seasons_only() -> None:
    frame, names = _members()
    pooled, weights = stacking.walk_forward_stack(frame, names, min_train=300)
    first = (frame["season"] == "2022-23").to_numpy()
    assert np.isnan(pooled[first]).all() and np.isfinite(pooled[~first]).all()
    assert list(weights) == ["2023-24"] and weights["2023-24"].n_train == first.sum()
    changed = frame.copy()
    changed.loc[~first, "outcome"] = 1  # the scored season's results do not move its weights
    _, again = stacking.walk_forward_stack(changed, names, min_train=300)
    assert again["2023-24"].weights == weights["2023-24"].weights


def test_variant_selection_uses_earlier_seasons_only() -> None:
    frame, _ = _members()
    # Two variants of one forecast: the market, and the market flattened towards uniform.
    market = frame[["market_home", "market_draw", "market_away"]].to_numpy()
    flat = 0.5 * market + 0.5 / 3
    data = frame.assign(
        **{f"sharp_{k}": market[:, i] for i, k in enumerate(("home", "draw", "away"))},
        **{f"flat_{k}": flat[:, i] for i, k in enumerate(("home", "draw", "away"))},
    )
    probs, selections = stacking.select_variants(data, ["flat", "sharp"], default="flat")
    first = (data["season"] == "2022-23").to_numpy()
    assert [s.chosen for s in selections] == ["flat", "sharp"]
    np.testing.assert_array_equal(probs[first], flat[first])
    np.testing.assert_array_equal(probs[~first], market[~first])
    rows = np.arange(first.sum())
    expected = -np.log(market[first][rows, data["outcome"].to_numpy()[first]]).mean()
    assert dict(selections[1].scores)["sharp"] == pytest.approx(expected)
    # The scored season's own results do not move its choice.
    changed = data.assign(outcome=np.where(first, data["outcome"], 1))
    _, again = stacking.select_variants(changed, ["flat", "sharp"], default="flat")
    assert again[1].scores == selections[1].scores


def test_biased_pool_gradient_and_optimum_against_a_derivative_free_search() -> None:
    """Intercepts: the analytic gradient equals finite differences, and the fit is at least as
    good as Nelder-Mead on the same objective; on real matches the intercepts help."""
    frame, names = _members()
    probs = [frame[[f"{m}_home", f"{m}_draw", f"{m}_away"]].to_numpy() for m in names]
    log_probs = np.stack([np.log(p) for p in probs])
    y = frame["outcome"].to_numpy()
    params = np.array([0.7, 0.4, 0.1, -0.2])
    _, grad = stacking.pool_log_loss(params, log_probs, y)
    assert central_differences(params, log_probs, y) == pytest.approx(grad, rel=1e-5, abs=1e-9)
    fitted = stacking.fit_pool(probs, y, names, biased=True)
    search = minimize(
        lambda x: stacking.pool_log_loss(np.r_[np.abs(x[:2]), x[2:]], log_probs, y)[0],
        np.array([0.5, 0.5, 0.0, 0.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000},
    )
    assert fitted.log_loss <= search.fun + 1e-9
    assert fitted.bias[2] == 0.0 and fitted.bias != (0.0, 0.0, 0.0)
    assert fitted.log_loss < stacking.fit_pool(probs, y, names).log_loss
    pooled = stacking.pool(log_probs, np.array(fitted.weights), fitted.bias)
    np.testing.assert_allclose(pooled.sum(axis=1), 1.0)
