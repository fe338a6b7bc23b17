"""The ingestion and reference assets through the real Dagster machinery (``dg.materialize``),
with the local source and with the HTTP source behind ``responses`` (no network)."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests
import responses

from jackpot_pipeline.defs.incremental import FORCE_TAG
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.modelling.assets import team_features
from jackpot_pipeline.defs.partitions import partition_key
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import (
    FootballDataSource,
    SettingsResource,
    WarehouseResource,
)
from jackpot_pipeline.services.quality import CHECKS
from jackpot_pipeline.settings import DATA_DIR
from jackpot_pipeline_tests._corpus import (
    TmpWarehouse,
    dump_warehouse,
    manifest_row,
    real_bytes,
    rename_column,
    set_cell,
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
                "settings": SettingsResource.from_env(),
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
    assert {e.partition for e in evaluations} == {"E0|2023-24"}
    blocking = {c.name for c in CHECKS if c.severity == "error"}
    assert all(e.passed for e in evaluations if e.check_name in blocking)
    for e in evaluations:
        assert e.metadata["rows_checked"].value > 0
        assert (e.metadata["league"].value, e.metadata["season"].value) == ("E0", "2023-24")
        assert e.description.startswith("E0 2023-24: ")

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
    assert (matches_meta["league"].value, matches_meta["season"].value) == ("E0", "2023-24")
    odds_rows = env.scalar("SELECT count(*) FROM match_odds")
    odds_meta = materializations["match_odds"].metadata
    assert odds_meta["odds_rows_written"].value == odds_meta["dagster/row_count"].value
    assert odds_meta["dagster/row_count"].value == odds_rows > 0
    market_meta = materializations["market_probabilities"].metadata
    assert market_meta["dagster/row_count"].value == 4 * rows

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
    assert meta["matches"]["status"].value == "unchanged"
    assert meta["matches"]["dagster/row_count"].value == manifest_row("2324", "E0").rows
    assert any("unchanged" in message for message in env.messages(forced))


def test_partition_without_a_file_is_recorded_as_no_data(env):
    """Materialized (not amber, not "never run") with the reason and zero rows; no check runs
    and nothing is written."""
    assert not FootballDataSource().has_data("SP1", "2025-26")
    result = env.materialize(MATCH_ASSETS, partition_key("SP1", "2025-26"))
    assert result.success
    materializations = result.asset_materializations_for_node("football_data")
    assert {m.asset_key.to_user_string() for m in materializations} == set(MATCH_ASSETS)
    for m in materializations:
        assert m.partition == "SP1|2025-26"
        assert m.metadata["status"].value == "no data"
        assert "no file for SP1 2025-26" in m.metadata["reason"].value
        assert m.metadata["dagster/row_count"].value == 0
    assert result.get_asset_check_evaluations() == []
    assert any("no data" in message for message in env.messages(result))
    assert not env.db.exists()  # the warehouse is not even opened
    assert not env.raw.exists()


def test_a_range_run_gives_each_partition_its_own_metadata_and_checks(env):
    """SP1 2023-24 … 2025-26 in one run: each partition states its own rows and checks; the
    2025-26 partition without a file says so."""
    assert not FootballDataSource().has_data("SP1", "2025-26")
    tags = {
        "dagster/asset_partition_range_start": str(partition_key("SP1", "2023-24")),
        "dagster/asset_partition_range_end": str(partition_key("SP1", "2025-26")),
    }
    result = dg.materialize(
        [reference_data, football_data],
        resources={
            "warehouse_db": WarehouseResource(path=str(env.db)),
            "football_data_source": FootballDataSource(),
            "settings": SettingsResource.from_env(),
        },
        selection=MATCH_ASSETS,
        tags=tags,
        instance=env.instance,
    )
    assert result.success
    matches = {
        m.partition: m.metadata
        for m in result.asset_materializations_for_node("football_data")
        if m.asset_key == dg.AssetKey("matches")
    }
    assert set(matches) == {"SP1|2023-24", "SP1|2024-25", "SP1|2025-26"}
    for season, code in (("2023-24", "2324"), ("2024-25", "2425")):
        meta = matches[f"SP1|{season}"]
        assert meta["season"].value == season
        assert meta["dagster/row_count"].value == manifest_row(code, "SP1").rows
        assert meta["source_sha256"].value == sha256(real_bytes(code, "SP1"))
    assert matches["SP1|2025-26"]["status"].value == "no data"
    by_partition: dict[str, list] = {}
    for evaluation in result.get_asset_check_evaluations():
        by_partition.setdefault(evaluation.partition, []).append(evaluation)
    with_file = [k for k in matches if matches[k]["status"].value != "no data"]
    assert sorted(by_partition) == sorted(with_file)
    assert all(len(evaluations) == len(CHECKS) for evaluations in by_partition.values())


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
    return FootballDataSource(
        mode="http",
        base_url=BASE_URL,
        backoff_s=0,
        max_retries=max_retries,
        raw_dir=tempfile.mkdtemp(prefix="jackpot-raw-"),  # never the repository's data/raw
    )


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


# ---------------------------------------------------------------------------------------------
# Blocking checks stop downstream: a real file with bad goal cells, strict and non-strict
# ---------------------------------------------------------------------------------------------


def _with_text_goals(rows: int) -> bytes:
    """E1 2023-24 with FTHG = "two" on the first ``rows`` data rows."""
    data = real_bytes("2324", "E1")
    for row in range(rows):
        data = set_cell(data, row, "FTHG", b"two")
    return data


def _run_with_downstream(
    env: Env, data: bytes, strict: bool, allow_shrink: bool = False
) -> dg.ExecuteInProcessResult:
    """football_data (served over HTTP) and its downstream team_features, one run."""
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{BASE_URL}/2324/E1.csv", body=data, status=200)
        return dg.materialize(
            [reference_data, football_data, team_features],
            resources={
                "warehouse_db": WarehouseResource(path=str(env.db)),
                "football_data_source": _http(),
                "settings": SettingsResource(
                    raw_dir=str(env.raw), strict_mode=strict, allow_shrink=allow_shrink
                ),
            },
            selection=[*MATCH_ASSETS, "team_features"],
            partition_key=partition_key("E1", "2023-24"),
            instance=env.instance,
            raise_on_error=False,
        )


def _goals_check(result: dg.ExecuteInProcessResult):
    (check,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "goals_are_non_negative_integers"
    ]
    assert check.partition == "E1|2023-24"
    assert check.metadata["league"].value == "E1"
    return check


def _downstream_ran(result: dg.ExecuteInProcessResult) -> bool:
    return bool(result.asset_materializations_for_node("team_features"))


def test_non_strict_a_failing_blocking_check_stops_downstream(env):
    """One bad row, non-strict: kept and logged, the check fails, team_features does not run."""
    n = manifest_row("2324", "E1").rows
    result = _run_with_downstream(env, _with_text_goals(1), strict=False)
    assert not result.success
    check = _goals_check(result)
    assert not check.passed and check.blocking
    assert check.metadata["failing_rows"].value == 1
    assert check.metadata["rejected_rows"].value == 0
    assert check.metadata["action"].value == "logged"
    assert not _downstream_ran(result)
    assert env.scalar("SELECT count(*) FROM matches") == n  # the row is kept


def test_strict_rejects_a_few_rows_reports_them_and_lets_downstream_run(env):
    """One bad row, strict: rejected and reported by the check, which passes (under the
    threshold); team_features runs."""
    n = manifest_row("2324", "E1").rows
    result = _run_with_downstream(env, _with_text_goals(1), strict=True)
    assert result.success
    check = _goals_check(result)
    assert check.passed
    assert check.metadata["rejected_rows"].value == 1
    assert check.metadata["action"].value == "rejected"
    assert check.description.startswith("E1 2023-24: 1 of ") and "rejected" in check.description
    assert _downstream_ran(result)
    assert env.scalar("SELECT count(*) FROM matches") == n - 1


def test_strict_refuses_a_file_losing_more_than_the_threshold(env):
    """30 bad rows of 552 (5.4 % > 5 %), strict, no allow_shrink: the partition guard refuses
    the file (nothing written), the run fails with the numbers, downstream stops."""
    bad = 30
    result = _run_with_downstream(env, _with_text_goals(bad), strict=True)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "refused: 30 of its 552 rows would not be stored" in str(failure.to_string())
    assert not _downstream_ran(result)
    assert env.scalar("SELECT count(*) FROM matches") == 0


def test_strict_fails_when_a_partition_loses_more_than_the_threshold(env):
    """30 bad rows of 552 (5.4 % > 5 %), strict, loss explicitly allowed: rejected, the check
    fails, downstream stops."""
    n = manifest_row("2324", "E1").rows
    bad = 30
    assert bad / n > SettingsResource().max_rejected_share
    result = _run_with_downstream(env, _with_text_goals(bad), strict=True, allow_shrink=True)
    assert not result.success
    check = _goals_check(result)
    assert not check.passed
    assert check.metadata["rejected_rows"].value == bad
    assert "over the 5% limit" in check.description
    assert not _downstream_ran(result)
    assert env.scalar("SELECT count(*) FROM matches") == n - bad
