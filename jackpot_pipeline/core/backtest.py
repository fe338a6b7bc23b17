"""The backtest engine: decisions from decision-time data only, settlement kept apart.

Inputs are split so look-ahead is impossible by construction:

- ``DecisionData`` — what is known at each match's decision instant: the match (ids, league,
  season, kickoff, ``decision_at``), the prices quoted then (long: match × bookmaker × market ×
  outcome) and the forecasts whose ``available_at`` is not after ``decision_at`` (later ones are
  dropped by ``DecisionData.build`` and counted). No result, goal or closing price is in it.
- ``settlement`` — per match the goals and ``settle_at`` (when the result is known). The engine
  reads a bet's result only when that bet is settled.

``run_backtest``: the strategy turns ``DecisionData`` into candidate bets (vectorized, no
bankroll), at most one bet group per match and market is kept (highest edge); then the groups
are walked in ``decision_at`` order: bets settled at or before the decision instant are paid
out first, the stake is sized from the bankroll of settled bets and capped at the free cash
(bankroll less open stakes). So a decision depends only on prices and forecasts at its instant
and on the results of bets settled before it. Closing prices enter only the metrics (CLV).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jackpot_pipeline.core.staking import StakingConfig, stake_size

MATCH_COLUMNS = ("match_id", "league", "season", "kickoff", "decision_at", "home_team", "away_team")
PRICE_COLUMNS = ("match_id", "bookmaker", "market", "outcome", "price")
#: Held as categoricals: few distinct values, compared and grouped over a million rows.
CATEGORICAL_PRICE_COLUMNS = ("match_id", "bookmaker", "market", "outcome")
FORECAST_COLUMNS = ("match_id", "forecast", "market", "outcome", "probability", "available_at")
SETTLEMENT_COLUMNS = ("match_id", "settle_at", "home_goals", "away_goals")
CANDIDATE_COLUMNS = (
    "match_id",
    "market",
    "outcome",
    "bookmaker",
    "price",
    "probability",
    "edge",
    "group",
    "weight",
    "rationale",
)
BET_COLUMNS = (
    "bet_no",
    "match_id",
    "league",
    "season",
    "kickoff",
    "decision_at",
    "settle_at",
    "home_team",
    "away_team",
    "market",
    "outcome",
    "bookmaker",
    "price",
    "probability",
    "edge",
    "stake",
    "result",
    "profit",
    "bankroll_after",
    "rationale",
)
#: Outcomes per market; over/under is the 2.5-goal line.
MARKET_OUTCOMES: dict[str, tuple[str, ...]] = {
    "1X2": ("home", "draw", "away"),
    "OU2.5": ("over", "under"),
}

ProgressCallback = Callable[[int, int], None]
NEVER = pd.Timestamp.max.tz_localize("UTC")  # settle_at of a bet whose match has no result


class BacktestInputError(ValueError):
    """Decision or settlement data that the engine cannot use (named columns or rows)."""


@dataclass(frozen=True)
class DecisionData:
    """Everything known at the decision instants (see the module docstring)."""

    matches: pd.DataFrame
    prices: pd.DataFrame
    forecasts: pd.DataFrame
    late_forecasts: int = 0  # matches whose forecasts were made after the decision (dropped)

    @classmethod
    def build(
        cls, matches: pd.DataFrame, prices: pd.DataFrame, forecasts: pd.DataFrame | None = None
    ) -> DecisionData:
        """Validate the frames, keep prices of known matches with a valid price (> 1), the first
        of duplicates, and only forecasts available at or before their match's ``decision_at``."""
        _require(matches, MATCH_COLUMNS, "matches")
        _require(prices, PRICE_COLUMNS, "prices")
        if matches["match_id"].duplicated().any():
            raise BacktestInputError("matches: match_id must be unique")
        if matches["decision_at"].isna().any():
            raise BacktestInputError("matches: every match needs a decision_at")
        known = prices["match_id"].isin(matches["match_id"]) & (prices["price"] > 1.0)
        known &= ~prices.duplicated(["match_id", "bookmaker", "market", "outcome"])
        if forecasts is None:
            forecasts = pd.DataFrame({c: pd.Series(dtype=object) for c in FORECAST_COLUMNS})
        _require(forecasts, FORECAST_COLUMNS, "forecasts")
        decided = forecasts["match_id"].map(matches.set_index("match_id")["decision_at"])
        in_time = decided.notna() & (forecasts["available_at"] <= decided)
        late = int(forecasts.loc[decided.notna() & ~in_time, "match_id"].nunique())
        return cls(
            matches=matches.loc[:, list(MATCH_COLUMNS)].reset_index(drop=True),
            prices=prices.loc[known, list(PRICE_COLUMNS)]
            .astype({c: "category" for c in CATEGORICAL_PRICE_COLUMNS})
            .reset_index(drop=True),
            forecasts=forecasts.loc[in_time, list(FORECAST_COLUMNS)].reset_index(drop=True),
            late_forecasts=late,
        )


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's bets (settlement order) and counts of what was not bet."""

    bets: pd.DataFrame  # BET_COLUMNS
    candidates: int  # candidate bet groups after one-per-match-and-market
    unstaked: int  # groups sized to 0 (no edge for Kelly, below min_stake, no free cash)
    initial_bankroll: float
    late_forecasts: int  # matches whose forecasts came after the decision


