"""The football-data.co.uk parser on every shipped file and on broken files built from them.

Expected values are read from the CSVs independently of the parser (csv module, datetime,
zoneinfo) or come from MANIFEST.csv / SOURCES.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from jackpot_pipeline.core.football_data import (
    FootballDataError,
    ParsedFile,
    parse_football_data,
    select_market_odds,
)
from jackpot_pipeline.core.seasons import season_bounds
from jackpot_pipeline.services.quality import CHECKS_BY_NAME, run_checks
from jackpot_pipeline_tests._corpus import (
    BASE_CODE,
    BASE_LEAGUE,
    BASE_SEASON,
    BOM,
    DATE_ROW,
    DUPLICATE_ROW,
    GOALS_ROW,
    LATIN1_ROW,
    MANIFEST,
    TODAY,
    BrokenCase,
    broken_corpus,
    csv_records,
    real_bytes,
    set_cell,
    sha256,
)

UK = ZoneInfo("Europe/London")
TOTAL_MATCHES = 31_977
#: SOURCES.md "Blank trailing rows".
BLANK_ROWS = {
    ("1415", "E0"): 1,
    ("1415", "E1"): 1,
    ("1314", "F1"): 1,
    ("1516", "F1"): 1,
    ("1213", "I1"): 3,
    ("1415", "I1"): 1,
    ("1516", "I1"): 1,
}
#: SOURCES.md "Encoding": files starting with a UTF-8 byte-order mark.
BOM_FILES = {
    ("2122", "E0"),
    ("2425", "D1"),
    ("2425", "E0"),
    ("2425", "E1"),
    ("2425", "F1"),
    ("2425", "I1"),
    ("2425", "SP1"),
    ("2526", "I1"),
}
CORPUS = broken_corpus()


@pytest.fixture(scope="module")
def parsed_corpus() -> dict[tuple[str, str], ParsedFile]:
    """Every shipped file parsed, keyed by (season code, league)."""
    return {
        (row.code, row.league): parse_football_data(row.path.read_bytes(), row.league, row.season)
        for row in MANIFEST
    }


@pytest.fixture(scope="module")
def records() -> dict[tuple[str, str], list[dict[str, str]]]:
    """Every shipped file's non-blank rows read with the csv module."""
    return {
        (row.code, row.league): [
            r for r in csv_records(row.code, row.league) if any(v.strip() for v in r.values() if v)
        ]
        for row in MANIFEST
    }


