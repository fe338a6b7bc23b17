"""The ``jackpot`` command: run the pipeline, predict and explain coupons, read the warehouse.

One module per group of commands, each with ``register(commands)``. Every command runs through
:func:`main`: usage errors are one line and exit 2, expected failures one line and exit 1, an
unexpected error is logged to a file that the one line names (:mod:`cli.errors`); ``--json``
puts one JSON document on stdout and everything else on stderr (:mod:`cli.render`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from jackpot_pipeline.cli import backtest, errors, explain, leagues, predict, render, run, views
from jackpot_pipeline.cli.options import OneLineParser

#: One module per group of commands; each registers its sub-commands.
COMMAND_MODULES = (run, predict, explain, views, leagues, backtest)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="jackpot",
        description="Calibrated football match probabilities (estimates, not betting advice).",
        epilog="examples:\n  jackpot run\n  jackpot predict data/jackpots/examples/"
        "2025-04-12_football-data-names.csv\n  jackpot explain COUPON --fixture 3\n"
        "  jackpot COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command and return its exit status (0 ok, 1 failure, 2 usage)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error, already printed (2)
        return stop.code if isinstance(stop.code, int) else errors.EXIT_USAGE
    as_json = bool(getattr(args, "json", False))
    _log_warnings_to_stderr()
    # Dagster's notices that an API we use is beta/preview say nothing to a CLI user.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")

    def on_error(line: str, code: int, log_file: Path | None) -> None:
        render.error_line(f"jackpot {args.command}", line)
        if as_json:
            render.emit_json({"error": {"message": line, "exit_code": code, "log_file": log_file}})

    with render.json_mode(as_json):
        return errors.run_guarded(args.func, args, on_error, expected=_expected_errors())


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures that need no traceback: their message says what to do."""
    from jackpot_pipeline.services.jackpot_model import JackpotError
    from jackpot_pipeline.services.warehouse import WarehouseLockedError

    return (WarehouseLockedError, JackpotError)


def _log_warnings_to_stderr() -> None:
    """The project's warnings (e.g. waiting for a locked warehouse) as ``jackpot: …`` lines."""
    logger = logging.getLogger("jackpot_pipeline")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("jackpot: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
