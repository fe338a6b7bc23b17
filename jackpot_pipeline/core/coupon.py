"""Jackpot coupon files: parsing and validation into a :class:`ParsedCoupon`.

A coupon file is JSON or CSV (by extension ``.json`` / ``.csv``, otherwise sniffed: a file whose
first non-blank character is ``{`` is JSON).

JSON::

    {"id": "optional", "name": "optional",
     "fixtures": [{"home": "Arsenal", "away": "Chelsea", "kickoff": "2024-08-17T14:00:00+01:00",
                   "league": "E0", "odds": {"home": 2.1, "draw": 3.4, "away": 3.5}}]}

CSV: header ``home,away,kickoff,league,odds_home,odds_draw,odds_away`` (``league`` and the odds
columns are optional), with optional ``# id: ...`` / ``# name: ...`` comment lines; other ``#``
lines and blank lines are ignored.

Row numbers in messages count fixtures from 1 in file order (in CSV: data rows, not file lines).
A kickoff is either a timezone-aware ISO 8601 datetime (stored in UTC) or a bare ISO date (kept as
a :class:`datetime.date`, with a note): naive datetimes are rejected. Validation collects every
problem before failing with :class:`CouponValidationError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

MAX_FIXTURES = 20
MIN_ODDS = 1.01
# Bounds on the 1X2 overround 1/h + 1/d + 1/a − 1. Real books run from about 2 % (sharp) to
# about 15-20 % (soft, jackpot-style) and best-price combinations can dip just under 0; outside
# [−1 %, 30 %] the prices are almost surely mistyped, swapped or not decimal odds.
OVERROUND_BOUNDS = (-0.01, 0.30)

REQUIRED_FIELDS = ("home", "away", "kickoff")
FIXTURE_FIELDS = (*REQUIRED_FIELDS, "league", "odds")
ODDS_KEYS = ("home", "draw", "away")
CSV_COLUMNS = (*REQUIRED_FIELDS, "league", *(f"odds_{key}" for key in ODDS_KEYS))
TOP_LEVEL_FIELDS = ("id", "name", "fixtures")
SIDES = ("home", "away")

Resolve = Callable[[str, str | None], str]
"""(team name, league code or None) → team id; raises ValueError with suggestions if unknown."""


@dataclass(frozen=True)
class Odds:
    """Decimal 1X2 odds; ``overround = 1/home + 1/draw + 1/away − 1``."""

    home: float
    draw: float
    away: float

    @property
    def overround(self) -> float:
        """Bookmaker margin ``Σ 1/o − 1``."""
        return 1 / self.home + 1 / self.draw + 1 / self.away - 1


@dataclass(frozen=True)
class CouponFixture:
    """One validated fixture: names as written, resolved team ids, kickoff in UTC or a date."""

    row: int
    home: str
    away: str
    home_id: str
    away_id: str
    kickoff: datetime | date
    league: str | None
    odds: Odds | None


@dataclass(frozen=True)
class ParsedCoupon:
    """A validated coupon.

    ``id`` is the file's id or ``coupon-`` + the first 16 hex digits of the SHA-256 of the
    fixture identities (``home_id|away_id|kickoff`` lines), so the same fixtures get the same id
    in JSON and CSV; ``content_sha256`` is the SHA-256 of the file bytes.
    """

    id: str
    name: str | None
    content_sha256: str
    fixtures: tuple[CouponFixture, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CouponProblem:
    """One validation problem, tied to a fixture row when it concerns one."""

    message: str
    row: int | None = None

    def __str__(self) -> str:
        return self.message if self.row is None else f"row {self.row}: {self.message}"


class CouponValidationError(ValueError):
    """A coupon file was rejected; carries every problem found."""

    def __init__(self, source: str, content_sha256: str, problems: list[CouponProblem]) -> None:
        self.source = source
        self.content_sha256 = content_sha256
        self.problems = tuple(problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s); first: {self.problems[0]}")

    def __reduce__(self) -> tuple[type, tuple[str, str, list[CouponProblem]]]:
        """Picklable despite the custom constructor (e.g. across process boundaries)."""
        return type(self), (self.source, self.content_sha256, list(self.problems))

    def report(self) -> str:
        """A readable text report listing every problem."""
        lines = [
            f"Jackpot coupon rejected: {self.source}",
            f"content sha256: {self.content_sha256}",
            f"{len(self.problems)} problem(s):",
            *(f"  - {problem}" for problem in self.problems),
        ]
        return "\n".join(lines) + "\n"


@dataclass
class _Findings:
    """Problems and notes collected while validating one file."""

    problems: list[CouponProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, message: str, row: int | None = None) -> None:
        self.problems.append(CouponProblem(message, row))

    def note(self, message: str, row: int) -> None:
        self.notes.append(str(CouponProblem(message, row)))


@dataclass(frozen=True)
class _RawCoupon:
    """A file's content before validation: fixture records as plain dicts."""

    id: object
    name: object
    records: list[object]
    absent: frozenset[str] = frozenset()  # required CSV columns already reported as missing


