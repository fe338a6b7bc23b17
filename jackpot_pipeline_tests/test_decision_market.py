"""Decision-time and closing market lines of recorded matches (football-data prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.decision_market import (
    CLOSING_SOURCES,
    DECISION_SOURCES,
    choose_market,
)
from jackpot_pipeline.core.football_data import parse_football_data
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline_tests._corpus import csv_records, real_bytes


def triples_of(odds: pd.DataFrame) -> pd.DataFrame:
    one_x_two = odds[odds["market"] == "1X2"]
    return one_x_two.pivot_table(
        index=["match_id", "bookmaker", "phase"], columns="outcome", values="price"
    ).reset_index()


def test_pre_closing_pinnacle_first_never_closing() -> None:
    """Real E0 2023-24: the decision line is PSH/PSD/PSA without margin (Shin), the closing
    line PSCH/PSCD/PSCA; the two differ, so a closing price never leaks into the input."""
    parsed = parse_football_data(real_bytes("2324", "E0"), "E0", "2023-24")
    ids = parsed.matches["match_id"].tolist()
    triples = triples_of(parsed.odds)
    decision = choose_market(triples, ids, DECISION_SOURCES, "shin")
    closing = choose_market(triples, ids, CLOSING_SOURCES, "shin")
    rows = csv_records("2324", "E0")
    expected = remove_margin(
        [[float(r["PSH"]), float(r["PSD"]), float(r["PSA"])] for r in rows], "shin"
    ).probabilities
    np.testing.assert_allclose(decision[["p_home", "p_draw", "p_away"]], expected, rtol=1e-12)
    assert (decision["source"] == "football-data pinnacle pre-closing").all()
    assert (closing["source"] == "football-data pinnacle closing").all()
    assert np.abs(decision["p_home"] - closing["p_home"]).mean() > 0.005


def test_falls_back_to_average_then_bet365_and_refuses_bad_prices() -> None:
    triples = pd.DataFrame(
        [
            ("m1", "pinnacle", "opening", 2.0, 3.5, 4.0),
            ("m1", "bet365", "opening", 1.9, 3.4, 4.2),
            ("m2", "pinnacle", "opening", 2.0, np.nan, 4.0),  # incomplete: not usable
            ("m2", "bet365", "opening", 1.9, 3.4, 4.2),
            ("m3", "pinnacle", "opening", 2.0, 3.5, 1.0),  # price < 1.01: not usable
            ("m3", "market_avg", "opening", 2.1, 3.3, 3.9),
            ("m4", "pinnacle", "closing", 2.0, 3.5, 4.0),  # closing only: no decision line
        ],
        columns=["match_id", "bookmaker", "phase", "home", "draw", "away"],
    )
    chosen = choose_market(triples, ["m1", "m2", "m3", "m4"], DECISION_SOURCES, "shin")
    assert chosen["source"].tolist() == [
        "football-data pinnacle pre-closing",
        "football-data bet365 pre-closing",
        "football-data market_avg pre-closing",
        None,
    ]
    assert np.isnan(chosen.loc[3, ["p_home", "p_draw", "p_away"]].astype(float)).all()
    assert chosen.loc[0, ["p_home", "p_draw", "p_away"]].sum() == pytest.approx(1.0, abs=1e-12)
