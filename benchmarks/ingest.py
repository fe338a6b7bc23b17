"""Full-history ingest benchmark: every shipped football-data file into a fresh warehouse.

Run: ``uv run python benchmarks/ingest.py``. Prints ``name: value`` lines: the wall time of
our ingestion (raw store + parse + Great Expectations checks + one transaction per file), its
stages, rows/s, and — as the reference measured in the same run — a bare
``pandas.read_csv`` + DuckDB insert of the same files with no checks, odds or raw layer.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from jackpot_pipeline.core.football_data import parse_football_data
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.ingestion import IngestRequest, ingest
from jackpot_pipeline.services.quality import run_checks
from jackpot_pipeline.settings import Settings

SETTINGS = Settings()


def shipped_files() -> list[tuple[str, str, Path]]:
    """(league, season, path) of every shipped file."""
    files = []
    for path in sorted(SETTINGS.football_data_dir.glob("*/*.csv")):
        code = path.parent.name
        files.append((path.stem, f"20{code[:2]}-{code[2:]}", path))
    return files


def ingest_all(root: Path) -> tuple[float, int, int]:
    """Ingest every file into a fresh warehouse; returns (seconds, matches, odds rows)."""
    files = shipped_files()
    con = warehouse.connect(root / "w.duckdb")
    now = datetime.now(UTC)
    started = time.perf_counter()
    for league, season, path in files:
        request = IngestRequest(
            league,
            season,
            path.as_uri(),
            path.read_bytes(),
            root / "raw",
            True,
            "shin",
            now.date(),
            now,
        )
        ingest(con, request)
    seconds = time.perf_counter() - started
    matches = con.execute("SELECT count(*) FROM matches").fetchall()[0][0]
    odds = con.execute("SELECT count(*) FROM match_odds").fetchall()[0][0]
    con.close()
    return seconds, matches, odds


def stage_times() -> tuple[float, float]:
    """Seconds spent parsing and checking all files (no writes)."""
    parse_s = checks_s = 0.0
    today = datetime.now(UTC).date()
    for league, season, path in shipped_files():
        data = path.read_bytes()
        t0 = time.perf_counter()
        parsed = parse_football_data(data, league, season)
        t1 = time.perf_counter()
        run_checks(parsed, season, today)
        parse_s += t1 - t0
        checks_s += time.perf_counter() - t1
    return parse_s, checks_s


def reference(root: Path) -> tuple[float, int]:
    """Bare pandas.read_csv + DuckDB insert of the same files; returns (seconds, rows)."""
    con = duckdb.connect(str(root / "ref.duckdb"))
    started = time.perf_counter()
    rows = 0
    for _, _, path in shipped_files():
        frame = pd.read_csv(path, encoding="utf-8-sig", encoding_errors="replace", dtype=str)
        frame = frame[frame["Div"].notna()]
        con.register("f", frame)
        con.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM f")
        con.unregister("f")
        rows += len(frame)
    seconds = time.perf_counter() - started
    con.close()
    return seconds, rows


def main() -> None:
    run_checks(
        parse_football_data(shipped_files()[0][2].read_bytes(), "D1", "2012-13"),
        "2012-13",
        datetime.now(UTC).date(),
    )  # warm-up: GE import (~10 s) not timed
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ingest_s, matches, odds = ingest_all(root)
        parse_s, checks_s = stage_times()
        ref_s, ref_rows = reference(root)
    print(f"files: {len(shipped_files())}")
    print(f"matches: {matches}")
    print(f"odds_rows: {odds}")
    print(f"ingest_wall_s: {ingest_s:.2f}")
    print(f"ingest_matches_per_s: {matches / ingest_s:.0f}")
    print(f"ingest_odds_rows_per_s: {odds / ingest_s:.0f}")
    print(f"parse_s: {parse_s:.2f}")
    print(f"checks_s: {checks_s:.2f}")
    print(f"write_and_rest_s: {ingest_s - parse_s - checks_s:.2f}")
    print(f"reference_read_csv_insert_s: {ref_s:.2f}")
    print(f"reference_rows: {ref_rows}")
    print(f"ratio_ingest_vs_reference: {ingest_s / ref_s:.1f}")


if __name__ == "__main__":
    main()
