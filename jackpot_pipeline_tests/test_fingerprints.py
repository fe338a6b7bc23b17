"""Fingerprints (services.fingerprints), the planning of ``jackpot run`` from them, and the
schema migration of a warehouse made before the schema_version table existed."""

import gzip
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from jackpot_pipeline.cli.run_pipeline import box, requested_partitions, run_ranges
from jackpot_pipeline.defs.partitions import (
    LEAGUE_CODES,
    league_season_partitions,
    partition_key,
    split_key,
)
from jackpot_pipeline.defs.partitions import (
    SEASONS as PARTITION_SEASONS,
)
from jackpot_pipeline.services import fingerprints, schema, warehouse
from jackpot_pipeline.services.ingestion import ingest
from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests._corpus import dump_warehouse, make_request, real_bytes

ROOT = Path(__file__).resolve().parent
#: A warehouse written by commit d3a609e (before services/schema.py): E0 2023-24 ingested.
OLD_WAREHOUSE = ROOT / "data" / "warehouse_d3a609e.duckdb.gz"
SEASONS = {"2022-23": "2223", "2023-24": "2324"}
LEAGUES = ("E0", "E1", "D1")
SETTINGS = Settings()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """E0, E1 and D1 2022-23 and 2023-24 from the shipped files."""
    root = tmp_path_factory.mktemp("fingerprints")
    with warehouse.connect(root / "w.duckdb") as con:
        for league in LEAGUES:
            for season, code in SEASONS.items():
                ingest(con, make_request(real_bytes(code, league), root / "raw", league, season))
    return root / "w.duckdb"


def partitions() -> list[tuple[str, str]]:
    return [(league, season) for league in LEAGUES for season in SEASONS]


@pytest.fixture
def con(ingested: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "w.duckdb"
    shutil.copy(ingested, path)
    with warehouse.connect(path) as connection:
        yield connection


def change_one_result(con: duckdb.DuckDBPyConnection, league: str, season: str) -> None:
    """A corrected score in one partition, as a re-published season file would bring."""
    con.execute(
        "UPDATE matches SET home_goals = home_goals + 1 WHERE match_id = (SELECT min(match_id) "
        "FROM matches WHERE league = ? AND season = ?)",
        [league, season],
    )


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        # the walk-forward of a league reads that league's seasons up to S
        ("dixon_coles", [("D1", "2023-24")]),
        # team features read the country's leagues: Germany has only D1
        ("team_features", [("D1", "2023-24")]),
        # calibration of S pools every league's seasons before S, and its own partition
        ("calibration_curves", [("D1", "2023-24")]),
    ],
)
def test_one_changed_result_makes_only_its_readers_stale(
    con: duckdb.DuckDBPyConnection, op: str, expected: list[tuple[str, str]]
) -> None:
    wanted = fingerprints.input_fingerprints(con, op, partitions(), SETTINGS)
    fingerprints.record(con, op, wanted, "run-1")
    assert fingerprints.stale(con, op, wanted) == []
    change_one_result(con, "D1", "2023-24")
    now = fingerprints.input_fingerprints(con, op, partitions(), SETTINGS)
    assert fingerprints.stale(con, op, now) == expected


