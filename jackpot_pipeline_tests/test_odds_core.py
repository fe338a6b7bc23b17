"""Pure odds core on the recorded Odds API responses (no network)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jackpot_pipeline.core import odds as core
from jackpot_pipeline.core.odds import EventStatus, ScoreRecord, Tier

DATA = Path(__file__).resolve().parents[1] / "data" / "odds-api"
EPL_AUG = (
    "soccer_epl_odds_h2h_eu_20240801T1622Z.json",
    "soccer_epl_odds_h2h_eu_20240804T0022Z.json",
    "soccer_epl_odds_h2h_eu_20240804T2152Z.json",
)
MAN_UTD_FULHAM = "7579d22151b7be3f590e9e338de9dff6"
NFL = "historical_americanfootball_nfl_odds_h2h_spreads_totals_us_20211125T1155Z.json"
QUALIFIERS = "soccer_uefa_champs_league_qualification_odds_h2h_eu_20240804T2152Z.json"
WORLD_CUP_SCORES = "soccer_fifa_world_cup_scores_cached_20260614T1804Z.json"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def stamp_of(name: str) -> pd.Timestamp:
    """The snapshot stamp in a recording's file name, e.g. ``…_20240804T2152Z.json``."""
    return pd.Timestamp(name.split("_")[-1].split(".")[0])


def body(name: str) -> object:
    raw = json.loads((DATA / name).read_text())
    return raw["data"] if isinstance(raw, dict) and "ts" in raw else raw  # app cache envelope


def snapshot(name: str, sport: str = "soccer_epl") -> pd.DataFrame:
    return core.normalize_odds(body(name), stamp_of(name), sport)


@pytest.fixture(scope="module")
def epl() -> pd.DataFrame:
    """The three August-2024 EPL snapshots of the same fixtures."""
    return pd.concat([snapshot(n) for n in EPL_AUG], ignore_index=True)


@pytest.fixture(scope="module")
def all_soccer() -> pd.DataFrame:
    names = sorted(p.name for p in DATA.glob("soccer_*_odds_*.json"))
    return pd.concat([snapshot(n) for n in names], ignore_index=True)


def rows_of(frame: pd.DataFrame, event_id: str, bookmaker: str, market: str) -> pd.DataFrame:
    mask = (
        (frame["event_id"] == event_id)
        & (frame["bookmaker"] == bookmaker)
        & (frame["market"] == market)
    )
    return frame[mask]


# ----------------------------------------------------------------------------- normalization


def test_h2h_outcomes_are_mapped_by_name_not_position() -> None:
    frame = snapshot(EPL_AUG[2])
    unibet = rows_of(frame, MAN_UTD_FULHAM, "unibet_eu", "h2h")
    # the body lists Fulham (away) first, then Manchester United (home), then Draw
    assert list(unibet["outcome_name"]) == ["Fulham", "Manchester United", "Draw"]
    assert dict(zip(unibet["outcome"], unibet["price"], strict=True)) == {
        "away": 5.5,
        "home": 1.53,
        "draw": 4.3,
    }
    first = unibet.iloc[0]
    assert (first["home_team"], first["away_team"]) == ("Manchester United", "Fulham")
    assert first["commence_time"] == utc("2024-08-16T19:00:00Z")
    assert first["market_last_update"] == utc("2024-08-04T21:52:09Z")
    assert first["snapshot_time"] == utc("2024-08-04T21:52Z")
    assert not frame["two_way_h2h"].any()


def test_columns_and_dtypes(epl: pd.DataFrame) -> None:
    assert tuple(epl.columns) == core.ODDS_COLUMNS
    for column in ("commence_time", "bookmaker_last_update", "market_last_update", "snapshot_time"):
        assert str(epl[column].dtype) == "datetime64[ns, UTC]"
    assert set(epl["market"]) == {"h2h", "h2h_lay"}
    assert epl["outcome"].notna().all()


