"""``jackpot report`` and ``jackpot status [--json]``: read-only views of the warehouse."""

from __future__ import annotations

import argparse
import json

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.settings import Settings


def command_report(args: argparse.Namespace) -> int:
    """The pooled validation summary: every set against the market and a base rate."""
    from jackpot_pipeline.services.report import report_text

    _echo(report_text(Settings.from_env().warehouse_path))
    return 0


def command_status(args: argparse.Namespace) -> int:
    """Current season, freshness of each enabled league's history, and the odds collection."""
    from jackpot_pipeline.services.status import render_status, status_data

    data = status_data(Settings.from_env().warehouse_path)
    _echo(json.dumps(data, indent=2) if args.json else render_status(data))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="pooled validation summary of every set")
    report.set_defaults(func=command_report)
    status = commands.add_parser(
        "status", help="current season, latest result per league, odds collection"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    status.set_defaults(func=command_status)
