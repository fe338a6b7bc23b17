"""Adversarial coupons: limits before parsing work, numbers as numbers, plausible prices,
unreadable paths, the original API's form, and no raw bytes kept for a rejected coupon.

Every case ends in a CouponValidationError with a readable problem (never another exception)
within ``BOUND_S`` seconds; the limits are also shown to act before any team is resolved (a
resolver that counts its calls), which is what made the 260k-row coupon run for minutes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from jackpot_pipeline.core.coupon import (
    MAX_BYTES,
    CouponValidationError,
    Odds,
    parse_coupon,
    parse_coupon_bytes,
    read_coupon_file,
)
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.jackpots import predict_coupon
from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests._corpus import time_bound
from jackpot_pipeline_tests.test_coupon import FIXTURES, TEAM_LEAGUES, json_bytes, resolve

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "jackpots" / "examples"
CSV_EXAMPLE = EXAMPLES / "2025-04-12_football-data-names.csv"
BOUND_S = 5.0


class CountingResolver:
    """The test resolver, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, name: str, league: str | None) -> str:
        self.calls += 1
        return resolve(name, league)


def big_csv_coupon(target_bytes: int) -> bytes:
    """The shipped CSV example's fixture lines repeated to ``target_bytes`` (a 10 MB coupon
    has about 260k rows)."""
    lines = CSV_EXAMPLE.read_bytes().splitlines(keepends=True)
    header = [line for line in lines if not line.startswith(b"#")][:1]
    body = [line for line in lines[1:] if not line.startswith(b"#")][1:]
    block = b"".join(body)
    return b"".join(header) + block * (target_bytes // len(block) + 1)


def with_odds(**odds: object) -> bytes:
    return json_bytes([{**FIXTURES[0], "odds": {"home": 2.1, "draw": 3.4, "away": 3.5, **odds}}])


def original_form(fixtures: list[dict], created: str = "2024-08-16T09:00:00Z") -> bytes:
    """The original jackpot API's form of ``fixtures`` (ids, homeTeam/awayTeam, createdAt)."""
    converted = [
        {
            "id": str(i),
            "homeTeam": f["home"],
            "awayTeam": f["away"],
            **({"odds": f["odds"]} if "odds" in f else {}),
        }
        for i, f in enumerate(fixtures, 1)
    ]
    return json.dumps({"fixtures": converted, "createdAt": created}).encode()


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    source: str
    problem: str  # regex matching one of the problems


CASES = (
    Case(
        "csv_10mb_260k_rows",
        lambda: big_csv_coupon(10 * 1024 * 1024),
        "big.csv",
        r"^the file is [\d,]+ bytes; a coupon is at most 262,144$",
    ),
    Case(
        "csv_many_short_rows",
        lambda: big_csv_coupon(MAX_BYTES - 1024),
        "rows.csv",
        r"^the CSV file has [\d,]+ lines; a coupon has at most 200",
    ),
    Case(
        "json_1000_fixtures",
        lambda: json_bytes([FIXTURES[0]] * 1000),
        "many.json",
        r"^the coupon has 1000 fixtures; at most 20 are allowed$",
    ),
    Case("json_100k_deep_list", lambda: b"[" * 100_000, "deep.json", r"nests more than 8"),
    Case(
        "json_100k_deep_inside",
        lambda: b'{"fixtures": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "deep.json",
        r"nests more than 8",
    ),
    Case(
        "odds_as_strings",
        lambda: with_odds(home="2.1", draw="3.4"),
        "c.json",
        r"^row 1: home odds '2.1' is not a number$",
    ),
    Case("home_price_1e9", lambda: with_odds(home=1e9), "c.json", r"home odds 1000000000.0 above"),
    Case(
        "infinite_price",
        lambda: (
            b'{"fixtures": ['
            + json.dumps(FIXTURES[0]).encode()[:-1]
            + b', "odds": {"home": Infinity, "draw": 3.4, "away": 3.5}}]}'
        ),
        "c.json",
        r"home odds inf is not a number",
    ),
    Case("boolean_price", lambda: with_odds(draw=True), "c.json", r"draw odds True is not"),
    Case(
        "swapped_prices",
        lambda: with_odds(home=1.2, draw=1.3, away=1.4),
        "c.json",
        r"implausible odds 1.2/1.3/1.4: overround \+1\.317",
    ),
    Case(
        "csv_text_price",
        lambda: (
            b"home,away,kickoff,odds_home,odds_draw,odds_away\n"
            b"Arsenal,Chelsea,2024-08-17,two,3.4,3.5\n"
        ),
        "c.csv",
        r"^row 1: home odds 'two' is not a number$",
    ),
    Case("binary_junk", lambda: bytes(range(256)) * 64, "junk.csv", r"not UTF-8 text"),
    Case("utf16", lambda: json_bytes(FIXTURES).decode().encode("utf-16"), "c.json", r"not UTF-8"),
    Case(
        "csv_huge_cell",
        lambda: b"home,away,kickoff\n" + b"A" * 200_000 + b",Chelsea,2024-08-17\n",
        "c.csv",
        r"^the CSV file is malformed: field larger than field limit",
    ),
    Case(
        "name_10k_characters",
        lambda: json_bytes([{**FIXTURES[0], "home": "A" * 10_000}]),
        "c.json",
        r"^row 1: 'home' is longer than 100 characters$",
    ),
    Case(
        "fixtures_not_a_list",
        lambda: b'{"fixtures": {"home": "Arsenal"}}',
        "c.json",
        r"^required field 'fixtures' is not a list$",
    ),
    Case(
        "original_form_broken",
        lambda: json.dumps(
            {"fixtures": [{"id": "1", "awayTeam": "Chelsea", "odds": {"home": "x"}}]}
        ).encode(),
        "c.json",
        r"^row 1: missing required field 'home'$",
    ),
)
CASE_BY_NAME = {case.name: case for case in CASES}


@pytest.mark.parametrize("name", list(CASE_BY_NAME))
def test_adversarial_coupon_is_rejected_with_a_clear_problem(name):
    case = CASE_BY_NAME[name]
    data = case.build()
    counting = CountingResolver()
    with time_bound(BOUND_S), pytest.raises(CouponValidationError) as caught:
        parse_coupon_bytes(data, case.source, counting, TEAM_LEAGUES)
    found = [str(problem) for problem in caught.value.problems]
    assert any(re.search(case.problem, problem) for problem in found), found
    assert caught.value.report().startswith(f"Jackpot coupon rejected: {case.source}")
    if case.name.startswith(("csv_10mb", "csv_many", "json_1000", "json_100k")):
        assert counting.calls == 0  # refused before any team is resolved


def test_every_problem_of_an_original_form_coupon_is_listed_at_once():
    data = json.dumps(
        {
            "createdAt": "2024-08-16",
            "fixtures": [
                {"id": "1", "homeTeam": "Arsenal", "awayTeam": "Man Utd"},
                {"id": "2", "homeTeam": "Burnley", "awayTeam": "Leeds", "odds": {"home": "2"}},
                {"id": 3, "homeTeam": "Chelsea", "awayTeam": "Chelsea", "venue": "x"},
            ],
        }
    ).encode()
    with pytest.raises(CouponValidationError) as caught:
        parse_coupon_bytes(data, "c.json", resolve, TEAM_LEAGUES)
    assert [str(problem) for problem in caught.value.problems] == [
        "row 1: unknown away team 'Man Utd': no team named 'Man Utd'; closest: Man United, "
        "Manchester United",
        "row 2: home odds '2' is not a number",
        "row 2: draw odds missing (give home, draw and away odds, or none)",
        "row 2: away odds missing (give home, draw and away odds, or none)",
        "row 3: unknown field 'venue' (expected one of home, away, kickoff, league, odds, id, "
        "homeTeam, awayTeam)",
        "row 3: the same team on both sides (Chelsea v Chelsea)",
    ]


def test_wrong_types_are_named_once_each():
    doc = {"id": [1], "name": 5, "fixtures": [{**FIXTURES[0], "id": [1], "league": 7}]}
    with pytest.raises(CouponValidationError) as caught:
        parse_coupon_bytes(json.dumps(doc).encode(), "c.json", resolve, TEAM_LEAGUES)
    assert [str(problem) for problem in caught.value.problems] == [
        "'id' must be text or a whole number, got [1]",
        "'name' must be text, got 5",
        "row 1: 'id' must be text or a whole number, got [1]",
        "row 1: 'league' must be text, got 7",
    ]


def test_original_form_carries_the_same_fixtures():
    native = json_bytes([{**f, "kickoff": "2024-08-16"} for f in FIXTURES])
    original = original_form(FIXTURES, created="2024-08-16T09:00:00Z")
    ours = parse_coupon_bytes(native, "n.json", resolve, TEAM_LEAGUES)
    theirs = parse_coupon_bytes(original, "o.json", resolve, TEAM_LEAGUES)
    assert len(theirs.fixtures) == 3
    for a, b in zip(ours.fixtures, theirs.fixtures, strict=True):
        assert (a.home_id, a.away_id, a.kickoff, a.odds) == (
            b.home_id,
            b.away_id,
            b.kickoff,
            b.odds,
        )
    assert [f.source_id for f in theirs.fixtures] == ["1", "2", "3"]
    assert theirs.fixtures[0].odds == Odds(2.1, 3.4, 3.5)
    assert theirs.fixtures[0].kickoff == date(2024, 8, 16)
    assert theirs.notes[0] == "row 1: no kickoff: the coupon's createdAt date 2024-08-16 is used"
    assert theirs.id == ours.id  # same fixtures, same derived id


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp, r"is a directory, not a coupon file"),
        (lambda tmp: tmp / "missing.json", r"^no such file: "),
        (lambda tmp: _write(tmp / "big.csv", big_csv_coupon(MAX_BYTES + 1)), r"bytes; a coupon"),
    ],
    ids=["directory", "missing", "too_big"],
)
def test_unreadable_paths_are_clear_errors(tmp_path, make, message):
    path = make(tmp_path)
    for call in (lambda: read_coupon_file(path), lambda: parse_coupon(path, resolve, {})):
        with pytest.raises(CouponValidationError) as caught:
            call()
        (problem,) = caught.value.problems
        assert re.search(message, str(problem)), problem


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_rejected_coupon_is_not_stored_in_the_raw_layer(tmp_path):
    """Through the one prediction path (``predict_coupon``) on a real warehouse file."""
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", raw_dir=tmp_path / "raw")
    con = warehouse.connect(settings.warehouse_path)
    try:
        with pytest.raises(CouponValidationError):
            predict_coupon(con, with_odds(home=1e9), "bad.json", settings=settings, resolve=resolve)
    finally:
        con.close()
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").rglob("*.*"))


