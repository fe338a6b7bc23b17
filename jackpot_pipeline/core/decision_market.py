"""Which bookmaker prices a historical forecast may use, and which it is compared against.

football-data.co.uk records two 1X2 snapshots per bookmaker: ``<BK>H/D/A``, taken a few days
before kickoff (phase ``opening`` in ``match_odds``: *pre-closing*), and ``<BK>CH/CD/CA``
at kick-off (``closing``). A forecast made before kickoff can only have seen the first, so the
market-using sets take the pre-closing line (:data:`DECISION_SOURCES`: Pinnacle, else the
market average, else Bet365); the closing line (:data:`CLOSING_SOURCES`: Pinnacle, else the
market average) is the benchmark the report compares against, never an input.
Prices outside [1.01, 1000] do not count; a source needs all three prices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from jackpot_pipeline.core.football_data import MAX_PRICE, MIN_PRICE
from jackpot_pipeline.core.margins import MarginMethod, remove_margin

#: (bookmaker, phase) in order of preference for the decision-time market.
DECISION_SOURCES: tuple[tuple[str, str], ...] = (
    ("pinnacle", "opening"),
    ("market_avg", "opening"),
    ("bet365", "opening"),
)
#: (bookmaker, phase) in order of preference for the closing benchmark.
CLOSING_SOURCES: tuple[tuple[str, str], ...] = (("pinnacle", "closing"), ("market_avg", "closing"))
PRICE_COLUMNS = ("home", "draw", "away")
PHASE_LABELS = {"opening": "pre-closing", "closing": "closing"}


def source_label(bookmaker: str, phase: str) -> str:
    """'football-data pinnacle pre-closing' — the ``market_source`` of a historical line."""
    return f"football-data {bookmaker} {PHASE_LABELS[phase]}"


def choose_market(
    triples: pd.DataFrame,
    match_ids: Sequence[str],
    sources: Sequence[tuple[str, str]],
    method: MarginMethod | str = MarginMethod.SHIN,
) -> pd.DataFrame:
    """Per match of ``match_ids`` (in that order): the first of ``sources`` with a complete
    valid 1X2 triple, its margin-free probabilities by ``method`` and its label.

    ``triples``: one row per (match_id, bookmaker, phase) with prices ``home, draw, away``.
    Returns match_id, source (None without any), p_home, p_draw, p_away (NaN without any).
    """
    ids = pd.Index(list(match_ids), name="match_id")
    prices = np.full((len(ids), 3), np.nan)
    source = np.full(len(ids), None, dtype=object)
    valid = triples[
        triples[list(PRICE_COLUMNS)].apply(lambda c: c.between(MIN_PRICE, MAX_PRICE)).all(axis=1)
    ]
    groups = valid.groupby(["bookmaker", "phase"]).indices
    for bookmaker, phase in reversed(sources):
        if (bookmaker, phase) not in groups:
            continue
        block = valid.iloc[groups[(bookmaker, phase)]].set_index("match_id")[list(PRICE_COLUMNS)]
        position = ids.get_indexer(block.index)
        found = position >= 0
        prices[position[found]] = block.to_numpy(dtype=np.float64)[found]
        source[position[found]] = source_label(bookmaker, phase)
    fair = remove_margin(prices, method).probabilities
    return pd.DataFrame(
        {
            "match_id": ids.to_numpy(),
            "source": source,
            "p_home": fair[:, 0],
            "p_draw": fair[:, 1],
            "p_away": fair[:, 2],
        }
    )
