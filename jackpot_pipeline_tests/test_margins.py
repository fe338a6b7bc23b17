"""Margin removal: closed forms, real football-data rows against penaltyblog, properties."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from penaltyblog.implied import calculate_implied

from jackpot_pipeline.core import margins
from jackpot_pipeline.core.margins import MarginMethod, implied_overround, remove_margin
from jackpot_pipeline.settings import DATA_DIR

FOOTBALL_DATA = DATA_DIR / "football-data"
REAL_MARKETS = [
    ("2324/E0.csv", ("PSCH", "PSCD", "PSCA")),  # Pinnacle closing 1X2
    ("2324/E0.csv", ("AvgCH", "AvgCD", "AvgCA")),  # market-average closing 1X2
    ("2324/E0.csv", ("B365>2.5", "B365<2.5")),  # Bet365 over/under 2.5
    ("1213/SP1.csv", ("PSCH", "PSCD", "PSCA")),
    ("2526/I1.csv", ("B365CH", "B365CD", "B365CA")),
]
SUM_TOL = 1e-12


def _real_odds(file: str, columns: tuple[str, ...]) -> np.ndarray:
    frame = pd.read_csv(Path(FOOTBALL_DATA, file), encoding="utf-8-sig", usecols=list(columns))
    return frame[list(columns)].to_numpy(dtype=np.float64)


@pytest.mark.parametrize(("file", "columns"), REAL_MARKETS)
@pytest.mark.parametrize("method", list(MarginMethod))
def test_matches_penaltyblog_on_real_rows(
    file: str, columns: tuple[str, ...], method: MarginMethod
) -> None:
    odds = _real_odds(file, columns)
    result = remove_margin(odds, method)
    complete = ~np.isnan(odds).any(axis=1)
    assert complete.sum() > 250
    for row in np.flatnonzero(complete):
        oracle = calculate_implied(odds[row].tolist(), method=method.value)
        np.testing.assert_allclose(result.probabilities[row], oracle.probabilities, atol=1e-9)
        assert result.overround[row] == pytest.approx(oracle.margin, abs=1e-12)
        if oracle.method_params:
            (expected,) = oracle.method_params.values()
            assert result.parameter[row] == pytest.approx(expected, abs=1e-9)
    assert np.isnan(result.probabilities[~complete]).all()


@pytest.mark.parametrize(("file", "columns"), REAL_MARKETS)
def test_real_parameters_in_documented_range(file: str, columns: tuple[str, ...]) -> None:
    odds = _real_odds(file, columns)
    complete = ~np.isnan(odds).any(axis=1)
    k = margins.power(odds).parameter[complete]
    z = margins.shin(odds).parameter[complete]
    assert ((k > 1.0) & (k < 2.0)).all()  # bookmaker margins are positive and < 20 %
    assert ((z > 0.0) & (z < 0.2)).all()


def test_closed_forms() -> None:
    odds = np.array([[1.5, 3.0, 6.0], [2.0, 4.0, 4.0]])  # booksums 7/6 and exactly 1
    np.testing.assert_allclose(implied_overround(odds), [1 / 6, 0.0], atol=1e-15)
    np.testing.assert_allclose(
        margins.multiplicative(odds).probabilities, [[4 / 7, 2 / 7, 1 / 7], [0.5, 0.25, 0.25]]
    )
    np.testing.assert_allclose(
        margins.additive(odds).probabilities, [[11 / 18, 5 / 18, 2 / 18], [0.5, 0.25, 0.25]]
    )
    fair_book = odds[1:]
    assert margins.power(fair_book).parameter[0] == pytest.approx(1.0, abs=1e-14)
    assert margins.shin(fair_book).parameter[0] == pytest.approx(0.0, abs=1e-14)


def test_arbitrage_book_has_negative_shin_z_and_power_below_one() -> None:
    odds = np.array([[2.2, 3.8, 4.1]])  # booksum < 1
    assert implied_overround(odds)[0] < 0
    assert 0.0 < margins.power(odds).parameter[0] < 1.0
    result = margins.shin(odds)
    assert -1.0 < result.parameter[0] < 0.0
    assert result.probabilities.sum() == pytest.approx(1.0, abs=SUM_TOL)


@pytest.mark.parametrize("method", list(MarginMethod))
def test_nan_rows_stay_nan(method: MarginMethod) -> None:
    odds = np.array([[2.1, 3.4, 3.6], [np.nan, 3.4, 3.6], [1.9, 3.5, 4.5]])
    result = remove_margin(odds, method)
    assert np.isnan(result.probabilities[1]).all()
    assert np.isnan(result.overround[1])
    assert not np.isnan(result.probabilities[[0, 2]]).any()
    if result.parameter is not None:
        assert np.isnan(result.parameter[1]) and not np.isnan(result.parameter[[0, 2]]).any()


def test_parameter_only_for_solved_methods() -> None:
    odds = [[2.1, 3.4, 3.6]]
    assert remove_margin(odds, "multiplicative").parameter is None
    assert remove_margin(odds, "additive").parameter is None
    assert remove_margin(odds, "power").method is MarginMethod.POWER


@pytest.mark.parametrize("bad", [1.0, 0.5, -2.0, np.inf])
def test_invalid_odds_raise_naming_the_row(bad: float) -> None:
    odds = np.array([[2.1, 3.4, 3.6], [np.nan, 1.0, 3.0], [1.9, bad, 4.5]])
    with pytest.raises(ValueError, match=r"indices \[2\]"):
        margins.shin(odds)
    with pytest.raises(ValueError, match=r"indices \[2\]"):
        implied_overround(odds)


@pytest.mark.parametrize("shape", [(3,), (2, 1), (1, 2, 3)])
def test_wrong_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="2-D"):
        margins.multiplicative(np.full(shape, 2.0))


def test_result_is_immutable() -> None:
    result = margins.power([[2.1, 3.4, 3.6]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = MarginMethod.SHIN  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.probabilities[0, 0] = 0.5


odds_arrays = st.integers(min_value=2, max_value=4).flatmap(
    lambda k: hnp.arrays(
        np.float64,
        st.tuples(st.integers(min_value=1, max_value=5), st.just(k)),
        elements=st.floats(min_value=1.01, max_value=100.0),
    )
)


@settings(max_examples=150, deadline=None)
@given(odds=odds_arrays, method=st.sampled_from(list(MarginMethod)))
def test_probabilities_in_unit_interval_and_sum_to_one(
    odds: np.ndarray, method: MarginMethod
) -> None:
    if method is MarginMethod.ADDITIVE:  # documented: long shots below m/c go non-positive
        inverse = 1.0 / odds
        assume((inverse.min(axis=1) > (inverse.sum(axis=1) - 1.0) / odds.shape[1]).all())
    probabilities = remove_margin(odds, method).probabilities
    assert ((probabilities > 0.0) & (probabilities < 1.0)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=SUM_TOL, rtol=0)