def test_american_odds_are_converted_on_the_nfl_historical_sample() -> None:
    raw = json.loads((DATA / NFL).read_text())
    _, snapshot_time = core.unwrap_historical(raw)
    frame = core.normalize_odds(raw, snapshot_time, "americanfootball_nfl", "american")
    assert snapshot_time == utc("2021-11-25T11:55:00Z")
    event = frame[frame["home_team"] == "Detroit Lions"]["event_id"].iloc[0]
    book = frame[(frame["event_id"] == event) & (frame["bookmaker"] == "betonlineag")]
    price = {(r.market, r.outcome): (r.price, r.point) for r in book.itertuples()}
    assert price[("h2h", "away")][0] == pytest.approx(1 + 100 / 145)  # Chicago -145
    assert price[("h2h", "home")][0] == pytest.approx(2.25)  # Detroit +125
    assert price[("spreads", "away")] == pytest.approx((2.04, -3.0))  # +104
    assert price[("totals", "over")] == pytest.approx((1 + 100 / 119, 41.0))
    assert frame["market_last_update"].isna().all()  # 2021 format: no market last_update
    assert not frame["two_way_h2h"].any()  # two-way h2h is normal outside football


def test_american_to_decimal() -> None:
    converted = core.american_to_decimal(np.array([100, -100, 250, -200]))
    assert converted == pytest.approx([2.0, 2.0, 3.5, 1.5])


def test_two_way_h2h_in_a_soccer_qualifier_is_flagged() -> None:
    frame = snapshot(QUALIFIERS, "soccer_uefa_champs_league_qualification")
    flagged = frame[frame["two_way_h2h"]]
    assert len(flagged) == 2
    assert set(flagged["bookmaker"]) == {"mybookieag"}
    assert set(flagged["outcome"]) == {"home", "away"}  # Jagiellonia v Bodø/Glimt, no Draw
    issues = core.validate_odds(frame).issues
    assert list(issues.loc[issues["issue_type"] == "two_way_h2h", "bookmaker"]) == ["mybookieag"]
    consensus = core.consensus_probs(frame).set_index("event_id")
    assert consensus.loc[flagged["event_id"].iloc[0], "draw"] > 0  # 1X2 from the others only


def test_epoch_times_with_date_format_unix() -> None:
    event = {
        "id": "e1",
        "commence_time": 1723834800,
        "home_team": "A",
        "away_team": "B",
        "bookmakers": [
            {
                "key": "book",
                "last_update": 1723000000,
                "markets": [{"key": "totals", "outcomes": [{"name": "Over", "price": 1.9}]}],
            }
        ],
    }
    frame = core.normalize_odds([event], utc("2024-08-07T03:06:40Z"), "soccer_epl")
    assert frame.loc[0, "commence_time"] == utc("2024-08-16T19:00:00Z")
    assert frame.loc[0, "outcome"] == "over"
    assert pd.isna(frame.loc[0, "point"])


def test_naive_snapshot_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        core.normalize_odds([], datetime(2024, 8, 1), "soccer_epl")


def test_all_recorded_soccer_snapshots_normalize_cleanly(all_soccer: pd.DataFrame) -> None:
    assert len(all_soccer) > 15_000
    assert all_soccer.loc[all_soccer["market"] != "outrights", "outcome"].notna().all()
    report = core.validate_odds(all_soccer)
    assert report.n_errors == 0
    assert set(report.issues["issue_type"]) <= {"vig_out_of_range", "two_way_h2h"}


def test_normalize_events_and_scores() -> None:
    events = core.normalize_events(body(EPL_AUG[0]))
    assert len(events) == 10 and events["event_id"].is_unique
    scores = core.normalize_scores(body(WORLD_CUP_SCORES)).set_index("event_id")
    live = scores.loc["d79edbd6aaeb578d33e313446b18d333"]  # Germany 3–1 Curaçao, in play
    assert (live["home_team"], live["away_team"]) == ("Germany", "Curaçao")
    assert (live["home_score"], live["away_score"], live["completed"]) == (3, 1, False)
    final = scores.loc["80d82d1113934bfbea4ce8daf37a2433"]  # Mexico 2–0 South Africa
    assert (final["home_score"], final["away_score"], final["completed"]) == (2, 0, True)
    upcoming = scores[scores["home_score"].isna()]
    assert len(upcoming) > 0 and not upcoming["completed"].any()
    records = core.score_records(scores.reset_index())
    assert records["80d82d1113934bfbea4ce8daf37a2433"] == ScoreRecord(True, 2, 0)


def test_scores_without_last_update_parse() -> None:
    scores = core.normalize_scores(body("icehockey_nhl_scores_daysFrom_20240319.json"))
    assert scores["last_update"].isna().any() and scores["completed"].any()


# ----------------------------------------------------------------------------- lifecycle


KICKOFF = utc("2024-08-16T19:00Z")


