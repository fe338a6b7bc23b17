"""Source frames → the engine's three separate inputs: decision data, settlement, closing.

football-data: the decision instant of a match is ``kickoff − decision_hours`` (its
pre-closing prices, phase ``opening``, were snapshotted a day or two before kickoff: Friday
afternoon for weekend matches, Tuesday for midweek ones), prices are the ``opening`` rows;
closing rows go only into the closing probabilities used for CLV; results into settlement
(``settle_at = kickoff + match_minutes``).

The Odds API: the decision instant is ``commence_time − decision_hours``; the prices are each
bookmaker's latest snapshot at or before it, the closing prices its latest snapshot before
kickoff; results from final events.

Closing probability of an outcome: the reference bookmaker's (``CLOSING_REFERENCES`` in order)
margin-free (multiplicative) closing price of that match and market.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from jackpot_pipeline.core.backtest import MARKET_OUTCOMES, DecisionData
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.seasons import season_of

CLOSING_REFERENCES = ("pinnacle", "market_avg")
DEFAULT_DECISION_HOURS = 48.0
MATCH_MINUTES = 120.0  # kickoff to final whistle, generously
#: Kickoff assumed for a match without a time (UTC): a usual 15:00 UK start.
DEFAULT_KICKOFF_HOUR = 15
ODDS_API_MARKETS = {"h2h": "1X2", "totals": "OU2.5"}


@dataclass(frozen=True)
class BacktestInputs:
    """What the engine decides on, what settles, and the closing line for CLV only."""

    data: DecisionData
    settlement: pd.DataFrame  # match_id, settle_at, home_goals, away_goals
    closing: pd.DataFrame  # match_id, market, outcome, p_close


def football_data_inputs(
    matches: pd.DataFrame,
    match_odds: pd.DataFrame,
    forecasts: pd.DataFrame | None = None,
    decision_hours: float = DEFAULT_DECISION_HOURS,
) -> BacktestInputs:
    """``matches``: match_id, league, season, match_date, kickoff_utc, home_team, away_team,
    home_goals, away_goals; ``match_odds``: match_id, bookmaker, market, outcome, phase,
    price; ``forecasts``: ``core.backtest.FORECAST_COLUMNS``."""
    kickoff = pd.to_datetime(matches["kickoff_utc"], utc=True)
    assumed = pd.to_datetime(matches["match_date"]).dt.tz_localize("UTC") + pd.Timedelta(
        hours=DEFAULT_KICKOFF_HOUR
    )
    kickoff = kickoff.fillna(assumed)
    frame = matches.assign(
        kickoff=kickoff, decision_at=kickoff - pd.Timedelta(hours=decision_hours)
    )
    opening = match_odds[match_odds["phase"] == "opening"]
    closing = match_odds[match_odds["phase"] == "closing"]
    return BacktestInputs(
        data=DecisionData.build(frame, opening, forecasts),
        settlement=_settlement(frame),
        closing=closing_probabilities(closing),
    )


def odds_api_inputs(
    events: pd.DataFrame,
    odds: pd.DataFrame,
    forecasts: pd.DataFrame | None = None,
    decision_hours: float = DEFAULT_DECISION_HOURS,
) -> BacktestInputs:
    """``events``: event_id, league, commence_time, home_team, away_team, status, home_score,
    away_score; ``odds``: event_id, bookmaker, market (h2h/totals), outcome, price, point,
    snapshot_time. Totals other than the 2.5 line are ignored. Match ids are the event ids."""
    kickoff = pd.to_datetime(events["commence_time"], utc=True)
    final = events["status"] == "final"
    frame = pd.DataFrame(
        {
            "match_id": events["event_id"],
            "league": events["league"],
            "season": [season_of(k.date()) for k in kickoff],
            "kickoff": kickoff,
            "decision_at": kickoff - pd.Timedelta(hours=decision_hours),
            "home_team": events["home_team"],
            "away_team": events["away_team"],
            "home_goals": events["home_score"].where(final),
            "away_goals": events["away_score"].where(final),
        }
    )
    rows = odds[odds["market"].isin(list(ODDS_API_MARKETS)) & odds["outcome"].notna()]
    rows = rows[(rows["market"] != "totals") | (rows["point"] == 2.5)]
    rows = rows.assign(market=rows["market"].map(ODDS_API_MARKETS))
    instants = frame.set_index("match_id")[["decision_at", "kickoff"]]
    rows = rows.join(instants, on="event_id", how="inner").rename(columns={"event_id": "match_id"})
    at_decision = _latest(rows[rows["snapshot_time"] <= rows["decision_at"]])
    at_close = _latest(rows[rows["snapshot_time"] < rows["kickoff"]])
    return BacktestInputs(
        data=DecisionData.build(frame, at_decision, forecasts),
        settlement=_settlement(frame),
        closing=closing_probabilities(at_close),
    )


def closing_probabilities(closing: pd.DataFrame) -> pd.DataFrame:
    """Margin-free closing probability per match, market and outcome from the first
    ``CLOSING_REFERENCES`` bookmaker with a complete market."""
    frames = []
    for market, outcomes in MARKET_OUTCOMES.items():
        rows = closing[closing["market"] == market]
        for rank, bookmaker in enumerate(CLOSING_REFERENCES):
            book = rows[rows["bookmaker"] == bookmaker]
            wide = book.pivot_table(
                index="match_id", columns="outcome", values="price", aggfunc="first"
            )
            wide = wide.reindex(columns=list(outcomes)).dropna()
            wide = wide[(wide > 1.0).all(axis=1)]
            fair = pd.DataFrame(
                remove_margin(wide.to_numpy()).probabilities, index=wide.index, columns=outcomes
            )
            long = fair.reset_index().melt("match_id", var_name="outcome", value_name="p_close")
            frames.append(long.assign(market=market, _rank=rank))
    out = pd.concat(frames, ignore_index=True).sort_values(["match_id", "market", "_rank"])
    out = out.drop_duplicates(["match_id", "market", "outcome"])
    return out[["match_id", "market", "outcome", "p_close"]].reset_index(drop=True)


def _settlement(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "match_id": frame["match_id"],
            "settle_at": frame["kickoff"] + pd.Timedelta(minutes=MATCH_MINUTES),
            "home_goals": frame["home_goals"],
            "away_goals": frame["away_goals"],
        }
    ).reset_index(drop=True)


def _latest(rows: pd.DataFrame) -> pd.DataFrame:
    """Each bookmaker's latest price per match, market and outcome."""
    rows = rows.sort_values("snapshot_time", kind="stable")
    rows = rows.drop_duplicates(["match_id", "bookmaker", "market", "outcome"], keep="last")
    return rows[["match_id", "bookmaker", "market", "outcome", "price"]].reset_index(drop=True)
