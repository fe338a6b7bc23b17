"""Performance and risk metrics of a backtest's bets, closing-line value and breakdowns.

Input: the bets of ``core.backtest.run_backtest`` in settlement order (columns stake, profit,
price, result 'won'/'lost'/'void', settle_at, …) and the initial bankroll. Conventions:

- per-bet return ``r = profit / stake`` of each bet group (a match and market: one bet, or an
  arbitrage's legs together), in settlement order;
- equity ``E_k = B_0 + Σ_{j≤k} profit_j`` (``E_0 = B_0``);
- drawdown ``D_k = max_{j≤k} E_j − E_k`` (absolute) and ``D_k / max_{j≤k} E_j`` (fraction);
- Sharpe = mean(r) / sd(r) (sample sd, ddof 1), Sortino = mean(r) / √(mean(min(r, 0)²)),
  risk-free rate 0, not annualized; the weekly versions use weekly bankroll returns
  ``profit_week / E_start_of_week`` over ISO weeks (of ``settle_at``) with at least one bet;
- Calmar = annualized bankroll growth / max drawdown fraction;
- closing-line value of a bet ``CLV = price / fair_closing_price − 1`` with the fair closing
  price ``1 / p_close`` (margin-free closing probability of the same outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25
BREAKDOWNS = ("league", "season", "bookmaker", "market", "month")
_BOOTSTRAP_CHUNK = 100


@dataclass(frozen=True)
class Summary:
    """Headline figures of one backtest (NaN where undefined, e.g. no bets)."""

    bets: int
    wins: int
    losses: int
    voids: int
    stake: float
    profit: float
    roi: float  # profit / stake (yield)
    bankroll_return: float  # profit / initial bankroll
    final_bankroll: float
    win_rate: float  # wins / (wins + losses)
    average_odds: float
    sharpe_per_bet: float
    sortino_per_bet: float
    sharpe_per_week: float
    sortino_per_week: float
    max_drawdown: float
    max_drawdown_pct: float
    calmar: float
    profit_factor: float  # gross winnings / gross losses
    longest_losing_run: int  # consecutive losing bet groups
    clv_mean: float
    clv_beat_share: float  # share of bets with CLV > 0
    clv_bets: int  # bets with a closing price

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready (NaN and ±inf as None)."""
        return {k: _finite_or_none(v) for k, v in asdict(self).items()}


def equity_curve(profits: Sequence[float] | np.ndarray, initial: float) -> np.ndarray:
    """``[B_0, B_0 + p_1, …]``: the bankroll before the first bet and after each."""
    return initial + np.concatenate([[0.0], np.cumsum(np.asarray(profits, dtype=float))])


def max_drawdown(equity: np.ndarray) -> tuple[float, float]:
    """Largest fall from a running peak: (absolute, fraction of that peak)."""
    peak = np.maximum.accumulate(equity)
    fall = peak - equity
    fraction = np.divide(fall, peak, out=np.zeros_like(fall), where=peak > 0)
    return float(fall.max(initial=0.0)), float(fraction.max(initial=0.0))


def sharpe(returns: np.ndarray) -> float:
    """mean / sample sd; NaN with fewer than two returns or zero spread."""
    if len(returns) < 2 or np.std(returns, ddof=1) == 0:
        return float("nan")
    return float(np.mean(returns) / np.std(returns, ddof=1))


def sortino(returns: np.ndarray) -> float:
    """mean / downside deviation √(mean(min(r, 0)²)); NaN without a negative return."""
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)) if len(returns) else 0.0
    return float(np.mean(returns) / downside) if downside > 0 else float("nan")


def longest_run(lost: np.ndarray) -> int:
    """Longest run of consecutive True values."""
    best = run = 0
    for flag in lost:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def weekly_returns(bets: pd.DataFrame, initial: float) -> np.ndarray:
    """Bankroll return of each ISO week with a settled bet: profit / equity at week start."""
    if bets.empty:
        return np.array([])
    week = pd.to_datetime(bets["settle_at"], utc=True).dt.tz_localize(None).dt.to_period("W")
    profit = bets.groupby(week.to_numpy(), sort=True)["profit"].sum()
    start = initial + np.concatenate([[0.0], np.cumsum(profit.to_numpy())[:-1]])
    return profit.to_numpy() / start


def closing_line_value(bets: pd.DataFrame, closing: pd.DataFrame) -> pd.Series:
    """CLV per bet (NaN without a closing probability). ``closing``: match_id, market, outcome,
    p_close (margin-free closing probability)."""
    keys = ["match_id", "market", "outcome"]
    joined = bets[keys].merge(closing[[*keys, "p_close"]], on=keys, how="left")
    return pd.Series(
        bets["price"].to_numpy() * joined["p_close"].to_numpy() - 1.0, index=bets.index
    )


