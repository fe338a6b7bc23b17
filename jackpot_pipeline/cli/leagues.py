"""``jackpot leagues [--json]``: the league registry with what the warehouse holds of each."""

from __future__ import annotations

import argparse

from jackpot_pipeline.cli import render
from jackpot_pipeline.cli.options import add_command
from jackpot_pipeline.settings import Settings

EXAMPLES = """
jackpot leagues                     # every registry league, enabled or not, and its data
jackpot leagues --json | jq '.[] | select(.enabled).code'
"""


def command_leagues(args: argparse.Namespace) -> int:
    """Every registry league: enabled, seasons with data, matches, latest result (the sport
    key and the rest in ``--json``)."""
    from jackpot_pipeline.core.teams import REGISTRY
    from jackpot_pipeline.services.status import league_rows, reading, seasons_span

    with reading(Settings.from_env().warehouse_path) as con:
        rows = league_rows(con, REGISTRY)
    if args.json:
        render.emit_json(rows)
        return 0
    out = render.console()
    grid = render.table(
        "code",
        "name",
        "country",
        ("tier", "right"),
        "on",
        "seasons with data",
        ("matches", "right"),
        "latest",
        title="Leagues (data/leagues.csv)",
        terminal=out.is_terminal,
    )
    for row in rows:
        grid.add_row(
            row["code"],
            row["name"],
            row["country"],
            str(row["tier"]),
            "✓" if row["enabled"] else "-",
            seasons_span(row["seasons_with_data"]),
            f"{row['matches']:,}",
            row["latest_result"] or "-",
        )
    out.print(grid)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    add_command(
        commands,
        "leagues",
        command_leagues,
        "the league registry and the data held of each",
        EXAMPLES,
        json=True,
    )
