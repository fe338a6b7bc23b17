"""Coupon parsing and validation, with a stand-in team resolver built from a dict."""

from __future__ import annotations

import difflib
import hashlib
import json
import pickle
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from jackpot_pipeline.core.coupon import (
    CouponValidationError,
    Odds,
    ParsedCoupon,
    parse_coupon,
    parse_coupon_bytes,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "jackpots" / "examples"
TEAMS = {
    "Arsenal": "arsenal",
    "Chelsea": "chelsea",
    "Man United": "man_united",
    "Manchester United": "man_united",
    "Burnley": "burnley",
    "Leeds": "leeds",
    "Real Madrid": "real_madrid",
    "Barcelona": "barcelona",
}
TEAM_LEAGUES = {
    "arsenal": {"E0"},
    "chelsea": {"E0"},
    "man_united": {"E0"},
    "burnley": {"E0", "E1"},
    "leeds": {"E1"},
    "real_madrid": {"SP1"},
    "barcelona": {"SP1"},
}
FIXTURES = [
    {
        "home": "Arsenal",
        "away": "Chelsea",
        "kickoff": "2024-08-17T14:00:00+01:00",
        "league": "E0",
        "odds": {"home": 2.1, "draw": 3.4, "away": 3.5},
    },
    {"home": "Real Madrid", "away": "Barcelona", "kickoff": "2024-10-26", "league": "SP1"},
    {"home": "Burnley", "away": "Leeds", "kickoff": "2024-08-18T12:00:00Z"},
]
CSV_TEXT = """# id: weekend-1
# name: Test weekend
home,away,kickoff,league,odds_home,odds_draw,odds_away
Arsenal,Chelsea,2024-08-17T14:00:00+01:00,E0,2.1,3.4,3.5
Real Madrid,Barcelona,2024-10-26,SP1,,,
Burnley,Leeds,2024-08-18T12:00:00Z,,,,
"""


class UnknownTeamError(ValueError):
    """Stand-in for the resolver's error type."""


def resolve(name: str, league: str | None) -> str:
    """Exact, then case-insensitive lookup; unknown names get difflib suggestions."""
    folded = {known.casefold(): team_id for known, team_id in TEAMS.items()}
    if name in TEAMS or name.casefold() in folded:
        return TEAMS.get(name) or folded[name.casefold()]
    closest = difflib.get_close_matches(name, TEAMS, n=3, cutoff=0.5)
    raise UnknownTeamError(f"no team named {name!r}; closest: {', '.join(closest) or 'none'}")


def json_bytes(fixtures: list[dict[str, object]], **top: object) -> bytes:
    return json.dumps({**top, "fixtures": fixtures}).encode()


def parse(data: bytes, source: str = "coupon.json") -> ParsedCoupon:
    return parse_coupon_bytes(data, source, resolve, TEAM_LEAGUES)


def problems(data: bytes, source: str = "coupon.json") -> list[str]:
    with pytest.raises(CouponValidationError) as caught:
        parse(data, source)
    return [str(problem) for problem in caught.value.problems]


def one_fixture(**fields: object) -> bytes:
    """A single-fixture JSON coupon: Arsenal v Chelsea with ``fields`` overriding or removed."""
    fixture = {**FIXTURES[0], **fields}
    return json_bytes([{key: value for key, value in fixture.items() if value is not None}])


def assert_single_problem(data: bytes, pattern: str, source: str = "coupon.json") -> None:
    found = problems(data, source)
    assert len(found) == 1, found
    assert re.search(pattern, found[0]), found[0]


def test_valid_json_coupon() -> None:
    coupon = parse(json_bytes(FIXTURES, id="weekend-1", name="Test weekend"))
    assert (coupon.id, coupon.name) == ("weekend-1", "Test weekend")
    first, second, third = coupon.fixtures
    assert (first.home_id, first.away_id, first.league) == ("arsenal", "chelsea", "E0")
    assert first.kickoff == datetime(2024, 8, 17, 13, 0, tzinfo=UTC)
    assert first.odds == Odds(2.1, 3.4, 3.5)
    assert second.kickoff == date(2024, 10, 26)
    assert second.odds is None
    assert third.league is None
    assert coupon.notes == ("row 2: kickoff 2024-10-26 has no time of day; kept as a date",)


def test_json_and_csv_round_trip_to_the_same_coupon() -> None:
    from_json = parse(json_bytes(FIXTURES, id="weekend-1", name="Test weekend"))
    from_csv = parse(CSV_TEXT.encode(), "coupon.csv")
    assert from_csv.fixtures == from_json.fixtures
    assert (from_csv.id, from_csv.name, from_csv.notes) == (
        from_json.id,
        from_json.name,
        from_json.notes,
    )


def test_content_hash_and_derived_id_are_stable() -> None:
    data = json_bytes(FIXTURES)
    coupon = parse(data)
    assert coupon.content_sha256 == hashlib.sha256(data).hexdigest()
    assert parse(data) == coupon
    assert re.fullmatch(r"coupon-[0-9a-f]{16}", coupon.id)
    csv_without_id = "\n".join(CSV_TEXT.splitlines()[2:]).encode()
    from_csv = parse(csv_without_id, "coupon.csv")
    assert from_csv.id == coupon.id
    assert from_csv.content_sha256 != coupon.content_sha256


def test_format_sniffed_for_unknown_extension() -> None:
    from_json = parse(json_bytes(FIXTURES), "coupon.txt")
    assert from_json.fixtures == parse(CSV_TEXT.encode(), "coupon").fixtures


def test_parse_coupon_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "weekend.csv"
    path.write_bytes(CSV_TEXT.encode("utf-8-sig"))
    assert parse_coupon(path, resolve, TEAM_LEAGUES).id == "weekend-1"


def test_unknown_team_lists_closest_names() -> None:
    assert_single_problem(
        one_fixture(home="Man Utd"),
        r"^row 1: unknown home team 'Man Utd': no team named 'Man Utd'; closest: Man United",
    )


def test_same_team_on_both_sides() -> None:
    assert_single_problem(
        one_fixture(away="arsenal"), r"^row 1: the same team on both sides \(Arsenal v arsenal\)$"
    )


def test_duplicate_fixture() -> None:
    data = json_bytes([FIXTURES[0], {**FIXTURES[0], "home": "ARSENAL"}])
    assert_single_problem(data, r"^row 2: duplicate fixture ARSENAL v Chelsea \(same as row 1\)$")


def test_no_fixtures() -> None:
    assert_single_problem(json_bytes([]), r"^the coupon has no fixtures$")


def test_more_than_twenty_fixtures() -> None:
    teams = list({team_id: name for name, team_id in TEAMS.items()}.values())
    pairs = [(h, a) for h in teams for a in teams if h != a][:21]
    fixtures = [{"home": h, "away": a, "kickoff": "2024-08-17"} for h, a in pairs]
    assert_single_problem(
        json_bytes(fixtures), r"^the coupon has 21 fixtures; at most 20 are allowed$"
    )


def test_odds_below_minimum() -> None:
    assert_single_problem(
        one_fixture(odds={"home": 1.0, "draw": 3.4, "away": 3.5}),
        r"^row 1: home odds 1.0 below the minimum 1.01$",
    )


@pytest.mark.parametrize(
    ("odds", "overround"),
    [
        ({"home": 1.5, "draw": 2.0, "away": 2.5}, r"\+0\.567"),
        ({"home": 3, "draw": 4, "away": 5}, "-0.217"),
    ],
)
def test_implausible_overround(odds: dict[str, float], overround: str) -> None:
    assert_single_problem(
        one_fixture(odds=odds),
        rf"^row 1: implausible odds .*: overround {overround} .* is outside \[-0.01, 0.3\]$",
    )


def test_incomplete_or_non_numeric_odds() -> None:
    found = problems(one_fixture(odds={"home": "abc", "away": 3.5, "drw": 3.4}))
    assert found == [
        "row 1: home odds 'abc' is not a number",
        "row 1: draw odds missing (give home, draw and away odds, or none)",
        "row 1: unknown odds key 'drw' (expected one of home, draw, away)",
    ]


def test_malformed_date() -> None:
    assert_single_problem(
        one_fixture(kickoff="17/08/2024 14:00"),
        r"^row 1: kickoff '17/08/2024 14:00' is not an ISO 8601 date",
    )


def test_naive_datetime_needs_utc_offset() -> None:
    assert_single_problem(
        one_fixture(kickoff="2024-08-17T14:00:00"),
        r"^row 1: kickoff '2024-08-17T14:00:00' has no UTC offset",
    )


def test_league_of_another_country() -> None:
    found = problems(one_fixture(league="SP1"))
    assert found == [
        "row 1: league SP1 does not match home team arsenal (has played in E0)",
        "row 1: league SP1 does not match away team chelsea (has played in E0)",
        "row 1: league SP1 does not match the teams: neither has played in it "
        "(arsenal in E0; chelsea in E0)",
    ]


def test_league_neither_team_played_in() -> None:
    assert_single_problem(
        one_fixture(league="E1"), r"^row 1: league E1 does not match the teams: neither"
    )


def test_promoted_team_matches_its_new_league() -> None:
    fixture = {"home": "Leeds", "away": "Arsenal", "kickoff": "2025-08-23", "league": "E0"}
    coupon = parse(json_bytes([fixture]))
    assert coupon.fixtures[0].league == "E0"


def test_missing_required_fields() -> None:
    found = problems(json_bytes([{"home": "Arsenal", "away": "", "league": "E0"}]))
    assert found == [
        "row 1: missing required field 'away'",
        "row 1: missing required field 'kickoff'",
    ]


def test_csv_missing_column_reported_once() -> None:
    found = problems(b"home,away\nArsenal,Chelsea\nBurnley,Leeds\n", "coupon.csv")
    assert found == ["the CSV header lacks required column(s) kickoff"]


def test_structural_problems() -> None:
    assert problems(b"{not json") == [
        "the file is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    ]
    assert problems(b"\xff\xfe", "coupon.csv")[0].startswith("the file is not UTF-8 text")
    assert problems(b"", "coupon.csv")[0].startswith("the CSV file has no header line")
    assert problems(b'{"fixture": []}') == [
        "required field 'fixtures' is missing",
        "unknown top-level field 'fixture' (expected one of id, name, fixtures, createdAt)",
        "the coupon has no fixtures",
    ]
    assert problems(json_bytes(["Arsenal v Chelsea"])) == [
        "row 1: a fixture must be an object, got 'Arsenal v Chelsea'"
    ]


def test_every_problem_is_listed_and_reported() -> None:
    data = b"""home,away,kickoff,league,odds_home,odds_draw,odds_away,extra
Arsenal,Chelsea,2024-08-17T14:00:00+01:00,E0,1.5,2.0,2.5,
Man Utd,Burnley,2024-08-17,E0,,,,
Chelsea,Chelsea,yesterday,E0,,,,
Arsenal,Chelsea,2024-08-17 14:00,SP1,,,,
Leeds,Real Madrid,,,,
"""
    with pytest.raises(CouponValidationError) as caught:
        parse(data, "bad.csv")
    found = [str(problem) for problem in caught.value.problems]
    assert found == [
        "unknown column 'extra' (expected one of home, away, kickoff, league, odds_home, "
        "odds_draw, odds_away)",
        "row 5: has 6 cells but the header has 8",
        "row 1: implausible odds 1.5/2.0/2.5: overround +0.567 (1/home + 1/draw + 1/away − 1) "
        "is outside [-0.01, 0.3]",
        "row 2: unknown home team 'Man Utd': no team named 'Man Utd'; closest: Man United, "
        "Manchester United",
        "row 3: kickoff 'yesterday' is not an ISO 8601 date (2024-08-17) or datetime "
        "(2024-08-17T14:00:00+01:00)",
        "row 3: the same team on both sides (Chelsea v Chelsea)",
        "row 4: kickoff '2024-08-17 14:00' has no UTC offset; a datetime needs one, e.g. "
        "2024-08-17 14:00+01:00 or 2024-08-17 14:00Z (or give the bare date)",
        "row 4: duplicate fixture Arsenal v Chelsea (same as row 1)",
        "row 4: league SP1 does not match home team arsenal (has played in E0)",
        "row 4: league SP1 does not match away team chelsea (has played in E0)",
        "row 4: league SP1 does not match the teams: neither has played in it "
        "(arsenal in E0; chelsea in E0)",
        "row 5: missing required field 'kickoff'",
    ]
    report = caught.value.report()
    digest = hashlib.sha256(data).hexdigest()
    header = f"Jackpot coupon rejected: bad.csv\ncontent sha256: {digest}\n12 problem(s):\n"
    assert report.startswith(header)
    assert all(f"  - {problem}\n" in report for problem in found)
    assert pickle.loads(pickle.dumps(caught.value)).report() == report


@pytest.mark.parametrize(
    "path", [*EXAMPLES.glob("*.json"), *EXAMPLES.glob("*.csv")], ids=lambda path: path.name
)
def test_shipped_examples_are_valid(path: Path) -> None:
    """Structure only: names are resolved to themselves, league history is not checked."""
    coupon = parse_coupon(path, lambda name, league: name.casefold(), {})
    assert 13 <= len(coupon.fixtures) <= 20
    assert coupon.name
    for fixture in coupon.fixtures:
        assert fixture.league in {"E0", "E1", "SP1", "D1", "I1", "F1"}
        assert not isinstance(fixture.kickoff, datetime) or fixture.kickoff.tzinfo is UTC
