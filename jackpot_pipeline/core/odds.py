"""The Odds API v4 domain logic: long odds rows, event lifecycle, fetch tiers, validation, lines.

Everything here is pure (no I/O, no Dagster). Times are tz-aware UTC ``pd.Timestamp`` values; naive
datetimes are rejected. An *odds frame* is the output of :func:`normalize_odds`, possibly several
snapshots concatenated. A *board* is the latest snapshot of every (event, bookmaker, market) in a
frame, which is what best prices and consensus probabilities read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import pandas as pd

OddsFormat = Literal["decimal", "american"]
Columns = dict[str, list[Any]]

H2H_MARKETS = ("h2h", "h2h_lay")
THREE_WAY_SPORT_PREFIXES = ("soccer_",)
ODDS_COLUMNS = (
    "event_id",
    "sport",
    "commence_time",
    "home_team",
    "away_team",
    "bookmaker",
    "market",
    "outcome",
    "outcome_name",
    "price",
    "point",
    "bookmaker_last_update",
    "market_last_update",
    "snapshot_time",
    "two_way_h2h",
)
ISSUE_COLUMNS = (
    "severity",
    "issue_type",
    "event_id",
    "snapshot_time",
    "bookmaker",
    "market",
    "detail",
)
BOOK_MARKET = ["event_id", "bookmaker", "market"]
OUTCOME_KEY = [*BOOK_MARKET, "outcome"]
GROUP_KEY = ["event_id", "snapshot_time", "bookmaker", "market"]


# ----------------------------------------------------------------------------- normalization


def is_three_way(sport: str) -> bool:
    """True for sports whose match result has a draw (football)."""
    return sport.startswith(THREE_WAY_SPORT_PREFIXES)


def unwrap_historical(body: Any) -> tuple[Any, pd.Timestamp | None]:
    """Split a historical wrapper ``{timestamp, …, data}`` into (data, timestamp).

    Any other body comes back as (body, None).
    """
    if isinstance(body, Mapping) and "data" in body and "timestamp" in body:
        return body["data"], _to_utc([body["timestamp"]])[0]
    return body, None


def american_to_decimal(price: np.ndarray) -> np.ndarray:
    """American odds to decimal: +x → 1 + x/100, −x → 1 + 100/x (0 maps to inf, caught later)."""
    price = np.asarray(price, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(price > 0, 1.0 + price / 100.0, 1.0 + 100.0 / np.abs(price))


def normalize_odds(
    body: Any,
    snapshot_time: datetime,
    sport: str,
    odds_format: OddsFormat = "decimal",
) -> pd.DataFrame:
    """Long rows (one per outcome price) from an ``/odds`` body, event-odds body or historical one.

    ``sport`` is used only when an event lacks ``sport_key``; ``snapshot_time`` is the fetch time
    (for historical bodies pass the wrapper's timestamp, see :func:`unwrap_historical`). Outcomes
    are mapped by name: home/draw/away (h2h, h2h_lay), home/away (spreads), over/under (totals);
    anything else keeps ``outcome`` empty and only ``outcome_name``.
    """
    ev, mk, out = _flatten(_event_list(body), sport)
    per_market = np.repeat(np.arange(len(mk["key"])), np.asarray(mk["n"], dtype=int))
    per_event = np.asarray(mk["event"], dtype=int)[per_market]
    sports = _objects(ev["sport"])[per_event]
    home = _objects(ev["home"])[per_event]
    away = _objects(ev["away"])[per_event]
    market_keys = _objects(mk["key"])[per_market]
    outcome_names = _objects(out["name"])
    price = np.asarray(out["price"], dtype=float)
    if odds_format == "american":
        price = american_to_decimal(price)
    n_outcomes = np.asarray(mk["n"], dtype=int)[per_market]
    three_way = np.asarray([is_three_way(s) for s in ev["sport"]], dtype=bool)[per_event]
    return pd.DataFrame(
        {  # keys in ODDS_COLUMNS order
            "event_id": _objects(ev["id"])[per_event],
            "sport": sports,
            "commence_time": _to_utc(ev["commence"])[per_event],
            "home_team": home,
            "away_team": away,
            "bookmaker": _objects(mk["book"])[per_market],
            "market": market_keys,
            "outcome": _map_outcomes(market_keys, outcome_names, home, away),
            "outcome_name": outcome_names,
            "price": price,
            "point": np.asarray(out["point"], dtype=float),
            "bookmaker_last_update": _to_utc(mk["book_lu"])[per_market],
            "market_last_update": _to_utc(mk["lu"])[per_market],
            "snapshot_time": _utc(snapshot_time),
            "two_way_h2h": np.isin(market_keys, H2H_MARKETS) & (n_outcomes == 2) & three_way,
        }
    )


def _flatten(events: Sequence[Mapping[str, Any]], sport: str) -> tuple[Columns, Columns, Columns]:
    """Column lists at event, bookmaker-market and outcome level (the only Python loop)."""
    ev: Columns = {k: [] for k in ("id", "sport", "commence", "home", "away")}
    mk: Columns = {k: [] for k in ("event", "book", "book_lu", "key", "lu", "n")}
    out: Columns = {k: [] for k in ("name", "price", "point")}
    for i, event in enumerate(events):
        ev["id"].append(event["id"])
        ev["sport"].append(event.get("sport_key") or sport)
        ev["commence"].append(event.get("commence_time"))
        ev["home"].append(event.get("home_team"))
        ev["away"].append(event.get("away_team"))
        for book in event.get("bookmakers") or ():
            for market in book.get("markets") or ():
                outcomes = market.get("outcomes") or ()
                mk["event"].append(i)
                mk["book"].append(book["key"])
                mk["book_lu"].append(book.get("last_update"))
                mk["key"].append(market["key"])
                mk["lu"].append(market.get("last_update"))
                mk["n"].append(len(outcomes))
                for outcome in outcomes:
                    out["name"].append(outcome.get("name"))
                    out["price"].append(outcome.get("price"))
                    out["point"].append(outcome.get("point"))
    return ev, mk, out


def normalize_events(body: Any) -> pd.DataFrame:
    """One row per event (from ``/events``, ``/odds`` or ``/scores`` bodies)."""
    events = _event_list(body)
    return pd.DataFrame(
        {
            "event_id": _objects([e["id"] for e in events]),
            "sport": _objects([e.get("sport_key") for e in events]),
            "sport_title": _objects([e.get("sport_title") for e in events]),
            "commence_time": _to_utc([e.get("commence_time") for e in events]),
            "home_team": _objects([e.get("home_team") for e in events]),
            "away_team": _objects([e.get("away_team") for e in events]),
        }
    )


def normalize_scores(body: Any) -> pd.DataFrame:
    """Events plus ``completed``, integer ``home_score``/``away_score`` (matched by team name)."""
    events = _event_list(body)
    by_name = [{s.get("name"): s.get("score") for s in e.get("scores") or ()} for e in events]
    frame = normalize_events(events)
    frame["completed"] = np.asarray([bool(e.get("completed")) for e in events], dtype=bool)
    for side in ("home", "away"):
        raw = [scores.get(e.get(f"{side}_team")) for scores, e in zip(by_name, events, strict=True)]
        goals = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
        frame[f"{side}_score"] = goals.astype("Int64")
    frame["last_update"] = _to_utc([e.get("last_update") for e in events])
    return frame


def _event_list(body: Any) -> list[Mapping[str, Any]]:
    """Events of any body: list, single event object, or historical wrapper of either."""
    data, _ = unwrap_historical(body)
    return [data] if isinstance(data, Mapping) else list(data)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An object array (keeps strings/None as they are, allows fancy indexing)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _to_utc(values: Sequence[Any]) -> pd.DatetimeIndex:
    """ISO 8601 strings or epoch seconds (``dateFormat=unix``) to UTC; None → NaT."""
    first = next((v for v in values if v is not None), None)
    if isinstance(first, int | float):
        return pd.to_datetime(list(values), unit="s", utc=True)
    return pd.to_datetime(list(values), utc=True, format="ISO8601")


def _utc(value: datetime | str) -> pd.Timestamp:
    """A tz-aware instant as a UTC Timestamp; naive values are an error (ambiguous)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a tz-aware (UTC) time")
    return stamp.tz_convert("UTC").as_unit("ns")


def _map_outcomes(
    markets: np.ndarray, names: np.ndarray, home: np.ndarray, away: np.ndarray
) -> np.ndarray:
    """Canonical outcome per row, by name (never by position); None when the name is unknown."""
    sided = np.isin(markets, (*H2H_MARKETS, "spreads"))
    totals = markets == "totals"
    outcome = np.full(len(names), None, dtype=object)
    outcome[sided & (names == home)] = "home"
    outcome[sided & (names == away)] = "away"
    outcome[np.isin(markets, H2H_MARKETS) & (names == "Draw")] = "draw"
    outcome[totals & (names == "Over")] = "over"
    outcome[totals & (names == "Under")] = "under"
    return outcome


# ----------------------------------------------------------------------------- event lifecycle


class EventStatus(StrEnum):
    """Lifecycle of an event; FINAL and CANCELLED are terminal."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    FINAL = "final"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"


TERMINAL_STATUSES = frozenset({EventStatus.FINAL, EventStatus.CANCELLED})
POSTPONE_AFTER = timedelta(hours=6)


@dataclass(frozen=True)
class ScoreRecord:
    """What ``/scores`` says about one event."""

    completed: bool
    home_score: int | None = None
    away_score: int | None = None

    @property
    def has_scores(self) -> bool:
        return self.home_score is not None and self.away_score is not None


def score_records(scores: pd.DataFrame) -> dict[str, ScoreRecord]:
    """:func:`normalize_scores` rows keyed by event id."""
    return {
        row.event_id: ScoreRecord(
            completed=bool(row.completed),
            home_score=None if pd.isna(row.home_score) else int(row.home_score),
            away_score=None if pd.isna(row.away_score) else int(row.away_score),
        )
        for row in scores.itertuples(index=False)
    }


def next_status(
    previous: EventStatus | None,
    commence_time: datetime,
    score: ScoreRecord | None,
    now: datetime,
    postpone_after: timedelta = POSTPONE_AFTER,
) -> EventStatus:
    """New status from the previous one, the (latest) kickoff, the scores record and the clock.

    Terminal statuses never change. Completed → FINAL; scores without completion → LIVE; kickoff
    ahead → SCHEDULED (also re-schedules a postponed event given a new date); kickoff passed by
    ``postpone_after`` with no scores → POSTPONED; otherwise LIVE.
    """
    if previous in TERMINAL_STATUSES:
        return previous
    if score is not None and score.completed:
        return EventStatus.FINAL
    if score is not None and score.has_scores:
        return EventStatus.LIVE
    elapsed = _utc(now) - _utc(commence_time)
    if elapsed < timedelta(0):
        return EventStatus.SCHEDULED
    return EventStatus.POSTPONED if elapsed >= postpone_after else EventStatus.LIVE


def should_fetch_odds(status: EventStatus, commence_time: datetime, now: datetime) -> bool:
    """Odds are collected only for scheduled events whose kickoff is still ahead."""
    return status is EventStatus.SCHEDULED and _utc(now) < _utc(commence_time)


# ----------------------------------------------------------------------------- fetch tiers


class Tier(StrEnum):
    """Sampling tier by time to the nearest kickoff."""

    OPENING = "opening"
    EARLY = "early"
    SHARP = "sharp"
    PREGAME = "pregame"
    CLOSING = "closing"


@dataclass(frozen=True)
class TierSpec:
    """A tier lasts while more than ``min_hours`` remain before kickoff and samples every
    ``interval``.

    In time, a tier is half-open: it starts (inclusive) where the farther tier ends and ends
    (exclusive) at ``kickoff − min_hours``, which is the first instant of the nearer tier (of no
    tier for closing, whose end is the kickoff). One rule names the tier at any instant,
    :func:`tier_for` of the hours left then, and a fetch due at a boundary counts for the tier
    that starts there.
    """

    tier: Tier
    min_hours: float
    interval: timedelta


TIERS: tuple[TierSpec, ...] = (  # ordered from furthest to nearest kickoff
    TierSpec(Tier.OPENING, 72.0, timedelta(hours=48)),
    TierSpec(Tier.EARLY, 24.0, timedelta(hours=24)),
    TierSpec(Tier.SHARP, 12.0, timedelta(hours=12)),
    TierSpec(Tier.PREGAME, 3.0, timedelta(hours=3)),
    TierSpec(Tier.CLOSING, 0.0, timedelta(minutes=30)),
)


@dataclass(frozen=True)
class Decision:
    """Whether to fetch now, why, and when the next fetch falls due."""

    due: bool
    reason: str
    tier: Tier | None = None
    next_due: pd.Timestamp | None = None


def tier_spec(hours_to_kickoff: float) -> TierSpec | None:
    """The tier spec for a time to kickoff; None from kickoff on."""
    return next((s for s in TIERS if hours_to_kickoff > s.min_hours), None)


def tier_for(hours_to_kickoff: float) -> Tier | None:
    """Tier for hours to kickoff: >72 opening, >24 early, >12 sharp, >3 pregame, >0 closing
    (a boundary belongs to the nearer tier: exactly 72 h before kickoff is early)."""
    spec = tier_spec(hours_to_kickoff)
    return None if spec is None else spec.tier


def is_fetch_due(
    now: datetime,
    nearest_commence: datetime | None,
    last_fetch_by_tier: Mapping[Tier, datetime],
) -> Decision:
    """Due when the current tier (:func:`tier_for` at ``now``) has no fetch yet or its interval
    has elapsed since its last one.

    ``next_due`` is the earlier of the interval expiry and the end of the current tier
    (``kickoff − min_hours``). At that end the nearer tier has already begun (see
    :class:`TierSpec`), so a fetch falling due there is decided, and counted, for the nearer
    tier: the tier boundary never yields one fetch for the farther tier and another for the
    nearer one a tick later.
    """
    if nearest_commence is None:
        return Decision(False, "no upcoming fixture")
    now_ts, kickoff = _utc(now), _utc(nearest_commence)
    spec = tier_spec((kickoff - now_ts) / timedelta(hours=1))
    if spec is None:
        return Decision(False, "no upcoming fixture: nearest kickoff is not ahead")
    last = last_fetch_by_tier.get(spec.tier)
    if last is None:
        return Decision(True, f"first fetch in {spec.tier} tier", spec.tier, now_ts)
    next_due = min(_utc(last) + spec.interval, kickoff - timedelta(hours=spec.min_hours))
    if now_ts >= next_due:
        return Decision(True, f"{spec.tier} interval {spec.interval} elapsed", spec.tier, next_due)
    return Decision(False, f"{spec.tier} tier: next fetch due at {next_due}", spec.tier, next_due)


# ----------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValidationRules:
    """Thresholds of the odds checks (defaults from the original system).

    ``future_tolerance`` absorbs snapshot stamps rounded to the minute: the recorded files carry
    ``last_update`` values up to 73 s after their stamp.
    """

    min_price: float = 1.01
    max_price: float = 1000.0
    min_vig: float = 0.02
    max_vig: float = 0.15
    future_tolerance: timedelta = timedelta(minutes=2)
    expected_bookmakers: tuple[str, ...] = ()
    expected_markets: tuple[str, ...] = ()


DEFAULT_RULES = ValidationRules()
VIG_MARKETS = ("h2h", "totals", "spreads")


@dataclass(frozen=True)
class ValidationReport:
    """Quality records (``ISSUE_COLUMNS``) and the rows kept (all rows unless rejecting)."""

    issues: pd.DataFrame
    kept: pd.DataFrame

    @property
    def n_errors(self) -> int:
        return int((self.issues["severity"] == "error").sum())


def validate_odds(
    odds: pd.DataFrame, rules: ValidationRules = DEFAULT_RULES, *, reject: bool = False
) -> ValidationReport:
    """Run all checks; with ``reject`` drop every bookmaker-market group that has an error.

    Errors: price outside [min, max], last_update after the snapshot, missing/unmapped/duplicate
    outcomes. Warnings: vig outside [min_vig, max_vig] (h2h, totals, spreads), two-way h2h in a
    three-way sport, expected bookmakers or markets absent from an event's snapshot.
    """
    groups = _outcome_groups(odds)
    issues = _concat_issues(
        [
            _price_issues(odds, rules),
            _timestamp_issues(odds, rules),
            _outcome_issues(odds, groups),
            _vig_issues(groups, rules),
            _coverage_issues(odds, rules),
        ]
    )
    kept = _drop_error_groups(odds, issues) if reject else odds
    return ValidationReport(issues=issues, kept=kept)


def _issues(
    rows: pd.DataFrame, severity: str, issue_type: str, *detail: pd.Series | str
) -> pd.DataFrame:
    """Issue records for ``rows``; ``detail`` parts (text or columns) are joined per row."""
    out = pd.DataFrame(index=rows.index, columns=list(ISSUE_COLUMNS), dtype=object)
    for column in ("event_id", "snapshot_time", "bookmaker", "market"):
        if column in rows:
            out[column] = rows[column]
    out["severity"] = severity
    out["issue_type"] = issue_type
    out["detail"] = ""
    for part in detail:
        out["detail"] += part.astype(str) if isinstance(part, pd.Series) else part
    return out.reset_index(drop=True)


def _concat_issues(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate issue frames (empty ones skipped, so dtypes stay clean)."""
    found = [f for f in frames if not f.empty]
    if not found:
        return pd.DataFrame(columns=list(ISSUE_COLUMNS), dtype=object)
    return pd.concat(found, ignore_index=True)


def _price_issues(odds: pd.DataFrame, rules: ValidationRules) -> pd.DataFrame:
    bad = odds[~odds["price"].between(rules.min_price, rules.max_price)]
    return _issues(bad, "error", "price_out_of_range", bad["outcome_name"], " ", bad["price"])


def _timestamp_issues(odds: pd.DataFrame, rules: ValidationRules) -> pd.DataFrame:
    limit = odds["snapshot_time"] + rules.future_tolerance
    latest = odds[["bookmaker_last_update", "market_last_update"]].max(axis=1)
    bad = odds.assign(latest=latest)[latest > limit].drop_duplicates(GROUP_KEY)
    return _issues(bad, "error", "future_timestamp", "last_update ", bad["latest"])


def _outcome_groups(odds: pd.DataFrame) -> pd.DataFrame:
    """One row per priced line (group key + line) with outcome counts and the overround."""
    rows = odds.assign(
        line=np.where(odds["market"] == "spreads", odds["point"].abs(), odds["point"]),
        inverse=1.0 / odds["price"],
    )
    groups = rows.groupby([*GROUP_KEY, "line"], dropna=False, sort=False).agg(
        sport=("sport", "first"),
        two_way=("two_way_h2h", "any"),
        n_rows=("outcome_name", "size"),
        n_mapped=("outcome", "count"),
        n_unique=("outcome", "nunique"),
        n_priced=("inverse", "count"),
        inverse_sum=("inverse", "sum"),
    )
    overround = groups["inverse_sum"] - 1.0
    groups["overround"] = overround.where(groups["n_priced"] == groups["n_rows"])
    groups["expected"] = _expected_outcomes(groups)
    return groups.reset_index()


def _expected_outcomes(groups: pd.DataFrame) -> np.ndarray:
    """Number of outcomes a complete line has: 3 for 1X2 of a three-way sport, 2 otherwise."""
    three = groups["sport"].map(is_three_way).to_numpy(dtype=bool) & ~groups["two_way"].to_numpy()
    h2h = groups.index.get_level_values("market").isin(H2H_MARKETS)
    return np.where(h2h & three, 3, 2)


def _outcome_issues(odds: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    checked = [*H2H_MARKETS, *VIG_MARKETS]
    unmapped = odds[odds["outcome"].isna() & odds["market"].isin(checked)]
    known = groups[groups["market"].isin(checked)]
    duplicate = known[known["n_mapped"] > known["n_unique"]]
    missing = known[(known["n_unique"] < known["expected"]) & ~known["two_way"]]
    two_way = known[known["two_way"]]
    return _concat_issues(
        [
            _issues(unmapped, "error", "unmapped_outcome", "name ", unmapped["outcome_name"]),
            _issues(duplicate, "error", "duplicate_outcome", "line ", duplicate["line"]),
            _issues(missing, "error", "missing_outcome", missing["n_unique"], " sides"),
            _issues(two_way, "warning", "two_way_h2h", "no Draw"),
        ]
    )


def _vig_issues(groups: pd.DataFrame, rules: ValidationRules) -> pd.DataFrame:
    complete = (groups["n_unique"] == groups["expected"]) & (groups["n_rows"] == groups["expected"])
    checked = groups[complete & groups["market"].isin(VIG_MARKETS) & ~groups["two_way"]]
    bad = checked[~checked["overround"].between(rules.min_vig, rules.max_vig)]
    return _issues(bad, "warning", "vig_out_of_range", "vig ", bad["overround"].round(4))


def _coverage_issues(odds: pd.DataFrame, rules: ValidationRules) -> pd.DataFrame:
    snapshots = odds.groupby(["event_id", "snapshot_time"], sort=False)
    present = snapshots.agg(books=("bookmaker", set), markets=("market", set)).reset_index()
    return _concat_issues(
        [
            _missing(present, "books", rules.expected_bookmakers, "bookmaker", "missing_bookmaker"),
            _missing(present, "markets", rules.expected_markets, "market", "missing_market"),
        ]
    )


def _missing(
    present: pd.DataFrame, column: str, expected: tuple[str, ...], target: str, issue: str
) -> pd.DataFrame:
    """One warning per event snapshot and expected value absent from its ``column`` set."""
    pairs = [
        (row.Index, value)
        for row in present.itertuples()
        for value in expected
        if value not in getattr(row, column)
    ]
    rows = present.loc[[i for i, _ in pairs], ["event_id", "snapshot_time"]]
    rows[target] = [value for _, value in pairs]
    return _issues(rows, "warning", issue, "not offered: ", rows[target])


def _drop_error_groups(odds: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Rows whose (event, snapshot, bookmaker, market) group carries no error."""
    errors = issues.loc[issues["severity"] == "error", GROUP_KEY].dropna().drop_duplicates()
    keys = pd.MultiIndex.from_frame(errors.astype({"snapshot_time": odds["snapshot_time"].dtype}))
    return odds[~pd.MultiIndex.from_frame(odds[GROUP_KEY]).isin(keys)]


# ----------------------------------------------------------------------------- derived lines


def odds_at(odds: pd.DataFrame, event_id: str | None, t: datetime) -> pd.DataFrame:
    """The board as known at ``t``: per bookmaker-market its latest snapshot with time ≤ ``t``.

    ``event_id=None`` selects every event. Never returns a row stamped after ``t``.
    """
    rows = odds[odds["snapshot_time"] <= _utc(t)]
    if event_id is not None:
        rows = rows[rows["event_id"] == event_id]
    return _latest_snapshot(rows)


def closing_lines(odds: pd.DataFrame) -> pd.DataFrame:
    """Per event × bookmaker × market, the rows of its last snapshot strictly before kickoff."""
    return _latest_snapshot(_pre_kickoff(odds))


def line_movement(odds: pd.DataFrame) -> pd.DataFrame:
    """Opening (first pre-kickoff) vs closing snapshot per event × bookmaker × market × outcome."""
    pre = _pre_kickoff(odds)
    opening = _stage(_latest_snapshot(pre, "min"), "opening")
    closing = _stage(_latest_snapshot(pre), "closing")
    counts = pre.groupby(OUTCOME_KEY).size().rename("n_snapshots").reset_index()
    return opening.merge(closing, on=OUTCOME_KEY).merge(counts, on=OUTCOME_KEY)


def price_series(odds: pd.DataFrame, event_id: str, market: str = "h2h") -> pd.DataFrame:
    """Prices of one event and market: index snapshot_time, columns (bookmaker, outcome)."""
    rows = odds[(odds["event_id"] == event_id) & (odds["market"] == market)]
    return rows.pivot_table(
        index="snapshot_time", columns=["bookmaker", "outcome"], values="price", aggfunc="last"
    )


def best_prices(odds: pd.DataFrame) -> pd.DataFrame:
    """Best back price per event × market × outcome × point on the board, with its bookmaker."""
    board = _latest_snapshot(odds)
    back = board[(board["market"] != "h2h_lay") & ~board["two_way_h2h"]]
    back = back.dropna(subset=["outcome", "price"])
    key = ["event_id", "market", "outcome", "point"]
    grouped = back.groupby(key, dropna=False, sort=False)
    back = back.assign(n_bookmakers=grouped["bookmaker"].transform("nunique"))
    best = back.loc[grouped["price"].idxmax()]
    return best[[*key, "price", "bookmaker", "snapshot_time", "n_bookmakers"]]


def consensus_probs(
    odds: pd.DataFrame,
    bookmakers: Sequence[str] | None = None,
    overround_bounds: tuple[float, float] = (0.0, 0.25),
) -> pd.DataFrame:
    """Margin-free h2h probabilities per event: mean over bookmakers of normalized 1/price.

    Reads the board (latest snapshot per bookmaker). A book counts when complete (three prices
    in a three-way sport, two otherwise) and its overround lies within ``overround_bounds`` (this
    drops stale exchange quotes such as 1.05/1.01/1.05). Columns: event_id, home, draw, away,
    n_bookmakers, as_of.
    """
    rows = odds[(odds["market"] == "h2h") & ~odds["two_way_h2h"] & odds["outcome"].notna()]
    if bookmakers is not None:
        rows = rows[rows["bookmaker"].isin(bookmakers)]
    board = _latest_snapshot(rows)
    wide = board.pivot_table(
        index=["event_id", "bookmaker", "sport"], columns="outcome", values="price", aggfunc="first"
    ).reindex(columns=["home", "draw", "away"])
    three = wide.index.get_level_values("sport").map(is_three_way).to_numpy(dtype=bool)
    complete = wide[["home", "away"]].notna().all(axis=1) & (wide["draw"].notna() == three)
    implied = 1.0 / wide[complete]
    plausible = (implied.sum(axis=1) - 1.0).between(*overround_bounds)
    probs = multiplicative_probs(implied[plausible])
    as_of = board.groupby("event_id")["snapshot_time"].max().rename("as_of")
    grouped = probs.groupby(level="event_id")
    out = grouped.mean().assign(n_bookmakers=grouped.size()).join(as_of)
    return out.reset_index().rename_axis(columns=None)


def pinnacle_probs(odds: pd.DataFrame) -> pd.DataFrame:
    """Margin-free h2h probabilities from Pinnacle alone (the sharp reference)."""
    return consensus_probs(odds, bookmakers=("pinnacle",))


def multiplicative_probs(implied: pd.DataFrame) -> pd.DataFrame:
    """Row-wise 1/price normalized to sum to one (missing outcomes ignored)."""
    return implied.div(implied.sum(axis=1), axis=0)


def _pre_kickoff(odds: pd.DataFrame) -> pd.DataFrame:
    """Rows snapped strictly before the event's latest known kickoff (kickoffs can move)."""
    latest = odds.sort_values("snapshot_time", kind="stable").groupby("event_id")["commence_time"]
    kickoff = latest.transform("last").reindex(odds.index)
    return odds[odds["snapshot_time"] < kickoff]


def _latest_snapshot(rows: pd.DataFrame, how: Literal["max", "min"] = "max") -> pd.DataFrame:
    """Rows of the latest (or earliest) snapshot of each event × bookmaker × market."""
    chosen = rows.groupby(BOOK_MARKET, sort=False)["snapshot_time"].transform(how)
    return rows[rows["snapshot_time"] == chosen]


def _stage(rows: pd.DataFrame, stage: str) -> pd.DataFrame:
    """Outcome key plus ``{stage}_time``, ``{stage}_price``, ``{stage}_point``."""
    renamed = {
        "snapshot_time": f"{stage}_time",
        "price": f"{stage}_price",
        "point": f"{stage}_point",
    }
    return rows[[*OUTCOME_KEY, *renamed]].rename(columns=renamed)
