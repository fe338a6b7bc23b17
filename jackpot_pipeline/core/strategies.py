"""Betting strategies: small frozen dataclasses with a name and parameters.

Each ``propose(data)`` turns ``DecisionData`` (prices and forecasts at the decision instant)
into candidate bets, vectorized, with the columns of ``core.backtest.CANDIDATE_COLUMNS``:
``probability`` is what the stake sizing uses (Kelly), ``edge`` the expected profit per unit
staked ``p·o − 1`` (for an arbitrage: the guaranteed profit per unit), ``group`` the bet group
(one bet, or the legs of an arbitrage sized together with ``weight`` summing to 1).

Only real bookmakers are bet at: football-data's aggregates (market max/average, BetBrain)
are not bookable, and Betfair exchange prices are before commission, so they are left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from jackpot_pipeline.core.backtest import CANDIDATE_COLUMNS, MARKET_OUTCOMES, DecisionData
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.staking import StakeMethod

#: Price sources that are not a bookable bookmaker.
NOT_BOOKABLE: frozenset[str] = frozenset(
    {"market_max", "market_avg", "betbrain_max", "betbrain_avg", "betfair_exchange"}
)


@dataclass(frozen=True)
class Strategy:
    """Base: ``name`` identifies a configuration; the other fields are its parameters."""

    name: str
    description: ClassVar[str] = ""
    default_stake: ClassVar[StakeMethod] = StakeMethod.KELLY

    def params(self) -> dict[str, Any]:
        """The parameters (every field but the name), JSON-ready."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
            if k != "name"
        }

    def with_params(self, **overrides: Any) -> Strategy:
        """A copy with some parameters changed; ``TypeError`` names an unknown parameter or a
        value of the wrong type (an int is accepted for a float, a list for a tuple)."""
        known = self.params()
        checked = {}
        for key, value in overrides.items():
            if key not in known:
                raise TypeError(f"{self.name}: unknown parameter {key!r}; known: {list(known)}")
            current = getattr(self, key)
            if (
                isinstance(current, float)
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                value = float(value)
            elif isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            if not isinstance(value, type(current)):
                raise TypeError(
                    f"{self.name}: parameter {key} must be {type(current).__name__}, got {value!r}"
                )
            checked[key] = value
        return dataclasses.replace(self, **checked)

    def propose(self, data: DecisionData) -> pd.DataFrame:
        raise NotImplementedError


@dataclass(frozen=True)
class FlatBaseline(Strategy):
    """Back one 1X2 selection at one bookmaker on every match it prices: ``home``, ``draw``,
    ``away`` or ``favourite`` (its shortest price). Probability for Kelly: the bookmaker's own
    margin-free probability, so Kelly sizes every bet at 0 — run it flat."""

    selection: str = "home"
    bookmaker: str = "bet365"
    description: ClassVar[str] = "flat baseline: one 1X2 selection at one bookmaker, every match"
    default_stake: ClassVar[StakeMethod] = StakeMethod.FLAT

    def propose(self, data: DecisionData) -> pd.DataFrame:
        wide = _wide(data.prices, "1X2")
        wide = wide[wide["bookmaker"] == self.bookmaker]
        odds = _odds(wide, "1X2")
        fair = remove_margin(odds).probabilities
        if self.selection == "favourite":
            column = np.argmin(odds, axis=1)
        else:
            column = np.full(len(wide), MARKET_OUTCOMES["1X2"].index(self.selection))
        rows = np.arange(len(wide))
        price, probability = odds[rows, column], fair[rows, column]
        return _candidates(
            wide,
            "1X2",
            np.asarray(MARKET_OUTCOMES["1X2"])[column],
            self.bookmaker,
            price,
            probability,
            [f"flat {self.selection} at {self.bookmaker} {o:.2f}" for o in price],
        )


@dataclass(frozen=True)
class SharpValue(Strategy):
    """Expected value against a sharp reference: the reference bookmaker's margin-free
    probability ``p`` (``margin_method``) vs every other bookable price ``o``; a bet when
    ``EV = p·o − 1 ≥ min_ev``."""

    reference: str = "pinnacle"
    min_ev: float = 0.03
    markets: tuple[str, ...] = ("1X2", "OU2.5")
    margin_method: str = "multiplicative"
    description: ClassVar[str] = "expected value vs the sharp book's margin-free probabilities"

    def propose(self, data: DecisionData) -> pd.DataFrame:
        frames = []
        for market in self.markets:
            wide = _wide(data.prices, market)
            sharp = wide[wide["bookmaker"] == self.reference]
            fair = remove_margin(_odds(sharp, market), self.margin_method).probabilities
            reference = pd.DataFrame(fair, columns=MARKET_OUTCOMES[market])
            reference["match_id"] = sharp["match_id"].to_numpy()
            long = _long_bookable(data.prices, market, exclude=self.reference)
            long = long.merge(
                reference.melt("match_id", var_name="outcome", value_name="probability"),
                on=["match_id", "outcome"],
            )
            frames.append(
                _value_bets(
                    long, market, self.min_ev, f"EV vs {self.reference} margin-free", "p_ref"
                )
            )
        return _concat(frames)


@dataclass(frozen=True)
class Arbitrage(Strategy):
    """Arbitrage across bookmakers: per match and market the best price of each outcome over
    the bookable books whose own hold ``Σ 1/o − 1`` is at most ``max_hold`` (a wider book is a
    stale or partial quote); a bet group when ``1 / Σ 1/o_best − 1 ≥ min_profit``. Legs are
    staked ``w_i = (1/o_i) / Σ 1/o_best`` so every outcome returns the same."""

    min_profit: float = 0.01
    max_hold: float = 0.10
    markets: tuple[str, ...] = ("1X2", "OU2.5")
    description: ClassVar[str] = "arbitrage: best price per outcome across books sums below 1"
    default_stake: ClassVar[StakeMethod] = StakeMethod.FLAT

    def propose(self, data: DecisionData) -> pd.DataFrame:
        frames = []
        for market in self.markets:
            outcomes = MARKET_OUTCOMES[market]
            wide = _wide(data.prices, market)
            wide = wide[~wide["bookmaker"].isin(NOT_BOOKABLE)]
            hold = (1.0 / _odds(wide, market)).sum(axis=1) - 1.0
            wide = wide[hold <= self.max_hold]
            best = best_prices(wide, market)
            inverse = 1.0 / best[list(outcomes)].to_numpy()
            booksum = inverse.sum(axis=1)
            keep = 1.0 / booksum - 1.0 >= self.min_profit
            best, inverse, booksum = best[keep], inverse[keep], booksum[keep]
            for i, outcome in enumerate(outcomes):
                price = best[outcome].to_numpy()
                frames.append(
                    pd.DataFrame(
                        {
                            "match_id": best["match_id"].to_numpy(),
                            "market": market,
                            "outcome": outcome,
                            "bookmaker": best[f"{outcome}_bookmaker"].to_numpy(),
                            "price": price,
                            "probability": 1.0,
                            "edge": 1.0 / booksum - 1.0,
                            "group": best["match_id"].to_numpy() + f"|{market}|arb",
                            "weight": inverse[:, i] / booksum,
                            "rationale": [f"arbitrage {b:.4f} booksum" for b in booksum],
                        }
                    )
                )
        return _concat(frames)


@dataclass(frozen=True)
class ModelValue(Strategy):
    """The project's decision-time forecast ``forecast`` vs the best bookable price of each
    outcome: a bet when ``edge = p·o_best − 1 ≥ min_edge`` and ``p ≥ min_probability``.
    For ``market`` OU2.5 the forecast is the model's goal grid (``forecast="goal_grid"``)."""

    forecast: str = "A"
    market: str = "1X2"
    min_edge: float = 0.05
    min_probability: float = 0.2
    max_price: float = 10.0
    description: ClassVar[str] = "model value: decision-time forecast vs best available price"

    def propose(self, data: DecisionData) -> pd.DataFrame:
        forecasts = data.forecasts
        chosen = forecasts[
            (forecasts["forecast"] == self.forecast) & (forecasts["market"] == self.market)
        ][["match_id", "outcome", "probability"]]
        long = _long_bookable(data.prices, self.market)
        best = long.sort_values(["price", "bookmaker"], ascending=[False, True], kind="stable")
        best = best.drop_duplicates(["match_id", "outcome"])
        best = best.merge(chosen, on=["match_id", "outcome"])
        best = best[
            (best["probability"] >= self.min_probability) & (best["price"] <= self.max_price)
        ]
        return _value_bets(best, self.market, self.min_edge, f"model {self.forecast}", "p")


def best_prices(wide: pd.DataFrame, market: str) -> pd.DataFrame:
    """Per match: the highest price of each outcome over the rows of ``wide`` and the
    bookmaker offering it (ties: the first by name). Columns: match_id, <outcome>,
    <outcome>_bookmaker."""
    out: pd.DataFrame | None = None
    for outcome in MARKET_OUTCOMES[market]:
        ranked = wide[["match_id", "bookmaker", outcome]].dropna()
        ranked = ranked.sort_values([outcome, "bookmaker"], ascending=[False, True], kind="stable")
        top = ranked.drop_duplicates("match_id").rename(
            columns={"bookmaker": f"{outcome}_bookmaker"}
        )
        out = top if out is None else out.merge(top, on="match_id")
    assert out is not None
    return out.sort_values("match_id").reset_index(drop=True)


def _wide(prices: pd.DataFrame, market: str) -> pd.DataFrame:
    """One row per match × bookmaker with every outcome of ``market`` priced."""
    outcomes = list(MARKET_OUTCOMES[market])
    rows = prices[prices["market"] == market]
    keys = ["match_id", "bookmaker", "outcome"]  # unique (DecisionData.build)
    wide = rows.set_index(keys)["price"].unstack("outcome").reindex(columns=outcomes).dropna()
    return wide.reset_index().sort_values(["match_id", "bookmaker"]).reset_index(drop=True)


def _odds(wide: pd.DataFrame, market: str) -> np.ndarray:
    return (
        wide[list(MARKET_OUTCOMES[market])]
        .to_numpy(dtype=np.float64)
        .reshape(-1, len(MARKET_OUTCOMES[market]))
    )


def _long_bookable(prices: pd.DataFrame, market: str, exclude: str | None = None) -> pd.DataFrame:
    """Prices of ``market`` at bookable bookmakers (and not ``exclude``)."""
    rows = prices[(prices["market"] == market) & ~prices["bookmaker"].isin(NOT_BOOKABLE)]
    if exclude is not None:
        rows = rows[rows["bookmaker"] != exclude]
    return rows[["match_id", "bookmaker", "outcome", "price"]]


def _value_bets(
    long: pd.DataFrame, market: str, threshold: float, source: str, label: str
) -> pd.DataFrame:
    """Single-bet candidates where ``p·o − 1 ≥ threshold`` (columns match_id, bookmaker,
    outcome, price, probability)."""
    edge = long["probability"] * long["price"] - 1.0
    chosen = long[edge >= threshold].assign(edge=edge[edge >= threshold])
    return _candidates(
        chosen,
        market,
        chosen["outcome"].to_numpy(),
        chosen["bookmaker"].to_numpy(),
        chosen["price"].to_numpy(),
        chosen["probability"].to_numpy(),
        [
            f"{source}: {label}={p:.3f} at {o:.2f} ({b}), edge {e:+.1%}"
            for p, o, b, e in zip(
                chosen["probability"],
                chosen["price"],
                chosen["bookmaker"],
                chosen["edge"],
                strict=True,
            )
        ],
    )


def _candidates(
    frame: pd.DataFrame,
    market: str,
    outcome: np.ndarray,
    bookmaker: Any,
    price: np.ndarray,
    probability: np.ndarray,
    rationale: list[str],
) -> pd.DataFrame:
    """Single-bet candidate rows (each its own group, weight 1)."""
    bookmakers = np.broadcast_to(np.asarray(bookmaker, dtype=object), (len(frame),))
    match_id = frame["match_id"].to_numpy()
    return pd.DataFrame(
        {
            "match_id": match_id,
            "market": market,
            "outcome": outcome,
            "bookmaker": bookmakers,
            "price": np.asarray(price, dtype=float),
            "probability": np.asarray(probability, dtype=float),
            "edge": np.asarray(probability, dtype=float) * np.asarray(price, dtype=float) - 1.0,
            "group": [
                f"{m}|{market}|{o}|{b}"
                for m, o, b in zip(match_id, outcome, bookmakers, strict=True)
            ],
            "weight": 1.0,
            "rationale": rationale,
        },
        columns=list(CANDIDATE_COLUMNS),
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


#: Every shipped strategy configuration, by name.
STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        FlatBaseline("flat_home", selection="home"),
        FlatBaseline("flat_draw", selection="draw"),
        FlatBaseline("flat_away", selection="away"),
        FlatBaseline("flat_favourite", selection="favourite"),
        SharpValue("sharp_ev"),
        Arbitrage("arbitrage"),
        ModelValue("model_value"),
        ModelValue("ou_value", forecast="goal_grid", market="OU2.5"),
    )
}


def strategy(name: str, **overrides: Any) -> Strategy:
    """The named strategy, with parameter overrides; ``KeyError`` lists the known names."""
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name].with_params(**overrides) if overrides else STRATEGIES[name]
