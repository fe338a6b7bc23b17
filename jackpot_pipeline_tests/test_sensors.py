"""Sensors and the schedule on fixed clocks (``sensors.now`` monkeypatched), evaluated through
``dg.build_sensor_context``; and a simulated week of ticks served by ``ReplayOddsApi``."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest

from jackpot_pipeline.core.teams import load_aliases
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.ingestion.schedules import (
    INGESTION_JOBS,
    INGESTION_SCHEDULES,
    football_data_daily_schedule,
)
from jackpot_pipeline.defs.odds import sensors
from jackpot_pipeline.defs.odds.assets import DEFAULT_SPORTS, ODDS_ASSETS
from jackpot_pipeline.defs.odds.resources import odds_api_resource
from jackpot_pipeline.defs.odds.sensors import ODDS_JOBS, ODDS_SENSORS
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, partition_key
from jackpot_pipeline.defs.resources import (
    FootballDataSource,
    SettingsResource,
    WarehouseResource,
)
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.odds_api import OddsApiResource, ReplayOddsApi
from jackpot_pipeline.services.odds_store import (
    fetch_odds,
    load_pending_events,
    load_pending_odds,
    record_fetches,
)
from jackpot_pipeline.settings import DATA_DIR

DATA = DATA_DIR / "odds-api"
KICKOFF = datetime(2024, 8, 16, 19, 0, tzinfo=UTC)  # Man United v Fulham, EPL 2024-25 opener


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def seed(db: Path, events: list[dict[str, Any]], quota: int | None = None) -> None:
    """Write ``events`` rows (defaults filled in) and optionally a fetch_log quota reading."""
    con = warehouse.connect(db)
    try:
        rows = [
            {
                "event_id": f"ev{i}",
                "sport": "soccer_epl",
                "league": "E0",
                "commence_time": KICKOFF,
                "home_team": "Home",
                "away_team": "Away",
                "status": "scheduled",
                "first_seen_at": utc("2024-08-01T00:00Z"),
                "last_seen_at": utc("2024-08-01T00:00Z"),
                "status_updated_at": utc("2024-08-01T00:00Z"),
                "final_at": None,
                **event,
            }
            for i, event in enumerate(events)
        ]
        frame = pd.DataFrame(rows)
        for column in ("commence_time", "first_seen_at", "last_seen_at", "status_updated_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["final_at"] = pd.to_datetime(frame["final_at"], utc=True)
        warehouse.insert_frame(con, "events", frame)
        if quota is not None:
            log = pd.DataFrame(
                [
                    {
                        "fetch_id": "f1",
                        "sport": "soccer_epl",
                        "endpoint": "odds",
                        "requested_at": utc("2024-08-01T00:00Z"),
                        "fetched_at": utc("2024-08-01T00:00Z"),
                        "http_status": 200,
                        "cost": 1,
                        "quota_remaining": quota,
                        "checksum": "c",
                        "new_snapshot": True,
                        "url": "https://api.the-odds-api.com/v4/sports/soccer_epl/odds?apiKey=***",
                    }
                ]
            )
            warehouse.insert_frame(con, "fetch_log", log)
    finally:
        con.close()


class Ticker:
    """Evaluates a sensor at given times, threading its cursor like the daemon does."""

    def __init__(
        self, sensor: dg.SensorDefinition, db: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.sensor, self.db, self.monkeypatch = sensor, db, monkeypatch
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def __call__(self, at: datetime) -> dg.SensorResult:
        self.monkeypatch.setattr(sensors, "now", lambda: at)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"warehouse_db": WarehouseResource(path=str(self.db))},
        )
        result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result


def tiers(result: dg.SensorResult) -> list[str]:
    return [r.tags["jackpot/tier"] for r in result.run_requests or []]


def skip_text(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


# ----------------------------------------------------------------------------- odds sensor


def test_tiered_cadence_at_fixed_clocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(tmp_path / "w.duckdb", [{}])
    tick = Ticker(sensors.odds_fetch_sensor, tmp_path / "w.duckdb", monkeypatch)
    expected = [  # hours before kickoff → tier requested (None: skipped)
        (200, "opening"),
        (176, None),
        (152, "opening"),  # 48 h after the last opening fetch
        (104, "opening"),
        (80, None),  # next opening fetch would be at 56 h, but early starts at 72 h
        (72, "early"),
        (60, None),
        (48, "early"),  # 24 h cadence
        (24, "sharp"),
        (18, None),
        (12, "pregame"),
        (10, None),
        (9, "pregame"),  # 3 h cadence
        (3, "closing"),
        (2.75, None),
        (2.5, "closing"),  # 30 min cadence
        (0.5, "closing"),
        (0.25, None),  # the next closing fetch would fall due at kickoff: none after that
    ]
    results = {}
    for hours, tier in expected:
        results[hours] = tick(KICKOFF - timedelta(hours=hours))
        assert tiers(results[hours]) == ([tier] if tier else []), hours
    request = results[0.5].run_requests[0]
    assert request.run_config == {
        "ops": {"odds_snapshots": {"config": {"sports": ["soccer_epl"], "tier": "closing"}}}
    }
    assert request.run_key == "odds:soccer_epl:closing:20240816T1830"
    cursor = json.loads(tick.cursor)["odds"]["soccer_epl"]
    assert cursor == {  # the last fetch per tier; boundary fetches count for the nearer tier
        "opening": "2024-08-12T11:00:00+00:00",
        "early": "2024-08-14T19:00:00+00:00",
        "sharp": "2024-08-15T19:00:00+00:00",
        "pregame": "2024-08-16T10:00:00+00:00",
        "closing": "2024-08-16T18:30:00+00:00",
    }
    after = tick(KICKOFF)
    assert after.run_requests == [] and "no upcoming fixtures" in skip_text(after)


def test_skips_when_nothing_is_upcoming_or_quota_is_low(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    early = Ticker(sensors.odds_fetch_sensor, db, monkeypatch)
    assert "no warehouse" in skip_text(early(KICKOFF))  # nothing ingested yet: no file
    duckdb.connect(str(db)).close()  # a warehouse without the odds tables
    assert "warehouse query failed" in skip_text(early(KICKOFF))

    seed(db, [{"commence_time": KICKOFF - timedelta(days=1)}], quota=24)
    tick = Ticker(sensors.odds_fetch_sensor, db, monkeypatch)
    assert "no upcoming fixtures" in skip_text(tick(KICKOFF))
    seed(db, [{"event_id": "later", "commence_time": KICKOFF + timedelta(hours=30)}])
    low = tick(KICKOFF)
    assert low.run_requests == []
    assert skip_text(low) == f"quota low: 24 credits left, reserve {sensors.QUOTA_RESERVE}"
    assert tick.cursor == "{}"  # nothing recorded as fetched


def test_no_odds_for_live_or_final_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(
        tmp_path / "w.duckdb",
        [
            {"status": "live", "commence_time": KICKOFF + timedelta(hours=1)},
            {"status": "final", "commence_time": KICKOFF + timedelta(hours=2)},
            {"status": "postponed", "commence_time": KICKOFF + timedelta(hours=2)},
            {"commence_time": KICKOFF + timedelta(hours=30)},
            {"sport": "soccer_germany_bundesliga", "league": "D1", "status": "final"},
        ],
        quota=400,
    )
    tick = Ticker(sensors.odds_fetch_sensor, tmp_path / "w.duckdb", monkeypatch)
    result = tick(KICKOFF - timedelta(minutes=30))
    assert tiers(result) == ["early"]  # from the scheduled fixture 30.5 h ahead only
    assert [r.tags["jackpot/sport"] for r in result.run_requests] == ["soccer_epl"]


# ----------------------------------------------------------------------------- scores sensor


def test_scores_sensor_requests_scores_and_football_data_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    now = KICKOFF + timedelta(hours=1)
    seed(
        db,
        [
            {"commence_time": KICKOFF},  # started, not final → scores
            {"commence_time": KICKOFF - timedelta(days=4)},  # too old for /scores?daysFrom=3
            {"status": "final", "final_at": now - timedelta(minutes=10)},
            {
                "sport": "soccer_germany_bundesliga",
                "league": "D1",
                "status": "final",
                "final_at": now - timedelta(hours=2),
            },
            {"status": "final", "final_at": now - timedelta(days=10)},  # long known
        ],
        quota=300,
    )
    tick = Ticker(sensors.odds_scores_sensor, db, monkeypatch)
    first = tick(now)
    scores, *refresh = first.run_requests
    assert scores.job_name == "odds_scores_job"
    assert scores.run_config == {"ops": {"event_scores": {"config": {"sports": ["soccer_epl"]}}}}
    assert [(r.job_name, r.partition_key) for r in refresh] == [
        ("football_data_refresh_job", partition_key("D1", "2024-25")),
        ("football_data_refresh_job", partition_key("E0", "2024-25")),
    ]
    again = tick(now + timedelta(minutes=30))  # scores asked 30 min ago, no new finals
    assert again.run_requests == [] and skip_text(again) == "scores fresh"
    later = tick(now + timedelta(hours=1))
    assert [r.job_name for r in later.run_requests] == ["odds_scores_job"]

    seed(db, [{"event_id": "new-final", "status": "final", "final_at": now + timedelta(hours=2)}])
    refresh = tick(now + timedelta(hours=2, minutes=30))  # scores due again (hourly)
    assert [(r.job_name, r.partition_key) for r in refresh.run_requests] == [
        ("odds_scores_job", None),
        ("football_data_refresh_job", partition_key("E0", "2024-25")),
    ]


def test_scores_sensor_spends_no_credit_below_the_reserve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    seed(db, [{"commence_time": KICKOFF}], quota=3)
    tick = Ticker(sensors.odds_scores_sensor, db, monkeypatch)
    result = tick(KICKOFF + timedelta(hours=2))
    assert result.run_requests == [] and skip_text(result).startswith("quota low: 3 credits")
    seed(db, [{"event_id": "done", "status": "final", "final_at": KICKOFF + timedelta(hours=2)}])
    result = tick(KICKOFF + timedelta(hours=3))  # football-data costs no credit: still asked
    assert [r.job_name for r in result.run_requests] == ["football_data_refresh_job"]


# ----------------------------------------------------------------------------- schedule, defs


def test_daily_schedule_requests_the_current_season_of_each_league() -> None:
    schedule = football_data_daily_schedule
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED

    def tick(at: str) -> list[dg.RunRequest | dg.SkipReason]:
        return list(schedule(dg.build_schedule_context(scheduled_execution_time=utc(at))))

    assert [r.partition_key for r in tick("2025-09-01T06:00Z")] == [
        partition_key(league, "2025-26") for league in LEAGUE_CODES
    ]
    may = tick("2025-05-01T06:00Z")  # before July: still the season that started last year
    assert may[0].partition_key == partition_key("E0", "2024-25")
    (skip,) = tick("2031-09-01T06:00Z")
    assert isinstance(skip, dg.SkipReason) and "not a partition" in skip.skip_message


def test_definitions_load_and_a_sensor_request_runs_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    assert odds_api_resource().replay_dir and not odds_api_resource().has_key
    monkeypatch.setenv("ODDS_API_KEY", "from-env")
    live = odds_api_resource()
    assert live.has_key and "from-env" not in repr(live)
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in ODDS_SENSORS)
    db = tmp_path / "w.duckdb"
    defs = dg.Definitions(
        assets=[football_data, *ODDS_ASSETS],
        sensors=ODDS_SENSORS,
        schedules=INGESTION_SCHEDULES,
        jobs=[*ODDS_JOBS, *INGESTION_JOBS],
        resources={
            "settings": SettingsResource.from_env(),
            "odds_api": OddsApiResource(replay_dir=str(DATA)),
            "warehouse_db": WarehouseResource(path=str(db)),
            "football_data_source": FootballDataSource(),
        },
    )
    dg.Definitions.validate_loadable(defs)
    seed(db, [{"commence_time": KICKOFF}])
    request = sensors.evaluate_odds_tick(str(db), {}, KICKOFF - timedelta(hours=2))[0][0]
    job = defs.resolve_job_def("odds_fetch_job")
    result = job.execute_in_process(
        run_config=request.run_config, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT DISTINCT sport, tier FROM odds_snapshots").fetchall()
        assert rows == [("soccer_epl", "closing")]
        assert con.execute("SELECT count(*) FROM market_consensus").fetchall()[0][0] > 0
    finally:
        con.close()


# ----------------------------------------------------------------------------- a simulated week


def simulate_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credits: int, days: int = 7
) -> tuple[list[tuple[datetime, str, str]], ReplayOddsApi, list[str]]:
    """Ticks every 30 min from Mon 2024-08-12 00:00; each run request is executed (fetch,
    record, events, odds) against a replay clocked to the tick. Returns the fetches made
    (time, sport, tier), the replay (synthetic quota) and the skip message of every tick."""
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    db, raw = tmp_path / "w.duckdb", tmp_path / "raw"
    connect: Callable[[], Any] = WarehouseResource(path=str(db)).connect
    clock = {"now": utc("2024-08-05T00:00Z")}
    api = ReplayOddsApi(DATA, as_of=lambda: clock["now"], credits=credits)
    resolver = load_aliases()

    def run(requests: list[tuple[str, str | None]]) -> None:
        """The runs requested by one tick (one warehouse connection for all of them)."""
        with connect() as con:
            for sport, tier in requests:
                record_fetches(con, fetch_odds(api, sport), raw, clock["now"], tier)
            load_pending_events(con, resolver, clock["now"])
            load_pending_odds(con, True, clock["now"])

    run([(sport, None) for sport in DEFAULT_SPORTS])  # before the week: the 08-04 snapshots
    tick = Ticker(sensors.odds_fetch_sensor, db, monkeypatch)
    fetches, skips = [], []
    start = utc("2024-08-12T00:00Z")
    for step in range(days * 48):
        clock["now"] = start + timedelta(minutes=30 * step)
        result = tick(clock["now"])
        skips.append(skip_text(result))
        requested = []
        for request in result.run_requests or []:
            config = request.run_config["ops"]["odds_snapshots"]["config"]
            (sport,) = config["sports"]
            requested.append((sport, config["tier"]))
            fetches.append((clock["now"], sport, config["tier"]))
        if requested:
            run(requested)
    return fetches, api, skips


def test_a_simulated_week_of_sensor_ticks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetches, api, skips = simulate_week(tmp_path, monkeypatch, credits=500)
    assert len(skips) == 336
    epl = Counter(tier for _, sport, tier in fetches if sport == "soccer_epl")
    # By hand (EPL kickoffs Fri 19:00; Sat 11:30, 14:00, 16:30; Sun 13:00, 15:30; Mon 19:00):
    # opening Mon 00:00; early Tue 19:00, Wed 19:00, Sun 15:30; sharp Thu 19:00, Fri 19:00,
    # Sat 16:30, Sun 19:00; pregame Fri 07/10/13:00, Fri 23:30, Sat 02:30/05:30, Sun 01/04/07:00;
    # closing every 30 min from 3 h before a kickoff to 30 min before the last one of a run:
    # Fri 16:00-18:30 (6), Sat 08:30-16:00 (16), Sun 10:00-15:00 (11).
    assert epl == {"opening": 1, "early": 3, "sharp": 4, "pregame": 9, "closing": 33}
    epl_times = [t for t, sport, _ in fetches if sport == "soccer_epl"]
    assert min(b - a for a, b in itertools.pairwise(epl_times)) == timedelta(minutes=30)
    assert Counter(sport for _, sport, _ in fetches) == {
        "soccer_spain_la_liga": 64,  # Thu-Mon kickoffs
        "soccer_epl": 50,
        "soccer_france_ligue_one": 41,
        "soccer_italy_serie_a": 35,
        "soccer_efl_champ": 10,  # only its Monday 12 game is still ahead
        "soccer_germany_bundesliga": 4,  # kickoffs from Fri 23: opening every 48 h
    }
    assert Counter(tier for _, _, tier in fetches) == {
        "opening": 9,
        "early": 9,
        "sharp": 16,
        "pregame": 39,
        "closing": 131,
    }
    # One credit per fetch (h2h × eu); the replay's synthetic quota and fetch_log agree.
    assert api.used == 6 + 204 and api.remaining == 500 - 210
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        logged = con.execute(
            "SELECT count(*), sum(cost), min(quota_remaining) FROM fetch_log "
            "WHERE requested_at >= TIMESTAMPTZ '2024-08-12 00:00:00+00'"
        ).fetchall()
        snapshots = con.execute("SELECT count(*) FROM odds_snapshots").fetchall()[0][0]
    finally:
        con.close()
    assert logged == [(204, 204, 290)]
    assert snapshots == 6  # every fetch of the week replayed the same bodies: no new snapshot


def test_the_week_stops_at_the_quota_reserve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches, api, skips = simulate_week(tmp_path, monkeypatch, credits=40, days=1)
    # 40 credits: 6 before the week, then Monday's six opening/sharp fetches at 00:00 and the
    # Championship's Monday-evening game (pregame 07/10/13:00, closing 16:00) → 24 left < 25.
    assert (len(fetches), api.remaining) == (10, 24)
    assert fetches[-1] == (utc("2024-08-12T16:00Z"), "soccer_efl_champ", "closing")
    stopped = skips[33:]  # every tick from Monday 16:30 on
    assert stopped and all(s == "quota low: 24 credits left, reserve 25" for s in stopped)
