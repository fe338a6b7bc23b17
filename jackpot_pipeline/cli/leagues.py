"""``jackpot leagues [--json]``: the league registry with what the warehouse holds of each."""

from __future__ import annotations

import argparse
import json

from jackpot_pipeline.settings import Settings


def command_leagues(args: argparse.Namespace) -> int:
    """Every registry league: enabled, seasons with data, matches, latest result."""
    from jackpot_pipeline.core.teams import REGISTRY
    from jackpot_pipeline.services.status import league_rows, reading

    with reading(Settings.from_env().warehouse_path) as con:
        rows = league_rows(con, REGISTRY)
    if args.json:
        print(json.dumps(rows, indent=2), flush=True)
        return 0
    from rich.console import Console
    from rich.table import Table

    from jackpot_pipeline.services.status import seasons_span

    table = Table(title="Leagues (data/leagues.csv)")
    for column in ("code", "name", "country", "tier", "enabled", "sport key"):
        table.add_column(column)
    for column in ("seasons with data", "matches", "latest result"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["code"],
            row["name"],
            row["country"],
            str(row["tier"]),
            "yes" if row["enabled"] else "no",
            row["odds_api_sport"] or "-",
            seasons_span(row["seasons_with_data"]),
            f"{row['matches']:,}",
            row["latest_result"] or "-",
        )
    Console(width=160).print(table)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    leagues = commands.add_parser("leagues", help="the league registry and the data held of each")
    leagues.add_argument("--json", action="store_true", help="print JSON instead of a table")
    leagues.set_defaults(func=command_leagues)
