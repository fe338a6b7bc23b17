"""The ``jackpot`` command: run the pipeline on the embedded defaults, open the UI, report.

``jackpot run`` materializes every asset for every partition that has data, on a local
Dagster instance (SQLite storage in ``.dagster_home/``, prepared here) and the DuckDB
warehouse, printing progress per partition and a summary at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jackpot_pipeline.cli import backtest, predict, run, views

#: One module per group of commands; each registers its sub-commands.
COMMAND_MODULES = (run, predict, views, backtest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jackpot",
        description="Calibrated football match probabilities (estimates, not betting advice).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