@pytest.mark.parametrize(
    ("previous", "score", "now", "expected"),
    [
        (None, None, "2024-08-16T18:00Z", EventStatus.SCHEDULED),
        (EventStatus.SCHEDULED, None, "2024-08-16T19:00Z", EventStatus.LIVE),
        (EventStatus.SCHEDULED, ScoreRecord(False, 1, 0), "2024-08-16T19:30Z", EventStatus.LIVE),
        (EventStatus.LIVE, ScoreRecord(True, 1, 0), "2024-08-16T21:00Z", EventStatus.FINAL),
        (EventStatus.FINAL, None, "2024-08-16T18:00Z", EventStatus.FINAL),
        (EventStatus.FINAL, ScoreRecord(False, None, None), "2024-08-20T00:00Z", EventStatus.FINAL),
        (
            EventStatus.CANCELLED,
            ScoreRecord(True, 1, 0),
            "2024-08-17T00:00Z",
            EventStatus.CANCELLED,
        ),
        (EventStatus.LIVE, ScoreRecord(False), "2024-08-17T01:00Z", EventStatus.POSTPONED),
        (EventStatus.POSTPONED, None, "2024-08-16T18:00Z", EventStatus.SCHEDULED),
        (EventStatus.POSTPONED, ScoreRecord(True, 0, 0), "2024-08-18T00:00Z", EventStatus.FINAL),
    ],
)
def test_lifecycle_transitions(
    previous: EventStatus | None, score: ScoreRecord | None, now: str, expected: EventStatus
) -> None:
    assert core.next_status(previous, KICKOFF, score, utc(now)) is expected


def test_odds_are_fetched_only_for_scheduled_events_before_kickoff() -> None:
    before, after = utc("2024-08-16T18:00Z"), utc("2024-08-16T19:30Z")
    assert core.should_fetch_odds(EventStatus.SCHEDULED, KICKOFF, before)
    assert not core.should_fetch_odds(EventStatus.SCHEDULED, KICKOFF, after)
    for status in (EventStatus.LIVE, EventStatus.FINAL, EventStatus.POSTPONED):
        assert not core.should_fetch_odds(status, KICKOFF, before)


# ----------------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("hours", "tier"),
    [
        (200.0, Tier.OPENING),
        (72.01, Tier.OPENING),
        (72.0, Tier.EARLY),  # a boundary instant belongs to the nearer tier
        (71.99, Tier.EARLY),
        (24.01, Tier.EARLY),
        (24.0, Tier.SHARP),
        (23.99, Tier.SHARP),
        (12.01, Tier.SHARP),
        (12.0, Tier.PREGAME),
        (11.99, Tier.PREGAME),
        (3.01, Tier.PREGAME),
        (3.0, Tier.CLOSING),
        (2.99, Tier.CLOSING),
        (0.01, Tier.CLOSING),
        (0.0, None),  # kickoff: no odds are fetched (should_fetch_odds agrees)
        (-0.01, None),
    ],
)
def test_tier_boundaries(hours: float, tier: Tier | None) -> None:
    assert core.tier_for(hours) is tier
    spec = core.tier_spec(hours)
    assert (None if spec is None else spec.tier) is tier


def test_fetch_decisions() -> None:
    now = KICKOFF - timedelta(hours=10)  # pregame tier, every 3 h
    assert not core.is_fetch_due(now, None, {}).due
    assert not core.is_fetch_due(now, now - timedelta(minutes=1), {}).due

    first = core.is_fetch_due(now, KICKOFF, {Tier.SHARP: now - timedelta(hours=1)})
    assert (first.due, first.tier, first.reason) == (
        True,
        Tier.PREGAME,
        "first fetch in pregame tier",
    )

    recent = core.is_fetch_due(now, KICKOFF, {Tier.PREGAME: now - timedelta(hours=1)})
    assert not recent.due and recent.next_due == now + timedelta(hours=2)

    stale = core.is_fetch_due(now, KICKOFF, {Tier.PREGAME: now - timedelta(hours=3)})
    assert stale.due and stale.next_due == now

    # opening tier, 48 h interval: the next due time is capped where the early tier starts
    early_start = KICKOFF - timedelta(hours=72)
    opening = core.is_fetch_due(
        early_start - timedelta(hours=1), KICKOFF, {Tier.OPENING: early_start - timedelta(hours=2)}
    )
    assert not opening.due and opening.next_due == early_start


