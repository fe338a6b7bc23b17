"""The pure backtest core against hand computations, brute force and closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from jackpot_pipeline.core.backtest import DecisionData, run_backtest
from jackpot_pipeline.core.backtest_inputs import football_data_inputs, odds_api_inputs
from jackpot_pipeline.core.backtest_metrics import (
    bootstrap_roi,
    closing_line_value,
    max_drawdown,
    summarize,
)
from jackpot_pipeline.core.dixon_coles import score_grid
from jackpot_pipeline.core.goal_grid import over_under_25
from jackpot_pipeline.core.staking import StakeMethod, StakingConfig, kelly_fraction, stake_size
from jackpot_pipeline.core.strategies import Arbitrage, ModelValue, strategy

UTC = "UTC"
FLAT = StakingConfig(method=StakeMethod.FLAT, flat_stake=10.0)
KELLY = StakingConfig(method=StakeMethod.KELLY, max_stake=100.0)


# ------------------------------------------------------------------------------ staking


@pytest.mark.parametrize(("p", "o"), [(0.6, 2.1), (0.25, 5.0), (0.55, 1.9), (0.9, 1.2)])
def test_kelly_matches_closed_form_and_maximizes_log_growth(p: float, o: float) -> None:
    b, q = o - 1.0, 1.0 - p
    assert kelly_fraction(p, o) == pytest.approx(max((b * p - q) / b, 0.0), abs=1e-15)
    if p * o > 1:  # numeric argmax of E[log wealth] (an independent oracle)
        best = minimize_scalar(
            lambda f: -(p * math.log1p(f * b) + q * math.log1p(-f)),
            bounds=(0.0, 0.999),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert kelly_fraction(p, o) == pytest.approx(best.x, abs=1e-6)


def test_stake_bounds_and_methods() -> None:
    kelly = StakingConfig(min_stake=2.0, max_stake=50.0)
    assert stake_size(kelly, 1000.0, 1000.0, 0.6, 2.1) == pytest.approx(50.0)  # 59.09 capped
    assert stake_size(kelly, 1000.0, 30.0, 0.6, 2.1) == pytest.approx(30.0)  # free cash
    assert stake_size(kelly, 1000.0, 1000.0, 0.4, 2.1) == 0.0  # no edge
    assert stake_size(kelly, 50.0, 50.0, 0.52, 2.0) == 0.0  # 0.25·0.04·50 = 0.5 < min
    percent = StakingConfig(method="percent", percent=0.02)
    assert stake_size(percent, 1500.0, 1500.0, 0.1, 3.0) == pytest.approx(30.0)
    assert stake_size(FLAT, 0.0, 0.0, 0.5, 2.0) == 0.0  # bankroll spent
    with pytest.raises(ValueError, match="kelly_multiplier"):
        StakingConfig(kelly_multiplier=1.5)


# ------------------------------------------------------------------------------ metrics


def test_drawdown_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        equity = 1000 + np.cumsum(np.concatenate([[0.0], rng.normal(0, 30, 40)]))
        pairs = [(i, j) for i in range(len(equity)) for j in range(i, len(equity))]
        absolute = max(equity[i] - equity[j] for i, j in pairs)
        fraction = max((equity[i] - equity[j]) / equity[i] for i, j in pairs)
        assert max_drawdown(equity) == pytest.approx((absolute, fraction), abs=1e-12)


def _bets(profits: list[float], stakes: list[float], prices: list[float]) -> pd.DataFrame:
    n = len(profits)
    kickoff = pd.Timestamp("2024-01-01 15:00", tz=UTC) + pd.to_timedelta(np.arange(n) * 7, "D")
    return pd.DataFrame(
        {
            "match_id": [f"m{i}" for i in range(n)],
            "market": "1X2",
            "stake": stakes,
            "profit": profits,
            "price": prices,
            "result": ["won" if p > 0 else "lost" if p < 0 else "void" for p in profits],
            "kickoff": kickoff,
            "decision_at": kickoff - pd.Timedelta(days=2),
            "settle_at": kickoff + pd.Timedelta(hours=2),
        }
    )


def test_summary_by_hand() -> None:
    # r = 1.5, -1, -1, 2 (stakes of 1): mean 0.375; squared deviations 1.265625, 1.890625,
    # 1.890625, 2.640625 sum 7.6875 → sd = √(7.6875/3); downside √((1+1)/4) = √0.5.
    bets = _bets([1.5, -1.0, -1.0, 2.0], [1.0] * 4, [2.5, 2.0, 3.0, 3.0])
    s = summarize(bets, 100.0)
    assert s.sharpe_per_bet == pytest.approx(0.375 / math.sqrt(7.6875 / 3))
    assert s.sortino_per_bet == pytest.approx(0.375 / math.sqrt(0.5))
    assert (s.bets, s.wins, s.losses, s.stake, s.profit) == (4, 2, 2, 4.0, 1.5)
    assert s.roi == pytest.approx(1.5 / 4)
    assert s.win_rate == 0.5
    assert s.average_odds == pytest.approx(2.625)
    assert s.profit_factor == pytest.approx(3.5 / 2.0)
    assert s.longest_losing_run == 2
    # equity 100, 101.5, 100.5, 99.5, 101.5: max drawdown 2 from the 101.5 peak
    assert s.max_drawdown == pytest.approx(2.0)
    assert s.max_drawdown_pct == pytest.approx(2.0 / 101.5)
    # one bet per week: weekly returns are profit / equity at the week's start
    weekly = np.array([1.5 / 100, -1 / 101.5, -1 / 100.5, 2 / 99.5])
    assert s.sharpe_per_week == pytest.approx(weekly.mean() / weekly.std(ddof=1))
    days = (bets["settle_at"].iloc[-1] - bets["decision_at"].iloc[0]).total_seconds() / 86400
    growth = (101.5 / 100) ** (365.25 / days) - 1
    assert s.calmar == pytest.approx(growth / (2.0 / 101.5))


def test_clv_is_price_over_fair_closing_price() -> None:
    bets = _bets([1.1], [1.0], [2.1]).assign(outcome="home")
    closing = pd.DataFrame(
        {"match_id": ["m0"], "market": ["1X2"], "outcome": ["home"], "p_close": [0.5]}
    )
    assert closing_line_value(bets, closing).iloc[0] == pytest.approx(2.1 / 2.0 - 1)


def test_bootstrap_interval_covers_the_roi_and_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    won = rng.random(400) < 0.5
    bets = _bets(list(np.where(won, 0.9, -1.0)), [1.0] * 400, [1.9] * 400)
    low, high = bootstrap_roi(bets)
    roi = bets["profit"].sum() / 400
    assert low < roi < high
    assert (low, high) == bootstrap_roi(bets)
    se = bets["profit"].std(ddof=0) / math.sqrt(400)  # normal approximation
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)


# ------------------------------------------------------------------------------ strategies


def _price_rows(match: str, book: str, market: str, prices: dict[str, float]) -> list[dict]:
    return [
        {"match_id": match, "bookmaker": book, "market": market, "outcome": o, "price": p}
        for o, p in prices.items()
    ]


def _data(prices: list[dict], forecasts: pd.DataFrame | None = None) -> DecisionData:
    ids = sorted({p["match_id"] for p in prices})
    kickoff = pd.Timestamp("2024-08-10 15:00", tz=UTC)
    matches = pd.DataFrame(
        {
            "match_id": ids,
            "league": "E0",
            "season": "2024-25",
            "kickoff": kickoff,
            "decision_at": kickoff - pd.Timedelta(hours=48),
            "home_team": "h",
            "away_team": "a",
        }
    )
    return DecisionData.build(matches, pd.DataFrame(prices), forecasts)


def test_arbitrage_against_enumeration_of_every_price_combination() -> None:
    rng = np.random.default_rng(11)
    books = ["bet365", "bwin", "interwetten", "william_hill"]
    rows: list[dict] = []
    for m in range(60):
        for book in books:
            fair = rng.dirichlet([4, 2.5, 3])
            odds = 1.0 / (fair * rng.uniform(0.93, 1.08))
            rows += _price_rows(
                f"m{m:02d}", book, "1X2", dict(zip(("home", "draw", "away"), odds, strict=True))
            )
    data = _data(rows)
    strat = Arbitrage("arb", min_profit=0.01, max_hold=10.0, markets=("1X2",))
    found = strat.propose(data).groupby("match_id")["edge"].first()
    prices = pd.DataFrame(rows).set_index(["match_id", "bookmaker", "outcome"])["price"]
    expected = {}
    for m in sorted({r["match_id"] for r in rows}):
        best = max(
            1.0
            / sum(
                1.0 / prices[(m, b, o)]
                for b, o in zip(combo, ("home", "draw", "away"), strict=True)
            )
            for combo in itertools.product(books, repeat=3)
        )
        if best - 1.0 >= 0.01:
            expected[m] = best - 1.0
    assert len(expected) > 3  # the sample holds arbitrages
    assert found.to_dict() == pytest.approx(expected, abs=1e-12)
    legs = strat.propose(data)
    returns = legs["weight"] * legs["price"]  # every leg returns the same per unit staked
    assert returns.groupby(legs["match_id"]).agg(np.ptp).max() < 1e-12


def test_flat_favourite_and_sharp_value() -> None:
    rows = _price_rows("m1", "bet365", "1X2", {"home": 2.9, "draw": 3.3, "away": 2.5})
    rows += _price_rows("m1", "pinnacle", "1X2", {"home": 2.5, "draw": 3.4, "away": 3.1})
    data = _data(rows)
    fav = strategy("flat_favourite").propose(data)
    assert fav[["outcome", "price"]].values.tolist() == [["away", 2.5]]
    sharp = strategy("sharp_ev", min_ev=0.03).propose(data)
    inverse = 1 / np.array([2.5, 3.4, 3.1])
    p_home = inverse[0] / inverse.sum()
    assert sharp[["outcome", "bookmaker"]].values.tolist() == [["home", "bet365"]]
    assert sharp["edge"].iloc[0] == pytest.approx(p_home * 2.9 - 1)


# ------------------------------------------------------------------------------ engine


def _season() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three matches: m1 and m2 decided before either settles, m3 a week later."""
    matches = pd.DataFrame(
        {
            "match_id": ["m1", "m2", "m3"],
            "league": "E0",
            "season": "2024-25",
            "match_date": pd.to_datetime(["2024-08-10", "2024-08-10", "2024-08-17"]),
            "kickoff_utc": pd.to_datetime(
                ["2024-08-10 15:00", "2024-08-10 17:30", "2024-08-17 15:00"], utc=True
            ),
            "home_team": ["A", "C", "E"],
            "away_team": ["B", "D", "F"],
            "home_goals": [2, 0, 0],
            "away_goals": [1, 0, 2],
        }
    )
    odds = []
    for match, book, prices in [
        ("m1", "bet365", (2.0, 3.5, 4.0)),
        ("m1", "william_hill", (2.1, 3.4, 3.9)),
        ("m2", "bet365", (2.5, 3.2, 3.0)),
        ("m3", "bet365", (1.5, 4.0, 7.0)),
    ]:
        for phase, shift in (("opening", 0.0), ("closing", -0.1)):
            odds += [
                {"match_id": match, "bookmaker": book, "market": "1X2", "outcome": o,
                 "phase": phase, "price": p + shift}
                for o, p in zip(("home", "draw", "away"), prices, strict=True)
            ]  # fmt: skip
    odds += [
        {"match_id": "m1", "bookmaker": "pinnacle", "market": "1X2", "outcome": o,
         "phase": "closing", "price": p}
        for o, p in zip(("home", "draw", "away"), (1.9, 3.6, 4.4), strict=True)
    ]  # fmt: skip
    return matches, pd.DataFrame(odds)


