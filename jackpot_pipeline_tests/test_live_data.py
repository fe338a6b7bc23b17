"""The current season downloaded and kept fresh: the daily schedule, the HTTP source with
conditional requests (``responses`` serving the real 2025-26 Premier League bytes), the growth of
a partition through a season, "no data yet" for a season without a file, and the scores and odds
sensors in the 2026-27 season. Clocks are injected; no network."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import responses
from responses import matchers

from jackpot_pipeline.core.teams import load_aliases
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.ingestion.schedules import football_data_daily_schedule
from jackpot_pipeline.defs.odds import sensors
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS, partition_key
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import (
    FootballDataSource,
    SettingsResource,
    WarehouseResource,
)
from jackpot_pipeline.services.odds_api import ReplayOddsApi
from jackpot_pipeline.services.odds_store import fetch_odds, load_pending_events, record_fetches
from jackpot_pipeline.settings import DATA_DIR
from jackpot_pipeline_tests._corpus import TmpWarehouse, manifest_row
from jackpot_pipeline_tests.test_sensors import Ticker, seed, tiers

BASE_URL = "https://www.football-data.co.uk/mmz4281"
E0_2526 = f"{BASE_URL}/2526/E0.csv"
E0_2627 = f"{BASE_URL}/2627/E0.csv"
FULL = (DATA_DIR / "football-data" / "2526" / "E0.csv").read_bytes()
MATCH_ASSETS = ["matches", "match_odds", "market_probabilities"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def october_file(data: bytes, last_day: str = "2025-10-31") -> tuple[bytes, int, str]:
    """The file as it stood after ``last_day``: its rows up to that date, with the first
    match's score misreported (one more away goal, result to match), as a source may publish
    before correcting. Returns (bytes, rows, the corrected match's home team)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    date_col, fthg, ftag, ftr = (header.index(c) for c in ("Date", "FTHG", "FTAG", "FTR"))
    kept = [
        r for r in body if datetime.strptime(r[date_col], "%d/%m/%Y").date().isoformat() <= last_day
    ]
    first = list(kept[0])
    home, away = int(first[fthg]), int(first[ftag]) + 1
    first[ftag], first[ftr] = str(away), "H" if home > away else "D" if home == away else "A"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, first, *kept[1:]])
    return out.getvalue().encode(), len(kept), first[header.index("HomeTeam")]


def schedule_keys(at: str) -> list[dg.MultiPartitionKey]:
    """Partition keys the daily schedule asks for at ``at``."""
    context = dg.build_schedule_context(scheduled_execution_time=utc(at))
    requests = list(football_data_daily_schedule(context))
    assert all(isinstance(r, dg.RunRequest) for r in requests), requests
    return [r.partition_key for r in requests]