def test_the_inbox_rejects_bad_coupons_once_and_keeps_no_raw_bytes(tmp_path):
    """A deep JSON, a 10 MB CSV and string odds in the inbox: the side-effect-free sensor tick
    requests one run each without parsing them deeply (bounded time); each run rejects its file
    to rejected/ with the report, none is left to be retried, none reaches the raw layer."""
    import dagster as dg

    from jackpot_pipeline.defs.jackpots.assets import FILE_TAG, PARTITIONS_NAME
    from jackpot_pipeline.defs.jackpots.assets import jackpot_predictions as asset
    from jackpot_pipeline.defs.jackpots.sensors import scan_inbox
    from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
    from jackpot_pipeline.services.jackpot_inbox import JackpotPaths, inbox_files

    paths = JackpotPaths(tmp_path / "jackpots")
    paths.inbox.mkdir(parents=True)
    bad = {
        "deep.json": b"[" * 100_000,
        "big.csv": big_csv_coupon(10 * 1024 * 1024),
        "strings.json": with_odds(home="2.1"),
    }
    for name, data in {**bad, "good.json": original_form(FIXTURES)}.items():
        (paths.inbox / name).write_bytes(data)
    raw = tmp_path / "raw"
    with time_bound(BOUND_S * 2):
        tick = scan_inbox(inbox_files(paths.inbox), [], set())
    assert len(tick.run_requests) == 4 and tick.errors == []
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS_NAME, tick.new_keys)
    resources = {
        "warehouse_db": WarehouseResource(path=str(tmp_path / "w.duckdb")),
        "settings": SettingsResource(
            data_dir=str(tmp_path), raw_dir=str(raw), jackpots_dir=str(paths.base)
        ),
    }
    for request in tick.run_requests:
        if request.tags[FILE_TAG] not in bad:
            continue
        with time_bound(BOUND_S * 6):
            result = dg.materialize(
                [asset],
                instance=instance,
                partition_key=request.partition_key,
                resources=resources,
                tags=request.tags,
                raise_on_error=False,
            )
        assert not result.success
    assert [p.name for p in inbox_files(paths.inbox)] == ["good.json"]  # moved by its own run
    for name in bad:
        report = (paths.rejected / f"{name}.error.txt").read_text()
        assert report.startswith(f"Jackpot coupon rejected: {name}")
    assert not raw.exists() or not [p for p in raw.rglob("*") if p.is_file()]