@pytest.mark.parametrize("farther", range(len(core.TIERS) - 1))
def test_a_tier_boundary_gives_one_fetch_for_the_nearer_tier(farther: int) -> None:
    """At the instant a tier ends, the nearer tier has begun: the fetch that falls due there is
    the nearer tier's first, and no second one follows a tick (30 min) later."""
    far, near = core.TIERS[farther], core.TIERS[farther + 1]
    boundary = KICKOFF - timedelta(hours=far.min_hours)
    tick = timedelta(minutes=30)
    fetched = {far.tier: boundary - tick}  # the farther tier was fetched a tick before its end

    before = core.is_fetch_due(boundary - tick / 2, KICKOFF, fetched)
    assert (before.due, before.tier, before.next_due) == (False, far.tier, boundary)

    at = core.is_fetch_due(boundary, KICKOFF, fetched)
    assert core.tier_for((KICKOFF - boundary) / timedelta(hours=1)) is near.tier
    assert (at.due, at.tier, at.reason) == (True, near.tier, f"first fetch in {near.tier} tier")

    fetched[near.tier] = boundary
    after = core.is_fetch_due(boundary + tick, KICKOFF, fetched)
    assert after.tier is near.tier
    assert after.due is (near.interval <= tick)  # only the closing tier samples every tick
    near_end = KICKOFF - timedelta(hours=near.min_hours)
    assert after.next_due == min(boundary + near.interval, near_end)


def test_closing_ends_at_kickoff() -> None:
    last = KICKOFF - timedelta(minutes=15)
    closing = core.is_fetch_due(KICKOFF - timedelta(minutes=10), KICKOFF, {Tier.CLOSING: last})
    assert (closing.due, closing.tier, closing.next_due) == (False, Tier.CLOSING, KICKOFF)
    at_kickoff = core.is_fetch_due(KICKOFF, KICKOFF, {Tier.CLOSING: last})
    assert (at_kickoff.due, at_kickoff.tier) == (False, None)


@settings(max_examples=200, deadline=None)
@given(
    minutes_ahead=st.integers(1, 100 * 60),
    ago=st.dictionaries(st.sampled_from(list(Tier)), st.integers(1, 80 * 60), max_size=5),
)
def test_decisions_follow_tier_for_up_to_next_due(minutes_ahead: int, ago: dict[Tier, int]) -> None:
    """The decision's tier is ``tier_for`` at that instant; up to ``next_due`` nothing is due in
    the same tier, and at ``next_due`` the decision (again ``tier_for``'s tier) is due or its
    tier has changed: ``next_due`` never names an instant where two tiers could both fetch."""
    now = KICKOFF - timedelta(minutes=minutes_ahead)
    last = {tier: now - timedelta(minutes=m) for tier, m in ago.items()}

    def hours(t: pd.Timestamp) -> float:
        return (KICKOFF - t) / timedelta(hours=1)

    decision = core.is_fetch_due(now, KICKOFF, last)
    assert decision.tier is core.tier_for(hours(now)) is not None
    if decision.due:
        return
    assert decision.next_due is not None and decision.next_due > now
    before = core.is_fetch_due(decision.next_due - timedelta(minutes=1), KICKOFF, last)
    assert (before.due, before.tier) == (False, decision.tier)
    then = core.is_fetch_due(decision.next_due, KICKOFF, last)
    assert then.tier is core.tier_for(hours(decision.next_due))
    assert then.due or then.tier is not decision.tier


@settings(max_examples=40, deadline=None)
@given(phase=st.integers(0, 29))
@example(phase=0)  # ticks on every tier boundary
def test_ticking_towards_one_kickoff_fetches_each_tier_at_its_cadence(phase: int) -> None:
    """Ticks every 30 min (as the sensor) from 100 h before one kickoff: each fetch is for
    ``tier_for`` at its tick, each tier's first fetch is its first tick, and later fetches of a
    tier keep its interval — in particular no boundary fetches twice in a row."""
    tick = timedelta(minutes=30)
    at = KICKOFF - timedelta(hours=100) + timedelta(minutes=phase)
    last: dict[Tier, pd.Timestamp] = {}
    fetches: list[tuple[pd.Timestamp, Tier]] = []
    ticks: dict[Tier, list[pd.Timestamp]] = {}
    while at < KICKOFF:
        tier = core.tier_for((KICKOFF - at) / timedelta(hours=1))
        ticks.setdefault(tier, []).append(at)
        decision = core.is_fetch_due(at, KICKOFF, last)
        assert decision.tier is tier
        if decision.due:
            last[tier] = at
            fetches.append((at, tier))
        at += tick
    intervals = {spec.tier: spec.interval for spec in core.TIERS}
    for tier, times in ticks.items():
        mine = [t for t, fetched in fetches if fetched is tier]
        assert mine[0] == times[0], tier
        assert all(b - a == intervals[tier] for a, b in itertools.pairwise(mine)), tier
        expected = [times[0] + k * intervals[tier] for k in range(len(mine))]
        assert mine == expected and expected[-1] + intervals[tier] > times[-1], tier


