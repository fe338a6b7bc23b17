"""Misuse and failures of the ``jackpot`` command: one clear line and an exit code, never a
traceback for an expected error.

* usage errors (bad option values, unknown league or season, a missing coupon file) exit 2
  with ``jackpot <command>: error: …`` (:mod:`cli.options`: the parser and argument types);
* expected failures (:class:`CliError`, a warehouse locked past the timeout, a coupon that
  cannot be predicted) exit 1 with one line;
* anything else is unexpected: its traceback goes to ``<data_dir>/logs/jackpot-<UTC time>.log``
  and the one line names that file.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from jackpot_pipeline.settings import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOG_DIR_NAME = "logs"


class CliError(Exception):
    """An expected failure: its message is the one line shown, ``exit_code`` the status."""

    exit_code = EXIT_FAILURE


class UsageError(CliError):
    """The command was called wrongly (exit 2)."""

    exit_code = EXIT_USAGE


# ------------------------------------------------------------------------------- execution


def run_guarded(
    command: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    on_error: Callable[[str, int, Path | None], None],
    expected: Sequence[type[BaseException]] = (),
) -> int:
    """``command(args)``; an error becomes ``on_error(line, exit code, log file or None)``
    and that exit code. ``expected`` exception types are reported by their message alone."""
    try:
        return int(command(args))
    except CliError as error:
        on_error(str(error), error.exit_code, None)
        return error.exit_code
    except KeyboardInterrupt:
        on_error("interrupted", EXIT_INTERRUPTED, None)
        return EXIT_INTERRUPTED
    except tuple(expected) as error:
        on_error(str(error), EXIT_FAILURE, None)
        return EXIT_FAILURE
    except Exception as error:  # the one place unexpected errors are caught
        path = write_crash_log(args, error)
        on_error(
            f"unexpected error {type(error).__name__}: {error} (details in {path})",
            EXIT_FAILURE,
            path,
        )
        return EXIT_FAILURE


def write_crash_log(
    args: argparse.Namespace, error: BaseException, now: datetime | None = None
) -> Path:
    """Write the command line and the traceback to ``<data_dir>/logs/jackpot-<time>.log``."""
    now = now or datetime.now(UTC)
    folder = Settings.from_env().data_dir / LOG_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"jackpot-{now:%Y%m%dT%H%M%S.%fZ}.log"
    lines = [
        f"time: {now.isoformat()}",
        f"argv: {' '.join(sys.argv)}",
        f"command: {vars(args).get('command')}",
        "",
        *traceback.format_exception(error),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
