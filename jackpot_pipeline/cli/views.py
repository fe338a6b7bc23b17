"""``jackpot report`` and ``jackpot status``: read-only views of the warehouse."""

from __future__ import annotations

import argparse

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.settings import Settings


def command_report(args: argparse.Namespace) -> int:
    """Every set, pooled and per league, against the decision-time and the closing market
    (paired differences with 95 % block-bootstrap intervals), from the stored rows."""
    import json

    import duckdb

    from jackpot_pipeline.services.report import comparison, comparison_text

    path = Settings.from_env().warehouse_path
    if not path.exists():
        _echo(f"No warehouse at {path}: run `jackpot run` first.")
        return 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        report = comparison(con)
    finally:
        con.close()
    _echo(json.dumps(report, indent=2) if args.json else comparison_text(report))
    return 0 if report["pooled"] is not None else 1


def command_status(args: argparse.Namespace) -> int:
    """Last fetch, quota and counts per sport of the odds collection."""
    from jackpot_pipeline.services.status import status_text

    _echo(status_text(Settings.from_env().warehouse_path))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="every set vs the decision-time and closing markets, with intervals"
    )
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.set_defaults(func=command_report)
    status = commands.add_parser("status", help="odds collection: last fetch, quota, counts")
    status.set_defaults(func=command_status)