class Live(TmpWarehouse):
    """A temporary warehouse and raw layer, the HTTP source, one Dagster instance."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.instance = dg.DagsterInstance.ephemeral()
        self.source = FootballDataSource(
            mode="http", base_url=BASE_URL, raw_dir=str(self.raw), backoff_s=0, max_retries=1
        )

    def run(self, key: dg.MultiPartitionKey) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [reference_data, football_data],
            resources={
                "warehouse_db": WarehouseResource(path=str(self.db)),
                "football_data_source": self.source,
                "settings": SettingsResource(raw_dir=str(self.raw)),
            },
            partition_key=key,
            selection=MATCH_ASSETS,
            instance=self.instance,
        )

    def log(self) -> list[tuple]:
        return self.rows(
            "SELECT rows_inserted, rows_updated, rows_unchanged FROM ingestion_log "
            "WHERE league = 'E0' AND season = '2025-26' ORDER BY started_at"
        )

    def scalar(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def messages(self, result: dg.ExecuteInProcessResult) -> str:
        return "\n".join(e.user_message for e in self.instance.all_logs(result.run_id))


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Live:
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("JACKPOT_STRICT_MODE", "true")
    return Live(tmp_path)


def test_a_growing_current_season_file_through_the_daily_schedule(live: Live) -> None:
    october, october_rows, corrected_home = october_file(FULL)
    full_rows = manifest_row("2526", "E0").rows
    stamp_v1 = "Sat, 01 Nov 2025 05:00:00 GMT"

    # 1 November 2025, 06:00: the schedule asks for the current season of every enabled league.
    keys = schedule_keys("2025-11-01T06:00Z")
    assert keys == [partition_key(league, "2025-26") for league in LEAGUE_CODES]
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, body=october, headers={"ETag": '"v1"', "Last-Modified": stamp_v1})
        assert live.run(keys[LEAGUE_CODES.index("E0")]).success
        assert "If-None-Match" not in mock.calls[0].request.headers  # nothing known yet
    assert live.scalar("SELECT count(*) FROM matches WHERE season = '2025-26'") == october_rows
    assert live.log() == [(october_rows, 0, 0)]

    # The next morning the file has not changed: a conditional request, a 304, nothing written.
    conditional = matchers.header_matcher({"If-None-Match": '"v1"', "If-Modified-Since": stamp_v1})
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, status=304, match=[conditional])
        result = live.run(partition_key("E0", "2025-26"))
    assert result.success and live.log() == [(october_rows, 0, 0)]
    assert "E0 2025-26: unchanged, skipped" in live.messages(result)
    assert result.get_asset_materialization_events() == []  # the model layer is not re-run

    # 30 May 2026: the season is over; the file has every match and the corrected score.
    assert partition_key("E0", "2025-26") in schedule_keys("2026-05-30T06:00Z")
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, body=FULL, headers={"ETag": '"v2"'}, match=[conditional])
        assert live.run(partition_key("E0", "2025-26")).success
    assert live.scalar("SELECT count(*) FROM matches WHERE season = '2025-26'") == full_rows
    inserted, updated, unchanged = live.log()[-1]
    assert (inserted, updated, unchanged) == (full_rows - october_rows, 1, october_rows - 1)
    corrected = live.rows(
        "SELECT home_goals, away_goals FROM matches WHERE season = '2025-26' "
        "ORDER BY match_date, kickoff_utc, home_team_id LIMIT 1"
    )
    original = next(csv.DictReader(io.StringIO(FULL.decode("utf-8-sig"))))
    assert original["HomeTeam"] == corrected_home
    assert corrected == [(int(original["FTHG"]), int(original["FTAG"]))]

    # Both versions of the file are kept in the raw layer, byte for byte.
    kept = sorted(p.read_bytes() for p in (live.raw / "football-data").glob("*/*.csv"))
    assert kept == sorted([october, FULL])


def test_a_season_without_a_file_is_no_data_yet(live: Live) -> None:
    """30 November 2026: 2026-27 is the current season; its file 404s — no data, no failure."""
    keys = schedule_keys("2026-11-30T06:00Z")
    assert keys == [partition_key(league, "2026-27") for league in LEAGUE_CODES]
    with responses.RequestsMock() as mock:
        mock.get(E0_2627, status=404)
        result = live.run(partition_key("E0", "2026-27"))
    assert result.success
    assert "E0 2026-27: no data" in live.messages(result)
    assert_recorded_as_no_data(result)
    assert not (live.raw / "http-validators").exists() or not any(
        (live.raw / "http-validators").iterdir()
    )


def test_the_current_season_offline_is_no_data_yet(live: Live) -> None:
    """A fresh clone, no network: the shipped folder has no 2026-27 file."""
    live.source = FootballDataSource(raw_dir=str(live.raw))  # mode local, the shipped folder
    assert not live.source.has_data("E0", "2026-27")
    result = live.run(partition_key("E0", "2026-27"))
    assert result.success
    assert "E0 2026-27: no data" in live.messages(result)
    assert_recorded_as_no_data(result)


def assert_recorded_as_no_data(result: dg.ExecuteInProcessResult) -> None:
    """The partition is visible as "no data" (a materialization with the reason, 0 rows), not
    as a failure or a never-run partition."""
    events = result.get_asset_materialization_events()
    assert {e.asset_key.path[-1] for e in events} == set(MATCH_ASSETS)
    for event in events:
        metadata = event.materialization.metadata
        assert metadata["status"].value == "no data" and metadata["dagster/row_count"].value == 0


def test_an_unchanged_body_without_validators_is_unchanged_by_checksum(live: Live) -> None:
    october, _, _ = october_file(FULL)
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, body=october)
        mock.get(E0_2526, body=october)
        first = live.source.fetch("E0", "2025-26")
        second = live.source.fetch("E0", "2025-26")
        assert "If-None-Match" not in mock.calls[1].request.headers
    assert first is not None and second is not None
    assert first.changed and not second.changed and second.data == october


# ----------------------------------------------------------------------------- sensors in 2026-27

WEEK_364 = timedelta(days=364)  # 52 weeks: the same weekday a year later
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def shifted(value: Any, by: timedelta) -> Any:
    """A recorded body with every ISO timestamp moved by ``by``."""
    if isinstance(value, dict):
        return {k: shifted(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, by) for v in value]
    if isinstance(value, str) and _STAMP.match(value):
        moved = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ") + by
        return moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def test_odds_and_scores_sensors_work_in_the_current_season(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded EPL /odds of 24 Nov 2025 replayed 52 weeks later: the fixtures of the
    2026-27 season drive the tiered odds sensor, and finals drive a 2026-27 refresh."""
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    recorded = DATA_DIR / "odds-api" / "soccer_epl_odds_h2h_pinnacle_20251124T1703Z.json"
    replay = tmp_path / "replay"
    replay.mkdir()
    (replay / "soccer_epl_odds_h2h_pinnacle_20261123T1703Z.json").write_text(
        json.dumps(shifted(json.loads(recorded.read_text()), WEEK_364))
    )
    at = utc("2026-11-23T18:00Z")
    db = tmp_path / "w.duckdb"
    api = ReplayOddsApi(replay, as_of=lambda: at)
    with WarehouseResource(path=str(db)).connect() as con:
        record_fetches(con, fetch_odds(api, "soccer_epl"), tmp_path / "raw", at, None)
        load_pending_events(con, load_aliases(), at)
        kickoffs = con.execute(
            "SELECT min(commence_time) FROM events WHERE sport = 'soccer_epl'"
        ).fetchone()[0]
    assert kickoffs is not None and kickoffs > at  # upcoming 2026-27 fixtures

    odds_tick = Ticker(sensors.odds_fetch_sensor, db, monkeypatch)
    result = odds_tick(at)
    assert [r.tags["jackpot/sport"] for r in result.run_requests] == ["soccer_epl"]
    assert tiers(result) and tiers(result)[0] in {"opening", "early", "sharp", "pregame", "closing"}

    final_at = utc("2026-11-29T17:00Z")
    seed(db, [{"event_id": "late-nov-final", "status": "final", "final_at": final_at}])
    scores_tick = Ticker(sensors.odds_scores_sensor, db, monkeypatch)
    refresh = [r for r in scores_tick(utc("2026-11-30T09:00Z")).run_requests if r.partition_key]
    assert [(r.job_name, r.partition_key) for r in refresh] == [
        ("football_data_refresh_job", partition_key("E0", "2026-27"))
    ]


