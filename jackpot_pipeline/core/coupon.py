"""Jackpot coupon files: parsing and validation into a :class:`ParsedCoupon`.

A coupon file is JSON or CSV (by extension ``.json`` / ``.csv``, otherwise sniffed: a file whose
first non-blank character is ``{`` is JSON).

JSON::

    {"id": "optional", "name": "optional",
     "fixtures": [{"home": "Arsenal", "away": "Chelsea", "kickoff": "2024-08-17T14:00:00+01:00",
                   "league": "E0", "odds": {"home": 2.1, "draw": 3.4, "away": 3.5}}]}

The original jackpot API's form is accepted as well (field aliases of the same model)::

    {"createdAt": "2024-08-16T09:00:00Z",
     "fixtures": [{"id": "1", "homeTeam": "Arsenal", "awayTeam": "Chelsea",
                   "odds": {"home": 2.1, "draw": 3.4, "away": 3.5}}]}

where a fixture without ``kickoff`` takes the date of ``createdAt`` (with a note).

CSV: header ``home,away,kickoff,league,odds_home,odds_draw,odds_away`` (``league`` and the odds
columns are optional), with optional ``# id: ...`` / ``# name: ...`` comment lines; other ``#``
lines and blank lines are ignored.

Limits come before any parsing work: at most ``MAX_BYTES`` bytes, ``MAX_LINES`` CSV lines and
JSON nesting ``MAX_DEPTH`` deep, then at most ``MAX_FIXTURES`` fixtures before any team is
resolved. Structure and types are checked by pydantic models (:class:`CouponIn`,
:class:`FixtureIn`, :class:`OddsIn`: odds must be JSON numbers, each in [``MIN_ODDS``,
``MAX_ODDS``], with a plausible overround); their errors become the same problem list.

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
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from jackpot_pipeline.core.teams import Resolution

MAX_FIXTURES = 20
MAX_BYTES = 256 * 1024  # a 20-fixture coupon is a few KiB
MAX_LINES = 200  # CSV lines, comments and blank lines included
MAX_DEPTH = 8  # JSON nesting: object → fixtures list → fixture → odds is 4
MIN_ODDS = 1.01
MAX_ODDS = 1000.0  # as football-data's range check: a longer price is a typo or a placeholder
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
#: The original jackpot API's names of the same fields (``createdAt`` dates a coupon whose
#: fixtures carry no kickoff).
ORIGINAL_TOP_LEVEL_FIELDS = ("createdAt",)
ORIGINAL_FIXTURE_FIELDS = ("id", "homeTeam", "awayTeam")

Resolve = Callable[[str, str | None], str | Resolution]
"""(team name, league code or None) → team id, or its :class:`Resolution` (then fuzzy matches
are reported on the fixture); raises ValueError with suggestions if unknown."""


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


def team_id_of(resolved: str | Resolution | None) -> str | None:
    """The team id a :data:`Resolve` returned (itself, or a resolution's)."""
    return resolved.team_id if isinstance(resolved, Resolution) else resolved


@dataclass(frozen=True)
class NameMatch:
    """A team name resolved only approximately (fuzzy): as written, the alias it matched, the
    club and the similarity score (0-1)."""

    side: str
    written: str
    matched: str
    team_id: str
    score: float


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
    source_id: str | None = None  # the fixture's own id (original format), if given
    name_matches: tuple[NameMatch, ...] = ()


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


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class OddsIn(BaseModel):
    """Decimal 1X2 odds as given: JSON numbers (never strings), each in [MIN_ODDS, MAX_ODDS],
    with an overround ``1/home + 1/draw + 1/away − 1`` inside ``OVERROUND_BOUNDS``."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    home: float = Field(ge=MIN_ODDS, le=MAX_ODDS)
    draw: float = Field(ge=MIN_ODDS, le=MAX_ODDS)
    away: float = Field(ge=MIN_ODDS, le=MAX_ODDS)

    @model_validator(mode="after")
    def _plausible_overround(self) -> OddsIn:
        odds = Odds(self.home, self.draw, self.away)
        low, high = OVERROUND_BOUNDS
        if not low <= odds.overround <= high:
            raise ValueError(
                f"implausible odds {odds.home}/{odds.draw}/{odds.away}: overround "
                f"{odds.overround:+.3f} (1/home + 1/draw + 1/away − 1) is outside [{low}, {high}]"
            )
        return self


class FixtureIn(BaseModel):
    """One fixture as written, in our field names or the original API's (``homeTeam``,
    ``awayTeam``, per-fixture ``id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr | StrictInt | None = None
    home: Text = Field(validation_alias=AliasChoices("home", "homeTeam"))
    away: Text = Field(validation_alias=AliasChoices("away", "awayTeam"))
    kickoff: StrictStr | None = None
    league: StrictStr | None = None
    odds: OddsIn | None = None


class CouponIn(BaseModel):
    """The top level: optional id and name (or the original API's ``createdAt``) and the
    fixture records, validated one by one (:class:`FixtureIn`) after the count limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr | StrictInt | None = None
    name: StrictStr | None = None
    created_at: StrictStr | None = Field(
        default=None, validation_alias=AliasChoices("created_at", "createdAt")
    )
    fixtures: list[Any]


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
    created: date | None = None  # the original format's createdAt, for fixtures without kickoff


@dataclass(frozen=True)
class _Context:
    """What every fixture check needs: the injected lookups and the running state."""

    resolve: Resolve
    team_leagues: Mapping[str, Collection[str]]
    absent: frozenset[str]
    findings: _Findings
    created: date | None = None
    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # fixture key → first row


def read_coupon_file(path: str | Path) -> bytes:
    """A coupon file's bytes; CouponValidationError (before reading) for a missing path, a
    directory, anything but a regular file, or a file over ``MAX_BYTES``."""
    path = Path(path)
    if not path.exists():
        problem = f"no such file: {path}"
    elif path.is_dir():
        problem = f"{path} is a directory, not a coupon file"
    elif not path.is_file():
        problem = f"{path} is not a regular file"
    elif (size := path.stat().st_size) > MAX_BYTES:
        problem = f"the file is {size:,} bytes; a coupon is at most {MAX_BYTES:,} bytes"
    else:
        try:
            return path.read_bytes()
        except OSError as error:
            problem = f"cannot read {path}: {error.strerror or error}"
    raise CouponValidationError(str(path), "(not read)", [CouponProblem(problem)])


def parse_coupon(
    path: str | Path, resolve: Resolve, team_leagues: Mapping[str, Collection[str]]
) -> ParsedCoupon:
    """Read (:func:`read_coupon_file`) and validate a coupon file; see
    :func:`parse_coupon_bytes`."""
    return parse_coupon_bytes(read_coupon_file(path), str(path), resolve, team_leagues)


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
    """Size limit, decoding, then JSON or CSV records; None when the file cannot be read."""
    if len(data) > MAX_BYTES:
        findings.problem(f"the file is {len(data):,} bytes; a coupon is at most {MAX_BYTES:,}")
        return None
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


def json_depth(text: str, limit: int) -> int:
    """Nesting depth of the brackets of a JSON text (outside strings), counted up to
    ``limit + 1``: a linear scan, so a deep document is refused without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _read_json(text: str, findings: _Findings) -> _RawCoupon | None:
    """The top-level object of a JSON coupon, checked by :class:`CouponIn`."""
    if json_depth(text, MAX_DEPTH) > MAX_DEPTH:
        findings.problem(f"the JSON nests more than {MAX_DEPTH} levels deep; a coupon needs 4")
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        findings.problem(f"the file is not valid JSON: {exc}")
        return None
    if not isinstance(document, dict):
        findings.problem("the JSON file must hold an object with a 'fixtures' list")
        return None
    try:
        top = CouponIn.model_validate(document)
    except ValidationError as error:
        bad = _report(error, None, frozenset(), findings)
        fixtures = document.get("fixtures")
        return _RawCoupon(
            None if "id" in bad else document.get("id"),
            None if "name" in bad else document.get("name"),
            fixtures if isinstance(fixtures, list) else [],
        )
    return _RawCoupon(top.id, top.name, top.fixtures, created=_created(top.created_at, findings))


def _created(value: str | None, findings: _Findings) -> date | None:
    """The date of the original format's ``createdAt`` (None when absent)."""
    if value is None:
        return None
    moment = _iso_moment(value)
    if moment is None:
        findings.problem(f"createdAt {value!r} is not an ISO 8601 date or datetime")
        return None
    return moment.date() if isinstance(moment, datetime) else moment


def _read_csv(text: str, findings: _Findings) -> _RawCoupon | None:
    """Header, ``# id:`` / ``# name:`` comments and data rows of a CSV coupon."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        findings.problem(
            f"the CSV file has {len(lines):,} lines; a coupon has at most {MAX_LINES} "
            f"({MAX_FIXTURES} fixtures)"
        )
        return None
    meta = _csv_comments(line for line in lines if line.lstrip().startswith("#"))
    try:
        rows = list(csv.reader(line for line in lines if not line.lstrip().startswith("#")))
    except csv.Error as error:
        findings.problem(f"the CSV file is malformed: {error}")
        return None
    if not rows:
        findings.problem(f"the CSV file has no header line (expected {','.join(CSV_COLUMNS)})")
        return _RawCoupon(meta.get("id"), meta.get("name"), [])
    header = [column.strip().lower() for column in rows[0]]
    for column in header:
        if column not in CSV_COLUMNS:
            findings.problem(
                f"unknown column {column!r} (expected one of {', '.join(CSV_COLUMNS)})"
            )
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
    """A CSV row as a fixture record: empty cells left out, odds columns folded into an
    ``odds`` dict of numbers (a cell that is not a number stays text and is reported)."""
    values = {
        column: cell.strip()
        for column, cell in zip(header, cells, strict=False)
        if column in CSV_COLUMNS and cell.strip()
    }
    odds = {key: _number(values[f"odds_{key}"]) for key in ODDS_KEYS if f"odds_{key}" in values}
    record: dict[str, object] = {k: values[k] for k in (*REQUIRED_FIELDS, "league") if k in values}
    return {**record, "odds": odds} if odds else record


def _number(text: str) -> float | str:
    """A CSV cell as a float if it is a finite decimal number, else the text itself."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _validate(
    raw: _RawCoupon,
    resolve: Resolve,
    team_leagues: Mapping[str, Collection[str]],
    findings: _Findings,
) -> list[CouponFixture]:
    """The fixture count (before any fixture is looked at), then every fixture-level and
    coupon-level check; the fixtures that passed."""
    count = len(raw.records)
    if count == 0:
        findings.problem("the coupon has no fixtures")
    elif count > MAX_FIXTURES:
        findings.problem(f"the coupon has {count} fixtures; at most {MAX_FIXTURES} are allowed")
        return []
    context = _Context(resolve, team_leagues, raw.absent, findings, raw.created)
    checked = (_validate_record(row, record, context) for row, record in enumerate(raw.records, 1))
    return [fixture for fixture in checked if fixture is not None]


