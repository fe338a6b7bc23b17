"""The team-name resolver of the warehouse: the alias file plus every club's football-data name
stored in ``teams`` (so the clubs of a newly enabled league resolve with no alias lines)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from jackpot_pipeline.core.teams import (
    ALIASES_PATH,
    TeamResolver,
    load_aliases,
    with_football_data_names,
)


def warehouse_resolver(
    con: duckdb.DuckDBPyConnection | None, path: Path = ALIASES_PATH
) -> TeamResolver:
    """Resolver of ``path`` plus the ``teams`` table's (name, team_id) pairs (none without a
    connection or before any ingestion)."""
    resolver = load_aliases(path)
    if con is None:
        return resolver
    try:
        teams = con.execute("SELECT name, team_id FROM teams").fetchall()
    except duckdb.CatalogException:
        return resolver
    return with_football_data_names(resolver, teams)
