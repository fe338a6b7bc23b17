"""``jackpot report`` and ``jackpot status``: read-only views of the warehouse."""

from __future__ import annotations

import argparse

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.settings import Settings


def command_report(args: argparse.Namespace) -> int:
    """The pooled validation summary: every set against the market and a base rate."""
    from jackpot_pipeline.services.report import report_text

    _echo(report_text(Settings.from_env().warehouse_path))
    return 0


def command_status(args: argparse.Namespace) -> int:
    """Last fetch, quota and counts per sport of the odds collection."""
    from jackpot_pipeline.services.status import status_text

    _echo(status_text(Settings.from_env().warehouse_path))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="pooled validation summary of every set")
    report.set_defaults(func=command_report)
    status = commands.add_parser("status", help="odds collection: last fetch, quota, counts")
    status.set_defaults(func=command_status)