def _parse_date(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%y" if len(text) == 8 else "%d/%m/%Y").date()


def _match(parsed: ParsedFile, source_row: int) -> pd.Series:
    rows = parsed.matches[parsed.matches["source_row"] == source_row]
    assert len(rows) == 1
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# The whole shipped corpus
# ---------------------------------------------------------------------------------------------


def test_manifest_describes_the_shipped_files():
    assert len(MANIFEST) == 81
    assert sum(row.rows for row in MANIFEST) == TOTAL_MATCHES
    for row in MANIFEST:
        assert sha256(row.path.read_bytes()) == row.sha256, row.path


def test_every_file_parses_to_its_manifest_row_count(parsed_corpus):
    counts = {key: len(parsed.matches) for key, parsed in parsed_corpus.items()}
    assert counts == {(row.code, row.league): row.rows for row in MANIFEST}
    assert sum(counts.values()) == TOTAL_MATCHES
    for key, parsed in parsed_corpus.items():
        assert parsed.rows_read == len(parsed.matches), key
        assert parsed.matches["match_id"].notna().all(), key
        assert parsed.matches["home_goals"].notna().all(), key
        assert parsed.matches["away_goals"].notna().all(), key
        assert set(parsed.matches["result"]) <= {"H", "D", "A"}, key


def test_no_duplicate_match_ids_in_any_file_or_across_files(parsed_corpus):
    ids = pd.concat([p.matches["match_id"] for p in parsed_corpus.values()], ignore_index=True)
    assert len(ids) == TOTAL_MATCHES
    assert not ids.duplicated().any(), ids[ids.duplicated()].tolist()[:5]


def test_real_files_have_only_the_documented_blank_row_issues(parsed_corpus):
    blank = {}
    for key, parsed in parsed_corpus.items():
        assert set(parsed.issues["issue_type"]) <= {"blank_rows"}, (key, parsed.issues)
        if parsed.blank_rows:
            blank[key] = parsed.blank_rows
            (issue,) = parsed.issues.to_dict("records")
            assert issue["severity"] == "info"
            assert issue["detail"].startswith(f"{parsed.blank_rows} blank row")
    assert blank == BLANK_ROWS


def test_dates_in_both_formats_equal_the_csv_cells(parsed_corpus, records):
    formats = set()
    for key, parsed in parsed_corpus.items():
        cells = [r["Date"] for r in records[key]]
        formats.add(len(cells[0]))
        expected = [_parse_date(c) for c in cells]
        assert parsed.matches["match_date"].dt.date.tolist() == expected, key
        first, last = season_bounds(parsed.matches["season"].iloc[0])
        assert all(first <= d <= last for d in expected), key
    assert formats == {8, 10}  # dd/mm/yy and dd/mm/yyyy both occur


def test_known_dates_of_a_short_and_a_long_format_file(parsed_corpus):
    assert csv_records("1213", "E0")[0]["Date"] == "18/08/12"
    assert _match(parsed_corpus["1213", "E0"], 2)["match_date"] == pd.Timestamp("2012-08-18")
    assert csv_records("2324", "E0")[0]["Date"] == "11/08/2023"
    first = _match(parsed_corpus["2324", "E0"], 2)
    assert first["match_date"] == pd.Timestamp("2023-08-11")
    assert first["match_id"] == "E0-20230811-eng-burnley-eng-man-city"


def test_bom_files_parse_with_their_header(parsed_corpus):
    with_bom = {(row.code, row.league) for row in MANIFEST if row.path.read_bytes().startswith(BOM)}
    assert with_bom == BOM_FILES
    for key in with_bom:
        parsed = parsed_corpus[key]
        assert parsed.encoding == "utf-8"
        assert parsed.raw.columns[0] == "Div"  # not "\ufeffDiv"
        assert (parsed.raw["Div"] == key[1]).all()


def test_kickoff_utc_converts_uk_local_time_bst_and_gmt(parsed_corpus):
    e0 = parsed_corpus["2324", "E0"]
    august = _match(e0, 2)  # Burnley v Man City, Fri 11/08/2023 20:00 UK (BST, UTC+1)
    assert august["kickoff_time"] == "20:00"
    assert august["kickoff_utc"] == pd.Timestamp("2023-08-11 19:00", tz="UTC")
    december = e0.matches[
        (e0.matches["match_date"] == "2023-12-02") & (e0.matches["home_team"] == "Arsenal")
    ].iloc[0]  # Arsenal v Wolves, Sat 02/12/2023 15:00 UK (GMT, UTC+0)
    assert december["kickoff_time"] == "15:00"
    assert december["kickoff_utc"] == pd.Timestamp("2023-12-02 15:00", tz="UTC")


def test_kickoff_utc_of_every_file_with_a_time_column(parsed_corpus, records):
    for key, parsed in parsed_corpus.items():
        rows = records[key]
        if "Time" not in rows[0]:
            assert key[0] < "1920", key
            assert parsed.matches["kickoff_utc"].isna().all(), key
            continue
        expected = [
            datetime.combine(_parse_date(r["Date"]), datetime.strptime(r["Time"], "%H:%M").time())
            .replace(tzinfo=UK)
            .astimezone(UTC)
            for r in rows
        ]
        got = parsed.matches["kickoff_utc"].tolist()  # Timestamps compare equal to datetimes
        assert got == expected, key
        assert parsed.matches["kickoff_time"].tolist() == [r["Time"] for r in rows], key


def test_odds_columns_are_mapped_to_bookmaker_market_outcome_phase(parsed_corpus):
    parsed = parsed_corpus["2324", "E0"]
    row = csv_records("2324", "E0")[0]
    match_id = _match(parsed, 2)["match_id"]
    odds = parsed.odds[parsed.odds["match_id"] == match_id].set_index(
        ["bookmaker", "market", "outcome", "phase"]
    )["price"]
    expected = {
        "PSCH": ("pinnacle", "1X2", "home", "closing"),
        "PSCD": ("pinnacle", "1X2", "draw", "closing"),
        "PSCA": ("pinnacle", "1X2", "away", "closing"),
        "PSH": ("pinnacle", "1X2", "home", "opening"),
        "B365H": ("bet365", "1X2", "home", "opening"),
        "B365CA": ("bet365", "1X2", "away", "closing"),
        "MaxCD": ("market_max", "1X2", "draw", "closing"),
        "AvgCH": ("market_avg", "1X2", "home", "closing"),
        "WHA": ("william_hill", "1X2", "away", "opening"),
        "P>2.5": ("pinnacle", "OU2.5", "over", "opening"),
        "PC<2.5": ("pinnacle", "OU2.5", "under", "closing"),
        "AvgC>2.5": ("market_avg", "OU2.5", "over", "closing"),
    }
    assert row["PSCH"] == "9.62"
    for column, key in expected.items():
        assert odds[key] == float(row[column]), column
    # Asian-handicap columns (AHh, B365AHH, …) are not 1X2/OU prices and are not mapped.
    assert set(odds.index.get_level_values("market")) == {"1X2", "OU2.5"}
    assert not odds.index.duplicated().any()


def test_market_odds_prefer_pinnacle_closing(parsed_corpus):
    parsed = parsed_corpus["2324", "E0"]
    chosen = select_market_odds(parsed.matches, parsed.odds).set_index("match_id")
    assert (chosen["odds_source"] == "pinnacle_closing").all()
    rows = csv_records("2324", "E0")
    ids = parsed.matches.set_index("source_row")["match_id"]
    for i, row in enumerate(rows):
        got = chosen.loc[ids[i + 2], ["odds_home", "odds_draw", "odds_away"]].tolist()
        assert got == [float(row["PSCH"]), float(row["PSCD"]), float(row["PSCA"])]


def test_market_odds_fall_back_to_market_average_closing_without_pinnacle(parsed_corpus):
    parsed = parsed_corpus["2021", "E1"]
    rows = csv_records("2021", "E1")
    no_pinnacle = {i + 2 for i, r in enumerate(rows) if not r["PSCH"].strip()}
    assert no_pinnacle == {400, 402}  # SOURCES.md: PSCH filled 550/552
    chosen = select_market_odds(parsed.matches, parsed.odds)
    chosen = chosen.merge(parsed.matches[["match_id", "source_row"]], on="match_id")
    for source_row, pick in chosen.set_index("source_row").iterrows():
        row = rows[source_row - 2]
        if source_row in no_pinnacle:
            assert pick["odds_source"] == "market_avg_closing"
            expected = [row["AvgCH"], row["AvgCD"], row["AvgCA"]]
        else:
            assert pick["odds_source"] == "pinnacle_closing"
            expected = [row["PSCH"], row["PSCD"], row["PSCA"]]
        assert pick[["odds_home", "odds_draw", "odds_away"]].tolist() == [
            float(x) for x in expected
        ]


def test_market_odds_fall_back_to_pinnacle_opening_before_closing_averages(parsed_corpus):
    # 1718 SP1 (no AvgC* columns yet) row 73, Alaves v Sociedad: PSC* blank, PS* present.
    parsed = parsed_corpus["1718", "SP1"]
    row = csv_records("1718", "SP1")[71]
    assert (row["HomeTeam"], row["PSCH"], row["PSH"]) == ("Alaves", "", "3.52")
    chosen = select_market_odds(parsed.matches, parsed.odds).set_index("match_id")
    pick = chosen.loc[_match(parsed, 73)["match_id"]]
    assert pick["odds_source"] == "pinnacle_opening"
    assert pick[["odds_home", "odds_draw", "odds_away"]].tolist() == [3.52, 3.55, 2.2]
    assert (chosen["odds_source"] == "pinnacle_closing").sum() == len(chosen) - 1


def test_market_odds_ignore_an_out_of_range_pinnacle_price():
    data = set_cell(real_bytes(), 0, "PSCH", b"1.0")
    parsed = parse_football_data(data, BASE_LEAGUE, BASE_SEASON)
    chosen = select_market_odds(parsed.matches, parsed.odds).set_index("match_id")
    row = csv_records(BASE_CODE, BASE_LEAGUE)[0]
    pick = chosen.loc[_match(parsed, 2)["match_id"]]
    assert pick["odds_source"] == "market_avg_closing"
    assert pick["odds_home"] == float(row["AvgCH"])
    assert (chosen["odds_source"] == "pinnacle_closing").sum() == len(chosen) - 1


# ---------------------------------------------------------------------------------------------
# Broken files built from the real bytes of 2023-24 E0
# ---------------------------------------------------------------------------------------------


def _parse(case: BrokenCase) -> ParsedFile:
    return parse_football_data(case.data, BASE_LEAGUE, BASE_SEASON)


def _outcome(parsed: ParsedFile, name: str):
    outcomes = {o.spec.name: o for o in run_checks(parsed, BASE_SEASON, TODAY)}
    assert set(outcomes) == set(CHECKS_BY_NAME)
    return outcomes[name]


@pytest.mark.parametrize("name", [n for n, c in CORPUS.items() if c.unusable])
def test_unusable_files_raise(name):
    case = CORPUS[name]
    with pytest.raises(FootballDataError, match=case.message):
        _parse(case)


def test_truncated_file_names_the_short_line():
    with pytest.raises(FootballDataError, match=r"truncated .*line 202 has \d+ fields"):
        _parse(CORPUS["truncated"])


def test_wrong_header_names_the_missing_column_only():
    with pytest.raises(FootballDataError) as error:
        _parse(CORPUS["wrong_header"])
    message = str(error.value)
    assert "required columns missing: FTHG " in message
    assert "FTAG" not in message.split("(found")[0]


def test_empty_and_header_only_files_are_empty():
    with pytest.raises(FootballDataError, match="empty file: 0 bytes"):
        _parse(CORPUS["empty"])
    with pytest.raises(FootballDataError, match="empty file: header only"):
        _parse(CORPUS["header_only"])
    with pytest.raises(FootballDataError, match="empty"):
        parse_football_data(b"\r\n\r\n", BASE_LEAGUE, BASE_SEASON)


def test_text_in_a_goals_column_parses_and_fails_the_goals_check():
    parsed = _parse(CORPUS["text_goals"])
    assert len(parsed.matches) == CORPUS["text_goals"].matches
    match = _match(parsed, GOALS_ROW + 2)  # West Ham v Chelsea, FTHG "3" → "two"
    assert match["match_id"] == "E0-20230820-eng-west-ham-eng-chelsea"
    assert pd.isna(match["home_goals"])
    assert match["away_goals"] == 1
    outcome = _outcome(parsed, "goals_are_non_negative_integers")
    assert outcome.failures["match_id"].tolist() == [match["match_id"]]
    assert "two-1" in outcome.failures["detail"].iloc[0]


def test_duplicated_row_fails_match_key_unique_naming_it():
    parsed = _parse(CORPUS["duplicate_row"])
    n = CORPUS["duplicate_row"].matches
    assert len(parsed.matches) == n
    original = _match(parsed, DUPLICATE_ROW + 2)
    copy = _match(parsed, n + 1)  # the repeated row is the file's last line
    assert copy["match_id"] == original["match_id"] == "E0-20230916-eng-man-united-eng-brighton"
    outcome = _outcome(parsed, "match_key_unique")
    assert not outcome.passed
    assert set(outcome.failures["match_id"]) == {original["match_id"]}
    assert set(outcome.failures["source_row"]) == {DUPLICATE_ROW + 2, n + 1}


def test_blank_trailing_rows_are_dropped_with_an_info_issue():
    parsed = _parse(CORPUS["blank_rows"])
    assert len(parsed.matches) == CORPUS["blank_rows"].matches
    assert parsed.blank_rows == 3
    assert parsed.issues.to_dict("records") == [
        {
            "row_number": None,
            "match_id": None,
            "severity": "info",
            "issue_type": "blank_rows",
            "detail": "3 blank row(s) dropped",
        }
    ]


def test_stray_single_byte_is_decoded_as_cp1252_with_a_warning():
    case = CORPUS["latin1"]
    with pytest.raises(UnicodeDecodeError):
        case.data.decode("utf-8")
    parsed = _parse(case)
    assert parsed.encoding == "cp1252"
    assert len(parsed.matches) == case.matches
    (issue,) = parsed.issues.to_dict("records")
    assert (issue["severity"], issue["issue_type"]) == ("warning", "encoding")
    match = _match(parsed, LATIN1_ROW + 2)
    assert match["home_team"] == "Sh\u00e9ffield United"
    assert match["home_team_id"] == "eng-sheffield-united"  # same id as the clean spelling


@pytest.mark.parametrize(
    ("name", "encoded", "encoding"),
    [
        ("Nott\u2019m Forest", "Nott\u2019m Forest".encode("cp1252"), "cp1252"),  # 0x92
        ("Nott\x81m Forest", b"Nott\x81m Forest", "latin-1"),  # 0x81: undefined in cp1252
        ("Nott\u2019m Forest", "Nott\u2019m Forest".encode("utf-8"), "utf-8"),
    ],
)
def test_encodings_are_tried_utf8_then_cp1252_then_latin1(name, encoded, encoding):
    data = real_bytes().replace(b",Nott'm Forest,", b"," + encoded + b",")
    parsed = parse_football_data(data, BASE_LEAGUE, BASE_SEASON)
    assert parsed.encoding == encoding
    names = set(parsed.matches["home_team"]) | set(parsed.matches["away_team"])
    assert name in names and "Nott'm Forest" not in names
    warnings = parsed.issues[parsed.issues["issue_type"] == "encoding"]
    assert warnings["detail"].tolist() == (
        [] if encoding == "utf-8" else [f"file is not valid UTF-8: read as {encoding}"]
    )


def test_unknown_date_format_drops_the_row_with_a_bad_date_error():
    case = CORPUS["bad_date"]
    parsed = _parse(case)
    assert len(parsed.matches) == case.matches
    assert DATE_ROW + 2 not in set(parsed.matches["source_row"])
    assert "E0-20231029-eng-man-united-eng-man-city" not in set(parsed.matches["match_id"])
    (issue,) = parsed.issues.to_dict("records")
    assert issue["severity"] == "error"
    assert issue["issue_type"] == "bad_date"
    assert issue["row_number"] == DATE_ROW + 2
    assert "'2023-08-11'" in issue["detail"]
