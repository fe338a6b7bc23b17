"""Read-only warehouse access for the commands: waits (with a message) while a writer holds the
file, up to ``Settings.lock_timeout_s`` (``JACKPOT_LOCK_TIMEOUT_S``), then fails with one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from jackpot_pipeline.cli.errors import CliError
from jackpot_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb


@contextmanager
def read_warehouse(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit; CliError when there is no warehouse yet."""
    from jackpot_pipeline.services import warehouse  # duckdb and pandas: not at import

    settings = settings or Settings.from_env()
    path = settings.warehouse_path
    if not path.is_file():
        raise CliError(f"no warehouse at {path}: run `jackpot run` first")
    con = warehouse.connect(path, read_only=True, lock_timeout_s=settings.lock_timeout_s)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
