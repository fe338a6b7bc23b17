"""Arguments of the ``jackpot`` commands: a parser whose errors are one line, checked option
types (league, season, budget, input file), ``--json`` and sub-commands with an example.

League and season values are checked against ``defs.partitions.LEAGUE_CODES`` / ``SEASONS``
(read when an option is given, so they follow the registry and the clock)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from jackpot_pipeline.cli.errors import EXIT_USAGE

Command = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------- argument types


def league_code(value: str) -> str:
    """A known league code (upper-cased); the valid ones are listed otherwise."""
    from jackpot_pipeline.defs import partitions

    code = value.strip().upper()
    if code not in partitions.LEAGUE_CODES:
        raise argparse.ArgumentTypeError(
            f"unknown league {value!r}; valid: {', '.join(partitions.LEAGUE_CODES)}"
        )
    return code


def season_label(value: str) -> str:
    """A known season label such as 2023-24; the valid range is named otherwise."""
    from jackpot_pipeline.defs import partitions

    season = value.strip()
    if season not in partitions.SEASONS:
        seasons = partitions.SEASONS
        raise argparse.ArgumentTypeError(
            f"unknown season {value!r}; valid: {seasons[0]} … {seasons[-1]} "
            f"(written like {seasons[-1]})"
        )
    return season


def positive_int(value: str) -> int:
    """An integer ≥ 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def input_file(value: str) -> Path:
    """An existing, readable regular file."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a directory, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value} is not a regular file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{value} is not readable (permissions)")
    return path


# ------------------------------------------------------------------------------- parsers


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    func: Command,
    help: str,
    examples: str,
    *,
    json: bool = False,
) -> argparse.ArgumentParser:
    """A sub-command with ``help`` as description, ``examples`` (one per line, each with its
    comment) in its ``--help``, and ``--json`` when it can print a JSON document."""
    parser = commands.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if json:
        add_json_option(parser)
    parser.set_defaults(func=func)
    return parser


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: one JSON document on stdout and nothing else (see render.json_mode)."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout, nothing else"
    )
