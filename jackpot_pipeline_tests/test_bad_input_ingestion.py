"""Adversarial football-data files through ``ingest`` into a real DuckDB file.

Every case is built from the real bytes of a shipped file and fed to a warehouse that already
holds the real 2023-24 Premier League. Each must end, within ``BOUND_S`` seconds, either in a
clear ``FootballDataError`` (refused or unusable: the match tables unchanged, one
``ingestion_log`` row and one ``data_quality_log`` record) or in a load whose deviations are
``data_quality_log`` records, with no stored match lost. The restore case checks that a good
file put back after a bad one gives the partition exactly as before.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from jackpot_pipeline.core.football_data import FootballDataError
from jackpot_pipeline.services.partition_guard import PartitionRefusedError
from jackpot_pipeline_tests._corpus import (
    BASE_CODE,
    BASE_LEAGUE,
    BOM,
    DUPLICATE_ROW,
    copy_state,
    header_of,
    manifest_row,
    real_bytes,
    set_cell,
    sha256,
    time_bound,
)
from jackpot_pipeline_tests.test_ingestion import State

N = manifest_row(BASE_CODE, BASE_LEAGUE).rows  # 380
MATCH_TABLES = ("matches", "match_odds", "market_probabilities", "teams")
BOUND_S = 90.0  # per case, on a shared 2-core machine (GE checks dominate)
JUNK_BOUND_S = 20.0  # junk files are refused before the checks run


# ---------------------------------------------------------------------------------------------
# Generators (all from the real bytes; deterministic)
# ---------------------------------------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def first_rows(data: bytes, rows: int) -> bytes:
    """The header and the first ``rows`` data rows, cut at a line boundary."""
    return b"".join(_lines(data)[: rows + 1])


def some_iso_dates(data: bytes, count: int) -> bytes:
    """The first ``count`` rows' dates written yyyy-mm-dd (each row dropped as a bad date)."""
    out = data
    for row in range(count):
        d, m, y = _lines(data)[row + 1].split(b",")[1].decode().split("/")
        out = set_cell(out, row, "Date", f"{y}-{m}-{d}".encode())
    return out


