"""The DuckDB warehouse: schema, short-lived connections, and atomic partition replacement.

DuckDB allows one writing process per file, so connections are opened per unit of work and
closed at once; a connection that finds the file locked retries with backoff for up to
``lock_timeout_s`` seconds before raising.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS leagues (
    code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    country VARCHAR NOT NULL,
    tier INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS teams (
    team_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    country VARCHAR NOT NULL,
    first_league VARCHAR
);
CREATE TABLE IF NOT EXISTS team_aliases (
    alias VARCHAR PRIMARY KEY,
    team_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ingestion_log (
    ingest_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    league VARCHAR,
    season VARCHAR,
    uri VARCHAR,
    checksum VARCHAR,
    raw_path VARCHAR,
    parser_version VARCHAR NOT NULL,
    rows_loaded INTEGER NOT NULL,
    rows_inserted INTEGER NOT NULL,
    rows_updated INTEGER NOT NULL,
    rows_unchanged INTEGER NOT NULL,
    rows_skipped INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    message VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    match_id VARCHAR PRIMARY KEY,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    kickoff_time VARCHAR,
    kickoff_utc TIMESTAMPTZ,
    home_team VARCHAR NOT NULL,
    away_team VARCHAR NOT NULL,
    home_team_id VARCHAR NOT NULL,
    away_team_id VARCHAR NOT NULL,
    home_goals INTEGER,
    away_goals INTEGER,
    result VARCHAR,
    ht_home_goals INTEGER,
    ht_away_goals INTEGER,
    ht_result VARCHAR,
    source_row INTEGER NOT NULL,
    odds_source VARCHAR,
    odds_home DOUBLE,
    odds_draw DOUBLE,
    odds_away DOUBLE,
    overround DOUBLE,
    margin_method VARCHAR,
    prob_home_market DOUBLE,
    prob_draw_market DOUBLE,
    prob_away_market DOUBLE,
    source_checksum VARCHAR NOT NULL,
    UNIQUE (league, match_date, home_team_id, away_team_id)
);
CREATE TABLE IF NOT EXISTS match_odds (
    match_id VARCHAR NOT NULL,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,
    price DOUBLE NOT NULL,
    PRIMARY KEY (match_id, bookmaker, market, outcome, phase)
);
CREATE TABLE IF NOT EXISTS market_probabilities (
    match_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    odds_source VARCHAR NOT NULL,
    prob_home DOUBLE NOT NULL,
    prob_draw DOUBLE NOT NULL,
    prob_away DOUBLE NOT NULL,
    overround DOUBLE NOT NULL,
    PRIMARY KEY (match_id, method),
    CHECK (abs(prob_home + prob_draw + prob_away - 1) < 1e-9)
);
CREATE SEQUENCE IF NOT EXISTS data_quality_log_seq;
CREATE TABLE IF NOT EXISTS data_quality_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('data_quality_log_seq'),
    source VARCHAR NOT NULL,
    league VARCHAR,
    season VARCHAR,
    checksum VARCHAR,
    check_name VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    issue_type VARCHAR NOT NULL,
    match_id VARCHAR,
    row_number INTEGER,
    detail VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    logged_at TIMESTAMPTZ NOT NULL
);
"""


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process longer than the timeout."""


def connect(
    path: Path, read_only: bool = False, lock_timeout_s: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating its folder and schema), retrying while another process
    holds the single-writer lock: waits 0.05 s, doubling up to 2 s, until the timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only and path.exists())
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                if "lock" in str(error).lower():
                    raise WarehouseLockedError(
                        f"warehouse {path} is locked by another process (waited "
                        f"{lock_timeout_s:.0f} s); DuckDB allows one writer at a time"
                    ) from error
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    if not read_only:
        con.execute(SCHEMA_SQL)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolling back on any exception so nothing partial is written."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Insert a DataFrame's columns into ``table`` by name; returns the row count.

    The frame is read through DuckDB's replacement scan of the local variable ``frame`` (no
    registration to undo, so a failing insert surfaces its own error)."""
    if frame.empty:
        return 0
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM frame")
    return len(frame)


def replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, where: Mapping[str, object], frame: pd.DataFrame
) -> int:
    """Delete the rows of ``table`` matching ``where`` and insert ``frame`` (call inside a
    transaction so the swap is atomic)."""
    clause = " AND ".join(f'"{k}" = ?' for k in where)
    con.execute(f"DELETE FROM {table} WHERE {clause}", list(where.values()))
    return insert_frame(con, table, frame)


def upsert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Insert rows whose primary key is new (existing rows are left untouched); returns the
    number of rows added."""
    if frame.empty:
        return 0
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM frame ON CONFLICT DO NOTHING"
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
