"""The odds assets through the real Dagster machinery: replayed recordings (offline), the live
client behind ``responses`` for faults, and a scan for the API key everywhere we write."""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest
import requests
import responses

from jackpot_pipeline.core.odds import normalize_odds, odds_at
from jackpot_pipeline.core.teams import team_id_for
from jackpot_pipeline.defs.odds import assets as odds_assets
from jackpot_pipeline.defs.odds import sensors
from jackpot_pipeline.defs.odds.assets import (
    DEFAULT_SPORTS,
    closing_lines,
    event_scores,
    events,
    market_consensus,
    odds,
    odds_snapshots,
)
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.services.odds_api import OddsApiResource
from jackpot_pipeline.services.odds_store import read_odds
from jackpot_pipeline.services.status import odds_summary
from jackpot_pipeline.settings import DATA_DIR
from jackpot_pipeline_tests._corpus import TmpWarehouse

DATA = DATA_DIR / "odds-api"
KEY = "SECRETKEY123abc"
PIPELINE = [odds_snapshots, events, odds, closing_lines, market_consensus]
ODDS_URL = "https://api.the-odds-api.com/v4/sports/soccer_epl/odds"
EPL_LAST = DATA / "soccer_epl_odds_h2h_eu_20240804T2152Z.json"
QUOTA = {"x-requests-remaining": "497", "x-requests-used": "3", "x-requests-last": "1"}
ALL_RECORDED_ROWS = 11_642  # normalize_odds over the 20 recorded odds files of the enabled sports
TABLES = ("fetch_log", "odds_snapshots", "events", "odds", "data_quality_log")
_STAMP = re.compile(r"_(\d{8})(?:T(\d{4})Z)?(?:\.\w+)?\.json$")


def recorded_odds_files(sport: str) -> list[tuple[Path, datetime]]:
    """The recorded ``/odds`` files of a sport with the stamp of their names, oldest first."""
    files = []
    for path in DATA.glob(f"{sport}_odds_*.json"):
        date, time = _STAMP.search(path.name).groups()
        stamp = datetime.strptime(date + (time or "0000"), "%Y%m%d%H%M").replace(tzinfo=UTC)
        files.append((path, stamp))
    return sorted(files, key=lambda item: item[1])


def recorded_rows(sport: str) -> int:
    """normalize_odds over a sport's recorded bodies (envelopes ``{…, data}`` unwrapped)."""
    total = 0
    for path, stamp in recorded_odds_files(sport):
        body = json.loads(path.read_bytes())
        body = body["data"] if isinstance(body, dict) else body
        total += len(normalize_odds(body, stamp, sport))
    return total


