"""``jackpot report`` and ``jackpot status``: read-only views of the warehouse."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from jackpot_pipeline.cli import render
from jackpot_pipeline.cli.errors import CliError
from jackpot_pipeline.cli.options import add_command
from jackpot_pipeline.cli.reading import read_warehouse

if TYPE_CHECKING:
    import pandas as pd

REPORT_EXAMPLES = """
jackpot report           # tables of every set against the closing market and a base rate
jackpot report --json    # the same figures as one JSON document
"""
STATUS_EXAMPLES = """
jackpot status                              # quota, last fetch and row counts per sport
jackpot status --json | jq '.quota'
"""
METRIC_HEADERS = {
    "n": "n",
    "rps": "RPS",
    "rps_vs_market_%": "vs mkt",
    "log_loss": "log loss",
    "brier": "Brier",
    "accuracy": "acc",
    "ece_home": "ECE 1",
    "ece_draw": "ECE X",
    "ece_away": "ECE 2",
}
SHORT_FORECASTS = {"dixon_coles_uncalibrated": "DC raw", "market": "market", "base_rate": "base"}


# ---------------------------------------------------------------------------------- report


def command_report(args: argparse.Namespace) -> int:
    """The pooled validation summary: every set against the market and a base rate."""
    from jackpot_pipeline.services.report import pooled_report

    with read_warehouse() as con:
        report = pooled_report(con)
    if report is None:
        raise CliError(
            "no pooled validation results yet: run `jackpot run` (asset validation_report_pooled)"
        )
    if args.json:
        render.emit_json(_report_document(report))
    else:
        print_report(report, render.console())
    return 0


def _report_document(report: dict[str, Any]) -> dict[str, Any]:
    def records(frame: pd.DataFrame, index: str) -> list[dict[str, Any]]:
        return render.jsonable(frame.rename_axis(index).reset_index())

    return {
        "window": report["window"],
        "leagues": report["leagues"],
        "n": report["n"],
        "metrics": records(report["table"], "forecast"),
        "best": report["best"],
        "targets": report["targets"],
        "rps_by_season": records(report["by_season"], "season"),
        "rps_by_league": records(report["by_league"], "league"),
        "design_choices": render.jsonable(report["choices"]),
        "design_choice_lines": report["choice_lines"],
    }


def print_report(report: dict[str, Any], out: Console) -> None:
    """Metrics of every forecast, the targets (✓/✗), RPS by season and league, design choices."""
    from jackpot_pipeline.services.report import choice_summary

    terminal = out.is_terminal
    out.print(
        f"Walk-forward validation {report['window']}, pooled over {report['leagues']} leagues, "
        f"{report['n']:,} matches (out of sample; lower is better except accuracy)",
        overflow="fold",
    )
    table = report["table"]
    out.print(_frame_table(table, "forecast", [METRIC_HEADERS[c] for c in table], terminal))
    for line in report["best"]:
        out.print(line, overflow="fold")
    for line in report["targets"]:
        symbol = render.FAIL if "NOT met" in line else render.OK
        out.print(render.marker(symbol, line), overflow="fold")
    out.print()
    for key, title in (("by_season", "season"), ("by_league", "league")):
        frame = report[key]
        headers = [SHORT_FORECASTS.get(c, c) for c in frame.columns]
        out.print(_frame_table(frame, title, headers, terminal, title=f"RPS by {title}"))
    out.print(choice_summary(), overflow="fold")
    for line in report["choice_lines"]:
        out.print(f"- {line}", overflow="fold")


def _frame_table(
    frame: pd.DataFrame,
    index: str,
    headers: Sequence[str],
    terminal: bool,
    title: str | None = None,
    digits: int = 4,
) -> Table:
    """A numeric frame as a table: counts with separators, % signed, others ``digits``."""
    from jackpot_pipeline.services.report import formatted

    grid = render.table(index, *((h, "right") for h in headers), title=title, terminal=terminal)
    for label, row in formatted(frame, digits).iterrows():
        grid.add_row(str(label), *(str(v) for v in row))
    return grid


# ---------------------------------------------------------------------------------- status


def command_status(args: argparse.Namespace) -> int:
    """Last fetch, quota and counts per sport of the odds collection."""
    from jackpot_pipeline.services.status import odds_status

    with read_warehouse() as con:
        status = odds_status(con)
    if args.json:
        render.emit_json(status)
        return 0
    out = render.console()
    if status["missing_tables"]:
        out.print(f"No odds collected yet (no tables {', '.join(status['missing_tables'])}).")
        return 0
    quota = status["quota"]
    if quota is None:
        out.print(render.marker(render.WARN, "quota remaining: unknown (no fetch logged)"))
    else:
        out.print(
            f"Quota remaining: {quota['remaining']} credits (read "
            f"{render.short_kickoff(quota['read_at'])} UTC)"
        )
    if not status["sports"]:
        out.print("Nothing fetched yet.")
        return 0
    out.print(_status_table(status["sports"], out.is_terminal))
    totals = status["totals"]
    out.print(
        f"Total: {totals['snapshots']:,} snapshots, {totals['odds_rows']:,} odds rows, "
        f"{totals['events']:,} events"
    )
    return 0


def _status_table(sports: list[dict[str, Any]], terminal: bool) -> Table:
    grid = render.table(
        "sport",
        "last fetch UTC",
        "tier",
        ("fetches", "right"),
        ("cost", "right"),
        ("snapshots", "right"),
        ("odds rows", "right"),
        "events",
        terminal=terminal,
    )
    for sport in sports:
        events = ", ".join(f"{s} {n}" for s, n in sport["events"].items()) or "-"
        grid.add_row(
            sport["sport"].removeprefix("soccer_"),
            render.short_kickoff(sport["last_fetch"]) if sport["last_fetch"] else "-",
            sport["tier"] or "-",
            f"{sport['fetches']:,}",
            f"{sport['cost']:,}",
            f"{sport['snapshots']:,}",
            f"{sport['odds_rows']:,}",
            events,
        )
    return grid


def register(commands: argparse._SubParsersAction) -> None:
    add_command(
        commands,
        "report",
        command_report,
        "walk-forward validation of every prediction set against the market",
        REPORT_EXAMPLES,
        json=True,
    )
    add_command(
        commands,
        "status",
        command_status,
        "odds collection: last fetch, API quota, counts per sport",
        STATUS_EXAMPLES,
        json=True,
    )