def _validate_record(row: int, record: object, context: _Context) -> CouponFixture | None:
    """All checks of one fixture row: the model's (structure, types, odds), then names,
    kickoff, teams and league on the fields that passed; the fixture if all passed."""
    findings = context.findings
    if not isinstance(record, dict):
        findings.problem(f"a fixture must be an object, got {record!r}", row)
        return None
    before = len(findings.problems)
    try:
        model: FixtureIn | None = FixtureIn.model_validate(record)
        bad: set[str] = set()
    except ValidationError as error:
        model, bad = None, _report(error, row, context.absent, findings)
    fields = _fields(record, bad)
    names = {side: fields[side] for side in SIDES}
    league = fields["league"].upper() if fields["league"] else None
    resolved = {side: _resolve(name, side, league, row, context) for side, name in names.items()}
    ids = {side: team_id_of(r) for side, r in resolved.items()}
    kickoff = _kickoff(fields["kickoff"], row, context, "kickoff" in bad)
    _check_teams(row, names, ids, league, context)
    if model is None or len(findings.problems) > before:
        return None
    odds = model.odds
    return CouponFixture(
        row=row,
        home=names["home"],
        away=names["away"],
        home_id=ids["home"],
        away_id=ids["away"],
        kickoff=kickoff,
        league=league,
        odds=None if odds is None else Odds(odds.home, odds.draw, odds.away),
        source_id=None if model.id is None else str(model.id),
        name_matches=tuple(
            NameMatch(side, names[side], r.alias, r.team_id, r.score)
            for side, r in resolved.items()
            if isinstance(r, Resolution) and r.method == "fuzzy"
        ),
    )