def pseudo_random(size: int, seed: bytes = b"junk") -> bytes:
    """``size`` deterministic bytes that look random (SHA-256 in counter mode)."""
    blocks = (hashlib.sha256(seed + i.to_bytes(8, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def junk_rows(rows: int, teams: list[str] | None) -> bytes:
    """A header of the real file and ``rows`` well-formed match rows: random club names (or
    ``teams`` in rotation) on distinct dates of the 2023-24 season."""
    header = header_of(real_bytes())
    pad = b"," * (len(header) - 8)
    out = [",".join(header).encode() + b"\r\n"]
    for i in range(rows):
        day = 1 + i % 28
        month = (8, 9, 10, 11, 12, 1, 2, 3, 4)[(i // 28) % 9]
        year = 2023 if month >= 8 else 2024
        if teams is None:
            home, away = f"Club {2 * i}", f"Club {2 * i + 1}"
        else:
            home = teams[i % len(teams)]
            away = teams[(i // len(teams) + i + 1) % len(teams)]
            if away == home:
                away = teams[(teams.index(home) + 1) % len(teams)]
        out.append(f"E0,{day:02d}/{month:02d}/{year},15:00,{home},{away},1,0,H".encode())
        out.append(pad + b"\r\n")
    return b"".join(out)


def real_teams() -> list[str]:
    names = {line.split(b",")[3].decode() for line in _lines(real_bytes())[1:]}
    return sorted(names)


def replace_name(data: bytes, old: bytes, new: bytes) -> bytes:
    """Every cell ``old`` (a club name) replaced by ``new``."""
    return data.replace(b"," + old + b",", b"," + new + b",")


def stray_cr(data: bytes, row: int) -> bytes:
    """A carriage return inside data row ``row`` (inside the HomeTeam cell)."""
    lines = _lines(data)
    cells = lines[row + 1].split(b",")
    cells[3] = cells[3][:3] + b"\r" + cells[3][3:]
    lines[row + 1] = b",".join(cells)
    return b"".join(lines)


def duplicated_header(data: bytes, column: bytes) -> bytes:
    """The header with ``column`` written twice (the second replaces the next column)."""
    lines = _lines(data)
    cells = lines[0].split(b",")
    at = cells.index(column)
    cells[at + 3] = column
    lines[0] = b",".join(cells)
    return b"".join(lines)


def unterminated_quote(data: bytes, row: int) -> bytes:
    lines = _lines(data)
    lines[row + 1] = lines[row + 1].replace(b",", b',"', 1)
    return b"".join(lines)


def huge_field(data: bytes, row: int) -> bytes:
    return set_cell(data, row, "Referee", b"x" * 300_000)


def redated(data: bytes, row: int) -> bytes:
    """Data row ``row`` moved one day later (a postponed match re-dated): an update."""
    d, m, y = _lines(data)[row + 1].split(b",")[1].decode().split("/")
    return set_cell(data, row, "Date", f"{int(d) + 1:02d}/{m}/{y}".encode())


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An adversarial file and the expected end: ``error`` (a FootballDataError whose message
    matches ``message``, ``refused`` when refused for its partition) or ``loaded`` with the
    quality record ``record`` (issue type) logged."""

    name: str
    build: Callable[[], bytes]
    end: str  # "refused", "unusable" or "loaded"
    message: str = ""
    record: str = ""
    bound: float = BOUND_S


CASES = (
    Case(
        "previous_season_file",
        lambda: real_bytes("2223", "E0"),
        "refused",
        r"E0 2023-24: file .* refused: 380 of its 380 rows would not be stored .*380 outside "
        r"season \(dated 2022-08-05 … 2023-05-28",
    ),
    Case("other_league_file", lambda: real_bytes("2324", "E1"), "refused", r"552 wrong league"),
    Case("iso_dates", lambda: some_iso_dates(real_bytes(), N), "refused", r"380 bad date"),
    Case(
        "cut_at_line_boundary",
        lambda: first_rows(real_bytes(), N // 2),
        "refused",
        r"would delete 190 of the 380 stored matches",
    ),
    Case("few_iso_dates", lambda: some_iso_dates(real_bytes(), 30), "refused", r"30 bad date"),
    Case(
        "conflicting_duplicate",
        lambda: set_cell(
            b"".join([*_lines(real_bytes()), _lines(real_bytes())[DUPLICATE_ROW + 1]]),
            N,
            "FTHG",
            b"0",
        ),
        "refused",
        r"appears on rows with different contents: line 44: .* line 382: ",
    ),
    Case(
        "junk_100k_rows",
        lambda: junk_rows(100_000, None),
        "unusable",
        r"implausible file: 100000 lines after the header; one league-season has at most 5000",
        bound=JUNK_BOUND_S,
    ),
    Case(
        "junk_4k_random_clubs",
        lambda: junk_rows(4_000, None),
        "refused",
        r"8000 clubs in E0 2023-24; at most 40 are plausible",
        bound=JUNK_BOUND_S,
    ),
    Case(
        "junk_4k_real_clubs",
        lambda: junk_rows(4_000, real_teams()),
        "refused",
        r"4000 matches for 20 clubs in E0 2023-24; a schedule of 4.00 rounds has at most 1596",
        bound=JUNK_BOUND_S,
    ),
    Case("binary_junk", lambda: pseudo_random(64 * 1024), "unusable", r"binary"),
    Case("utf16", lambda: real_bytes().decode("utf-8-sig").encode("utf-16"), "unusable", "UTF-16"),
    Case(
        "utf16_no_bom",
        lambda: real_bytes().decode("utf-8-sig").encode("utf-16-le"),
        "unusable",
        r"NUL byte at line 1",
    ),
    Case("stray_cr", lambda: stray_cr(real_bytes(), 10), "unusable", r"line 1[23]"),
    Case(
        "duplicated_fthg_header",
        lambda: duplicated_header(real_bytes(), b"FTHG"),
        "unusable",
        r"duplicated column 'FTHG' in columns 6, 9",
    ),
    Case("unterminated_quote", lambda: unterminated_quote(real_bytes(), 5), "unusable", r"line"),
    Case("huge_field", lambda: huge_field(real_bytes(), 3), "unusable", r"malformed CSV at line"),
    Case("bom_only", lambda: BOM, "unusable", r"empty file"),
    Case(
        "cp1252_apostrophe",
        lambda: replace_name(real_bytes(), b"Nott'm Forest", "Nott’m Forest".encode("cp1252")),
        "loaded",
        record="encoding",
    ),
    Case(
        "undecodable_club_name",
        lambda: replace_name(real_bytes(), b"Nott'm Forest", b"Nott\x81m Forest"),
        "loaded",
        record="team_name_alias",
    ),
    Case("redated_match", lambda: redated(real_bytes(), 20), "loaded"),
)
CASE_BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-input")
    State(root).ingest(real_bytes())
    return root


@pytest.fixture
def state(baseline, tmp_path) -> State:
    copy_state(baseline, tmp_path / "state")
    return State(tmp_path / "state")


def _count(state: State, table: str) -> int:
    return int(state.rows(f"SELECT count(*) FROM {table}")[0][0])


@pytest.mark.parametrize("name", list(CASE_BY_NAME))
def test_adversarial_file_ends_in_a_clear_error_or_a_logged_record(state, name):
    case = CASE_BY_NAME[name]
    data = case.build()
    before = state.dump()
    started = time.perf_counter()
    with time_bound(case.bound):
        if case.end == "loaded":
            summary = state.ingest(data)
        else:
            with pytest.raises(FootballDataError) as caught:
                state.ingest(data)
    elapsed = time.perf_counter() - started
    after = state.dump()
    dq = state.frame("SELECT * FROM data_quality_log WHERE checksum = ?", [sha256(data)])
    log = state.frame("SELECT * FROM ingestion_log WHERE checksum = ?", [sha256(data)])
    if case.end == "loaded":
        assert summary.status == "loaded"
        assert case.record == "" or case.record in set(dq["issue_type"])
        ids_before = {row[0] for row in before["matches"]}
        assert _count(state, "matches") == N
        assert len(ids_before - {row[0] for row in after["matches"]}) <= 1  # re-dated only
        assert _count(state, "teams") == len(before["teams"])  # no phantom club
        assert log["status"].tolist() == ["loaded"]
        return
    message = str(caught.value)
    assert re.search(case.message, message), message
    assert "Traceback" not in message
    assert isinstance(caught.value, PartitionRefusedError) == (case.end == "refused")
    for table in MATCH_TABLES:
        assert after[table] == before[table], table
    assert log["status"].tolist() == ["refused" if case.end == "refused" else "failed"]
    assert log["message"].iloc[0] == message
    assert len(dq) == 1 and dq["detail"].iloc[0] == message
    assert dq["action"].iloc[0] in {"refused", "rejected"}
    assert elapsed < case.bound


@pytest.mark.parametrize("bad", ["previous_season_file", "cut_at_line_boundary", "iso_dates"])
def test_restore_after_a_refused_or_allowed_bad_file(state, bad):
    """Bad file refused, then applied with allow_shrink, then the good file back: the
    partition is exactly as before (full dumps of the match tables)."""
    good = real_bytes()
    before = state.dump()
    data = CASE_BY_NAME[bad].build()
    with pytest.raises(PartitionRefusedError):
        state.ingest(data)
    summary = state.ingest(data, allow_shrink=True)
    assert summary.status == "loaded"
    assert _count(state, "matches") < N  # the shrink was applied …
    allowed = state.frame(
        "SELECT * FROM data_quality_log WHERE checksum = ? AND action = 'allowed'", [sha256(data)]
    )
    assert len(allowed) >= 1  # … and logged
    restored = state.ingest(good)
    assert restored.status == "loaded"
    after = state.dump()
    for table in MATCH_TABLES:
        assert after[table] == before[table], table
    # The same good bytes again, now held by the partition: a no-op.
    assert state.ingest(good).status == "unchanged"
    assert state.dump() == after


def test_other_league_relabelled_is_refused_for_its_clubs(state):
    """An E1 file with its Div cells rewritten to E0: the clubs, not the Div, give it away
    (checked against the stored 2022-23 and 2023-24 seasons)."""
    assert state.ingest(real_bytes("2223", "E0"), season="2022-23").status == "loaded"
    relabelled = b"".join(
        line.replace(b"E1,", b"E0,", 1) for line in _lines(real_bytes("2324", "E1"))
    )
    before = state.dump()
    with time_bound(BOUND_S), pytest.raises(PartitionRefusedError) as caught:
        state.ingest(relabelled)
    assert re.search(
        r"2[0-4] of 24 clubs never played in E0 in the neighbouring", str(caught.value)
    )
    assert caught.value.issue_type == "implausible_clubs"
    for table in MATCH_TABLES:
        assert state.dump()[table] == before[table], table


def test_first_load_maps_a_misdecoded_name_through_the_alias_set(tmp_path):
    """Empty warehouse (no neighbouring seasons): the country's alias set still reads
    'Nott\\x81m Forest' (latin-1: 0x81 is undefined in cp1252) as Nott'm Forest."""
    fresh = State(tmp_path)
    data = replace_name(real_bytes(), b"Nott'm Forest", b"Nott\x81m Forest")
    summary = fresh.ingest(data)
    assert summary.status == "loaded"
    teams = {row[0] for row in fresh.rows("SELECT team_id FROM teams")}
    assert "eng-nottm-forest" in teams and len(teams) == 20
    records = fresh.frame("SELECT * FROM data_quality_log WHERE issue_type = 'team_name_alias'")
    assert len(records) == 1 and 'read as "Nott\'m Forest"' in records["detail"].iloc[0]
    encoding = fresh.frame("SELECT detail FROM data_quality_log WHERE issue_type = 'encoding'")
    assert encoding["detail"].tolist() == ["file is not valid UTF-8: read as latin-1"]


def test_a_club_new_to_the_league_is_kept_and_logged(state):
    """A promoted club (a name unlike any known one) is a new club, logged, not refused."""
    data = replace_name(real_bytes(), b"Luton", b"Harrogate Town")
    with time_bound(BOUND_S):
        summary = state.ingest(data, allow_shrink=True)  # Luton's 38 matches are re-keyed
    assert summary.status == "loaded"
    record = state.frame("SELECT * FROM data_quality_log WHERE issue_type = 'new_team'")
    assert len(record) == 1 and "'Harrogate Town'" in record["detail"].iloc[0]
    assert _count(state, "matches") == N


def test_an_allowed_file_emptying_its_partition_is_idempotent(state):
    """The 2022-23 file allowed into 2023-24 stores nothing; the same bytes again are a no-op
    (the partition holds them), and the good file back restores the partition."""
    before = state.dump()
    data = real_bytes("2223", "E0")
    assert state.ingest(data, allow_shrink=True).status == "loaded"
    assert _count(state, "matches") == 0
    emptied = state.dump()
    assert state.ingest(data, allow_shrink=True).status == "unchanged"
    assert state.dump() == emptied
    assert state.ingest(real_bytes()).status == "loaded"
    after = state.dump()
    for table in MATCH_TABLES:
        assert after[table] == before[table], table


def test_too_few_clubs_for_the_league_is_refused(state):
    """Only the matches among ten clubs (90 of them), with 2022-23 stored as history."""
    assert state.ingest(real_bytes("2223", "E0"), season="2022-23").status == "loaded"
    ten = set(real_teams()[:10])
    lines = _lines(real_bytes())
    kept = [line for line in lines[1:] if {c.decode() for c in line.split(b",")[3:5]} <= ten]
    before = state.dump()
    with time_bound(BOUND_S), pytest.raises(PartitionRefusedError) as caught:
        state.ingest(lines[0] + b"".join(kept))
    assert "10 clubs in E0 2023-24 over 90 matches; at least 16 are plausible" in str(caught.value)
    for table in MATCH_TABLES:
        assert state.dump()[table] == before[table], table
