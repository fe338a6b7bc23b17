"""``jackpot report`` and ``jackpot status [--json]``: read-only views of the warehouse."""

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
jackpot status                     # current season, latest result per league, odds quota
jackpot status --json | jq '.current_season, .odds.quota_remaining'
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
    """Current season, freshness of each enabled league's history, and the odds collection."""
    from jackpot_pipeline.services.status import status_data
    from jackpot_pipeline.settings import Settings

    settings = Settings.from_env()
    data = status_data(settings.warehouse_path, settings)
    if args.json:
        render.emit_json(data)
        return 0
    out = render.console()
    if not data["warehouse_exists"]:
        out.print(render.marker(render.WARN, "no warehouse yet: run `jackpot run` first"))
    out.print(
        f"Today {data['today']} · current season {data['current_season']} · history stale "
        f"after {data['stale_after_days']} days"
    )
    out.print(_freshness_table(data["leagues"], out.is_terminal))
    odds = data["odds"]
    if odds["quota_remaining"] is None:
        out.print(render.marker(render.WARN, "quota remaining: unknown (no fetch logged)"))
    else:
        out.print(
            f"Quota remaining: {odds['quota_remaining']} credits (read "
            f"{render.short_kickoff(odds['quota_read_at'])} UTC)"
        )
    if not odds["sports"]:
        out.print("No odds fetched yet.")
        return 0
    out.print(_status_table(odds["sports"], out.is_terminal))
    out.print(
        f"Total: {sum(r['snapshots'] for r in odds['sports']):,} snapshots, "
        f"{sum(r['odds_rows'] for r in odds['sports']):,} odds rows, "
        f"{sum(sum(r['events'].values()) for r in odds['sports']):,} events"
    )
    return 0


def _freshness_table(leagues: list[dict[str, Any]], terminal: bool) -> Table:
    grid = render.table(
        "league", "latest result", ("age (days)", "right"), "current season", terminal=terminal
    )
    for row in leagues:
        age = "-" if row["age_days"] is None else str(row["age_days"])
        flag = render.marker(render.WARN, "stale") if row["stale"] else ""
        has = "data" if row["current_season_has_data"] else "no data yet"
        grid.add_row(row["league"], row["latest_result"] or "-", age, f"{has} {flag}".strip())
    return grid


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
        "current season, latest result per league, odds collection",
        STATUS_EXAMPLES,
        json=True,
    )