#: Model field → the record keys it is read from (ours first, then the original API's).
_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "home": ("home", "homeTeam"),
    "away": ("away", "awayTeam"),
    "kickoff": ("kickoff",),
    "league": ("league",),
}


def _fields(record: Mapping[str, object], bad: set[str]) -> dict[str, str | None]:
    """The text fields of a record the model did not reject, stripped (None if absent)."""
    out: dict[str, str | None] = {}
    for name, keys in _FIELD_KEYS.items():
        value = next((record[key] for key in keys if key in record), None)
        ok = name not in bad and not any(key in bad for key in keys)
        out[name] = value.strip() if ok and isinstance(value, str) and value.strip() else None
    return out


def _report(
    error: ValidationError, row: int | None, absent: frozenset[str], findings: _Findings
) -> set[str]:
    """One problem per model error (missing fields of an absent CSV column are reported once
    by the header check); returns the top-level keys in error."""
    bad: set[str] = set()
    reported: set[str] = set()  # a union's members report one problem twice
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        bad.add(loc[0] if loc else "")
        message = _message(item, loc, row)
        if (item["type"] == "missing" and loc[-1] in absent) or message in reported:
            continue
        reported.add(message)
        findings.problem(message, row)
    return bad


def _message(item: Any, loc: list[str], row: int | None) -> str:
    """A model error in the words of the coupon format."""
    in_odds = len(loc) == 2 and loc[0] == "odds"
    # A field's name, or the price's: union members add their type to ``loc`` ('id', 'str').
    kind, value = item["type"], item.get("input")
    key = loc[-1] if in_odds else (loc[0] if loc else "")
    if kind == "extra_forbidden":
        what, allowed = (
            ("odds key", ODDS_KEYS)
            if in_odds
            else ("top-level field", (*TOP_LEVEL_FIELDS, *ORIGINAL_TOP_LEVEL_FIELDS))
            if row is None
            else ("field", (*FIXTURE_FIELDS, *ORIGINAL_FIXTURE_FIELDS))
        )
        return f"unknown {what} {key!r} (expected one of {', '.join(allowed)})"
    if kind == "missing":
        if in_odds:
            return f"{key} odds missing (give home, draw and away odds, or none)"
        return (
            f"required field {key!r} is missing"
            if row is None
            else f"missing required field {key!r}"
        )
    if in_odds:
        if kind == "greater_than_equal":
            return f"{key} odds {value} below the minimum {MIN_ODDS}"
        if kind == "less_than_equal":
            return f"{key} odds {value} above the maximum {MAX_ODDS:g}"
        return f"{key} odds {value!r} is not a number"
    if loc == ["odds"]:
        if kind == "value_error":
            return str(item["ctx"]["error"])
        return f"'odds' must be an object with home, draw, away; got {value!r}"
    if kind == "string_too_short":
        return f"missing required field {key!r}"
    if kind == "list_type":
        return f"required field {key!r} is not a list"
    if kind == "string_too_long":
        return f"{key!r} is longer than {item['ctx']['max_length']} characters"
    if key == "id":
        return f"'id' must be text or a whole number, got {value!r}"
    return f"{key!r} must be text, got {value!r}"


def _resolve(
    name: str | None, side: str, league: str | None, row: int, context: _Context
) -> str | Resolution | None:
    """The team id of one side, reporting the resolver's message (with suggestions) if unknown."""
    if name is None:
        return None
    try:
        return context.resolve(name, league)
    except ValueError as exc:
        context.findings.problem(f"unknown {side} team {name!r}: {exc}", row)
        return None


def _kickoff(
    value: str | None, row: int, context: _Context, rejected: bool
) -> datetime | date | None:
    """A bare ISO date, or an aware ISO datetime converted to UTC; without one, the date of
    the coupon's ``createdAt`` (original format). ``rejected``: already reported."""
    findings = context.findings
    if value is None:
        if context.created is not None and not rejected:
            findings.note(f"no kickoff: the coupon's createdAt date {context.created} is used", row)
            return context.created
        if "kickoff" not in context.absent and not rejected:
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