def summarize(bets: pd.DataFrame, initial: float) -> Summary:
    """Every headline metric of ``bets`` (settlement order; ``clv`` column optional)."""
    settled = bets[bets["result"] != "void"]
    stake, profit = float(bets["stake"].sum()), float(bets["profit"].sum())
    units = settled.groupby(["match_id", "market"], sort=False)[["stake", "profit"]].sum()
    returns = (units["profit"] / units["stake"]).to_numpy()
    equity = equity_curve(bets["profit"].to_numpy(), initial)
    drawdown, drawdown_pct = max_drawdown(equity)
    weekly = weekly_returns(bets, initial)
    wins = int((settled["result"] == "won").sum())
    gains = float(settled.loc[settled["profit"] > 0, "profit"].sum())
    losses = -float(settled.loc[settled["profit"] < 0, "profit"].sum())
    clv = bets["clv"].dropna() if "clv" in bets else pd.Series(dtype=float)
    return Summary(
        bets=len(bets),
        wins=wins,
        losses=len(settled) - wins,
        voids=len(bets) - len(settled),
        stake=stake,
        profit=profit,
        roi=_ratio(profit, stake),
        bankroll_return=profit / initial,
        final_bankroll=float(equity[-1]),
        win_rate=_ratio(wins, len(settled)),
        average_odds=float(bets["price"].mean()) if len(bets) else float("nan"),
        sharpe_per_bet=sharpe(returns),
        sortino_per_bet=sortino(returns),
        sharpe_per_week=sharpe(weekly),
        sortino_per_week=sortino(weekly),
        max_drawdown=drawdown,
        max_drawdown_pct=drawdown_pct,
        calmar=_ratio(annualized_growth(bets, initial), drawdown_pct),
        profit_factor=_ratio(gains, losses),
        longest_losing_run=longest_run((units["profit"] < 0).to_numpy()),
        clv_mean=float(clv.mean()) if len(clv) else float("nan"),
        clv_beat_share=float((clv > 0).mean()) if len(clv) else float("nan"),
        clv_bets=len(clv),
    )


def annualized_growth(bets: pd.DataFrame, initial: float) -> float:
    """``(B_end / B_0)^(365.25 / days) − 1`` over first decision → last settlement."""
    if bets.empty:
        return float("nan")
    start = pd.to_datetime(bets["decision_at"], utc=True).min()
    end = pd.to_datetime(bets["settle_at"], utc=True).max()
    days = (end - start).total_seconds() / 86400.0
    final = initial + float(bets["profit"].sum())
    if days <= 0 or final <= 0:
        return -1.0 if final <= 0 else float("nan")
    return float((final / initial) ** (DAYS_PER_YEAR / days) - 1.0)


def breakdown(bets: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of ``by`` (a column, or "month" of kickoff): bets, stake, profit, roi,
    win_rate, average_odds, clv_mean."""
    if by == "month":
        key = pd.to_datetime(bets["kickoff"], utc=True).dt.strftime("%Y-%m")
    else:
        key = bets[by]
    frame = bets.assign(
        _key=key.to_numpy(),
        _won=(bets["result"] == "won").astype(float),
        _settled=(bets["result"] != "void").astype(float),
        _clv=bets.get("clv", np.nan),
    )
    grouped = frame.groupby("_key", sort=True)
    out = pd.DataFrame(
        {
            "bets": grouped.size(),
            "stake": grouped["stake"].sum(),
            "profit": grouped["profit"].sum(),
            "win_rate": grouped["_won"].sum() / grouped["_settled"].sum(),
            "average_odds": grouped["price"].mean(),
            "clv_mean": grouped["_clv"].mean(),
        }
    )
    out.insert(3, "roi", out["profit"] / out["stake"])
    return out.rename_axis(by).reset_index()


def bootstrap_roi(
    bets: pd.DataFrame, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ROI = Σ profit / Σ stake, resampling matches (a
    match's bets move together, e.g. arbitrage legs); fixed ``seed`` (deterministic)."""
    if bets.empty:
        return float("nan"), float("nan")
    per_match = bets.groupby("match_id")[["stake", "profit"]].sum()
    stake, profit = per_match["stake"].to_numpy(), per_match["profit"].to_numpy()
    rng = np.random.default_rng(seed)
    roi = np.empty(n_resamples)
    for start in range(0, n_resamples, _BOOTSTRAP_CHUNK):  # bounded memory
        draws = rng.integers(
            0, len(stake), size=(min(_BOOTSTRAP_CHUNK, n_resamples - start), len(stake))
        )
        roi[start : start + len(draws)] = profit[draws].sum(axis=1) / stake[draws].sum(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(roi, tail)), float(np.quantile(roi, 1.0 - tail))


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return float("inf") if numerator > 0 else float("nan")
    return float(numerator / denominator)


def _finite_or_none(value: float | int) -> float | int | None:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