# ----------------------------------------------------------------------------- the model layer


MODEL_ASSETS = ("team_features", "dixon_coles_models", "oos_predictions", "calibration_curves")


def requested(result: Any, key: dg.MultiPartitionKey) -> set[str]:
    """Model-layer assets the automation evaluation asks to materialize for ``key``."""
    return {
        name
        for name in MODEL_ASSETS
        if key in set(result.get_requested_partitions(dg.AssetKey(name)))
    }


def record_checked_history(instance: dg.DagsterInstance, key: dg.MultiPartitionKey) -> None:
    """A partition of ``matches`` recorded as materialized with its blocking checks passed (the
    model layer's automation waits for both)."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    from jackpot_pipeline.defs.ingestion.checks import MATCH_CHECK_SPECS

    matches = dg.AssetKey("matches")
    instance.report_runless_asset_event(dg.AssetMaterialization(matches, partition=key))
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=matches, asset_partitions=[str(key)]), limit=1
    ).records
    target = AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )
    for spec in MATCH_CHECK_SPECS:
        if spec.blocking:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=matches,
                    check_name=spec.name,
                    passed=True,
                    partition=key,
                    target_materialization_data=target,
                )
            )


def test_a_changed_file_lets_the_model_layer_update_and_an_unchanged_one_does_not(
    live: Live,
) -> None:
    """The model layer's eager automation conditions (evaluated as the daemon would, on the
    full definitions, with the earlier seasons' matches recorded as materialized) request the
    partition after the schedule's run ingested a changed file, and nothing after a 304."""
    from jackpot_pipeline.definitions import defs

    key = partition_key("E0", "2025-26")
    october, _, _ = october_file(FULL)
    for league in LEAGUE_CODES:  # the history is in place already (team features read
        for season in SEASONS[: SEASONS.index("2025-26") + 1]:  # every league of a country)
            if (league, season) != ("E0", "2025-26"):
                record_checked_history(live.instance, partition_key(league, season))
    first = dg.evaluate_automation_conditions(defs=defs, instance=live.instance)
    assert requested(first, key) == set()  # nothing ingested yet
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, body=october, headers={"ETag": '"v1"'})
        assert live.run(key).success
    after_change = dg.evaluate_automation_conditions(
        defs=defs, instance=live.instance, cursor=first.cursor
    )
    assert requested(after_change, key) >= {"team_features", "dixon_coles_models"}
    with responses.RequestsMock() as mock:
        mock.get(E0_2526, status=304)
        assert live.run(key).success
    after_304 = dg.evaluate_automation_conditions(
        defs=defs, instance=live.instance, cursor=after_change.cursor
    )
    assert requested(after_304, key) == set()
