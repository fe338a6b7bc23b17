"""How fresh the history is: ``jackpot status [--json]``, ``jackpot leagues [--json]`` and the
``stale_history`` flag of a coupon, on a temporary warehouse holding the real 2024-25 Premier
League file (the clock is injected: 30 November 2026)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from jackpot_pipeline.cli import main
from jackpot_pipeline.core.teams import LEAGUES, REGISTRY
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.ingestion import ingest
from jackpot_pipeline.services.jackpot_report import export_frame, jackpot_report
from jackpot_pipeline.services.jackpots import predict_coupon
from jackpot_pipeline.services.status import status_data
from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests._corpus import make_request, manifest_row, real_bytes

TODAY = date(2026, 11, 30)
E0_2425 = real_bytes("2425", "E0")


def last_result_in_file(data: bytes) -> date:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return max(datetime.strptime(r["Date"], "%d/%m/%Y").date() for r in rows if r["FTR"])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = warehouse.connect(path)
    try:
        request = make_request(E0_2425, tmp_path / "raw", "E0", "2024-25")
        ingest(con, dataclasses.replace(request, today=TODAY))  # after the season: every row
    finally:
        con.close()
    return path


def test_status_reports_the_current_season_and_the_age_of_each_league(db: Path) -> None:
    data = status_data(db, Settings(today=TODAY.isoformat()))
    assert data["current_season"] == "2026-27" and data["today"] == "2026-11-30"
    by_league = {row["league"]: row for row in data["leagues"]}
    assert set(by_league) == set(LEAGUES)
    latest = last_result_in_file(E0_2425)
    assert by_league["E0"]["latest_result"] == latest.isoformat()
    assert by_league["E0"]["age_days"] == (TODAY - latest).days
    assert by_league["E0"]["stale"] and not by_league["E0"]["current_season_has_data"]
    assert by_league["E1"]["latest_result"] is None and by_league["E1"]["age_days"] is None
    fresh = status_data(db, Settings(today="2025-06-01", stale_history_days=14))
    e0 = next(row for row in fresh["leagues"] if row["league"] == "E0")
    assert (
        fresh["current_season"] == "2024-25" and e0["age_days"] == (date(2025, 6, 1) - latest).days
    )
    assert not e0["stale"]


def test_status_and_leagues_json_on_a_fresh_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.duckdb"
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(missing))
    monkeypatch.setenv("JACKPOT_TODAY", "2026-11-30")
    assert main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["current_season"] == "2026-27" and data["warehouse_exists"] is False
    assert [row["league"] for row in data["leagues"]] == list(LEAGUES)
    assert main(["leagues", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["code"] for row in rows] == list(REGISTRY)
    assert all(row["matches"] == 0 for row in rows)
    assert not missing.exists()  # reading never creates a warehouse


def test_leagues_lists_the_data_held_per_league(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(db))
    assert main(["leagues", "--json"]) == 0
    rows = {row["code"]: row for row in json.loads(capsys.readouterr().out)}
    e0 = rows["E0"]
    assert e0["enabled"] and e0["seasons_with_data"] == ["2024-25"]
    assert e0["matches"] == manifest_row("2425", "E0").rows
    assert e0["latest_result"] == last_result_in_file(E0_2425).isoformat()
    assert rows["E2"]["enabled"] is False and rows["E2"]["matches"] == 0
    assert main(["leagues"]) == 0
    table = capsys.readouterr().out
    assert "2024-25..2024-25 (1)" in table and "Premier League" in table


COUPON = """\
# id: freshness
home,away,kickoff,league
Arsenal,Chelsea,2025-05-25T15:00:00+00:00,E0
Liverpool,Everton,2026-11-28T15:00:00+00:00,E0
"""


def test_a_coupon_long_after_the_latest_result_is_flagged_stale_history(
    db: Path, tmp_path: Path
) -> None:
    settings = Settings(raw_dir=tmp_path / "raw", stale_history_days=14)
    con = warehouse.connect(db)
    try:
        run = predict_coupon(
            con, COUPON.encode(), "freshness.csv", settings=settings, now=datetime(2026, 11, 27)
        )
        stored = con.execute(
            "SELECT match_order, latest_result, flags FROM jackpot_fixtures ORDER BY match_order"
        ).fetchall()
        report = jackpot_report(con, run)
    finally:
        con.close()
    (_, fresh_latest, fresh_flags), (_, stale_latest, stale_flags) = stored
    latest = last_result_in_file(E0_2425)
    assert stale_latest == latest and "stale_history" in json.loads(stale_flags)
    assert fresh_latest < date(2025, 5, 25) and (date(2025, 5, 25) - fresh_latest).days <= 14
    assert "stale_history" not in json.loads(fresh_flags)
    # Still predicted: every set has probabilities for the stale fixture.
    assert len(run.stored.predictions[run.stored.predictions["match_order"] == 2]) == 7
    table = report.fixture_table()
    assert f"stale_history (latest result {latest.isoformat()})" in table["flags"].iloc[1]
    exported = export_frame(report)
    dates = exported.loc[exported["match_order"] == 2, "latest_result"]
    assert {str(value)[:10] for value in dates} == {latest.isoformat()}
    summary = report.summary()
    assert summary["fixtures"][1]["latest_result"][:10] == latest.isoformat()
    assert "stale_history" in summary["jackpot"]["flags"]


def test_the_migration_adds_latest_result_to_an_older_warehouse(tmp_path: Path) -> None:
    from jackpot_pipeline.services import schema

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(schema.VERSION_TABLE_SQL)
        con.execute(schema.MIGRATIONS[0].sql)
        con.execute("INSERT INTO schema_version VALUES (1, 'baseline', now())")
    con = warehouse.connect(path)
    try:
        columns = warehouse.table_columns(con, "jackpot_fixtures")
    finally:
        con.close()
    assert "latest_result" in columns
