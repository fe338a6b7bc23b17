"""The ingestion and reference assets through the real Dagster machinery (``dg.materialize``),
with the local source and with the HTTP source behind ``responses`` (no network)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests
import responses

from jackpot_pipeline.defs.incremental import FORCE_TAG
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.partitions import partition_key
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import FootballDataSource, WarehouseResource
from jackpot_pipeline.services.quality import CHECKS
from jackpot_pipeline.settings import DATA_DIR
from jackpot_pipeline_tests._corpus import (
    TmpWarehouse,
    dump_warehouse,
    manifest_row,
    real_bytes,
    rename_column,
    sha256,
    snapshot_dir,
)

MATCH_ASSETS = ["matches", "match_odds", "market_probabilities"]
BASE_URL = "https://www.football-data.co.uk/mmz4281"
E0_URL = f"{BASE_URL}/2324/E0.csv"


@dataclass
class Env(TmpWarehouse):
    """A temporary warehouse + raw folder wired into the resources and settings."""

    instance: dg.DagsterInstance

    def materialize(
        self,
        selection: list[str],
        key: dg.MultiPartitionKey | None = None,
        source: FootballDataSource | None = None,
        raise_on_error: bool = True,
        tags: dict[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [reference_data, football_data],
            resources={
                "warehouse_db": WarehouseResource(path=str(self.db)),
                "football_data_source": source or FootballDataSource(),
            },
            partition_key=key,
            selection=selection,
            instance=self.instance,
            raise_on_error=raise_on_error,
            tags=tags,
        )

    def messages(self, result: dg.ExecuteInProcessResult) -> list[str]:
        return [entry.user_message for entry in self.instance.all_logs(result.run_id)]

    def scalar(self, sql: str, params: list | None = None):
        return self.rows(sql, params)[0][0]


def _environment(root: Path, mp: pytest.MonkeyPatch) -> Env:
    mp.setenv("JACKPOT_RAW_DIR", str(root / "raw"))
    mp.setenv("JACKPOT_STRICT_MODE", "true")
    mp.delenv("JACKPOT_MARGIN_METHOD", raising=False)
    return Env(root, dg.DagsterInstance.ephemeral())


@pytest.fixture
def env(tmp_path, monkeypatch) -> Env:
    return _environment(tmp_path, monkeypatch)


@dataclass(frozen=True)
class E0Run:
    env: Env
    result: dg.ExecuteInProcessResult
    repo_raw_before: dict
    repo_raw_after: dict


@pytest.fixture(scope="module")
def e0_run(tmp_path_factory) -> Iterator[E0Run]:
    """2023-24 Premier League materialized once from the shipped local file."""
    repo_raw = DATA_DIR / "raw"
    before = snapshot_dir(repo_raw) if repo_raw.exists() else {}
    with pytest.MonkeyPatch.context() as mp:
        env = _environment(tmp_path_factory.mktemp("assets"), mp)
        result = env.materialize(MATCH_ASSETS, partition_key("E0", "2023-24"))
        after = snapshot_dir(repo_raw) if repo_raw.exists() else {}
        yield E0Run(env, result, before, after)


# ---------------------------------------------------------------------------------------------
# Local source
# ---------------------------------------------------------------------------------------------


def test_materialize_a_partition_with_checks_and_row_counts(e0_run):
    result, env = e0_run.result, e0_run.env
    assert result.success
    rows = manifest_row("2324", "E0").rows

    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(CHECKS) == 9
    assert [e.check_name for e in evaluations] == [c.name for c in CHECKS]
    assert {e.asset_key for e in evaluations} == {dg.AssetKey("matches")}
    blocking = {c.name for c in CHECKS if c.severity == "error"}
    assert all(e.passed for e in evaluations if e.check_name in blocking)
    for e in evaluations:
        assert e.metadata["rows_checked"].value > 0

    materializations = {
        m.asset_key.to_user_string(): m
        for m in result.asset_materializations_for_node("football_data")
    }
    assert set(materializations) == set(MATCH_ASSETS)
    assert {m.partition for m in materializations.values()} == {"E0|2023-24"}
    matches_meta = materializations["matches"].metadata
    assert matches_meta["dagster/row_count"].value == rows
    assert matches_meta["rows_inserted"].value == rows
    assert matches_meta["rows_skipped"].value == 0
    odds_rows = env.scalar("SELECT count(*) FROM match_odds")
    assert materializations["match_odds"].metadata["odds_rows_written"].value == odds_rows > 0

    assert (
        env.scalar("SELECT count(*) FROM matches WHERE league = 'E0' AND season = '2023-24'")
        == rows
    )
    assert env.scalar("SELECT count(*) FROM market_probabilities") == 4 * rows
    assert env.scalar("SELECT status FROM ingestion_log") == "loaded"
    checksum = sha256(real_bytes("2324", "E0"))
    blob = env.raw / "football-data" / checksum[:2] / f"{checksum}.csv"
    assert blob.read_bytes() == real_bytes("2324", "E0")
    assert e0_run.repo_raw_after == e0_run.repo_raw_before  # nothing written into data/raw


def test_rematerializing_leaves_every_table_identical(e0_run):
    """An unchanged file is skipped from its fingerprint (no parse, no checks, nothing
    materialized); forced, it is ingested again and every row is found unchanged."""
    env = e0_run.env
    raw_before = snapshot_dir(env.raw)
    before = dump_warehouse(env.db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACKPOT_RAW_DIR", str(env.raw))
        skipped = env.materialize(MATCH_ASSETS, partition_key("E0", "2023-24"))
        forced = env.materialize(
            MATCH_ASSETS, partition_key("E0", "2023-24"), tags={FORCE_TAG: "true"}
        )
    assert skipped.success and forced.success
    assert skipped.get_asset_materialization_events() == []
    assert skipped.get_asset_check_evaluations() == []
    assert any("unchanged, skipped" in message for message in env.messages(skipped))
    assert dump_warehouse(env.db) == before
    assert snapshot_dir(env.raw) == raw_before
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in forced.asset_materializations_for_node("football_data")
    }
    assert meta["matches"]["rows_inserted"].value == 0
    assert "unchanged" in meta["matches"]["summary"].value
    assert any("unchanged" in message for message in env.messages(forced))


def test_partition_without_a_file_materializes_nothing(env):
    assert not FootballDataSource().has_data("SP1", "2025-26")
    result = env.materialize(MATCH_ASSETS, partition_key("SP1", "2025-26"))
    assert result.success
    assert result.get_asset_materialization_events() == []
    assert result.get_asset_check_evaluations() == []
    assert any("no data for this partition" in message for message in env.messages(result))
    assert not env.db.exists()  # the warehouse is not even opened
    assert not env.raw.exists()


def test_reference_assets_materialize_leagues_and_aliases(env):
    result = env.materialize(["leagues", "team_aliases"])
    assert result.success
    with (DATA_DIR / "team_aliases.csv").open(newline="", encoding="utf-8") as handle:
        alias_rows = len(list(csv.DictReader(handle)))
    assert alias_rows > 0
    assert env.scalar("SELECT count(*) FROM team_aliases") == alias_rows
    assert env.scalar("SELECT count(*) FROM leagues") == 6
    counts = {
        m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
        for m in result.asset_materializations_for_node("reference_data")
    }
    assert counts == {"leagues": 6, "team_aliases": alias_rows}
    # Materializing again replaces, never appends.
    assert env.materialize(["leagues", "team_aliases"]).success
    assert env.scalar("SELECT count(*) FROM team_aliases") == alias_rows


# ---------------------------------------------------------------------------------------------
# HTTP source (responses; no network)
# ---------------------------------------------------------------------------------------------


def _http(max_retries: int = 3) -> FootballDataSource:
    return FootballDataSource(mode="http", base_url=BASE_URL, backoff_s=0, max_retries=max_retries)


def test_http_fetch_returns_the_served_bytes():
    data = real_bytes("2324", "E0")
    source = _http()
    assert source.url("E0", "2023-24") == E0_URL
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, E0_URL, body=data, status=200)
        fetched = source.fetch("E0", "2023-24")
        assert len(mock.calls) == 1
    assert fetched is not None
    assert fetched.data == data
    assert (fetched.league, fetched.season, fetched.uri) == ("E0", "2023-24", E0_URL)


def test_http_fetch_retries_a_server_error():
    data = real_bytes("2324", "E0")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, E0_URL, status=500)
        mock.add(responses.GET, E0_URL, body=data, status=200)
        fetched = _http().fetch("E0", "2023-24")
        assert len(mock.calls) == 2
        assert [c.response.status_code for c in mock.calls] == [500, 200]
    assert fetched is not None and fetched.data == data


def test_http_fetch_404_means_no_file():
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, E0_URL, status=404)
        assert _http().fetch("E0", "2023-24") is None
        assert len(mock.calls) == 1  # a 404 is an answer, not retried


@pytest.mark.parametrize("max_retries", [0, 2])
def test_http_fetch_gives_up_after_max_retries(max_retries):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, E0_URL, status=500)
        with pytest.raises(requests.exceptions.RequestException):
            _http(max_retries).fetch("E0", "2023-24")
        assert len(mock.calls) == max_retries + 1


def test_materialize_a_partition_through_the_http_source(env):
    data = real_bytes("2324", "E1")
    url = f"{BASE_URL}/2324/E1.csv"
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, url, body=data, status=200)
        result = env.materialize(MATCH_ASSETS, partition_key("E1", "2023-24"), _http())
        assert len(mock.calls) == 1
    assert result.success
    rows = manifest_row("2324", "E1").rows
    assert env.scalar("SELECT count(*) FROM matches WHERE league = 'E1'") == rows
    assert env.scalar("SELECT uri FROM ingestion_log") == url
    assert env.scalar("SELECT checksum FROM ingestion_log") == sha256(data)
    meta = result.asset_materializations_for_node("football_data")[0].metadata
    assert meta["dagster/row_count"].value == rows


def test_a_file_without_required_columns_fails_its_check_and_writes_nothing(env):
    """Served with FTHG renamed: the run fails with the missing column named, the
    required_columns_present check is recorded as failed, and no match is stored."""
    data = rename_column(real_bytes("2324", "E1"), "FTHG", "HomeGoals")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{BASE_URL}/2324/E1.csv", body=data, status=200)
        result = env.materialize(
            MATCH_ASSETS, partition_key("E1", "2023-24"), _http(), raise_on_error=False
        )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "required columns missing: FTHG" in failure.message
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"required_columns_present"}
    assert not checks["required_columns_present"].passed
    missing = checks["required_columns_present"].metadata["missing_columns"].value
    assert missing == ["FTHG"]
    assert env.scalar("SELECT count(*) FROM matches") == 0
    assert env.scalar("SELECT status FROM ingestion_log") == "failed"