def run_backtest(
    data: DecisionData,
    strategy: object,
    settlement: pd.DataFrame,
    staking: StakingConfig,
    progress: ProgressCallback | None = None,
) -> BacktestRun:
    """Run ``strategy`` (anything with ``propose(DecisionData) -> candidates``) over
    ``data`` and settle its bets from ``settlement`` (see the module docstring)."""
    _require(settlement, SETTLEMENT_COLUMNS, "settlement")
    candidates = one_group_per_market(strategy.propose(data))  # type: ignore[attr-defined]
    legs = candidates.merge(data.matches, on="match_id", how="left", validate="many_to_one")
    legs = legs.sort_values(["decision_at", "match_id", "market", "group"], kind="stable")
    groups = _groups(legs.to_dict("records"))
    outcome = _settled_outcomes(settlement)
    placed, unstaked = _walk(groups, outcome, staking, progress)
    bets = pd.DataFrame(placed, columns=list(BET_COLUMNS))
    return BacktestRun(
        bets=bets,
        candidates=len(groups),
        unstaked=unstaked,
        initial_bankroll=staking.initial_bankroll,
        late_forecasts=data.late_forecasts,
    )


def one_group_per_market(candidates: pd.DataFrame) -> pd.DataFrame:
    """Keep one bet group per match and market: the one with the highest edge (ties: first
    by bookmaker, outcome). A group is one bet, or the legs a strategy sizes together."""
    _require(candidates, CANDIDATE_COLUMNS, "candidates")
    if candidates.empty:
        return candidates.loc[:, list(CANDIDATE_COLUMNS)]
    edge = candidates.groupby("group")["edge"].transform("max")
    ranked = candidates.assign(_edge=edge).sort_values(
        ["match_id", "market", "_edge", "bookmaker", "outcome"],
        ascending=[True, True, False, True, True],
        kind="stable",
    )
    best = ranked.drop_duplicates(["match_id", "market"])["group"]
    kept = candidates[candidates["group"].isin(set(best))]
    return kept.loc[:, list(CANDIDATE_COLUMNS)].reset_index(drop=True)


def group_price(prices: np.ndarray, weights: np.ndarray) -> float:
    """The decimal price of a group of legs staked ``weights`` (summing to 1) when any one
    wins: ``min_i w_i·o_i`` — the guaranteed return per unit for an arbitrage."""
    return float(np.min(weights * prices))


