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
    """Every set, pooled and per league, against the decision-time and the closing market
    (paired differences with 95 % block-bootstrap intervals, from the stored rows), then the
    stored pooled validation summary (by season, by league, design choices)."""
    from jackpot_pipeline.services.report import comparison, pooled_report

    with read_warehouse() as con:
        compared = comparison(con)
        report = pooled_report(con)
    if compared["pooled"] is None and report is None:
        raise CliError(
            "no pooled validation results yet: run `jackpot run` (asset validation_report_pooled)"
        )
    if args.json:
        validation = None if report is None else _report_document(report)
        render.emit_json({**compared, "validation": validation})
        return 0
    out = render.console()
    if compared["pooled"] is not None:
        print_comparison(compared, out)
    if report is not None:
        print_report(report, out)
    return 0


def print_comparison(compared: dict[str, Any], out: Console) -> None:
    """Pooled metrics of every forecast, the paired RPS differences against both markets with
    their intervals, the same per league, and the protocol."""
    import pandas as pd

    from jackpot_pipeline.services.report import comparison_table

    terminal = out.is_terminal
    out.print(
        f"Out of sample {compared['window']}, {compared['n']:,} matches pooled over "
        f"{len(compared['leagues'])} leagues; Δ = set − market, 95 % week-block bootstrap",
        overflow="fold",
    )
    table = comparison_table(compared["pooled"])
    metrics = [c for c in table.columns if not c.startswith("Δ")]
    out.print(
        _frame_table(
            table[metrics].apply(pd.to_numeric, errors="coerce"),
            "forecast",
            [METRIC_HEADERS.get(c, c) for c in metrics],
            terminal,
        )
    )
    out.print(_difference_table(table, "forecast", terminal, title="ΔRPS pooled"))
    subsets = {"newcomer": "a promoted or new club", "well_known": "well-known teams"}
    for key, sample in compared.get("subsets", {}).items():
        title = f"ΔRPS pooled, {subsets.get(key, key)} ({sample['n']:,} matches)"
        out.print(_difference_table(comparison_table(sample), "forecast", terminal, title=title))
    for league, sample in compared["leagues"].items():
        title = f"ΔRPS {league} ({sample['n']:,} matches)"
        out.print(_difference_table(comparison_table(sample), "forecast", terminal, title=title))
    out.print(compared["note"], overflow="fold")
    out.print(compared["protocol"], overflow="fold")
    out.print()


def _difference_table(table: pd.DataFrame, index: str, terminal: bool, title: str) -> Table:
    """RPS differences against the decision-time and the closing market, with intervals."""
    grid = render.table(
        index, "vs decision-time market", "vs closing market", title=title, terminal=terminal
    )
    for label, row in table.iterrows():
        if row.get("Δrps_dec") or row.get("Δrps_close"):
            grid.add_row(str(label), row["Δrps_dec"] or "-", row["Δrps_close"] or "-")
    return grid


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
        "every set vs the decision-time and closing markets, with intervals",
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