@dataclass(frozen=True)
class _Context:
    """What every fixture check needs: the injected lookups and the running state."""

    resolve: Resolve
    team_leagues: Mapping[str, Collection[str]]
    absent: frozenset[str]
    findings: _Findings
    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # fixture key → first row


def parse_coupon(
    path: str | Path, resolve: Resolve, team_leagues: Mapping[str, Collection[str]]
) -> ParsedCoupon:
    """Read and validate a coupon file; see :func:`parse_coupon_bytes`."""
    return parse_coupon_bytes(Path(path).read_bytes(), str(path), resolve, team_leagues)


def parse_coupon_bytes(
    data: bytes, source: str, resolve: Resolve, team_leagues: Mapping[str, Collection[str]]
) -> ParsedCoupon:
    """Validate a coupon file's bytes (``source`` names it and gives the extension).

    ``resolve(name, league)`` maps a team name to its id or raises ``ValueError`` whose message
    carries suggestions; ``team_leagues[team_id]`` are the league codes the team has played in.
    Raises :class:`CouponValidationError` listing every problem.
    """
    digest = hashlib.sha256(data).hexdigest()
    findings = _Findings()
    raw = _read(data, source, findings)
    fixtures = _validate(raw, resolve, team_leagues, findings) if raw is not None else []
    if findings.problems:
        raise CouponValidationError(source, digest, findings.problems)
    return ParsedCoupon(
        id=_optional_text(raw.id) or _fixtures_hash(fixtures),
        name=_optional_text(raw.name),
        content_sha256=digest,
        fixtures=tuple(fixtures),
        notes=tuple(findings.notes),
    )