def _forecasts(rows: dict[str, tuple[float, float, float]], available: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"match_id": m, "forecast": "A", "market": "1X2", "outcome": o, "probability": p,
             "available_at": pd.Timestamp(available, tz=UTC)}
            for m, probs in rows.items()
            for o, p in zip(("home", "draw", "away"), probs, strict=True)
        ]
    )  # fmt: skip


MODEL_P = {"m1": (0.6, 0.25, 0.15), "m2": (0.3, 0.4, 0.3), "m3": (0.5, 0.3, 0.2)}


def test_flat_home_season_by_hand() -> None:
    matches, odds = _season()
    inputs = football_data_inputs(matches, odds)
    run = run_backtest(inputs.data, strategy("flat_home"), inputs.settlement, FLAT)
    bets = run.bets
    assert bets["match_id"].tolist() == ["m1", "m2", "m3"]
    assert bets["price"].tolist() == [2.0, 2.5, 1.5]  # opening prices, never closing
    assert bets["result"].tolist() == ["won", "lost", "lost"]
    assert bets["profit"].tolist() == pytest.approx([10.0, -10.0, -10.0])
    assert bets["bankroll_after"].tolist() == pytest.approx([1010.0, 1000.0, 990.0])
    s = summarize(bets, run.initial_bankroll)
    assert (s.roi, s.max_drawdown, s.longest_losing_run) == (pytest.approx(-1 / 3), 20.0, 2)


