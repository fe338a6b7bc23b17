"""Odds normalization benchmark: ``normalize_odds`` over the recorded soccer snapshots.

Run: ``uv run python benchmarks/odds.py``. Prints ``name: value`` lines. The workload is the 20
recorded ``/odds`` bodies of the shipped leagues' sports (11,642 rows), repeated ``COPIES`` times;
each variant turns every body into the same long rows (timestamps parsed to UTC, outcomes mapped
to home/draw/away/over/under by name), timed as the median of ``REPEATS`` runs, interleaved so
machine load hits all alike. References, measured in the same run: a naive per-row pure-Python
loop (one dict per outcome, then a DataFrame) and ``pandas.json_normalize``.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from jackpot_pipeline.core.odds import is_three_way, normalize_odds
from jackpot_pipeline.defs.odds.assets import DEFAULT_SPORTS
from jackpot_pipeline.settings import DATA_DIR

REPEATS = 9
COPIES = 10
DATA = DATA_DIR / "odds-api"
_STAMP = re.compile(r"_(\d{8})(?:T(\d{4})Z)?(?:\.\w+)?\.json$")
Body = tuple[Any, datetime, str]


def recorded_bodies() -> list[Body]:
    """(parsed body, snapshot stamp, sport) of each recorded /odds file of the enabled sports."""
    bodies = []
    for sport in DEFAULT_SPORTS:
        for path in sorted(DATA.glob(f"{sport}_odds_*.json")):
            date, hhmm = _STAMP.search(path.name).groups()
            stamp = datetime.strptime(date + (hhmm or "0000"), "%Y%m%d%H%M").replace(tzinfo=UTC)
            raw = json.loads(path.read_bytes())
            bodies.append((raw["data"] if isinstance(raw, dict) else raw, stamp, sport))
    return bodies


def ours(bodies: list[Body]) -> int:
    return sum(len(normalize_odds(body, stamp, sport)) for body, stamp, sport in bodies)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _outcome(market: str, name: str, home: str, away: str) -> str | None:
    if market in ("h2h", "h2h_lay", "spreads"):
        if name == home:
            return "home"
        if name == away:
            return "away"
        if name == "Draw" and market != "spreads":
            return "draw"
    if market == "totals":
        return {"Over": "over", "Under": "under"}.get(name)
    return None


def naive_loop(bodies: list[Body]) -> int:
    """One dict per outcome in nested Python loops, then a DataFrame."""
    total = 0
    for body, stamp, sport in bodies:
        rows = []
        for event in body:
            home, away = event.get("home_team"), event.get("away_team")
            event_sport = event.get("sport_key") or sport
            commence = _time(event.get("commence_time"))
            for book in event.get("bookmakers") or ():
                for market in book.get("markets") or ():
                    outcomes = market.get("outcomes") or ()
                    for outcome in outcomes:
                        rows.append(
                            {
                                "event_id": event["id"],
                                "sport": event_sport,
                                "commence_time": commence,
                                "home_team": home,
                                "away_team": away,
                                "bookmaker": book["key"],
                                "market": market["key"],
                                "outcome": _outcome(market["key"], outcome["name"], home, away),
                                "outcome_name": outcome.get("name"),
                                "price": float(outcome["price"]),
                                "point": outcome.get("point"),
                                "bookmaker_last_update": _time(book.get("last_update")),
                                "market_last_update": _time(market.get("last_update")),
                                "snapshot_time": stamp,
                                "two_way_h2h": market["key"] in ("h2h", "h2h_lay")
                                and len(outcomes) == 2
                                and is_three_way(event_sport),
                            }
                        )
        total += len(pd.DataFrame(rows))
    return total


def json_normalize(bodies: list[Body]) -> int:
    """``pandas.json_normalize`` down to outcomes, then the same column work in pandas."""
    total = 0
    for body, stamp, _ in bodies:
        if not body:
            continue
        frame = pd.json_normalize(
            body,
            record_path=["bookmakers", "markets", "outcomes"],
            meta=[
                "id",
                "sport_key",
                "commence_time",
                "home_team",
                "away_team",
                ["bookmakers", "key"],
                ["bookmakers", "last_update"],
                ["bookmakers", "markets", "key"],
                ["bookmakers", "markets", "last_update"],
            ],
            errors="ignore",
        )
        for column in ("commence_time", "bookmakers.last_update", "bookmakers.markets.last_update"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        market = frame["bookmakers.markets.key"]
        frame["outcome"] = [
            _outcome(m, n, h, a)
            for m, n, h, a in zip(
                market, frame["name"], frame["home_team"], frame["away_team"], strict=True
            )
        ]
        frame["snapshot_time"] = pd.Timestamp(stamp)
        total += len(frame)
    return total


def timed(run: Callable[[list[Body]], int], bodies: list[Body]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = run(bodies)
    return time.perf_counter() - start, rows


def main() -> None:
    bodies = recorded_bodies() * COPIES
    variants = {"ours": ours, "naive_loop": naive_loop, "json_normalize": json_normalize}
    times: dict[str, list[float]] = {name: [] for name in variants}
    rows: dict[str, int] = {}
    for name, run in variants.items():  # warm-up
        rows[name] = run(bodies)
    for _ in range(REPEATS):
        for name, run in variants.items():
            seconds, count = timed(run, bodies)
            times[name].append(seconds)
            assert count == rows[name]
    assert rows["ours"] == rows["naive_loop"] == rows["json_normalize"]
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"snapshots: {len(bodies)} ({len(bodies) // COPIES} recorded files x {COPIES})")
    print(f"rows_per_run: {rows['ours']}")
    print(f"repeats: {REPEATS}")
    for name in variants:
        print(f"{name}_median_s: {median[name]:.4f}")
        print(f"{name}_rows_per_s: {rows[name] / median[name]:,.0f}")
    print(f"speedup_vs_naive_loop: {median['naive_loop'] / median['ours']:.2f}")
    print(f"speedup_vs_json_normalize: {median['json_normalize'] / median['ours']:.2f}")
    print(f"target_100k_rows_per_s_met: {rows['ours'] / median['ours'] >= 100_000}")


if __name__ == "__main__":
    main()
