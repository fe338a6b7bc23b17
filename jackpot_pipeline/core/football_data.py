"""Parse football-data.co.uk CSV files into normalized match and long-form odds frames.

The site's files (https://www.football-data.co.uk/notes.txt) carry one row per match with
results and a varying set of bookmaker columns: ``<BK>H/D/A`` are pre-closing 1X2 prices (the
snapshot taken a few days before kickoff, stored here as phase ``opening``), ``<BK>CH/CD/CA``
closing prices, ``<BK>>2.5`` / ``<BK><2.5`` over/under 2.5 goals (closing with ``C``).

Errors that make a whole file unusable raise :class:`FootballDataError`; problems confined to
rows become data-quality records (``ParsedFile.issues``) and never silently change a number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from jackpot_pipeline.core.source_format import REQUIRED_COLUMNS
from jackpot_pipeline.core.teams import team_id_for

UK = ZoneInfo("Europe/London")
MIN_PRICE, MAX_PRICE = 1.01, 1000.0

#: 1X2 bookmaker column prefixes → bookmaker keys.
BOOKMAKERS_1X2: dict[str, str] = {
    "B365": "bet365",
    "BW": "bwin",
    "GB": "gamebookers",
    "IW": "interwetten",
    "LB": "ladbrokes",
    "PS": "pinnacle",
    "WH": "william_hill",
    "SJ": "stan_james",
    "VC": "vc_bet",
    "BS": "blue_square",
    "1XB": "1xbet",
    "BF": "betfair_sportsbook",
    "BFD": "betfred",
    "BMGM": "betmgm",
    "BV": "betvictor",
    "CL": "coral",
    "BFE": "betfair_exchange",
    "Max": "market_max",
    "Avg": "market_avg",
    "BbMx": "betbrain_max",
    "BbAv": "betbrain_avg",
}
#: Over/under 2.5 column prefixes → bookmaker keys.
BOOKMAKERS_OU: dict[str, str] = {
    "B365": "bet365",
    "P": "pinnacle",
    "Max": "market_max",
    "Avg": "market_avg",
    "BFE": "betfair_exchange",
    "BbMx": "betbrain_max",
    "BbAv": "betbrain_avg",
}
OUTCOMES_1X2: dict[str, str] = {"H": "home", "D": "draw", "A": "away"}
OUTCOMES_OU: dict[str, str] = {">2.5": "over", "<2.5": "under"}
#: Market-probability sources in order of preference: (label, bookmaker, phase).
MARKET_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("pinnacle_closing", "pinnacle", "closing"),
    ("market_avg_closing", "market_avg", "closing"),
    ("pinnacle_opening", "pinnacle", "opening"),
    ("market_avg_opening", "market_avg", "opening"),
    ("betbrain_avg_opening", "betbrain_avg", "opening"),
)

MATCH_COLUMNS: tuple[str, ...] = (
    "match_id",
    "league",
    "season",
    "match_date",
    "kickoff_time",
    "kickoff_utc",
    "home_team",
    "away_team",
    "home_team_id",
    "away_team_id",
    "home_goals",
    "away_goals",
    "result",
    "ht_home_goals",
    "ht_away_goals",
    "ht_result",
    "source_row",
)
ODDS_COLUMNS: tuple[str, ...] = ("match_id", "bookmaker", "market", "outcome", "phase", "price")
ISSUE_COLUMNS: tuple[str, ...] = ("row_number", "match_id", "severity", "issue_type", "detail")


class FootballDataError(ValueError):
    """A football-data file that cannot be ingested at all (nothing is written)."""


@dataclass(frozen=True)
class OddsColumn:
    """Meaning of one odds column: bookmaker key, market, outcome and phase."""

    bookmaker: str
    market: str  # "1X2" or "OU2.5"
    outcome: str  # home/draw/away or over/under
    phase: str  # "opening" (football-data's pre-closing snapshot) or "closing"


@dataclass(frozen=True)
class ParsedFile:
    """One parsed file: matches, long odds and row-level data-quality records."""

    matches: pd.DataFrame
    odds: pd.DataFrame
    issues: pd.DataFrame
    raw: pd.DataFrame  # the kept source rows as text, with match_id and source_row
    encoding: str
    rows_read: int
    blank_rows: int


def _odds_column_map() -> dict[str, OddsColumn]:
    """Every known odds column name → its meaning (names are unambiguous by construction)."""
    mapping: dict[str, OddsColumn] = {}
    for phase, infix in (("opening", ""), ("closing", "C")):
        for code, bookmaker in BOOKMAKERS_1X2.items():
            for suffix, outcome in OUTCOMES_1X2.items():
                mapping[f"{code}{infix}{suffix}"] = OddsColumn(bookmaker, "1X2", outcome, phase)
        for code, bookmaker in BOOKMAKERS_OU.items():
            for suffix, outcome in OUTCOMES_OU.items():
                mapping[f"{code}{infix}{suffix}"] = OddsColumn(bookmaker, "OU2.5", outcome, phase)
    return mapping


ODDS_COLUMN_MAP: dict[str, OddsColumn] = _odds_column_map()


#: Text encodings tried in order; cp1252 before latin-1 because football-data's Windows files
#: write ’ (0x92) and other printable characters latin-1 reads as C1 control codes.
ENCODINGS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1")
#: Share of control characters (other than tab, CR, LF) above which bytes are not text.
MAX_CONTROL_SHARE = 0.01
#: Rows above which a file cannot be one league-season (the largest divisions play 552-600
#: matches); refused before any per-row work.
MAX_ROWS = 5000
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def decode(data: bytes) -> tuple[str, str]:
    """Decode as UTF-8 (BOM stripped), else cp1252, else latin-1; returns (text, encoding).

    Raises FootballDataError for UTF-16/UTF-32 text and binary data (NUL bytes or more than
    ``MAX_CONTROL_SHARE`` control characters), naming the line of the first offending byte.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FootballDataError(
            "UTF-16/UTF-32 encoded file (byte-order mark at line 1): save it as UTF-8 or cp1252 CSV"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise FootballDataError(
            f"binary or UTF-16 data: NUL byte at line {line} (byte {nul}); not a CSV text file"
        )
    for encoding in ENCODINGS:
        try:
            text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
            break
        except UnicodeDecodeError:
            continue
    controls = len(CONTROL_CHARS.findall(text))
    if controls > MAX_CONTROL_SHARE * len(text):
        first = CONTROL_CHARS.search(text).start()
        raise FootballDataError(
            f"binary data: {controls} control characters in {len(text)} "
            f"(first at line {text.count(chr(10), 0, first) + 1}); not a CSV text file"
        )
    return text, encoding


def read_header(data: bytes) -> list[str]:
    """The column names of a file's first line ([] for an empty or undecodable file)."""
    try:
        text, _ = decode(data)
        first = next(csv.reader(io.StringIO(text)), [])
    except (FootballDataError, csv.Error):
        return []
    return [cell.strip() for cell in first if cell.strip()]


def read_rows(text: str) -> tuple[list[str], list[list[str]], int]:
    """Split CSV text into header and rows, dropping blank rows (all cells empty).

    Raises FootballDataError naming the line for an empty file, a header without the required
    columns or with a column twice, malformed CSV (a stray CR or quote inside a row, an
    oversized field) or a row whose field count differs from the header's (a truncated or
    corrupted file).
    """
    lines = text.count("\n") + (not text.endswith("\n")) - 1  # after the header
    if lines > MAX_ROWS:
        raise FootballDataError(
            f"implausible file: {lines} lines after the header; one league-season has at most "
            f"{MAX_ROWS} rows"
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as error:
        raise FootballDataError(f"malformed CSV at line {reader.line_num}: {error}") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise FootballDataError("empty file: no header row")
    header = [cell.strip() for cell in records[0]]
    while header and header[-1] == "":
        header.pop()
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FootballDataError(
            f"wrong header: required columns missing: {', '.join(missing)} "
            f"(found: {', '.join(header[:12])}{', …' if len(header) > 12 else ''})"
        )
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:
        where = "; ".join(
            f"{c!r} in columns {', '.join(str(i + 1) for i, h in enumerate(header) if h == c)}"
            for c in twice
        )
        raise FootballDataError(f"malformed header at line 1: duplicated column {where}")
    rows: list[list[str]] = []
    blank = 0
    for line_number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            blank += 1
            continue
        trimmed = record[: len(header)] if not any(record[len(header) :]) else record
        if len(trimmed) != len(header):
            raise FootballDataError(
                f"truncated or corrupt file: line {line_number} has {len(record)} fields, "
                f"header has {len(header)}"
            )
        rows.append(trimmed)
    if not rows:
        raise FootballDataError("empty file: header only, no match rows")
    return header, rows, blank


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse 'dd/mm/yy' and 'dd/mm/yyyy' dates; anything else becomes NaT."""
    text = values.str.strip()
    long = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    short = pd.to_datetime(text.where(text.str.len() == 8), format="%d/%m/%y", errors="coerce")
    return long.fillna(short)


def _kickoff(match_dates: pd.Series, times: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Kickoff as given ('HH:MM', UK local time) and as a UTC timestamp (missing where absent)."""
    text = times.str.strip()
    offset = pd.to_timedelta(
        text.where(text.str.fullmatch(r"\d{1,2}:\d{2}")) + ":00", errors="coerce"
    )
    local = (match_dates + offset).dt.tz_localize(UK, ambiguous="NaT", nonexistent="NaT")
    return text.where(offset.notna()), local.dt.tz_convert("UTC")


def _goals(values: pd.Series) -> pd.Series:
    """Goals as nullable integers; anything that is not a non-negative integer becomes <NA>."""
    text = values.str.strip()
    valid = text.str.fullmatch(r"\d{1,2}")
    return pd.to_numeric(text.where(valid), errors="coerce").astype("Int64")


def _result(home: pd.Series, away: pd.Series) -> pd.Series:
    """'H', 'D' or 'A' from goals (<NA> where goals are missing)."""
    diff = (home - away).astype("Float64")
    out = pd.Series(pd.NA, index=home.index, dtype="string")
    out[diff > 0] = "H"
    out[diff == 0] = "D"
    out[diff < 0] = "A"
    return out


def _issue(row: int | None, match_id: str | None, severity: str, kind: str, detail: str) -> dict:
    return {
        "row_number": row,
        "match_id": match_id,
        "severity": severity,
        "issue_type": kind,
        "detail": detail,
    }


def build_match_ids(
    league: str, dates: pd.Series, home_ids: pd.Series, away_ids: pd.Series
) -> pd.Series:
    """Deterministic, readable match id: '<league>-<yyyymmdd>-<home_id>-<away_id>'."""
    day = dates.dt.strftime("%Y%m%d")
    return league + "-" + day + "-" + home_ids + "-" + away_ids


def parse_football_data(data: bytes, league: str, season: str) -> ParsedFile:
    """Parse one football-data file of ``league`` × ``season`` into normalized frames."""
    if not data.strip():
        raise FootballDataError("empty file: 0 bytes of content")
    text, encoding = decode(data)
    header, rows, blank = read_rows(text)
    raw = pd.DataFrame(rows, columns=header, dtype="string").fillna("")
    issues: list[dict] = []
    if encoding != "utf-8":
        issues.append(
            _issue(
                None, None, "warning", "encoding", f"file is not valid UTF-8: read as {encoding}"
            )
        )
    if blank:
        issues.append(_issue(None, None, "info", "blank_rows", f"{blank} blank row(s) dropped"))

    row_number = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    divs = raw["Div"].str.strip()
    wrong_div = divs != league
    for idx in raw.index[wrong_div]:
        issues.append(
            _issue(
                int(row_number[idx]),
                None,
                "error",
                "wrong_league",
                f"Div is {divs[idx]!r}, expected {league!r}: row dropped",
            )
        )
    match_dates = parse_dates(raw["Date"])
    for idx in raw.index[match_dates.isna() & ~wrong_div]:
        issues.append(
            _issue(
                int(row_number[idx]),
                None,
                "error",
                "bad_date",
                f"unparseable date {raw.at[idx, 'Date']!r} (expected dd/mm/yy or dd/mm/yyyy): "
                "row dropped",
            )
        )
    home_names = raw["HomeTeam"].str.strip()
    away_names = raw["AwayTeam"].str.strip()
    no_team = (home_names == "") | (away_names == "")
    for idx in raw.index[no_team & ~wrong_div & match_dates.notna()]:
        issues.append(
            _issue(int(row_number[idx]), None, "error", "missing_team", "empty team name: dropped")
        )
    keep = ~wrong_div & match_dates.notna() & ~no_team
    raw, match_dates, row_number = raw[keep], match_dates[keep], row_number[keep]
    home_names, away_names = home_names[keep], away_names[keep]

    home_ids = home_names.map(lambda name: team_id_for(name, league)).astype("string")
    away_ids = away_names.map(lambda name: team_id_for(name, league)).astype("string")
    match_ids = build_match_ids(league, match_dates, home_ids, away_ids)

    times = raw["Time"] if "Time" in raw.columns else pd.Series("", index=raw.index)
    kickoff_time, kickoff_utc = _kickoff(match_dates, times.astype("string"))
    home_goals, away_goals = _goals(raw["FTHG"]), _goals(raw["FTAG"])
    ht_home = _goals(raw["HTHG"]) if "HTHG" in raw.columns else pd.Series(pd.NA, index=raw.index)
    ht_away = _goals(raw["HTAG"]) if "HTAG" in raw.columns else pd.Series(pd.NA, index=raw.index)
    ht_result = raw["HTR"].str.strip() if "HTR" in raw.columns else ""
    matches = pd.DataFrame(
        {
            "match_id": match_ids,
            "league": league,
            "season": season,
            "match_date": match_dates.dt.normalize(),
            "kickoff_time": kickoff_time,
            "kickoff_utc": kickoff_utc,
            "home_team": raw["HomeTeam"].str.strip(),
            "away_team": raw["AwayTeam"].str.strip(),
            "home_team_id": home_ids,
            "away_team_id": away_ids,
            "home_goals": home_goals,
            "away_goals": away_goals,
            "result": raw["FTR"].str.strip(),
            "ht_home_goals": ht_home.astype("Int64"),
            "ht_away_goals": ht_away.astype("Int64"),
            "ht_result": ht_result,
            "source_row": row_number.astype("int64"),
        }
    ).reset_index(drop=True)
    raw = raw.assign(match_id=match_ids, source_row=row_number).reset_index(drop=True)
    odds, odds_issues = melt_odds(raw)
    issues.extend(odds_issues)
    return ParsedFile(
        matches=matches,
        odds=odds,
        issues=pd.DataFrame(issues, columns=list(ISSUE_COLUMNS)),
        raw=raw,
        encoding=encoding,
        rows_read=len(rows),
        blank_rows=blank,
    )


def melt_odds(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Long odds rows from the known odds columns; non-numeric cells become quality records."""
    columns = [c for c in raw.columns if c in ODDS_COLUMN_MAP]
    if not columns:
        return pd.DataFrame(columns=list(ODDS_COLUMNS)), []
    wide = raw[["match_id", "source_row", *columns]].melt(
        id_vars=["match_id", "source_row"], var_name="column", value_name="text"
    )
    wide["text"] = wide["text"].str.strip()
    wide = wide[wide["text"] != ""]
    wide["price"] = pd.to_numeric(wide["text"], errors="coerce")
    bad = wide[wide["price"].isna()]
    issues = [
        _issue(
            int(r.source_row),
            str(r.match_id),
            "error",
            "bad_odds",
            f"column {r.column}: {r.text!r} is not a number: price dropped",
        )
        for r in bad.itertuples()
    ]
    wide = wide[wide["price"].notna()]
    meaning = pd.DataFrame.from_dict(
        {c: vars(ODDS_COLUMN_MAP[c]) for c in columns}, orient="index"
    ).rename_axis("column")
    long = wide.join(meaning, on="column")
    return long[list(ODDS_COLUMNS)].reset_index(drop=True), issues


def select_market_odds(matches: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    """Per match the 1X2 prices used for market probabilities, by preference of source.

    Pinnacle closing, else market-average closing, else Pinnacle / market-average / BetBrain
    average pre-closing ('opening'); only prices in [1.01, 1000] count. Returns match_id,
    odds_source, odds_home/draw/away; matches without a complete triple in any source get
    odds_source None and NaN prices.
    """
    one_x_two = odds[(odds["market"] == "1X2") & odds["price"].between(MIN_PRICE, MAX_PRICE)]
    triples = one_x_two.pivot_table(
        index=["match_id", "bookmaker", "phase"], columns="outcome", values="price", aggfunc="first"
    ).reindex(columns=["home", "draw", "away"])
    triples = triples.dropna()
    chosen = pd.DataFrame(
        {"match_id": matches["match_id"], "odds_source": None}, dtype=object
    ).set_index("match_id")
    prices = pd.DataFrame(
        np.nan, index=chosen.index, columns=["odds_home", "odds_draw", "odds_away"]
    )
    for label, bookmaker, phase in reversed(MARKET_SOURCES):
        try:
            block = triples.xs((bookmaker, phase), level=("bookmaker", "phase"))
        except KeyError:
            continue
        block = block[block.index.isin(chosen.index)]
        chosen.loc[block.index, "odds_source"] = label
        prices.loc[block.index] = block.to_numpy()
    return chosen.join(prices).reset_index()


def rekey_teams(parsed: ParsedFile, league: str, team_ids: dict[str, str]) -> ParsedFile:
    """``parsed`` with the clubs named in ``team_ids`` (name → team id) given that id instead of
    the one derived from their name; match ids (in matches, odds and raw rows) follow."""
    if not team_ids:
        return parsed
    matches = parsed.matches.copy()
    for side in ("home", "away"):
        renamed = matches[f"{side}_team"].map(team_ids)
        matches[f"{side}_team_id"] = renamed.fillna(matches[f"{side}_team_id"]).astype("string")
    new_ids = build_match_ids(
        league, matches["match_date"], matches["home_team_id"], matches["away_team_id"]
    )
    old_to_new = dict(zip(matches["match_id"], new_ids, strict=True))
    matches["match_id"] = new_ids
    odds = parsed.odds.assign(match_id=parsed.odds["match_id"].map(old_to_new))
    raw = parsed.raw.assign(match_id=parsed.raw["match_id"].map(old_to_new))
    return replace(parsed, matches=matches, odds=odds, raw=raw)


def source_line(parsed: ParsedFile, source_row: int) -> str:
    """The file's line ``source_row`` as read (its cells joined by commas)."""
    columns = [c for c in parsed.raw.columns if c not in ("match_id", "source_row")]
    row = parsed.raw.loc[parsed.raw["source_row"] == source_row, columns].iloc[0]
    return ",".join(row.astype(str))


def duplicate_conflicts(parsed: ParsedFile) -> list[str]:
    """One message per match key found on rows with different contents, quoting the rows.

    Identical copies of a row are not conflicts (they are dropped with a quality record)."""
    keyed = parsed.matches[["match_id", "source_row"]]
    repeated = keyed[keyed["match_id"].duplicated(keep=False)]
    messages = []
    for match_id, group in repeated.groupby("match_id", sort=True):
        lines = {int(row): source_line(parsed, int(row)) for row in group["source_row"]}
        if len(set(lines.values())) > 1:
            quoted = "; ".join(f"line {row}: {text!r}" for row, text in lines.items())
            messages.append(f"match {match_id} appears on rows with different contents: {quoted}")
    return messages