def test_an_earlier_season_change_reaches_every_later_reader(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """E0 2022-23 changes: E0's walk-forward from 2022-23 on, England's team features, and the
    calibration of every league's 2023-24 (pooled over earlier seasons) plus E0 2022-23."""
    before = {
        op: fingerprints.input_fingerprints(con, op, partitions(), SETTINGS)
        for op in ("dixon_coles", "team_features", "calibration_curves")
    }
    change_one_result(con, "E0", "2022-23")
    after = {op: fingerprints.input_fingerprints(con, op, partitions(), SETTINGS) for op in before}
    changed = {op: sorted(p for p in before[op] if before[op][p] != after[op][p]) for op in before}
    assert changed["dixon_coles"] == [("E0", "2022-23"), ("E0", "2023-24")]
    assert changed["team_features"] == [
        ("E0", "2022-23"),
        ("E0", "2023-24"),
        ("E1", "2022-23"),
        ("E1", "2023-24"),
    ]
    assert changed["calibration_curves"] == [
        ("D1", "2023-24"),
        ("E0", "2022-23"),
        ("E0", "2023-24"),
        ("E1", "2023-24"),
    ]


def test_settings_and_code_versions_are_part_of_the_fingerprint(
    con: duckdb.DuckDBPyConnection,
) -> None:
    base = fingerprints.input_fingerprints(con, "dixon_coles", partitions(), SETTINGS)
    other = fingerprints.input_fingerprints(con, "dixon_coles", partitions(), Settings(xi=0.002))
    assert all(base[p] != other[p] for p in base)
    moved = Settings(warehouse_path=Path("/elsewhere.duckdb"))  # storage is not a setting
    assert fingerprints.input_fingerprints(con, "dixon_coles", partitions(), moved) == base
    # the code version covers the op's module and what it imports, transitively
    modules = set()
    todo = [fingerprints.OP_MODULES["dixon_coles"]]
    while todo:
        module = todo.pop()
        if module not in modules:
            modules.add(module)
            todo.extend(fingerprints.project_imports(module))
    assert {
        "jackpot_pipeline.core.dixon_coles",
        "jackpot_pipeline.core.walk_forward",
        "jackpot_pipeline.services.model_store",
    } <= modules
    assert "jackpot_pipeline.services.odds_store" not in modules
    assert fingerprints.code_version("dixon_coles") != fingerprints.code_version("football_data")


def test_file_fingerprint_follows_the_bytes() -> None:
    data = real_bytes("2324", "E0")
    same = fingerprints.file_fingerprint("football_data", SETTINGS, bytes(data))
    assert fingerprints.file_fingerprint("football_data", SETTINGS, data) == same
    assert fingerprints.file_fingerprint("football_data", SETTINGS, data + b"\n") != same
    lax = Settings(strict_mode=False)
    assert fingerprints.file_fingerprint("football_data", lax, data) != same


def test_record_replaces_and_keeps_one_row_per_partition(
    con: duckdb.DuckDBPyConnection,
) -> None:
    fingerprints.record(con, "dixon_coles", {("E0", "2023-24"): "a"}, "run-1")
    fingerprints.record(con, "dixon_coles", {("E0", "2023-24"): "b"}, "run-2")
    assert fingerprints.recorded(con, "dixon_coles") == {("E0", "2023-24"): "b"}
    assert fingerprints.stale(con, "dixon_coles", {("E0", "2023-24"): "b", ("E1", "x"): "c"}) == [
        ("E1", "x")
    ]


def test_run_ranges_cover_stale_partitions_with_few_runs() -> None:
    every = requested_partitions(None, None)
    assert run_ranges(every, every) == [
        ((LEAGUE_CODES[0], PARTITION_SEASONS[0]), (LEAGUE_CODES[-1], PARTITION_SEASONS[-1]))
    ]
    assert set(box(*run_ranges(every, every)[0])) == set(every)
    # the new season of three leagues: one run, the box holds only that season
    stale = [("E0", "2025-26"), ("I1", "2025-26"), ("E1", "2025-26")]
    (only,) = run_ranges(stale, every)
    up_to_i1 = LEAGUE_CODES[: LEAGUE_CODES.index("I1") + 1]  # E0, E1, SP1, D1, I1
    assert set(box(*only)) == {(lg, "2025-26") for lg in up_to_i1}
    # leagues requested apart (E0, D1): the box between them is not requested, one run each
    apart = requested_partitions(["E0", "D1"], ["2023-24", "2024-25"])
    assert run_ranges(apart, apart) == [
        (("E0", "2023-24"), ("E0", "2024-25")),
        (("D1", "2023-24"), ("D1", "2024-25")),
    ]
    # seasons requested apart: one run per partition
    gaps = requested_partitions(["E0"], ["2012-13", "2020-21"])
    assert run_ranges(gaps, gaps) == [(p, p) for p in gaps]
    assert run_ranges([], every) == []


def test_a_range_run_covers_the_box_the_planner_expects() -> None:
    """Dagster's reading of a multi-partition range (the box), checked on the real assets'
    partitions definition."""
    first, last = ("E1", "2023-24"), ("D1", "2025-26")
    keys = league_season_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange(str(partition_key(*first)), str(partition_key(*last)))
    )
    assert sorted(map(split_key, keys)) == sorted(box(first, last))
    leagues = LEAGUE_CODES.index("D1") - LEAGUE_CODES.index("E1") + 1  # registry order
    assert len(keys) == leagues * 3


def test_a_warehouse_from_before_the_version_table_is_upgraded_in_place(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    with gzip.open(OLD_WAREHOUSE) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    before = dump_warehouse(path)
    with duckdb.connect(str(path)) as con:
        assert schema.current_version(con) == 0
        assert schema.migrate(con) == [m.version for m in schema.MIGRATIONS]
        assert schema.current_version(con) == schema.MIGRATIONS[-1].version
        assert schema.migrate(con) == []
        assert warehouse.table_exists(con, "stage_fingerprints")
        assert con.execute("SELECT count(*) FROM matches").fetchall()[0][0] == 380
    after = dump_warehouse(path)
    for table, rows in before.items():
        assert after[table] == rows, table
    # and the upgraded file is usable as is: fingerprints can be recorded in it
    with warehouse.connect(path) as con:
        fingerprints.record(con, "football_data", {("E0", "2023-24"): "x"}, None)
        assert fingerprints.recorded(con, "football_data") == {("E0", "2023-24"): "x"}