# ----------------------------------------------------------------------------- validation


def test_validators_catch_injected_bad_price_and_vig() -> None:
    frame = snapshot(EPL_AUG[2])
    bad_price = frame.index[
        (frame["event_id"] == MAN_UTD_FULHAM)
        & (frame["bookmaker"] == "unibet_eu")
        & (frame["market"] == "h2h")
        & (frame["outcome"] == "home")
    ]
    marathon = (
        (frame["event_id"] == MAN_UTD_FULHAM)
        & (frame["bookmaker"] == "marathonbet")
        & (frame["market"] == "h2h")
    )
    frame.loc[bad_price, "price"] = 0.5
    frame.loc[marathon, "price"] = frame.loc[marathon, "price"] / 1.3  # vig far above 15 %

    report = core.validate_odds(frame, reject=True)
    issues = report.issues
    found = set(zip(issues["issue_type"], issues["bookmaker"], issues["severity"], strict=True))
    assert ("price_out_of_range", "unibet_eu", "error") in found
    assert ("vig_out_of_range", "marathonbet", "warning") in found
    dropped = frame.index.difference(report.kept.index)
    assert set(frame.loc[dropped, "bookmaker"]) == {"unibet_eu"} and len(dropped) == 3
    assert len(core.validate_odds(frame).kept) == len(frame)  # log-only by default


def test_validators_catch_missing_side_future_stamp_and_coverage() -> None:
    frame = snapshot(EPL_AUG[2])
    pinnacle = rows_of(frame, MAN_UTD_FULHAM, "pinnacle", "h2h")
    frame = frame.drop(pinnacle.index[pinnacle["outcome"] == "draw"])
    late = rows_of(frame, MAN_UTD_FULHAM, "unibet_eu", "h2h").index
    frame.loc[late, "market_last_update"] = frame.loc[late, "snapshot_time"] + timedelta(hours=1)
    rules = core.ValidationRules(expected_bookmakers=("pinnacle", "bet365"))

    issues = core.validate_odds(frame, rules).issues
    found = set(zip(issues["issue_type"], issues["bookmaker"], issues["severity"], strict=True))
    assert ("missing_outcome", "pinnacle", "error") in found
    assert ("future_timestamp", "unibet_eu", "error") in found
    missing_books = issues[issues["issue_type"] == "missing_bookmaker"]
    assert set(missing_books["bookmaker"]) == {"bet365"}
    assert len(missing_books) == frame["event_id"].nunique()


# ----------------------------------------------------------------------------- derived lines


def test_closing_line_is_the_last_snapshot_before_kickoff(epl: pd.DataFrame) -> None:
    closing = core.closing_lines(epl)
    last = epl[epl["snapshot_time"] == utc("2024-08-04T21:52Z")]
    key = [*core.OUTCOME_KEY, "price"]
    merged = last[key].merge(closing[[*key, "snapshot_time"]], on=core.OUTCOME_KEY)
    assert (merged["price_x"] == merged["price_y"]).all()
    assert len(closing) >= len(last)  # books absent from the last snapshot keep earlier prices

    moved = epl.copy()  # kickoff between the second and third snapshot
    moved.loc[moved["event_id"] == MAN_UTD_FULHAM, "commence_time"] = utc("2024-08-04T12:00Z")
    times = core.closing_lines(moved).query("event_id == @MAN_UTD_FULHAM")["snapshot_time"]
    assert set(times) == {utc("2024-08-04T00:22Z")}