def test_model_value_kelly_season_by_hand() -> None:
    matches, odds = _season()
    inputs = football_data_inputs(matches, odds, _forecasts(MODEL_P, "2024-08-01"))
    run = run_backtest(inputs.data, ModelValue("mv"), inputs.settlement, KELLY)
    bets = run.bets.set_index("match_id")
    # m1: best home price 2.1 (william_hill), f* = (0.6·2.1 − 1)/1.1; ¼ of 1000.
    # m2 is decided (Aug 8 17:30) before m1 settles, so its bankroll is still 1000.
    # m3: draw edge 0.2 and away edge 0.4: one bet per market, the away one, on 1135.
    assert bets.loc["m1", ["bookmaker", "outcome"]].tolist() == ["william_hill", "home"]
    assert bets.loc["m1", "stake"] == pytest.approx(0.25 * 0.26 / 1.1 * 1000)
    assert bets.loc["m2", "stake"] == pytest.approx(0.25 * 0.28 / 2.2 * 1000)
    assert bets.loc["m2", "outcome"] == "draw"
    assert bets.loc["m3", "outcome"] == "away"
    assert bets.loc["m3", "stake"] == pytest.approx(0.25 * 0.4 / 6 * 1135)
    assert bets["bankroll_after"].tolist() == pytest.approx([1065.0, 1135.0, 1248.5])
    # CLV of m1's bet: 2.1 against Pinnacle's margin-free closing home price
    inverse = 1 / np.array([1.9, 3.6, 4.4])
    clv = closing_line_value(run.bets, inputs.closing)
    assert clv.iloc[0] == pytest.approx(2.1 * inverse[0] / inverse.sum() - 1)


