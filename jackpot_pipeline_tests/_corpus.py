"""Shared helpers for the football-data parser, ingestion and asset tests.

The shipped football-data.co.uk files (``data/football-data/<SEASON>/<DIV>.csv``) are only
ever read; broken variants are built in memory from their real bytes. Nothing here writes
into the repository's ``data/`` folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from jackpot_pipeline.services.ingestion import IngestRequest
from jackpot_pipeline.settings import DATA_DIR

FOOTBALL_DATA_DIR = DATA_DIR / "football-data"
MANIFEST_PATH = FOOTBALL_DATA_DIR / "MANIFEST.csv"
BOM = b"\xef\xbb\xbf"
#: Fixed clock for ingestion requests (after every shipped 2023-24 match).
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TODAY: date = NOW.date()
#: The file most broken variants are built from: Premier League 2023-24 (380 matches, CRLF).
BASE_CODE, BASE_LEAGUE, BASE_SEASON = "2324", "E0", "2023-24"


@dataclass(frozen=True)
class ManifestRow:
    """One shipped file as listed in MANIFEST.csv."""

    code: str  # football-data folder name, e.g. "2324"
    league: str
    rows: int
    sha256: str

    @property
    def season(self) -> str:
        return season_of(self.code)

    @property
    def path(self) -> Path:
        return FOOTBALL_DATA_DIR / self.code / f"{self.league}.csv"


def season_of(code: str) -> str:
    """'2324' → '2023-24'."""
    return f"20{code[:2]}-{code[2:]}"


def load_manifest() -> tuple[ManifestRow, ...]:
    with MANIFEST_PATH.open(newline="") as handle:
        return tuple(
            ManifestRow(r["season"], r["div"], int(r["rows"]), r["sha256"])
            for r in csv.DictReader(handle)
        )


MANIFEST: tuple[ManifestRow, ...] = load_manifest()


def manifest_row(code: str, league: str) -> ManifestRow:
    return next(r for r in MANIFEST if r.code == code and r.league == league)


def real_bytes(code: str = BASE_CODE, league: str = BASE_LEAGUE) -> bytes:
    return (FOOTBALL_DATA_DIR / code / f"{league}.csv").read_bytes()


def csv_records(code: str, league: str) -> list[dict[str, str]]:
    """The file's rows read independently of the parser (csv module, BOM stripped)."""
    text = real_bytes(code, league).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Byte-level edits of a real file. The shipped files contain no quoted fields, so a line is
# its cells joined by commas; line endings and the BOM are kept as they are.
# ---------------------------------------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _split_eol(line: bytes) -> tuple[bytes, bytes]:
    body = line.rstrip(b"\r\n")
    return body, line[len(body) :]


def header_of(data: bytes) -> list[str]:
    body, _ = _split_eol(_lines(data)[0])
    return body.removeprefix(BOM).decode("ascii").split(",")


def cell(data: bytes, row: int, column: str) -> bytes:
    """Cell ``column`` of data row ``row`` (0 = first match row)."""
    body, _ = _split_eol(_lines(data)[row + 1])
    return body.split(b",")[header_of(data).index(column)]


def set_cell(data: bytes, row: int, column: str, value: bytes) -> bytes:
    """``data`` with cell ``column`` of data row ``row`` (0 = first match row) replaced."""
    lines = _lines(data)
    body, eol = _split_eol(lines[row + 1])
    cells = body.split(b",")
    cells[header_of(data).index(column)] = value
    lines[row + 1] = b",".join(cells) + eol
    return b"".join(lines)


def rename_column(data: bytes, old: str, new: str) -> bytes:
    lines = _lines(data)
    body, eol = _split_eol(lines[0])
    cells = body.split(b",")
    cells[cells.index(old.encode())] = new.encode()
    lines[0] = b",".join(cells) + eol
    return b"".join(lines)


def duplicate_row(data: bytes, row: int) -> bytes:
    """``data`` with data row ``row`` repeated at the end of the file."""
    lines = _lines(data)
    return b"".join([*lines, lines[row + 1]])


def append_blank_rows(data: bytes, count: int) -> bytes:
    """``data`` followed by ``count`` rows made only of commas (as some real files have)."""
    _, eol = _split_eol(_lines(data)[0])
    blank = b"," * (len(header_of(data)) - 1) + eol
    return data + blank * count