@dataclass
class Env(TmpWarehouse):
    """A temporary warehouse and raw folder, and helpers to run and inspect the assets."""

    instance: dg.DagsterInstance

    def materialize(
        self,
        assets: list[Any] | None = None,
        api: OddsApiResource | None = None,
        run_config: dict[str, Any] | None = None,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets or PIPELINE,
            resources={
                "odds_api": api or OddsApiResource(replay_dir=str(DATA)),
                "warehouse_db": WarehouseResource(path=str(self.db)),
                "settings": SettingsResource.from_env(),
            },
            run_config=run_config,
            instance=self.instance,
            raise_on_error=raise_on_error,
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.rows(sql, params)

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}

    def raw_files(self) -> list[Path]:
        return sorted(p for p in self.raw.rglob("*") if p.is_file())

    def messages(self, result: dg.ExecuteInProcessResult) -> list[str]:
        texts = []
        for entry in self.instance.all_logs(result.run_id):
            texts.append(entry.user_message or "")
            if entry.dagster_event is not None:
                texts.append(repr(entry.dagster_event))
        texts.append(repr(self.instance.get_run_by_id(result.run_id)))
        return texts


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.delenv("JACKPOT_STRICT_MODE", raising=False)
    return Env(tmp_path, dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One warehouse with every recorded snapshot of the enabled sports (built once)."""
    root = tmp_path_factory.mktemp("replayed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACKPOT_RAW_DIR", str(root / "raw"))
        mp.delenv("JACKPOT_STRICT_MODE", raising=False)
        built = Env(root, dg.DagsterInstance.ephemeral())
        result = built.materialize()
        built.first_result = result  # type: ignore[attr-defined]
        yield built


# ----------------------------------------------------------------------------- replay ingest


def test_replay_ingests_every_recorded_soccer_snapshot_once(replayed: Env) -> None:
    expected = sum(recorded_rows(sport) for sport in DEFAULT_SPORTS)
    n_files = sum(len(recorded_odds_files(sport)) for sport in DEFAULT_SPORTS)
    assert (expected, n_files) == (ALL_RECORDED_ROWS, 20)
    before = replayed.counts()
    assert before["odds"] == expected
    assert before["odds_snapshots"] == before["fetch_log"] == n_files
    per_sport = dict(replayed.query("SELECT sport, sum(odds_rows) FROM odds_snapshots GROUP BY 1"))
    assert per_sport == {sport: recorded_rows(sport) for sport in DEFAULT_SPORTS}
    assert len(replayed.raw_files()) == n_files
    for path in replayed.raw_files():  # content-addressed, stored as received
        assert path.parent.parent.name == "odds-api" and path.stem.startswith(path.parent.name)

    metadata = replayed.first_result.asset_materializations_for_node("odds")[0].metadata
    assert metadata["dagster/row_count"].value == expected
    assert metadata["rows_rejected"].value == 0

    # A snapshot row: tier and hours from the nearest kickoff after the fetch.
    row = replayed.query(
        "SELECT tier, round(hours_to_commence, 2), cost, quota_remaining, n_events, source "
        "FROM odds_snapshots WHERE source = 'soccer_epl_odds_h2h_eu_20240801T1622Z.json'"
    )
    assert row == [("opening", 362.63, 1, 499, 10, "soccer_epl_odds_h2h_eu_20240801T1622Z.json")]

    replayed.materialize()  # the same snapshots again: nothing new but the call log
    after = replayed.counts()
    assert after == {**before, "fetch_log": before["fetch_log"] + n_files}
    assert len(replayed.raw_files()) == n_files
    assert replayed.query("SELECT count(*) FROM fetch_log WHERE new_snapshot")[0][0] == n_files
    duplicates = replayed.query(
        "SELECT count(*) FROM (SELECT event_id, bookmaker, market, outcome_name, point, "
        "snapshot_time, count(*) AS n FROM odds GROUP BY ALL HAVING n > 1)"
    )
    assert duplicates == [(0,)]


def test_aug_2024_epl_events_resolve_to_the_2024_25_e0_teams(replayed: Env) -> None:
    with (DATA_DIR / "football-data" / "2425" / "E0.csv").open(encoding="latin-1") as handle:
        names = {row[key] for row in csv.DictReader(handle) for key in ("HomeTeam", "AwayTeam")}
    e0_ids = {team_id_for(name, "E0") for name in names}
    rows = replayed.query(
        "SELECT league, home_team_id, away_team_id FROM events WHERE sport = 'soccer_epl' "
        "AND first_seen_at < TIMESTAMPTZ '2024-09-01 00:00:00+00'"
    )
    assert len(rows) == 10 and {r[0] for r in rows} == {"E0"}
    assert {team for r in rows for team in r[1:]} == e0_ids  # all 20 clubs, no unresolved
    assert replayed.query(
        "SELECT count(*) FROM events WHERE home_team_id IS NULL OR away_team_id IS NULL"
    ) == [(0,)]
    assert replayed.query("SELECT DISTINCT status FROM events") == [("scheduled",)]


def test_odds_at_never_looks_ahead_on_stored_rows(replayed: Env) -> None:
    con = duckdb.connect(str(replayed.db), read_only=True)
    try:
        stored = read_odds(con, "WHERE sport = 'soccer_epl'")
    finally:
        con.close()
    first, second = (pd.Timestamp(s) for s in ("2024-08-01T16:22Z", "2024-08-04T00:22Z"))
    event = stored.loc[stored["snapshot_time"] == first, "event_id"].iloc[0]
    assert odds_at(stored, event, first - pd.Timedelta(seconds=1)).empty
    between = odds_at(stored, event, second - pd.Timedelta(seconds=1))
    assert set(between["snapshot_time"]) == {first}
    at_second = odds_at(stored, event, second)
    assert set(at_second["snapshot_time"]) <= {first, second} and second in set(
        at_second["snapshot_time"]
    )
    for t in pd.date_range("2024-07-31", "2025-12-01", freq="9D", tz="UTC"):
        board = odds_at(stored, None, t)
        assert (board["snapshot_time"] <= t).all()
        known = stored[stored["snapshot_time"] <= t]
        latest = known.groupby(["event_id", "bookmaker", "market"])["snapshot_time"].max()
        chosen = board.groupby(["event_id", "bookmaker", "market"])["snapshot_time"].max()
        pd.testing.assert_series_equal(chosen.sort_index(), latest.sort_index())


def test_closing_lines_and_market_consensus(replayed: Env) -> None:
    late = replayed.query(
        "SELECT count(*) FROM closing_lines c JOIN events e USING (event_id) "
        "WHERE c.snapshot_time >= e.commence_time"
    )
    assert late == [(0,)]
    consensus = replayed.frame("SELECT * FROM market_consensus")
    assert len(consensus) == replayed.query("SELECT count(DISTINCT event_id) FROM odds")[0][0]
    total = consensus[["prob_home", "prob_draw", "prob_away"]].sum(axis=1)
    assert ((total - 1).abs() < 1e-9).all()
    pinnacle = consensus.dropna(subset=["pinnacle_home"])
    assert len(pinnacle) > 100
    sums = pinnacle[["pinnacle_home", "pinnacle_draw", "pinnacle_away"]].sum(axis=1)
    assert ((sums - 1).abs() < 1e-9).all()
    assert (consensus["n_bookmakers"] >= 1).all() and consensus["home_team_id"].notna().all()


# ----------------------------------------------------------------------------- validation


def _corrupted_replay(root: Path) -> Path:
    """A replay folder holding one EPL recording with one price out of range (0.5)."""
    folder = root / "replay"
    folder.mkdir()
    body = json.loads(EPL_LAST.read_bytes())
    body[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = 0.5
    (folder / EPL_LAST.name).write_text(json.dumps(body))
    return folder


@pytest.mark.parametrize("strict", [True, False])
def test_validation_issues_are_logged_and_rejected_in_strict_mode(
    env: Env, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    monkeypatch.setenv("JACKPOT_STRICT_MODE", str(strict).lower())
    api = OddsApiResource(replay_dir=str(_corrupted_replay(env.root)))
    config = {"ops": {"odds_snapshots": {"config": {"sports": ["soccer_epl"]}}}}
    env.materialize([odds_snapshots, events, odds], api=api, run_config=config)
    errors = env.query(
        "SELECT issue_type, action, league FROM data_quality_log "
        "WHERE source = 'odds-api' AND severity = 'error'"
    )
    assert errors == [("price_out_of_range", "rejected" if strict else "logged", "E0")]
    rows = len(normalize_odds(json.loads(EPL_LAST.read_bytes()), datetime.now(UTC), "x"))
    group = 3 if strict else 0  # strict: the bookmaker's whole h2h line (3 outcomes) rejected
    assert env.counts()["odds"] == rows - group
    assert env.query("SELECT sum(odds_rows) FROM odds_snapshots") == [(rows - group,)]


# ----------------------------------------------------------------------------- events, scores


def test_unresolved_teams_are_kept_and_scores_move_events_to_final(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(odds_assets, "now", lambda: datetime(2026, 6, 15, tzinfo=UTC))
    sport = {"sports": ["soccer_fifa_world_cup"]}
    env.materialize(run_config={"ops": {"odds_snapshots": {"config": sport}}})
    assert env.query("SELECT count(*), count(home_team_id) FROM events") == [(70, 0)]
    unresolved = env.query(
        "SELECT count(*), count(DISTINCT match_id) FROM data_quality_log "
        "WHERE check_name = 'team_resolution' AND action = 'kept'"
    )
    assert unresolved == [(140, 70)]  # every national team: kept with a null id, logged once

    env.materialize([event_scores], run_config={"ops": {"event_scores": {"config": sport}}})
    by_status = dict(env.query("SELECT status, count(*) FROM events GROUP BY 1"))
    # Both recorded /scores bodies replayed in order; the last (2026-06-14 18:04) has 8 games
    # completed and one in play; two earlier games appear only in /scores and are added.
    assert by_status == {"final": 8, "live": 1, "scheduled": 63}
    final = env.query(
        "SELECT home_team, away_team, home_score, away_score, commence_time FROM events "
        "WHERE event_id = 'd1f4f946c70a0b4e81f5d43e9d32361c'"
    )
    assert final[0][:4] == ("Canada", "Bosnia & Herzegovina", 1, 1)
    assert final[0][4] == datetime(2026, 6, 12, 19, 2, tzinfo=UTC)  # actual kickoff from /scores
    assert env.query("SELECT count(*) FROM events WHERE status = 'final' AND final_at IS NULL") == [
        (0,)
    ]
    before = env.counts()
    env.materialize([event_scores], run_config={"ops": {"event_scores": {"config": sport}}})
    assert dict(env.query("SELECT status, count(*) FROM events GROUP BY 1")) == by_status
    assert env.counts()["data_quality_log"] == before["data_quality_log"]


# ----------------------------------------------------------------------------- faults


def _error(code: str, message: str) -> dict[str, str]:
    return {"message": message, "error_code": code, "details_url": "https://example.invalid"}


def _ok(mock: responses.RequestsMock, body: bytes | None = None) -> None:
    body = EPL_LAST.read_bytes() if body is None else body
    mock.get(ODDS_URL, body=body, headers=QUOTA, content_type="application/json")


def _timeout() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout(f"Read timed out. (url: {ODDS_URL}?apiKey={KEY})")


SCENARIOS: dict[str, tuple[Callable[[responses.RequestsMock], Any], bool]] = {
    # name: (register the mocked responses, run succeeds)
    "401-invalid-key": (
        lambda m: m.get(ODDS_URL, status=401, json=_error("INVALID_KEY", f"key {KEY} invalid")),
        False,
    ),
    "401-out-of-credits": (
        lambda m: m.get(ODDS_URL, status=401, json=_error("OUT_OF_USAGE_CREDITS", "quota")),
        False,
    ),
    "422-invalid-market": (
        lambda m: m.get(ODDS_URL, status=422, json=_error("INVALID_MARKET", "bad market")),
        False,
    ),
    "429-then-ok": (lambda m: (m.get(ODDS_URL, status=429), _ok(m)), True),
    "500-then-ok": (lambda m: (m.get(ODDS_URL, status=500), _ok(m)), True),
    "timeouts": (lambda m: [m.get(ODDS_URL, body=_timeout()) for _ in range(2)], False),
    "truncated-body": (lambda m: _ok(m, EPL_LAST.read_bytes()[:500]), False),
}


@pytest.fixture(scope="module")
def epl_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse + raw folder holding the replayed EPL snapshots, copied by each fault test."""
    root = tmp_path_factory.mktemp("epl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACKPOT_RAW_DIR", str(root / "raw"))
        Env(root, dg.DagsterInstance.ephemeral()).materialize(
            run_config={"ops": {"odds_snapshots": {"config": {"sports": ["soccer_epl"]}}}}
        )
    return root


def _live_api(monkeypatch: pytest.MonkeyPatch) -> OddsApiResource:
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    return OddsApiResource(api_key=dg.EnvVar("ODDS_API_KEY"), backoff_base=0.0, max_attempts=2)


def _run_scenario(env: Env, name: str, api: OddsApiResource) -> dg.ExecuteInProcessResult:
    """Materialize the odds assets for EPL against the mocked responses of ``name``."""
    register, _ = SCENARIOS[name]
    config = {"ops": {"odds_snapshots": {"config": {"sports": ["soccer_epl"], "tier": "closing"}}}}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        register(mock)
        return env.materialize([odds_snapshots, events, odds], api, config, raise_on_error=False)


def _tick_sensor(env: Env, monkeypatch: pytest.MonkeyPatch) -> dg.SensorResult:
    monkeypatch.setattr(sensors, "now", lambda: datetime(2024, 8, 16, 17, 0, tzinfo=UTC))
    context = dg.build_sensor_context(
        instance=env.instance,
        cursor=None,
        resources={"warehouse_db": WarehouseResource(path=str(env.db))},
    )
    return sensors.odds_fetch_sensor(context)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_api_faults_fail_cleanly_or_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epl_template: Path, name: str
) -> None:
    shutil.copytree(epl_template, tmp_path / "env")
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "env" / "raw"))
    env = Env(tmp_path / "env", dg.DagsterInstance.ephemeral())
    before, raw_before = env.counts(), env.raw_files()
    result = _run_scenario(env, name, _live_api(monkeypatch))
    succeeds = SCENARIOS[name][1]
    assert result.success is succeeds
    if succeeds:  # retried, then the same body as the replayed one: only the call is new
        assert env.counts() == {**before, "fetch_log": before["fetch_log"] + 1}
        last = env.query(
            "SELECT quota_remaining, tier, new_snapshot, url FROM fetch_log "
            "ORDER BY requested_at DESC LIMIT 1"
        )
        assert last == [
            (
                497,
                "closing",
                False,
                f"{ODDS_URL}?apiKey=***&regions=eu&markets=h2h&oddsFormat=decimal",
            )
        ]
    else:  # nothing written anywhere, the failure says why
        assert env.counts() == before and env.raw_files() == raw_before
        failure = result.get_step_failure_events()[0].step_failure_data.error
        assert "soccer_epl: OddsApi" in failure.message and KEY not in failure.message
        assert result.get_step_failure_events()[0].step_key == "odds_snapshots"
    tick = _tick_sensor(env, monkeypatch)  # the sensor keeps ticking on the same warehouse
    assert isinstance(tick, dg.SensorResult)
    assert [r.tags["jackpot/tier"] for r in tick.run_requests or []] == ["closing"]


