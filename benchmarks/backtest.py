"""Backtest benchmark: every strategy over the whole shipped history in the warehouse.

Run: ``uv run python benchmarks/backtest.py`` (after ``uv run jackpot run``). Prints
``name: value`` lines: the time to load the decision-time inputs once (every season, every
league, both phases of every price, the forecasts), then per strategy the wall time of the
backtest (strategy + bankroll walk + metrics), the bets and bets per second. Reference measured
in the same run: ``sharp_ev``'s proposals computed by a naive per-match Python loop (dicts of
prices, margin removal by hand), checked to find the same bets, timed against the vectorized
``SharpValue.propose``. Median of ``REPEATS`` runs, BLAS pinned to one thread.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from threadpoolctl import threadpool_limits

from jackpot_pipeline.core.backtest import DecisionData
from jackpot_pipeline.core.strategies import NOT_BOOKABLE, STRATEGIES, SharpValue
from jackpot_pipeline.services import backtest, warehouse
from jackpot_pipeline.settings import Settings

REPEATS = 3
START, END = date(2000, 1, 1), date(2100, 1, 1)  # everything shipped


def timed(work: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """Median wall time of ``work`` (seconds) and its last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def naive_sharp_ev(data: DecisionData, strategy: SharpValue) -> set[tuple[str, str, str, str]]:
    """(match, market, outcome, bookmaker) of every price with EV ≥ min_ev, row by row."""
    books: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for row in data.prices.itertuples(index=False):
        books[(row.match_id, row.market)].setdefault(row.bookmaker, {})[row.outcome] = row.price
    outcomes = {"1X2": ("home", "draw", "away"), "OU2.5": ("over", "under")}
    found = set()
    for (match, market), prices in books.items():
        sharp = prices.get(strategy.reference, {})
        if market not in strategy.markets or len(sharp) != len(outcomes[market]):
            continue
        booksum = sum(1.0 / sharp[o] for o in outcomes[market])
        for book, quotes in prices.items():
            if book == strategy.reference or book in NOT_BOOKABLE:
                continue
            for outcome, price in quotes.items():
                if (1.0 / sharp[outcome]) / booksum * price - 1.0 >= strategy.min_ev:
                    found.add((match, market, outcome, book))
    return found


def main() -> None:
    settings = Settings.from_env()
    con = warehouse.connect(settings.warehouse_path, read_only=True)
    with threadpool_limits(1):
        base = backtest.default_config("flat_home", START, END)
        load_s, inputs = timed(lambda: backtest.load_inputs(con, base), repeats=1)
        data = inputs.data
        print(f"matches: {len(data.matches)}")
        print(f"decision_prices: {len(data.prices)}")
        print(f"forecast_rows: {len(data.forecasts)}")
        print(f"load_inputs_s: {load_s:.2f}")
        for name in STRATEGIES:
            config = backtest.default_config(name, START, END)
            seconds, result = timed(lambda c=config: backtest.run(con, c, inputs=inputs))
            bets = result.summary["bets"]
            print(
                f"{name}: {seconds:.2f} s, {bets} bets, {bets / seconds:,.0f} bets/s, "
                f"{len(data.prices) / seconds:,.0f} prices/s"
            )
        sharp = STRATEGIES["sharp_ev"]
        assert isinstance(sharp, SharpValue)
        ours_s, proposed = timed(lambda: sharp.propose(data))
        naive_s, naive = timed(lambda: naive_sharp_ev(data, sharp), repeats=1)
        ours = set(proposed[["match_id", "market", "outcome", "bookmaker"]].itertuples(index=False))
        print(f"sharp_ev_propose_vectorized_s: {ours_s:.3f}")
        print(f"sharp_ev_propose_naive_loop_s: {naive_s:.3f}")
        print(f"naive_over_vectorized: {naive_s / ours_s:.1f}x")
        print(f"same_candidates: {ours == {tuple(t) for t in naive}} ({len(ours)} candidates)")
    con.close()


if __name__ == "__main__":
    main()
