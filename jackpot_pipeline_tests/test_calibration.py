"""Isotonic calibration: PAVA oracle, monotonicity, no leakage, fallback, effect on ECE."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core import calibration, metrics


def _draw_outcomes(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One multinomial draw per row of ``truth`` (n, 3)."""
    u = rng.random(len(truth))[:, None]
    return (u > np.cumsum(truth, axis=1)[:, :2]).sum(axis=1)


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated-by-construction forecasts around real-ish base rates and their outcomes."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet(20 * np.array([0.45, 0.26, 0.29]), size=n)
    return truth, _draw_outcomes(truth, rng)


def _brute_force_pava(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[tuple[float, float]]:
    """Textbook PAVA on (x, y, w) sorted by x with tied x pooled; returns (centre, value) blocks."""
    order = np.argsort(x, kind="stable")
    blocks: list[list[float]] = []  # [Σw·x, Σw·y, Σw]
    for i in order:
        if blocks and x[i] == blocks[-1][3]:
            last = blocks.pop()
            blocks.append([last[0] + w[i] * x[i], last[1] + w[i] * y[i], last[2] + w[i], x[i]])
            continue
        blocks.append([w[i] * x[i], w[i] * y[i], w[i], x[i]])
    merged: list[list[float]] = []
    for block in blocks:
        merged.append(block[:3])
        while len(merged) > 1 and merged[-2][1] / merged[-2][2] >= merged[-1][1] / merged[-1][2]:
            top = merged.pop()
            merged[-1] = [a + b for a, b in zip(merged[-1], top, strict=True)]
    return [(sx / sw, sy / sw) for sx, sy, sw in merged]


def test_breakpoints_match_brute_force_pava_with_ties_and_weights() -> None:
    rng = np.random.default_rng(5)
    p = np.round(rng.random(300), 2)  # many ties
    hit = (rng.random(300) < p).astype(float)
    w = rng.uniform(0.5, 2.0, size=300)
    x_fit, y_fit = calibration.isotonic_breakpoints(p, hit, w)
    oracle = np.array(_brute_force_pava(p, hit, w))
    np.testing.assert_allclose(x_fit, oracle[:, 0], rtol=1e-12)
    np.testing.assert_allclose(y_fit, oracle[:, 1], rtol=1e-12, atol=1e-15)


def test_fitted_maps_are_monotone_and_probabilities_sum_to_one() -> None:
    probs, outcomes = _synthetic(2000, seed=6)
    curve = calibration.fit_calibration(probs, outcomes)
    grid = np.linspace(0, 1, 1001)
    for outcome_curve in curve.outcomes:
        assert np.all(np.diff(outcome_curve.x) > 0)
        assert np.all(np.diff(outcome_curve.y) >= 0)
        assert np.all(np.diff(outcome_curve(grid)) >= 0)
    calibrated = calibration.apply_calibration(curve, probs)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, atol=1e-9)
    assert calibrated.min() > 0 and calibrated.max() < 1
    assert not curve.is_identity and curve.n_samples == 2000


def test_interpolates_between_block_centres_and_clips_at_the_ends() -> None:
    curve = calibration.OutcomeCurve("home", x=(0.2, 0.6), y=(0.1, 0.5))
    np.testing.assert_allclose(
        curve(np.array([0.0, 0.2, 0.4, 0.6, 1.0])), [0.1, 0.1, 0.3, 0.5, 0.5]
    )


def test_apply_clips_at_eps_before_renormalizing() -> None:
    zero_draw = calibration.OutcomeCurve("draw", x=(0.0, 1.0), y=(0.0, 0.0))
    identity = calibration.fit_calibration(np.empty((0, 3)), [])
    curve = calibration.CalibrationCurve(
        "pooled", None, 0, True, (identity.outcomes[0], zero_draw, identity.outcomes[2]), ()
    )
    calibrated = calibration.apply_calibration(curve, np.array([[0.5, 0.3, 0.2]]))
    np.testing.assert_allclose(calibrated, np.array([[0.5, 1e-4, 0.2]]) / 0.7001)


def test_too_few_samples_gives_identity_and_flag() -> None:
    probs, outcomes = _synthetic(29, seed=7)
    curve = calibration.fit_calibration(probs, outcomes, min_samples=30)
    assert curve.is_identity and curve.n_samples == 29
    np.testing.assert_allclose(calibration.apply_calibration(curve, probs), probs, atol=1e-12)
    empty = calibration.fit_calibration(np.empty((0, 3)), np.empty(0, dtype=int))
    assert empty.is_identity and empty.reliability == ()


