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
-- The Odds API (jackpot_pipeline/odds_store.py). No URL with a key and no key is ever stored.
-- fetch_log: one row per successful API call (quota bookkeeping; url is redacted, apiKey=***).
CREATE TABLE IF NOT EXISTS fetch_log (
    fetch_id VARCHAR PRIMARY KEY,
    sport VARCHAR,
    endpoint VARCHAR NOT NULL,
    tier VARCHAR,
    requested_at TIMESTAMPTZ NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    http_status INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    quota_remaining INTEGER,
    quota_used INTEGER,
    quota_last INTEGER,
    checksum VARCHAR NOT NULL,
    new_snapshot BOOLEAN NOT NULL,
    url VARCHAR NOT NULL,
    source VARCHAR
);
-- odds_snapshots: one row per distinct response body (raw layer blob) per sport and endpoint.
CREATE TABLE IF NOT EXISTS odds_snapshots (
    checksum VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    endpoint VARCHAR NOT NULL,
    league VARCHAR,
    fetched_at TIMESTAMPTZ NOT NULL,
    tier VARCHAR,
    hours_to_commence DOUBLE,
    cost INTEGER NOT NULL,
    quota_remaining INTEGER,
    n_events INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    raw_path VARCHAR NOT NULL,
    source VARCHAR,
    stored_at TIMESTAMPTZ NOT NULL,
    events_loaded_at TIMESTAMPTZ,
    odds_loaded_at TIMESTAMPTZ,
    odds_rows INTEGER,
    PRIMARY KEY (checksum, sport, endpoint)
);
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR PRIMARY KEY,
    sport VARCHAR NOT NULL,
    league VARCHAR,
    commence_time TIMESTAMPTZ NOT NULL,
    home_team VARCHAR NOT NULL,
    away_team VARCHAR NOT NULL,
    home_team_id VARCHAR,
    away_team_id VARCHAR,
    status VARCHAR NOT NULL,
    home_score INTEGER,
    away_score INTEGER,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    status_updated_at TIMESTAMPTZ NOT NULL,
    final_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS odds (
    snapshot_checksum VARCHAR NOT NULL,
    row_no INTEGER NOT NULL,
    event_id VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    commence_time TIMESTAMPTZ,
    home_team VARCHAR,
    away_team VARCHAR,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR,
    outcome_name VARCHAR,
    price DOUBLE,
    point DOUBLE,
    bookmaker_last_update TIMESTAMPTZ,
    market_last_update TIMESTAMPTZ,
    snapshot_time TIMESTAMPTZ NOT NULL,
    two_way_h2h BOOLEAN NOT NULL,
    PRIMARY KEY (snapshot_checksum, row_no)
);
CREATE TABLE IF NOT EXISTS closing_lines (
    event_id VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    commence_time TIMESTAMPTZ,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR,
    outcome_name VARCHAR,
    price DOUBLE,
    point DOUBLE,
    snapshot_time TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS market_consensus (
    event_id VARCHAR PRIMARY KEY,
    sport VARCHAR NOT NULL,
    league VARCHAR,
    commence_time TIMESTAMPTZ,
    home_team_id VARCHAR,
    away_team_id VARCHAR,
    prob_home DOUBLE,
    prob_draw DOUBLE,
    prob_away DOUBLE,
    n_bookmakers INTEGER,
    as_of TIMESTAMPTZ,
    pinnacle_home DOUBLE,
    pinnacle_draw DOUBLE,
    pinnacle_away DOUBLE,
    pinnacle_as_of TIMESTAMPTZ
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


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``table`` exists in the warehouse."""
    query = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    return bool(con.execute(query, [table]).fetchall()[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of ``table``, in order."""
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def table_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows in ``table``."""
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


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
    before = table_count(con, table)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM frame ON CONFLICT DO NOTHING"
    )
    return table_count(con, table) - before
