"""Terminal output of the ``jackpot`` command, with ``rich``: tables, markers, progress, JSON.

On a terminal: colours, ✓ ✗ ⚠ markers, progress bars with an ETA. Piped or redirected: the same
tables as plain text (no colour codes, ASCII rules, no live bars — one line per step), at the
width in ``COLUMNS`` (default 100). Every table is laid out to fit 100 columns: short kickoffs
(``Sat 14 Mar 15:00``), probabilities as whole percentages, flags as two-letter codes with a
legend (:func:`flag_codes`, :func:`flag_legend`).

``--json``: inside :func:`json_mode` anything printed goes to stderr, and :func:`emit_json`
writes the one JSON document to the real stdout.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date, datetime
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

DEFAULT_WIDTH = 100
OK, FAIL, WARN = "✓", "✗", "⚠"
MARKER_STYLES = {OK: "green", FAIL: "red", WARN: "yellow"}

#: A header rule of dashes and nothing else: tables read as plain text when piped.
PLAIN_BOX = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)

#: Two-letter codes of the fixture flags stored by the jackpot path (others: their initials).
FLAG_CODES: dict[str, str] = {
    "uncalibrated": "UC",
    "default_set_params": "DP",
    "no_market_odds": "NM",
    "market_from_odds_snapshot": "MS",
    "league_inferred": "LI",
    "date_only_kickoff": "DO",
    "home_team_unseen": "HU",
    "away_team_unseen": "AU",
    "home_team_new_to_league": "HN",
    "away_team_new_to_league": "AN",
    "not_converged": "NC",
    "thin_history": "TH",
}


# ------------------------------------------------------------------------------ console


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr): the terminal's width on a terminal, ``COLUMNS``
    (default 100) otherwise; colour only on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = is_terminal(stream)
    width = None if terminal else _env_width()
    return Console(
        file=stream,
        width=width,
        force_terminal=terminal,
        no_color=not terminal,
        highlight=False,
        markup=False,  # names and values are printed as written, never read as [markup]
        emoji=False,
        soft_wrap=False,
    )


def _env_width() -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", DEFAULT_WIDTH)))
    except ValueError:
        return DEFAULT_WIDTH


def table(
    *columns: str | tuple[str, str], title: str | None = None, terminal: bool = True
) -> Table:
    """A compact table; a column is a header or (header, justify)."""
    grid = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD if terminal else PLAIN_BOX,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        show_edge=False,
        header_style="bold" if terminal else "",
        title_style="bold" if terminal else "",
    )
    for column in columns:
        header, justify = (column, "left") if isinstance(column, str) else column
        grid.add_column(header, justify=justify, overflow="ellipsis")  # type: ignore[arg-type]
    return grid


def marker(symbol: str, text: str = "") -> Text:
    """A ✓ ✗ ⚠ marker (coloured on a terminal) followed by ``text``."""
    line = Text(symbol, style=MARKER_STYLES.get(symbol, ""))
    if text:
        line.append(f" {text}")
    return line


def error_line(prog: str, message: str) -> None:
    """One line on stderr: ``jackpot predict: error: …`` (after a ✗ on a terminal)."""
    out = console(stderr=True)
    line = f"{prog}: error: {message}"
    out.print(marker(FAIL, line) if out.is_terminal else line, soft_wrap=True)


# ------------------------------------------------------------------------------ formats


def percent(p: float | None, digits: int = 0) -> str:
    """0.4567 → '46%' (``digits`` decimals); missing → '-'."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return f"{100 * p:.{digits}f}%"


def short_kickoff(value: str | datetime | date | None) -> str:
    """'2025-03-14T15:00:00+00:00' → 'Fri 14 Mar 15:00'; a bare date → 'Fri 14 Mar'."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return f"{value:%a %d %b %H:%M}"
    return f"{value:%a %d %b}"


def flag_code(flag: str) -> str:
    """The two-letter code of a flag (initials of its words for one not listed)."""
    return FLAG_CODES.get(flag) or "".join(word[0] for word in flag.split("_")).upper()[:3]


def flag_codes(flags: Iterable[str]) -> str:
    """'UC DP' for ['uncalibrated', 'default_set_params']."""
    return " ".join(flag_code(flag) for flag in flags)


def flag_legend(flags: Iterable[str]) -> str:
    """'Flags: DP default set params · UC uncalibrated' for the flags that occur."""
    used = sorted(set(flags), key=flag_code)
    if not used:
        return ""
    return "Flags: " + " · ".join(f"{flag_code(f)} {f.replace('_', ' ')}" for f in used)


def name_match_text(match: dict[str, Any]) -> str:
    """ "away name 'Man Untied' matched approximately to Man United (eng-man-united, score
    0.90)" for a stored fuzzy name match."""
    return (
        f"{match['side']} name {match['written']!r} matched approximately to "
        f"{match['matched']} ({match['team_id']}, score {match['score']:.2f})"
    )


# ------------------------------------------------------------------------------ progress


class StepProgress:
    """Steps of known number: a live bar with ETA on a terminal, one line per step otherwise."""

    def __init__(self, progress: Progress | None, task: int | None, out: Console) -> None:
        self._progress, self._task, self._out = progress, task, out

    def advance(self, line: str | Text = "") -> None:
        """One step done; ``line`` (if any) is printed above the bar."""
        if line:
            target = self._progress.console if self._progress else self._out
            target.print(line, markup=False, highlight=False)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def add_total(self, steps: int) -> None:
        """More steps than announced (the total grows)."""
        if self._progress is not None and self._task is not None:
            total = self._progress.tasks[self._task].total or 0
            self._progress.update(self._task, total=total + steps)


@contextmanager
def progress(total: int, description: str, out: Console | None = None) -> Iterator[StepProgress]:
    """``with progress(n, 'ingestion') as bar: … bar.advance('line')`` (see StepProgress)."""
    out = out or console()
    if not out.is_terminal:
        yield StepProgress(None, None, out)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out, transient=True) as bar:
        yield StepProgress(bar, bar.add_task(description, total=total), out)


# ---------------------------------------------------------------------------------- JSON

_json_streams: list[IO[str]] = []


@contextmanager
def json_mode(enabled: bool = True) -> Iterator[None]:
    """While enabled, ``print`` and consoles on stdout write to stderr; :func:`emit_json`
    writes to the real stdout — so stdout carries the one JSON document and nothing else."""
    if not enabled:
        yield
        return
    _json_streams.append(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _json_streams.pop()


def emit_json(document: Any) -> None:
    """Write one JSON document (indented, UTF-8, NaN as null) to stdout."""
    stream = _json_streams[-1] if _json_streams else sys.stdout
    stream.write(json.dumps(jsonable(document), indent=2, ensure_ascii=False) + "\n")
    stream.flush()


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: numpy and pandas scalars as Python, dates ISO, NaN as None."""
    import numpy as np  # not at import: `jackpot --help` stays fast
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return [jsonable(row) for row in value.to_dict(orient="records")]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