def test_already_calibrated_forecast_changes_little() -> None:
    train, train_y = _synthetic(20000, seed=8)
    test, _ = _synthetic(5000, seed=9)
    curve = calibration.fit_calibration(train, train_y)
    change = np.abs(calibration.apply_calibration(curve, test) - test)
    assert change.mean() < 0.01


def test_miscalibrated_forecast_ece_is_reduced() -> None:
    truth, outcomes = _synthetic(20000, seed=10)
    squared = truth**2 / np.sum(truth**2, axis=1, keepdims=True)  # over-confident
    curve = calibration.fit_calibration(squared[:10000], outcomes[:10000])
    calibrated = calibration.apply_calibration(curve, squared[10000:])
    before = metrics.expected_calibration_error(squared[10000:], outcomes[10000:])
    after = metrics.expected_calibration_error(calibrated, outcomes[10000:])
    assert sum(after) < 0.5 * sum(before)
    assert metrics.log_loss(calibrated, outcomes[10000:]) < metrics.log_loss(
        squared[10000:], outcomes[10000:]
    )


def test_curve_survives_a_json_round_trip() -> None:
    probs, outcomes = _synthetic(200, seed=11)
    curve = calibration.fit_calibration(
        probs, outcomes, scope="E0", trained_on_end=date(2020, 5, 31)
    )
    restored = calibration.CalibrationCurve.from_dict(json.loads(json.dumps(curve.to_dict())))
    assert restored == curve


def _season_frame(seed: int) -> pd.DataFrame:
    probs, outcomes = _synthetic(1200, seed=seed)
    seasons = np.repeat([2019, 2020, 2021], 400)
    return pd.DataFrame(
        {
            "season": seasons,
            "league": np.tile(["E0", "SP1"], 600),
            "date": pd.to_datetime([f"{s}-01-01" for s in seasons])
            + pd.to_timedelta(np.tile(np.arange(400), 3), unit="D"),
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
            "result": np.array(["H", "D", "A"])[outcomes],
        }
    )


@pytest.mark.parametrize("scope", ["pooled", "league"])
def test_walk_forward_curves_use_only_earlier_periods(scope: str) -> None:
    df = _season_frame(seed=12)
    curves = calibration.fit_walk_forward_curves(df, "season", scope=scope)
    altered = df.copy()
    later = altered["season"] >= 2021
    altered.loc[later, "result"] = "D"  # every outcome of period ≥ 2021 changed
    altered.loc[later, "p_home"] = 0.9
    altered_curves = calibration.fit_walk_forward_curves(altered, "season", scope=scope)
    earlier = df.copy()
    earlier.loc[earlier["season"] == 2020, "result"] = "D"
    earlier_curves = calibration.fit_walk_forward_curves(earlier, "season", scope=scope)
    scopes = ["pooled"] if scope == "pooled" else ["E0", "SP1"]
    for value in scopes:
        assert curves[(value, 2021)] == altered_curves[(value, 2021)]
        assert curves[(value, 2021)] != earlier_curves[(value, 2021)]  # the test can fail
        assert curves[(value, 2019)].is_identity
        in_scope = df if value == "pooled" else df[df["league"] == value]
        last = in_scope.loc[in_scope["season"] < 2021, "date"].max().date()
        assert curves[(value, 2021)].trained_on_end == last
    expected_n = 800 if scope == "pooled" else 400
    assert curves[(scopes[0], 2021)].n_samples == expected_n


def test_apply_walk_forward_maps_each_row_with_its_period_curve() -> None:
    df = _season_frame(seed=13).sample(frac=1.0, random_state=0)  # shuffled, non-default index
    curves = calibration.fit_walk_forward_curves(df, "season", scope="league")
    calibrated = calibration.apply_walk_forward(df, curves, "season", scope="league")
    row = df.iloc[7]
    expected = calibration.apply_calibration(
        curves[(row["league"], row["season"])], row[["p_home", "p_draw", "p_away"]].to_numpy()[None]
    )
    np.testing.assert_allclose(calibrated[7], expected[0])
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, atol=1e-9)