def test_the_api_key_is_nowhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    epl_template: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    shutil.copytree(epl_template, tmp_path / "env")
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "env" / "raw"))
    env = Env(tmp_path / "env", dg.DagsterInstance.ephemeral())
    api = _live_api(monkeypatch)
    seen: list[str] = []
    for name in SCENARIOS:
        result = _run_scenario(env, name, api)
        seen += env.messages(result)
        for event in result.get_asset_materialization_events():
            seen.append(repr(event.materialization.metadata))
    seen += [caplog.text, *(record.getMessage() for record in caplog.records)]
    assert any("apiKey=***" in text for text in seen)  # URLs were logged, redacted
    assert [text for text in seen if KEY in text] == []
    files = env.raw_files()
    assert files and all(KEY.encode() not in path.read_bytes() for path in files)
    con = duckdb.connect(str(env.db), read_only=True)
    try:
        tables = [
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        ]
        dumped = {t: repr(con.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
    finally:
        con.close()
    assert {"fetch_log", "odds_snapshots", "odds"} <= set(dumped)
    assert [t for t, text in dumped.items() if KEY in text] == []


def test_odds_status_reports_fetches_quota_and_counts(replayed: Env) -> None:
    con = duckdb.connect(str(replayed.db), read_only=True)
    try:
        status = odds_summary(con)
    finally:
        con.close()
    assert status["quota_remaining"] is not None
    epl = next(sport for sport in status["sports"] if sport["sport"] == "soccer_epl")
    assert list(epl["events"].items())[-1] == ("scheduled", 70)
    assert epl["odds_rows"] == 4122  # odds rows of the six EPL recordings
    totals = {
        "snapshots": sum(s["snapshots"] for s in status["sports"]),
        "odds_rows": sum(s["odds_rows"] for s in status["sports"]),
        "events": sum(sum(s["events"].values()) for s in status["sports"]),
    }
    assert totals == {"snapshots": 20, "odds_rows": ALL_RECORDED_ROWS, "events": 143}
