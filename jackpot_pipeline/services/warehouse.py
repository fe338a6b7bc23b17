"""The DuckDB warehouse: schema, short-lived connections, and atomic partition replacement.

DuckDB allows one writing process per file, so connections are opened per unit of work and
closed at once; a connection that finds the file locked retries with backoff for up to
``lock_timeout_s`` seconds before raising.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from jackpot_pipeline.services import schema

FIRST_RETRY_S = 0.05
log = logging.getLogger(__name__)


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process longer than the timeout."""


def connect(
    path: Path, read_only: bool = False, lock_timeout_s: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating its folder and schema), retrying while another process
    holds the single-writer lock: waits 0.05 s, doubling up to 2 s, until the timeout (a
    warning is logged when it starts waiting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = FIRST_RETRY_S
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
            if delay == FIRST_RETRY_S:
                log.warning(
                    "warehouse %s is locked by another process (a run?); waiting up to %.0f s",
                    path,
                    lock_timeout_s,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    if not read_only:
        schema.migrate(con)
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