def header_only(data: bytes) -> bytes:
    return _lines(data)[0]


def truncate_mid_row(data: bytes, row: int) -> bytes:
    """``data`` cut in the middle of data row ``row`` (as an interrupted download would)."""
    lines = _lines(data)
    head = b"".join(lines[: row + 1])
    return head + lines[row + 1][: len(lines[row + 1]) // 2]


# ---------------------------------------------------------------------------------------------
# The broken-file corpus, built from the real bytes of 2023-24 E0.
# ---------------------------------------------------------------------------------------------

#: Data rows edited by the row-level cases (0-based; source_row = index + 2).
GOALS_ROW, DUPLICATE_ROW, DATE_ROW, LATIN1_ROW = 17, 42, 99, 5


@dataclass(frozen=True)
class BrokenCase:
    """A broken variant of a real file and what must happen to it.

    ``unusable`` cases must raise FootballDataError whose message contains ``message``;
    row-level cases parse to ``matches`` matches.
    """

    name: str
    data: bytes
    unusable: bool
    message: str = ""
    matches: int = 0


def broken_corpus() -> dict[str, BrokenCase]:
    base = real_bytes()
    n = manifest_row(BASE_CODE, BASE_LEAGUE).rows
    team = cell(base, LATIN1_ROW, "HomeTeam")
    # "Sheffield United" → "Sh\xe9ffield United": é in latin-1, invalid UTF-8; same team id.
    latin1_team = team.replace(b"e", b"\xe9", 1)
    cases = [
        BrokenCase("truncated", truncate_mid_row(base, 200), True, "truncated"),
        BrokenCase("wrong_header", rename_column(base, "FTHG", "HomeGoals"), True, "FTHG"),
        BrokenCase("empty", b"", True, "empty"),
        BrokenCase("header_only", header_only(base), True, "empty"),
        BrokenCase("text_goals", set_cell(base, GOALS_ROW, "FTHG", b"two"), False, matches=n),
        BrokenCase("duplicate_row", duplicate_row(base, DUPLICATE_ROW), False, matches=n + 1),
        BrokenCase("blank_rows", append_blank_rows(base, 3), False, matches=n),
        BrokenCase("latin1", set_cell(base, LATIN1_ROW, "HomeTeam", latin1_team), False, matches=n),
        BrokenCase(
            "bad_date", set_cell(base, DATE_ROW, "Date", b"2023-08-11"), False, matches=n - 1
        ),
    ]
    return {case.name: case for case in cases}


# ---------------------------------------------------------------------------------------------
# Warehouse and raw-store snapshots.
# ---------------------------------------------------------------------------------------------


def make_request(
    data: bytes,
    raw_dir: Path,
    league: str = BASE_LEAGUE,
    season: str = BASE_SEASON,
    strict: bool = True,
    margin_method: str = "shin",
    allow_shrink: bool = False,
) -> IngestRequest:
    return IngestRequest(
        league=league,
        season=season,
        uri=f"test://{league}/{season}",
        data=data,
        raw_dir=raw_dir,
        strict=strict,
        margin_method=margin_method,
        today=TODAY,
        now=NOW,
        allow_shrink=allow_shrink,
    )


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def dump_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every table's full content, rows sorted: equal dumps mean equal warehouses."""
    return {
        table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        for table in table_names(con)
    }


def dump_warehouse(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dump_tables(con)
    finally:
        con.close()


def snapshot_dir(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """relative path → (mtime_ns, size, mode, sha256) of every file below ``root``."""
    out: dict[str, tuple[int, int, int, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (
                st.st_mtime_ns,
                st.st_size,
                st.st_mode,
                sha256(path.read_bytes()),
            )
    return out


def copy_state(src: Path, dst: Path) -> None:
    """Copy a warehouse + raw-store folder (closed warehouse) to ``dst``, keeping modes."""
    shutil.copytree(src, dst)


@dataclass
class TmpWarehouse:
    """A temporary warehouse file and raw folder under ``root``, with read-only queries."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "w.duckdb"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        """All rows of a query on a short-lived read-only connection."""
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame, on a short-lived read-only connection."""
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).df()


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Fail (TimeoutError) if the block runs longer than ``seconds``: no case may hang."""

    def expire(signum, frame):
        raise TimeoutError(f"case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