def test_forecasts_made_after_the_decision_are_not_used() -> None:
    matches, odds = _season()
    late = _forecasts(MODEL_P, "2024-08-09")  # after m1/m2's decisions, before m3's
    inputs = football_data_inputs(matches, odds, late)
    assert inputs.data.late_forecasts == 2  # m1 and m2
    run = run_backtest(inputs.data, ModelValue("mv"), inputs.settlement, KELLY)
    assert run.bets["match_id"].tolist() == ["m3"]


def test_over_under_from_stored_dixon_coles_forecast() -> None:
    rng = np.random.default_rng(5)
    lam, mu = rng.uniform(0.6, 2.6, 200), rng.uniform(0.4, 2.0, 200)
    for rho in (-0.13, 0.0, 0.08):
        grid = score_grid(lam, mu, rho, 30)  # beyond any truncation that matters
        goals = np.arange(31)
        margin, total = np.subtract.outer(goals, goals), np.add.outer(goals, goals)
        home, draw = (grid * (margin > 0)).sum((1, 2)), (grid * (margin == 0)).sum((1, 2))
        over, recovered = over_under_25(lam, mu, home, draw)
        assert recovered == pytest.approx(np.full(200, rho), abs=1e-9)
        assert over == pytest.approx((grid * (total > 2)).sum((1, 2)), abs=1e-9)
    over, _ = over_under_25(lam, mu, home, draw + 1e-3)  # not a DC grid: refused
    assert np.isnan(over).all()