def test_line_movement_and_price_series(epl: pd.DataFrame) -> None:
    movement = core.line_movement(epl).set_index(core.OUTCOME_KEY)
    row = movement.loc[(MAN_UTD_FULHAM, "betfair_ex_eu", "h2h", "draw")]
    assert (row["opening_price"], row["closing_price"], row["n_snapshots"]) == (4.8, 4.6, 3)
    assert row["opening_time"] == utc("2024-08-01T16:22Z")
    series = core.price_series(epl, MAN_UTD_FULHAM)
    assert list(series[("betfair_ex_eu", "draw")]) == [4.8, 4.6, 4.6]


def test_best_prices_on_the_board(epl: pd.DataFrame) -> None:
    best = core.best_prices(epl).set_index(["event_id", "market", "outcome"])
    board = core.closing_lines(epl)
    back = board[(board["event_id"] == MAN_UTD_FULHAM) & (board["market"] == "h2h")]
    for outcome, prices in back.groupby("outcome")["price"]:
        top = best.loc[(MAN_UTD_FULHAM, "h2h", outcome)]
        assert top["price"] == prices.max()
        assert top["n_bookmakers"] == prices.size
    assert "h2h_lay" not in set(best.index.get_level_values("market"))


def test_consensus_and_pinnacle_probabilities(epl: pd.DataFrame) -> None:
    consensus = core.consensus_probs(epl).set_index("event_id")
    total = consensus[["home", "draw", "away"]].sum(axis=1)
    assert np.allclose(total, 1.0)
    assert (consensus["n_bookmakers"] > 5).all()
    assert (consensus["as_of"] == utc("2024-08-04T21:52Z")).all()

    pinnacle = core.pinnacle_probs(epl).set_index("event_id")
    assert (pinnacle["n_bookmakers"] == 1).all()
    prices = rows_of(core.closing_lines(epl), MAN_UTD_FULHAM, "pinnacle", "h2h")
    inverse = 1.0 / prices.set_index("outcome")["price"]
    expected = inverse / inverse.sum()
    got = pinnacle.loc[MAN_UTD_FULHAM, ["home", "draw", "away"]]
    assert got.to_numpy() == pytest.approx(expected[["home", "draw", "away"]].to_numpy())


def test_consensus_skips_implausible_books() -> None:
    stale = snapshot("soccer_france_ligue_one_odds_h2h_eu_20240804T2152Z.json")
    books = core.consensus_probs(stale)["n_bookmakers"].sum()
    everything = core.consensus_probs(stale, overround_bounds=(-1.0, 10.0))["n_bookmakers"].sum()
    assert books < everything


def test_odds_at_on_the_recorded_series(epl: pd.DataFrame) -> None:
    board = core.odds_at(epl, MAN_UTD_FULHAM, utc("2024-08-04T12:00Z"))
    assert set(board["snapshot_time"]) == {utc("2024-08-04T00:22Z")}
    assert set(board["event_id"]) == {MAN_UTD_FULHAM}
    assert core.odds_at(epl, MAN_UTD_FULHAM, utc("2024-08-01T16:00Z")).empty


@st.composite
def snapshot_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Random rows: a few bookmakers × markets, each seen at a random subset of snapshot times."""
    base = utc("2024-08-01T00:00Z")
    rows = []
    for book in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, unique=True)):
        for market in draw(st.lists(st.sampled_from(["h2h", "totals"]), min_size=1, unique=True)):
            minutes = draw(st.lists(st.integers(0, 5000), min_size=1, max_size=6, unique=True))
            for minute in minutes:
                for outcome in ("home", "away"):
                    snap = base + timedelta(minutes=minute)
                    rows.append(("e1", book, market, outcome, 2.0, snap))
    frame = pd.DataFrame(
        rows, columns=["event_id", "bookmaker", "market", "outcome", "price", "snapshot_time"]
    )
    t = base + timedelta(minutes=draw(st.integers(-10, 5100)), seconds=draw(st.integers(0, 59)))
    return frame, t


@settings(max_examples=60, deadline=None)
@given(snapshot_frames())
def test_odds_at_never_returns_future_rows(case: tuple[pd.DataFrame, pd.Timestamp]) -> None:
    frame, t = case
    board = core.odds_at(frame, "e1", t.to_pydatetime().astimezone(UTC))
    assert (board["snapshot_time"] <= t).all()
    known = frame[frame["snapshot_time"] <= t]
    latest = known.groupby(["bookmaker", "market"])["snapshot_time"].max()
    got = board.groupby(["bookmaker", "market"])["snapshot_time"].agg(["min", "max"])
    assert got["min"].equals(latest.rename("min")) and got["max"].equals(latest.rename("max"))