def _groups(legs: list[dict]) -> list[list[dict]]:
    """Consecutive legs of the same group (the sort keeps a group's legs together)."""
    groups: list[list[dict]] = []
    for leg in legs:
        if groups and groups[-1][0]["group"] == leg["group"]:
            groups[-1].append(leg)
        else:
            groups.append([leg])
    return groups


def _walk(
    groups: list[list[dict]],
    outcome: dict[str, tuple[pd.Timestamp, int | None, int | None]],
    staking: StakingConfig,
    progress: ProgressCallback | None,
) -> tuple[list[dict], int]:
    """The sequential bankroll walk: pay out settled bets, size, place."""
    bankroll, open_stake = staking.initial_bankroll, 0.0
    pending: list[tuple[pd.Timestamp, int, list[dict]]] = []
    placed: list[dict] = []
    unstaked = 0

    def settle_until(instant: pd.Timestamp | None) -> None:
        nonlocal bankroll, open_stake
        while pending and (instant is None or pending[0][0] <= instant):
            _, _, bets = heapq.heappop(pending)
            for bet in bets:
                _, home_goals, away_goals = outcome.get(bet["match_id"], (None,) * 3)
                bet["result"] = _result(bet["market"], bet["outcome"], home_goals, away_goals)
                bet["profit"] = _profit(bet["result"], bet["stake"], bet["price"])
                bankroll += bet["profit"]
                open_stake -= bet["stake"]
                bet["bankroll_after"] = bankroll
                bet["bet_no"] = len(placed)
                placed.append(bet)

    for number, group in enumerate(groups):
        first = group[0]
        settle_until(first["decision_at"])
        if len(group) == 1:
            probability, price = first["probability"], first["price"]
        else:
            probability = 1.0
            price = group_price(
                np.array([leg["price"] for leg in group]),
                np.array([leg["weight"] for leg in group]),
            )
        total = stake_size(staking, bankroll, bankroll - open_stake, probability, price)
        if progress is not None:
            progress(number + 1, len(groups))
        if total <= 0:
            unstaked += 1
            continue
        settle_at = outcome.get(first["match_id"], (pd.NaT,))[0]
        if pd.isna(settle_at):  # never settled (no result): void at the end of the run
            settle_at = NEVER
        bets = [{**leg, "stake": total * leg["weight"], "settle_at": settle_at} for leg in group]
        open_stake += total
        heapq.heappush(pending, (settle_at, number, bets))
    settle_until(None)
    return placed, unstaked


def _settled_outcomes(
    settlement: pd.DataFrame,
) -> dict[str, tuple[pd.Timestamp, int | None, int | None]]:
    """match_id → (settle_at, home goals, away goals); goals None when not played."""
    goals = settlement[["home_goals", "away_goals"]].astype(object)
    goals = goals.where(settlement[["home_goals", "away_goals"]].notna(), None)
    return {
        m: (s, None if h is None else int(h), None if a is None else int(a))
        for m, s, h, a in zip(
            settlement["match_id"],
            settlement["settle_at"],
            goals["home_goals"],
            goals["away_goals"],
            strict=True,
        )
    }


def _result(market: str, outcome: str, home_goals: int | None, away_goals: int | None) -> str:
    """'won', 'lost' or 'void' (no result) of one bet."""
    if home_goals is None or away_goals is None:
        return "void"
    if market == "1X2":
        actual = (
            "home" if home_goals > away_goals else "away" if home_goals < away_goals else "draw"
        )
    elif market == "OU2.5":
        actual = "over" if home_goals + away_goals > 2.5 else "under"
    else:
        raise BacktestInputError(f"unknown market {market!r}")
    return "won" if outcome == actual else "lost"


def _profit(result: str, stake: float, price: float) -> float:
    """Profit of a settled bet: ``stake·(price − 1)`` won, ``−stake`` lost, 0 void."""
    return {"won": stake * (price - 1.0), "lost": -stake}.get(result, 0.0)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BacktestInputError(f"{name}: missing columns {missing}")