# ------------------------------------------------------------------------------ look-ahead


@st.composite
def seasons(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    n = draw(st.integers(3, 8))
    hours = sorted(draw(st.lists(st.integers(0, 24 * 30), min_size=n, max_size=n)))
    kickoff = pd.Timestamp("2024-08-01", tz=UTC) + pd.to_timedelta(hours, "h")
    goals = st.integers(0, 4)
    matches = pd.DataFrame(
        {
            "match_id": [f"m{i}" for i in range(n)],
            "league": "E0",
            "season": "2024-25",
            "match_date": kickoff.tz_localize(None).normalize(),
            "kickoff_utc": kickoff,
            "home_team": "h",
            "away_team": "a",
            "home_goals": [draw(goals) for _ in range(n)],
            "away_goals": [draw(goals) for _ in range(n)],
        }
    )
    price = st.floats(1.2, 8.0)
    odds = [
        {"match_id": f"m{i}", "bookmaker": b, "market": "1X2", "outcome": o, "phase": ph,
         "price": draw(price)}
        for i in range(n) for b in ("bet365", "pinnacle") for o in ("home", "draw", "away")
        for ph in ("opening", "closing")
    ]  # fmt: skip
    probs = [np.array(draw(st.tuples(*[st.floats(0.05, 1.0)] * 3))) for _ in range(n)]
    forecasts = _forecasts({f"m{i}": tuple(p / p.sum()) for i, p in enumerate(probs)}, "2024-07-01")
    return matches, pd.DataFrame(odds), forecasts, draw(st.integers(0, n - 1))


DECISION = ["match_id", "market", "outcome", "bookmaker", "price", "stake"]


def _decisions(matches: pd.DataFrame, odds: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    inputs = football_data_inputs(matches, odds, forecasts)
    staking = StakingConfig(max_stake=400.0, initial_bankroll=1000.0)
    run = run_backtest(inputs.data, ModelValue("mv", min_edge=0.0), inputs.settlement, staking)
    return run.bets.sort_values(["decision_at", "match_id"])[[*DECISION, "decision_at"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seasons(), st.randoms(use_true_random=False))
def test_no_decision_depends_on_closing_prices_or_later_results(season, random) -> None:
    matches, odds, forecasts, cut = season
    before = _decisions(matches, odds, forecasts)
    # every closing price changed, and the result of every match settled after the cut's
    # decision instant: no decision up to that instant may change
    changed_odds = odds.copy()
    closing = changed_odds["phase"] == "closing"
    changed_odds.loc[closing, "price"] = [random.uniform(1.05, 20.0) for _ in range(closing.sum())]
    instant = matches["kickoff_utc"].iloc[cut] - pd.Timedelta(hours=48)
    later = matches["kickoff_utc"] + pd.Timedelta(hours=2) > instant
    changed = matches.copy()
    changed.loc[later, "home_goals"] = [random.randint(0, 5) for _ in range(later.sum())]
    changed.loc[later, "away_goals"] = [random.randint(0, 5) for _ in range(later.sum())]
    after = _decisions(changed, changed_odds, forecasts)
    upto = before[before["decision_at"] <= instant].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        upto, after[after["decision_at"] <= instant].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(before, _decisions(matches, changed_odds, forecasts))


def test_odds_api_inputs_take_the_latest_snapshot_before_the_decision() -> None:
    kickoff = pd.Timestamp("2024-08-17 14:00", tz=UTC)
    events = pd.DataFrame(
        {
            "event_id": ["e1"],
            "league": ["E0"],
            "commence_time": [kickoff],
            "home_team": ["Arsenal"],
            "away_team": ["Wolves"],
            "status": ["final"],
            "home_score": [2],
            "away_score": [0],
        }
    )
    rows = []
    for hours, home in ((72, 1.50), (50, 1.55), (47, 1.60), (1, 1.40)):
        stamp = kickoff - pd.Timedelta(hours=hours)
        for outcome, price, market, point in (
            ("home", home, "h2h", None),
            ("draw", 4.2, "h2h", None),
            ("away", 6.5, "h2h", None),
            ("over", 1.8 + hours / 1000, "totals", 2.5),
            ("under", 2.0, "totals", 2.5),
            ("over", 3.0, "totals", 3.5),
        ):
            rows.append(
                {"event_id": "e1", "bookmaker": "pinnacle", "market": market,
                 "outcome": outcome, "price": price, "point": point, "snapshot_time": stamp}
            )  # fmt: skip
    inputs = odds_api_inputs(events, pd.DataFrame(rows), decision_hours=48)
    prices = inputs.data.prices.set_index(["market", "outcome"])["price"]
    assert prices[("1X2", "home")] == 1.55  # the 50 h snapshot; the 47 h one is too late
    assert prices[("OU2.5", "over")] == pytest.approx(1.85)  # the 3.5 line is ignored
    assert len(prices) == 5
    closing = inputs.closing.set_index(["market", "outcome"])["p_close"]
    inverse = 1 / np.array([1.40, 4.2, 6.5])
    assert closing[("1X2", "home")] == pytest.approx(inverse[0] / inverse.sum())
    assert inputs.settlement[["home_goals", "away_goals"]].values.tolist() == [[2, 0]]
    assert inputs.data.matches["season"].tolist() == ["2024-25"]


def test_arbitrage_group_is_staked_and_scored_as_one_bet() -> None:
    matches, _ = _season()
    odds = [
        {"match_id": "m1", "bookmaker": b, "market": "1X2", "outcome": o, "phase": "opening",
         "price": p}
        for b, prices in (("bet365", (2.3, 3.8, 3.0)), ("bwin", (2.6, 3.4, 4.2)))
        for o, p in zip(("home", "draw", "away"), prices, strict=True)
    ]  # fmt: skip
    inputs = football_data_inputs(matches, pd.DataFrame(odds))
    run = run_backtest(inputs.data, strategy("arbitrage"), inputs.settlement, FLAT)
    booksum = 1 / 2.6 + 1 / 3.8 + 1 / 4.2
    bets = run.bets.set_index("outcome")
    assert bets["bookmaker"].to_dict() == {"home": "bwin", "draw": "bet365", "away": "bwin"}
    assert bets["stake"].sum() == pytest.approx(10.0)
    assert bets.loc["home", "stake"] == pytest.approx(10 / 2.6 / booksum)
    assert bets["profit"].sum() == pytest.approx(10 / booksum - 10)  # m1 ended 2-1
    s = summarize(run.bets, run.initial_bankroll)
    assert (s.wins, s.losses, s.longest_losing_run) == (1, 2, 0)
    assert s.roi == pytest.approx(1 / booksum - 1)


def test_strategy_parameters_are_checked() -> None:
    assert strategy("sharp_ev", min_ev=0).params()["min_ev"] == 0.0  # int for a float
    assert strategy("arbitrage", markets=["1X2"]).params()["markets"] == ["1X2"]
    with pytest.raises(TypeError, match="must be float"):
        strategy("model_value", min_edge="0.05")
    with pytest.raises(TypeError, match="unknown parameter 'edge'"):
        strategy("model_value", edge=0.1)
    with pytest.raises(KeyError, match="known: flat_home"):
        strategy("nope")
