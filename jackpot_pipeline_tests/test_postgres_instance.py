"""The production dagster.yaml against a real PostgreSQL server: one real partition goes through
a PostgreSQL-backed Dagster instance, and the runs, events and check results land in PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest

from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.partitions import partition_key
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import (
    FootballDataSource,
    SettingsResource,
    WarehouseResource,
)
from jackpot_pipeline.services.quality import CHECKS

REPO_ROOT = Path(__file__).resolve().parent.parent
LEAGUE, SEASON = "E0", "2023-24"


@pytest.fixture
def pg_instance(postgres_server, tmp_path, monkeypatch):
    """A DagsterInstance loaded from the repository's dagster.yaml (copied verbatim into a tmp
    DAGSTER_HOME) with the DAGSTER_PG_* variables pointing at the test server."""
    monkeypatch.setenv("DAGSTER_PG_USERNAME", postgres_server.user)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres_server.password)
    monkeypatch.setenv("DAGSTER_PG_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_PG_DB", postgres_server.dbname)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


def test_production_config_uses_postgres(pg_instance):
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)
    # The psycopg2 driver is forced (SQLAlchemy 2.1 would otherwise pick psycopg 3).
    assert pg_instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")
    # Run queue and pools as documented in dagster.yaml.
    assert isinstance(pg_instance.run_coordinator, dg.QueuedRunCoordinator)
    concurrency = pg_instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 4
    assert concurrency.pool_config.default_pool_limit == 1
    assert pg_instance.global_op_concurrency_default_limit == 1
    assert pg_instance.run_monitoring_enabled


# Great Expectations 1.x (imported by the ingestion checks) imports sre_constants and sre_parse.
@pytest.mark.filterwarnings(
    "ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning"
)
def test_partition_run_is_stored_in_postgres(pg_instance, postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    warehouse_path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(warehouse_path))
    resources = {
        "warehouse_db": WarehouseResource(path=str(warehouse_path)),
        "football_data_source": FootballDataSource(),
        "settings": SettingsResource.from_env(),
    }
    key = partition_key(LEAGUE, SEASON)

    reference = dg.materialize([reference_data], resources=resources, instance=pg_instance)
    assert reference.success
    result = dg.materialize(
        [football_data], resources=resources, instance=pg_instance, partition_key=key
    )
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {
        "matches",
        "match_odds",
        "market_probabilities",
    }

    with psycopg2.connect(postgres_server.dsn) as con, con.cursor() as cur:
        cur.execute(
            "SELECT run_id, status FROM runs WHERE run_id IN (%s, %s)",
            (reference.run_id, result.run_id),
        )
        assert dict(cur.fetchall()) == {reference.run_id: "SUCCESS", result.run_id: "SUCCESS"}

        cur.execute(
            "SELECT partition FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
            (result.run_id, dg.AssetKey("matches").to_string()),
        )
        assert [row[0] for row in cur.fetchall()] == [str(key)]

        cur.execute(
            "SELECT asset_key FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (reference.run_id,),
        )
        assert sorted(json.loads(row[0])[0] for row in cur.fetchall()) == [
            "leagues",
            "team_aliases",
        ]

        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_CHECK_EVALUATION'",
            (result.run_id,),
        )
        assert cur.fetchone()[0] == len(CHECKS)

        cur.execute(
            "SELECT check_name, execution_status, evaluation_event IS NOT NULL "
            "FROM asset_check_executions WHERE run_id = %s AND asset_key = %s",
            (result.run_id, dg.AssetKey("matches").to_string()),
        )
        executions = {name: (status, has_event) for name, status, has_event in cur.fetchall()}
        assert set(executions) == {check.name for check in CHECKS}
        assert all(has_event for _, has_event in executions.values())
        assert {status for status, _ in executions.values()} <= {"SUCCEEDED", "FAILED"}

        # The warehouse pool got the instance's default limit of one slot, and it was released.
        cur.execute(
            "SELECT count(*) FROM concurrency_slots WHERE concurrency_key = 'duckdb_warehouse'"
        )
        assert cur.fetchone()[0] == 1
        cur.execute(
            "SELECT count(*) FROM concurrency_slots "
            "WHERE concurrency_key = 'duckdb_warehouse' AND run_id IS NOT NULL"
        )
        assert cur.fetchone()[0] == 0

    # Dagster's own view through the same instance agrees.
    records = pg_instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("matches"), asset_partitions=[str(key)]),
        limit=10,
    ).records
    assert [r.run_id for r in records] == [result.run_id]

    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        (matches,) = con.execute(
            "SELECT count(*) FROM matches WHERE league = ? AND season = ?", [LEAGUE, SEASON]
        ).fetchone()
        (leagues,) = con.execute("SELECT count(*) FROM leagues").fetchone()
    assert matches == 380
    assert leagues > 0
    # Raw files went to JACKPOT_RAW_DIR, not into the repository.
    assert any(p.is_file() for p in (tmp_path / "raw").rglob("*"))