def _read(data: bytes, source: str, findings: _Findings) -> _RawCoupon | None:
    """Decode and split a file into raw records; None when it cannot be read at all."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        findings.problem(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None
    if _is_json(source, text):
        return _read_json(text, findings)
    return _read_csv(text, findings)


def _is_json(source: str, text: str) -> bool:
    """JSON by extension, else by a leading ``{``."""
    suffix = Path(source).suffix.lower()
    if suffix in {".json", ".csv"}:
        return suffix == ".json"
    return text.lstrip().startswith("{")


def _read_json(text: str, findings: _Findings) -> _RawCoupon | None:
    """The top-level object of a JSON coupon."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        findings.problem(f"the file is not valid JSON: {exc}")
        return None
    if not isinstance(document, dict):
        findings.problem("the JSON file must hold an object with a 'fixtures' list")
        return None
    _check_keys(document, TOP_LEVEL_FIELDS, "top-level field", None, findings)
    fixtures = document.get("fixtures")
    if not isinstance(fixtures, list):
        state = "missing" if fixtures is None else "not a list"
        findings.problem(f"required field 'fixtures' is {state}")
        fixtures = []
    return _RawCoupon(document.get("id"), document.get("name"), fixtures)


def _read_csv(text: str, findings: _Findings) -> _RawCoupon:
    """Header, ``# id:`` / ``# name:`` comments and data rows of a CSV coupon."""
    lines = [line for line in text.splitlines() if line.strip()]
    meta = _csv_comments(line for line in lines if line.lstrip().startswith("#"))
    rows = list(csv.reader(line for line in lines if not line.lstrip().startswith("#")))
    if not rows:
        findings.problem(f"the CSV file has no header line (expected {','.join(CSV_COLUMNS)})")
        return _RawCoupon(meta.get("id"), meta.get("name"), [])
    header = [column.strip().lower() for column in rows[0]]
    _check_keys(dict.fromkeys(header), CSV_COLUMNS, "column", None, findings)
    absent = frozenset(column for column in REQUIRED_FIELDS if column not in header)
    if absent:
        findings.problem(f"the CSV header lacks required column(s) {', '.join(sorted(absent))}")
    for row, cells in enumerate(rows[1:], start=1):
        if len(cells) != len(header):
            findings.problem(f"has {len(cells)} cells but the header has {len(header)}", row)
    records = [_csv_record(header, cells) for cells in rows[1:]]
    return _RawCoupon(meta.get("id"), meta.get("name"), records, absent)


def _csv_comments(lines: Iterable[str]) -> dict[str, str]:
    """``id`` and ``name`` from ``# key: value`` comment lines."""
    meta: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.lstrip()[1:].partition(":")
        if sep and key.strip().casefold() in {"id", "name"}:
            meta[key.strip().casefold()] = value.strip()
    return meta


def _csv_record(header: list[str], cells: list[str]) -> dict[str, object]:
    """A CSV row as a fixture record, odds columns folded into an ``odds`` dict (cells beyond
    the header are dropped, missing ones count as empty)."""
    padded = [*cells[: len(header)], *[""] * (len(header) - len(cells))]
    values = {column: cell.strip() or None for column, cell in zip(header, padded, strict=True)}
    odds = {key: values[f"odds_{key}"] for key in ODDS_KEYS if values.get(f"odds_{key}")}
    record = {key: values.get(key) for key in ("home", "away", "kickoff", "league")}
    return {**record, "odds": odds or None}


def _validate(
    raw: _RawCoupon,
    resolve: Resolve,
    team_leagues: Mapping[str, Collection[str]],
    findings: _Findings,
) -> list[CouponFixture]:
    """Every fixture-level and coupon-level check; the fixtures that passed."""
    for label, value in (("id", raw.id), ("name", raw.name)):
        if value is not None and not isinstance(value, str | int):
            findings.problem(f"'{label}' must be text, got {value!r}")
    count = len(raw.records)
    if count == 0:
        findings.problem("the coupon has no fixtures")
    elif count > MAX_FIXTURES:
        findings.problem(f"the coupon has {count} fixtures; at most {MAX_FIXTURES} are allowed")
    context = _Context(resolve, team_leagues, raw.absent, findings)
    checked = (_validate_record(row, record, context) for row, record in enumerate(raw.records, 1))
    return [fixture for fixture in checked if fixture is not None]


def _validate_record(row: int, record: object, context: _Context) -> CouponFixture | None:
    """All checks of one fixture row; the fixture if it passed them all."""
    findings = context.findings
    if not isinstance(record, dict):
        findings.problem(f"a fixture must be an object, got {record!r}", row)
        return None
    before = len(findings.problems)
    _check_keys(record, FIXTURE_FIELDS, "field", row, findings)
    names = {side: _required_text(record, side, row, context) for side in SIDES}
    league = _league(record.get("league"), row, findings)
    ids = {side: _resolve(name, side, league, row, context) for side, name in names.items()}
    kickoff = _kickoff(record.get("kickoff"), row, context)
    odds = _odds(record.get("odds"), row, findings)
    _check_teams(row, names, ids, league, context)
    if len(findings.problems) > before:
        return None
    return CouponFixture(
        row=row,
        home=names["home"],
        away=names["away"],
        home_id=ids["home"],
        away_id=ids["away"],
        kickoff=kickoff,
        league=league,
        odds=odds,
    )


def _check_keys(
    mapping: Mapping[str, object],
    allowed: tuple[str, ...],
    what: str,
    row: int | None,
    findings: _Findings,
) -> None:
    """Report keys outside ``allowed`` (typos would otherwise be silently dropped)."""
    for key in mapping:
        if key not in allowed:
            findings.problem(f"unknown {what} {key!r} (expected one of {', '.join(allowed)})", row)


def _required_text(
    record: Mapping[str, object], key: str, row: int, context: _Context
) -> str | None:
    """A required non-empty text field."""
    value = record.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if not (value is None or isinstance(value, str)):
        context.findings.problem(f"'{key}' must be text, got {value!r}", row)
    elif key not in context.absent:
        context.findings.problem(f"missing required field '{key}'", row)
    return None


def _league(value: object, row: int, findings: _Findings) -> str | None:
    """The optional league code, upper-cased."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        findings.problem(f"'league' must be a league code such as 'E0', got {value!r}", row)
        return None
    return value.strip().upper()


def _resolve(
    name: str | None, side: str, league: str | None, row: int, context: _Context
) -> str | None:
    """The team id of one side, reporting the resolver's message (with suggestions) if unknown."""
    if name is None:
        return None
    try:
        return context.resolve(name, league)
    except ValueError as exc:
        context.findings.problem(f"unknown {side} team {name!r}: {exc}", row)
        return None


def _kickoff(value: object, row: int, context: _Context) -> datetime | date | None:
    """A bare ISO date, or an aware ISO datetime converted to UTC."""
    findings = context.findings
    if value is None or (isinstance(value, str) and not value.strip()):
        if "kickoff" not in context.absent:
            findings.problem("missing required field 'kickoff'", row)
        return None
    moment = _iso_moment(value)
    if moment is None:
        findings.problem(
            f"kickoff {value!r} is not an ISO 8601 date (2024-08-17) or datetime "
            "(2024-08-17T14:00:00+01:00)",
            row,
        )
        return None
    text = str(value).strip()
    if not isinstance(moment, datetime):
        findings.note(f"kickoff {text} has no time of day; kept as a date", row)
        return moment
    if moment.utcoffset() is None:
        findings.problem(
            f"kickoff {text!r} has no UTC offset; a datetime needs one, e.g. {text}+01:00 or "
            f"{text}Z (or give the bare date)",
            row,
        )
        return None
    return moment.astimezone(UTC)


def _iso_moment(value: object) -> datetime | date | None:
    """A text value as an ISO date if it is one, else as an ISO datetime; None if neither."""
    if not isinstance(value, str):
        return None
    for kind in (date, datetime):
        try:
            return kind.fromisoformat(value.strip())
        except ValueError:
            continue
    return None


def _odds(value: object, row: int, findings: _Findings) -> Odds | None:
    """Optional decimal 1X2 odds: all three, each ≥ 1.01, with a plausible overround."""
    if value is None:
        return None
    if not isinstance(value, dict):
        findings.problem(f"'odds' must be an object with home, draw, away; got {value!r}", row)
        return None
    _check_keys(value, ODDS_KEYS, "odds key", row, findings)
    prices = {key: _price(key, value.get(key), row, findings) for key in ODDS_KEYS}
    if any(price is None for price in prices.values()):
        return None
    odds = Odds(**prices)
    low, high = OVERROUND_BOUNDS
    if not low <= odds.overround <= high:
        findings.problem(
            f"implausible odds {odds.home}/{odds.draw}/{odds.away}: overround "
            f"{odds.overround:+.3f} (1/home + 1/draw + 1/away − 1) is outside [{low}, {high}]",
            row,
        )
        return None
    return odds


def _price(key: str, value: object, row: int, findings: _Findings) -> float | None:
    """One decimal price ≥ 1.01."""
    if value is None:
        findings.problem(f"{key} odds missing (give home, draw and away odds, or none)", row)
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        price = math.nan
    if isinstance(value, bool) or not math.isfinite(price):
        findings.problem(f"{key} odds {value!r} is not a number", row)
        return None
    if price < MIN_ODDS:
        findings.problem(f"{key} odds {price} below the minimum {MIN_ODDS}", row)
        return None
    return price


def _check_teams(
    row: int,
    names: Mapping[str, str | None],
    ids: Mapping[str, str | None],
    league: str | None,
    context: _Context,
) -> None:
    """Same team on both sides, duplicate fixtures (by team ids, else names) and league."""
    findings, seen = context.findings, context.seen
    keys = {side: ids[side] or (names[side] or "").casefold() for side in SIDES}
    pair = (keys["home"], keys["away"])
    fixture = f"{names['home']} v {names['away']}"
    if pair[0] and pair[0] == pair[1]:
        findings.problem(f"the same team on both sides ({fixture})", row)
    if all(pair) and pair in seen:
        findings.problem(f"duplicate fixture {fixture} (same as row {seen[pair]})", row)
    elif all(pair):
        seen[pair] = row
    if league is not None:
        _check_league(row, league, ids, context)


def _check_league(row: int, league: str, ids: Mapping[str, str | None], context: _Context) -> None:
    """The league must be in each team's country, and at least one team must have played in it.

    Country = league code without its tier digits (``E0``/``E1`` → ``E``, ``SP1`` → ``SP``), so a
    promoted or relegated team still matches its new league. Teams without league history are
    not checked.
    """
    history = context.team_leagues
    known = {side: sorted(history[i]) for side, i in ids.items() if i is not None and i in history}
    for side, leagues in known.items():
        if _country(league) not in {_country(code) for code in leagues}:
            context.findings.problem(
                f"league {league} does not match {side} team {ids[side]} "
                f"(has played in {', '.join(leagues)})",
                row,
            )
    if len(known) == len(SIDES) and all(league not in leagues for leagues in known.values()):
        played = "; ".join(f"{ids[side]} in {', '.join(known[side])}" for side in SIDES)
        context.findings.problem(
            f"league {league} does not match the teams: neither has played in it ({played})", row
        )


def _country(league: str) -> str:
    """Country part of a football-data league code."""
    return league.rstrip("0123456789")


def _optional_text(value: object) -> str | None:
    """A blank-stripped text value (ids may be integers), None when absent or blank."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    return text or None


def _fixtures_hash(fixtures: list[CouponFixture]) -> str:
    """``coupon-`` + 16 hex digits of SHA-256 over ``home_id|away_id|kickoff`` lines."""
    identity = "\n".join(f"{f.home_id}|{f.away_id}|{f.kickoff.isoformat()}" for f in fixtures)
    return "coupon-" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def coupon_label(data: bytes, source: str) -> str | None:
    """A readable name for a coupon file without validating it: its ``id`` if it has one, else
    the earliest kickoff date (``YYYY-MM-DD``) among its rows; None when neither is readable."""
    raw = _read(data, source, _Findings())
    if raw is None:
        return None
    if label := _optional_text(raw.id):
        return label
    dates: list[str] = []
    for record in raw.records:
        if isinstance(record, Mapping):
            moment = _iso_moment(record.get("kickoff"))
            if moment is not None:
                dates.append(moment.isoformat()[:10])
    return min(dates) if dates else None
