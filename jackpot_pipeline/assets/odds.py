"""The Odds API assets (group ``odds``): snapshots, events, long odds, closing lines, consensus.

Data flow, each step idempotent and atomic per unit of work (one transaction):

- ``odds_snapshots``: ``/odds`` per configured sport through the ``odds_api`` resource; every body
  is stored as received in the raw layer (``<raw_dir>/odds-api/…``), each call gets a
  ``fetch_log`` row (quota bookkeeping) and each distinct body (checksum × sport × endpoint) an
  ``odds_snapshots`` row. On the replay resource (no key) every recording of each sport is
  served in turn, so a run ingests all of them; a body already stored adds no snapshot row
  (re-running adds no snapshot, event or odds row; ``fetch_log`` logs every call, replayed too).
- ``events``: the events listed by snapshots not yet loaded, with home/away team ids resolved
  through the alias table (unresolved names are kept with a null id and logged to
  ``data_quality_log``) and the status as known at the snapshot's time.
- ``odds``: normalized long rows of every snapshot not yet loaded, validated (issues logged to
  ``data_quality_log``; in strict mode error groups are rejected).
- ``closing_lines`` / ``market_consensus``: rebuilt from all odds rows (last pre-kickoff snapshot
  per bookmaker; consensus and Pinnacle margin-free 1X2 probabilities per event).
- ``event_scores``: ``/scores`` per sport, moving events scheduled → live → final (or postponed).

Nothing stored contains the API key: URLs are kept only in their redacted form (``apiKey=***``).
The module-level :func:`now` is the clock of ``requested_at``/``stored_at`` stamps (tests patch it).
"""

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from jackpot_pipeline import warehouse
from jackpot_pipeline.core import odds as core
from jackpot_pipeline.core.odds import EventStatus, ScoreRecord, Tier
from jackpot_pipeline.core.teams import LEAGUES, TeamResolver, UnknownTeamError, load_aliases
from jackpot_pipeline.odds_api import (
    FetchResult,
    OddsApi,
    OddsApiError,
    OddsApiResource,
    ReplayOddsApi,
    index_recordings,
)
from jackpot_pipeline.raw_store import store_blob
from jackpot_pipeline.resources import WarehouseResource
from jackpot_pipeline.settings import Settings

SOURCE = "odds-api"
RAW_NAMESPACE = "odds-api"
GROUP = "odds"
POOL = "duckdb_warehouse"
DEFAULT_SPORTS: tuple[str, ...] = tuple(league.odds_api_sport for league in LEAGUES.values())
LEAGUE_OF_SPORT: Mapping[str, str] = {lg.odds_api_sport: code for code, lg in LEAGUES.items()}
TIER_NAMES = tuple(tier.value for tier in Tier)
EVENT_COLUMNS = (
    "event_id",
    "sport",
    "league",
    "commence_time",
    "home_team",
    "away_team",
    "home_team_id",
    "away_team_id",
    "status",
    "home_score",
    "away_score",
    "first_seen_at",
    "last_seen_at",
    "status_updated_at",
    "final_at",
)
EVENT_TIMES = ("commence_time", "first_seen_at", "last_seen_at", "status_updated_at", "final_at")
ODDS_TIMES = ("commence_time", "bookmaker_last_update", "market_last_update", "snapshot_time")
CLOSING_COLUMNS = (
    "event_id",
    "sport",
    "commence_time",
    "bookmaker",
    "market",
    "outcome",
    "outcome_name",
    "price",
    "point",
    "snapshot_time",
)


def now() -> datetime:
    """The assets' wall clock (UTC); tests monkeypatch it."""
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- run config


class OddsFetchConfig(dg.Config):
    """Which sports to fetch and for which tier (the odds sensor sets both for its runs)."""

    sports: list[str] = Field(
        default=list(DEFAULT_SPORTS),
        description="The Odds API sport keys to fetch (default: the six leagues' sports).",
    )
    tier: str | None = Field(
        default=None,
        description="Fetch tier recorded with the snapshot (opening, early, sharp, pregame, "
        "closing); empty: derived from the nearest kickoff in the body.",
    )
    regions: str = Field(default="eu", description="Bookmaker regions (cost: markets × regions).")
    markets: str = Field(default="h2h", description="Featured markets, comma separated.")


class ScoresConfig(dg.Config):
    """Which sports' ``/scores`` to fetch."""

    sports: list[str] = Field(
        default=list(DEFAULT_SPORTS), description="The Odds API sport keys (default: six leagues)."
    )
    days_from: int = Field(
        default=3, ge=1, le=3, description="Include games completed up to this many days ago."
    )


# ----------------------------------------------------------------------------- fetching, storing


@dataclass(frozen=True)
class FetchSummary:
    """What one sport's fetch added: calls made, new snapshots, credits, last quota reading."""

    sport: str
    endpoint: str
    fetches: int = 0
    new_snapshots: int = 0
    cost: int = 0
    quota_remaining: int | None = None
    raw_paths: tuple[str, ...] = field(default=())


def fetch_all(call: Callable[[], FetchResult], *, drain: bool = False) -> list[FetchResult]:
    """One call, or with ``drain`` (an unclocked replay) calls until a recording comes again,
    so every recording is served once, in time order."""
    results = [call()]
    while drain and results[-1].source is not None:
        result = call()
        if result.source in {r.source for r in results}:
            break
        results.append(result)
    return results


def fetch_odds(
    api: OddsApi, sport: str, regions: str = "eu", markets: str = "h2h", *, drain: bool = False
) -> list[FetchResult]:
    """``/odds`` of one sport (every recording of it with ``drain``)."""
    return fetch_all(lambda: api.odds(sport, regions=regions, markets=markets), drain=drain)


def replay_of(api: OddsApi) -> ReplayOddsApi | None:
    """The replay serving ``api`` (itself or the resource's delegate), None when live."""
    delegate = api.api if isinstance(api, OddsApiResource) else api
    return delegate if isinstance(delegate, ReplayOddsApi) else None


def nearest_kickoff_hours(parsed: Any, at: datetime) -> float | None:
    """Hours from ``at`` to the nearest kickoff not yet passed in a body, None if there is none."""
    kickoffs = core.normalize_events(parsed)["commence_time"]
    ahead = kickoffs[kickoffs >= pd.Timestamp(at)]
    return None if ahead.empty else float((ahead.min() - pd.Timestamp(at)) / pd.Timedelta(hours=1))


@dataclass(frozen=True)
class PreparedFetches:
    """Fetch results whose bodies are in the raw layer, as ``fetch_log``/``odds_snapshots`` rows."""

    results: tuple[FetchResult, ...]
    fetch_rows: tuple[dict[str, Any], ...]
    snapshots: pd.DataFrame
    raw_paths: tuple[str, ...]


def prepare_fetches(
    results: Sequence[FetchResult],
    raw_dir: Path,
    requested_at: datetime,
    tier: str | None = None,
    *,
    events_loaded: bool = False,
) -> PreparedFetches:
    """Store each body in the raw layer (content-addressed, as received) and build its rows.

    ``tier`` defaults to the tier of the nearest kickoff in the body; ``events_loaded`` marks
    the snapshots as already applied to ``events`` (the scores asset applies its bodies itself).
    """
    if not results:
        raise ValueError("no fetch results to record")
    fetch_rows, snapshot_rows, paths = [], [], []
    for result in results:
        blob = store_blob(raw_dir, RAW_NAMESPACE, result.body, ".json")
        paths.append(str(blob.path))
        hours = nearest_kickoff_hours(result.parsed, result.fetched_at)
        derived = None if hours is None else core.tier_for(hours)
        fetch_tier = tier or (None if derived is None else str(derived))
        fetch_rows.append(
            {
                "fetch_id": uuid.uuid4().hex,
                "sport": result.sport,
                "endpoint": result.endpoint,
                "tier": fetch_tier,
                "requested_at": requested_at,
                "fetched_at": result.fetched_at,
                "http_status": result.status,
                "cost": result.cost,
                "quota_remaining": result.quota.remaining,
                "quota_used": result.quota.used,
                "quota_last": result.quota.last,
                "checksum": blob.checksum,
                "url": result.url,  # redacted by the client: apiKey=***
                "source": result.source,
            }
        )
        snapshot_rows.append(
            {
                "checksum": blob.checksum,
                "sport": result.sport,
                "endpoint": result.endpoint,
                "league": LEAGUE_OF_SPORT.get(result.sport or ""),
                "fetched_at": result.fetched_at,
                "tier": fetch_tier,
                "hours_to_commence": hours,
                "cost": result.cost,
                "quota_remaining": result.quota.remaining,
                "n_events": len(core.normalize_events(result.parsed)),
                "bytes": len(result.body),
                "raw_path": str(blob.path),
                "source": result.source,
                "stored_at": requested_at,
                "events_loaded_at": requested_at if events_loaded else None,
            }
        )
    snapshots = _frame(snapshot_rows, ("fetched_at", "stored_at", "events_loaded_at"))
    return PreparedFetches(tuple(results), tuple(fetch_rows), snapshots, tuple(paths))


def insert_fetches(con: duckdb.DuckDBPyConnection, prepared: PreparedFetches) -> FetchSummary:
    """Add the ``fetch_log`` rows and the new ``odds_snapshots`` rows (call in a transaction)."""
    snapshots = prepared.snapshots
    known = _known_snapshots(con, snapshots)
    keys = list(zip(snapshots["checksum"], snapshots["sport"], snapshots["endpoint"], strict=True))
    new = [key not in known and key not in keys[:i] for i, key in enumerate(keys)]
    fetch_log = _frame(prepared.fetch_rows, ("requested_at", "fetched_at")).assign(new_snapshot=new)
    warehouse.insert_frame(con, "fetch_log", fetch_log)
    added = warehouse.insert_frame(con, "odds_snapshots", snapshots[new])
    results = prepared.results
    return FetchSummary(
        sport=results[-1].sport or "",
        endpoint=results[-1].endpoint,
        fetches=len(results),
        new_snapshots=added,
        cost=sum(r.cost for r in results),
        quota_remaining=results[-1].quota.remaining,
        raw_paths=prepared.raw_paths,
    )


def record_fetches(
    con: duckdb.DuckDBPyConnection,
    results: Sequence[FetchResult],
    raw_dir: Path,
    requested_at: datetime,
    tier: str | None = None,
) -> FetchSummary:
    """Store the bodies raw, then log the calls and add the new snapshots in one transaction."""
    prepared = prepare_fetches(results, raw_dir, requested_at, tier)
    with warehouse.transaction(con):
        return insert_fetches(con, prepared)


def _known_snapshots(
    con: duckdb.DuckDBPyConnection, snapshots: pd.DataFrame
) -> set[tuple[str, str, str]]:
    rows = con.execute(
        "SELECT checksum, sport, endpoint FROM odds_snapshots WHERE list_contains(?, checksum)",
        [list(snapshots["checksum"])],
    ).fetchall()
    return {tuple(row) for row in rows}


def _frame(rows: Sequence[Mapping[str, Any]], times: Iterable[str]) -> pd.DataFrame:
    """Rows as a frame with the ``times`` columns as UTC timestamps (None → NaT)."""
    frame = pd.DataFrame(list(rows))
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def fetch_sport_odds(
    api: OddsApi,
    con_factory: Callable[[], Any],
    raw_dir: Path,
    sport: str,
    *,
    tier: str | None = None,
    regions: str = "eu",
    markets: str = "h2h",
    drain: bool = False,
    requested_at: datetime | None = None,
) -> FetchSummary:
    """Fetch one sport's odds and record them (``con_factory()`` is a connection context)."""
    results = fetch_odds(api, sport, regions, markets, drain=drain)
    with con_factory() as con:
        return record_fetches(con, results, raw_dir, requested_at or now(), tier)


# ----------------------------------------------------------------------------- events


def resolve_team(
    resolver: TeamResolver, name: str | None, league: str | None
) -> tuple[str | None, str | None]:
    """(team id, None) or (None, reason) for a source name.

    Without a league (a sport outside the six leagues) only exact or normalized alias matches
    count: a fuzzy match across every country is too loose (``Algeria`` → Almería).
    """
    if not name:
        return None, "empty team name"
    try:
        resolution = resolver.resolve(name, league)
    except (UnknownTeamError, ValueError) as error:
        return None, str(error)
    if league is None and resolution.method == "fuzzy":
        return None, f"no league: fuzzy match {resolution.alias!r} ({resolution.score:.2f}) ignored"
    return resolution.team_id, None


@dataclass
class EventBook:
    """Event rows by id, updated in memory from snapshots, plus the quality records raised."""

    rows: dict[str, dict[str, Any]]
    resolver: TeamResolver
    issues: list[dict[str, Any]] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)

    def apply(
        self,
        listed: pd.DataFrame,
        seen_at: datetime,
        clock: datetime,
        checksum: str | None,
        scores: Mapping[str, ScoreRecord] | None = None,
    ) -> None:
        """Merge one body's events (``normalize_events``/``normalize_scores`` rows).

        Names and kickoff follow the most recent body (``seen_at``); the status is re-evaluated
        at ``clock`` unless a later evaluation exists. Terminal statuses never change.
        """
        seen = pd.Timestamp(seen_at)
        for event in listed.itertuples(index=False):
            row = self.rows.get(event.event_id)
            if row is None:
                row = self._new(event, seen, checksum)
            elif seen >= row["last_seen_at"]:
                self._rename(row, event, checksum)
                row["commence_time"] = event.commence_time
                row["last_seen_at"] = seen
            score = None if scores is None else scores.get(event.event_id)
            self.evaluate(row, clock, score)
            self.changed.add(row["event_id"])

    def evaluate(
        self, row: dict[str, Any], clock: datetime, score: ScoreRecord | None = None
    ) -> None:
        """Move ``row`` through the lifecycle at ``clock`` (no-op for an older clock)."""
        at = pd.Timestamp(clock)
        if row["status_updated_at"] is not None and at < row["status_updated_at"]:
            return
        previous = None if row["status"] is None else EventStatus(row["status"])
        status = core.next_status(previous, row["commence_time"], score, at)
        if score is not None and score.has_scores and previous not in core.TERMINAL_STATUSES:
            row["home_score"], row["away_score"] = score.home_score, score.away_score
        if status is EventStatus.FINAL and previous is not EventStatus.FINAL:
            row["final_at"] = at
        row["status"] = status.value
        row["status_updated_at"] = at
        self.changed.add(row["event_id"])

    def _new(self, event: Any, seen: pd.Timestamp, checksum: str | None) -> dict[str, Any]:
        row = {column: None for column in EVENT_COLUMNS}
        row.update(
            event_id=event.event_id,
            sport=event.sport,
            league=LEAGUE_OF_SPORT.get(event.sport),
            commence_time=event.commence_time,
            first_seen_at=seen,
            last_seen_at=seen,
        )
        self._rename(row, event, checksum)
        self.rows[event.event_id] = row
        return row

    def _rename(self, row: dict[str, Any], event: Any, checksum: str | None) -> None:
        """Take the body's team names; (re-)resolve and log the ones that changed."""
        for side in ("home", "away"):
            name = getattr(event, f"{side}_team")
            if row[f"{side}_team"] == name:  # unchanged (a new row starts with None)
                continue
            row[f"{side}_team"] = name
            team_id, problem = resolve_team(self.resolver, name, row["league"])
            row[f"{side}_team_id"] = team_id
            if problem is not None:
                self.issues.append(
                    {
                        "league": row["league"],
                        "checksum": checksum,
                        "check_name": "team_resolution",
                        "severity": "warning",
                        "issue_type": "unresolved_team",
                        "match_id": row["event_id"],
                        "detail": f"{row['sport']} {side} team {name!r}: {problem}",
                        "action": "kept",
                    }
                )

    def frame(self, ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Rows (all, or ``ids``) as an ``events`` table frame."""
        chosen = self.rows.values() if ids is None else [self.rows[i] for i in ids]
        frame = pd.DataFrame(list(chosen), columns=list(EVENT_COLUMNS))
        for column in EVENT_TIMES:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        for column in ("home_score", "away_score"):
            frame[column] = pd.array(frame[column], dtype="Int64")
        return frame


def read_events(con: duckdb.DuckDBPyConnection, where: str = "", params: Sequence[Any] = ()):
    """Rows of ``events`` (optionally filtered) as dicts with UTC timestamps."""
    frame = con.execute(f"SELECT * FROM events {where}", list(params)).df()
    rows = {}
    for record in frame.to_dict("records"):
        for column in EVENT_TIMES:
            value = record[column]
            record[column] = None if pd.isna(value) else pd.Timestamp(value).tz_convert("UTC")
        for column in ("home_score", "away_score"):
            record[column] = None if pd.isna(record[column]) else int(record[column])
        rows[record["event_id"]] = record
    return rows


def write_events(con: duckdb.DuckDBPyConnection, book: EventBook, logged_at: datetime) -> int:
    """Replace the changed event rows and append the book's quality records (in a transaction)."""
    changed = sorted(book.changed)
    if changed:
        con.execute("DELETE FROM events WHERE list_contains(?, event_id)", [changed])
        warehouse.insert_frame(con, "events", book.frame(changed))
    log_quality(con, book.issues, logged_at)
    book.issues.clear()
    return len(changed)


def log_quality(
    con: duckdb.DuckDBPyConnection, records: Sequence[Mapping[str, Any]], logged_at: datetime
) -> int:
    """Append odds quality records to ``data_quality_log`` (source ``odds-api``)."""
    if not records:
        return 0
    frame = pd.DataFrame(list(records)).assign(source=SOURCE, logged_at=logged_at)
    frame["logged_at"] = pd.to_datetime(frame["logged_at"], utc=True)
    return warehouse.insert_frame(con, "data_quality_log", frame)


def read_body(raw_path: str) -> Any:
    """The parsed JSON of a stored body."""
    return json.loads(Path(raw_path).read_bytes())


def load_pending_events(
    con: duckdb.DuckDBPyConnection, resolver: TeamResolver, loaded_at: datetime
) -> tuple[int, int]:
    """Apply every odds snapshot not yet applied to ``events``; (snapshots, events changed)."""
    pending = _pending(con, "events_loaded_at")
    if not pending:
        return 0, 0
    listed = [
        (core.normalize_events(read_body(path)), checksum, fetched_at)
        for checksum, _, _, path, fetched_at in pending
    ]
    ids = sorted({i for frame, _, _ in listed for i in frame["event_id"]})
    book = EventBook(read_events(con, "WHERE list_contains(?, event_id)", [ids]), resolver)
    for frame, checksum, fetched_at in listed:
        book.apply(frame, fetched_at, fetched_at, checksum)
    with warehouse.transaction(con):
        changed = write_events(con, book, loaded_at)
        _mark(con, "events_loaded_at", pending, loaded_at)
    return len(pending), changed


def _pending(con: duckdb.DuckDBPyConnection, marker: str) -> list[tuple]:
    """Odds snapshots whose ``marker`` column is unset, oldest first."""
    return con.execute(
        "SELECT checksum, sport, endpoint, raw_path, fetched_at FROM odds_snapshots "
        f"WHERE endpoint IN ('odds', 'historical_odds') AND {marker} IS NULL "
        "ORDER BY fetched_at, sport"
    ).fetchall()


def _mark(
    con: duckdb.DuckDBPyConnection, column: str, snapshots: Sequence[tuple], at: datetime
) -> None:
    for checksum, sport, endpoint, *_ in snapshots:
        con.execute(
            f"UPDATE odds_snapshots SET {column} = ? "
            "WHERE checksum = ? AND sport = ? AND endpoint = ?",
            [at, checksum, sport, endpoint],
        )


def apply_scores(
    con: duckdb.DuckDBPyConnection,
    result: FetchResult,
    resolver: TeamResolver,
    logged_at: datetime,
) -> dict[str, int]:
    """Apply one ``/scores`` body to ``events`` at its fetch time: listed events get their scores
    and status; the sport's other open events move on by the clock alone. Status counts after."""
    scores = core.normalize_scores(result.parsed)
    records = core.score_records(scores)
    sport = result.sport or ""
    book = EventBook(
        read_events(
            con,
            "WHERE sport = ? AND (list_contains(?, event_id) OR status NOT IN ('final', "
            "'cancelled'))",
            [sport, list(scores["event_id"])],
        ),
        resolver,
    )
    book.apply(scores, result.fetched_at, result.fetched_at, None, records)
    for event_id, row in book.rows.items():
        if event_id not in records:
            book.evaluate(row, result.fetched_at)
    write_events(con, book, logged_at)
    counts: dict[str, int] = {}
    for row in book.rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


# ----------------------------------------------------------------------------- odds rows


def snapshot_odds(body: Any, fetched_at: datetime, sport: str, checksum: str) -> pd.DataFrame:
    """Long odds rows of one stored body, keyed by (snapshot checksum, row number)."""
    data, stamp = core.unwrap_historical(body)
    frame = core.normalize_odds(data, stamp or fetched_at, sport)
    return frame.assign(snapshot_checksum=checksum, row_no=range(len(frame)))


def quality_records(
    issues: pd.DataFrame, league: str | None, checksum: str, strict: bool
) -> list[dict[str, Any]]:
    """``validate_odds`` issues as ``data_quality_log`` records."""
    where = issues["bookmaker"].fillna("") + " " + issues["market"].fillna("")
    return [
        {
            "league": league,
            "checksum": checksum,
            "check_name": "odds_validation",
            "severity": severity,
            "issue_type": issue_type,
            "match_id": event_id,
            "detail": f"{place.strip()}: {detail}".lstrip(": "),
            "action": "rejected" if strict and severity == "error" else "logged",
        }
        for severity, issue_type, event_id, place, detail in zip(
            issues["severity"],
            issues["issue_type"],
            issues["event_id"],
            where,
            issues["detail"],
            strict=True,
        )
    ]


@dataclass(frozen=True)
class OddsLoad:
    """What loading pending snapshots added to ``odds``."""

    snapshots: int = 0
    rows_read: int = 0
    rows_inserted: int = 0
    rows_rejected: int = 0
    issues: int = 0
    errors: int = 0


def load_pending_odds(
    con: duckdb.DuckDBPyConnection, strict: bool, loaded_at: datetime
) -> OddsLoad:
    """Normalize, validate and insert every odds snapshot not yet loaded, in one transaction."""
    pending = _pending(con, "odds_loaded_at")
    if not pending:
        return OddsLoad()
    frames, records, counts = [], [], []
    read = errors = 0
    for checksum, sport, _, path, fetched_at in pending:
        rows = snapshot_odds(read_body(path), fetched_at, sport, checksum)
        report = core.validate_odds(rows, reject=strict)
        read += len(rows)
        errors += report.n_errors
        records += quality_records(report.issues, LEAGUE_OF_SPORT.get(sport), checksum, strict)
        frames.append(report.kept)
        counts.append(len(report.kept))
    kept = pd.concat(frames, ignore_index=True)
    with warehouse.transaction(con):
        inserted = warehouse.upsert_frame(
            con, "odds", kept[["snapshot_checksum", "row_no", *core.ODDS_COLUMNS]]
        )
        log_quality(con, records, loaded_at)
        _mark(con, "odds_loaded_at", pending, loaded_at)
        for (checksum, sport, endpoint, *_), count in zip(pending, counts, strict=True):
            con.execute(
                "UPDATE odds_snapshots SET odds_rows = ? "
                "WHERE checksum = ? AND sport = ? AND endpoint = ?",
                [count, checksum, sport, endpoint],
            )
    return OddsLoad(len(pending), read, inserted, read - len(kept), len(records), errors)


def read_odds(con: duckdb.DuckDBPyConnection, where: str = "", params: Sequence[Any] = ()):
    """Stored odds rows as an odds frame (``core.ODDS_COLUMNS``, UTC timestamps)."""
    columns = ", ".join(core.ODDS_COLUMNS)
    frame = con.execute(f"SELECT {columns} FROM odds {where}", list(params)).df()
    for column in ODDS_TIMES:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["two_way_h2h"] = frame["two_way_h2h"].astype(bool)
    return frame


def consensus_table(odds_rows: pd.DataFrame, events_rows: pd.DataFrame) -> pd.DataFrame:
    """Per event: consensus and Pinnacle margin-free 1X2 probabilities of the closing board."""
    closing = core.closing_lines(odds_rows)
    consensus = core.consensus_probs(closing).rename(
        columns={"home": "prob_home", "draw": "prob_draw", "away": "prob_away"}
    )
    pinnacle = core.pinnacle_probs(closing).rename(
        columns={
            "home": "pinnacle_home",
            "draw": "pinnacle_draw",
            "away": "pinnacle_away",
            "as_of": "pinnacle_as_of",
        }
    )
    table = consensus.merge(pinnacle.drop(columns="n_bookmakers"), on="event_id", how="outer")
    info = closing.drop_duplicates("event_id")[["event_id", "sport", "commence_time"]]
    table = table.merge(info, on="event_id", how="left")
    teams = events_rows[["event_id", "league", "home_team_id", "away_team_id"]]
    table = table.merge(teams, on="event_id", how="left")
    by_sport = table["sport"].map(LEAGUE_OF_SPORT)
    table["league"] = table["league"].where(table["league"].notna(), by_sport)
    table["n_bookmakers"] = table["n_bookmakers"].fillna(0).astype(int)
    return table


# ----------------------------------------------------------------------------- assets


def _fail(sport: str, error: OddsApiError) -> dg.Failure:
    """A Dagster failure for an API error (its text is already redacted by the client)."""
    return dg.Failure(
        description=f"{sport}: {type(error).__name__}: {error}",
        metadata={
            "sport": sport,
            "http_status": error.status or 0,
            "error_code": error.error_code or "",
        },
    )


def _table_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    description="One row per distinct Odds API response body (checksum × sport × endpoint), "
    "stored raw as received; every call also logged in fetch_log with its quota reading.",
)
def odds_snapshots(
    context: dg.AssetExecutionContext,
    config: OddsFetchConfig,
    odds_api: OddsApiResource,
    warehouse_db: WarehouseResource,
) -> dg.MaterializeResult:
    """Fetch ``/odds`` for each configured sport (each sport committed on its own)."""
    if config.tier is not None and config.tier not in TIER_NAMES:
        raise dg.Failure(f"unknown tier {config.tier!r}; expected one of {', '.join(TIER_NAMES)}")
    settings = Settings.from_env()
    drain = replay_of(odds_api) is not None
    summaries = []
    for sport in config.sports:
        try:
            summary = fetch_sport_odds(
                odds_api,
                warehouse_db.connect,
                Path(settings.raw_dir),
                sport,
                tier=config.tier,
                regions=config.regions,
                markets=config.markets,
                drain=drain,
            )
        except OddsApiError as error:
            raise _fail(sport, error) from None
        context.log.info(
            f"{sport}: {summary.fetches} fetch(es), {summary.new_snapshots} new snapshot(s), "
            f"cost {summary.cost}, quota remaining {summary.quota_remaining}"
        )
        summaries.append(summary)
    with warehouse_db.connect() as con:
        total = _table_count(con, "odds_snapshots")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "fetches": sum(s.fetches for s in summaries),
            "new_snapshots": sum(s.new_snapshots for s in summaries),
            "cost": sum(s.cost for s in summaries),
            "quota_remaining": summaries[-1].quota_remaining if summaries else None,
            "sports": dg.MetadataValue.json(list(config.sports)),
            "tier": config.tier or "derived",
            "mode": "replay" if drain else "live",
        }
    )


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    deps=[odds_snapshots],
    description="Odds API events: kickoff, source team names, resolved team ids (null when "
    "unresolved, logged in data_quality_log), status lifecycle and scores.",
)
def events(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Apply the odds snapshots not yet applied to ``events``."""
    resolver = load_aliases()
    with warehouse_db.connect() as con:
        snapshots, changed = load_pending_events(con, resolver, now())
        total = _table_count(con, "events")
        unresolved = con.execute(
            "SELECT count(*) FROM events WHERE home_team_id IS NULL OR away_team_id IS NULL"
        ).fetchall()[0][0]
        by_status = dict(con.execute("SELECT status, count(*) FROM events GROUP BY 1").fetchall())
    context.log.info(f"{snapshots} snapshot(s) applied, {changed} event(s) added or updated")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "snapshots_applied": snapshots,
            "events_changed": changed,
            "events_unresolved": int(unresolved),
            "by_status": dg.MetadataValue.json(by_status),
        }
    )


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    deps=[odds_snapshots],
    description="Long odds rows (event × bookmaker × market × outcome × snapshot) of every "
    "stored snapshot; validated, issues in data_quality_log (errors rejected in strict mode).",
)
def odds(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Normalize and insert the snapshots not yet loaded (re-running adds nothing)."""
    settings = Settings.from_env()
    with warehouse_db.connect() as con:
        load = load_pending_odds(con, settings.strict_mode, now())
        total = _table_count(con, "odds")
    context.log.info(
        f"{load.snapshots} snapshot(s): {load.rows_read} rows read, {load.rows_inserted} "
        f"inserted, {load.rows_rejected} rejected, {load.issues} quality record(s)"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "snapshots_loaded": load.snapshots,
            "rows_read": load.rows_read,
            "rows_inserted": load.rows_inserted,
            "rows_rejected": load.rows_rejected,
            "quality_records": load.issues,
            "strict_mode": settings.strict_mode,
        }
    )


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    deps=[odds],
    description="Per event × bookmaker × market, the prices of its last snapshot before kickoff.",
)
def closing_lines(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Rebuild the closing lines from all stored odds."""
    with warehouse_db.connect() as con:
        lines = core.closing_lines(read_odds(con))[list(CLOSING_COLUMNS)]
        with warehouse.transaction(con):
            con.execute("DELETE FROM closing_lines")
            warehouse.insert_frame(con, "closing_lines", lines)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(lines), "events": int(lines["event_id"].nunique())}
    )


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    deps=[odds, events],
    description="Per event: consensus (mean over bookmakers) and Pinnacle margin-free 1X2 "
    "probabilities of the closing board, with the resolved team ids.",
)
def market_consensus(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Rebuild the consensus table from all stored odds."""
    with warehouse_db.connect() as con:
        table = consensus_table(read_odds(con), con.execute("SELECT * FROM events").df())
        columns = [c for c in _columns(con, "market_consensus") if c in table.columns]
        with warehouse.transaction(con):
            con.execute("DELETE FROM market_consensus")
            warehouse.insert_frame(con, "market_consensus", table[columns])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "with_pinnacle": int(table["pinnacle_home"].notna().sum()),
        }
    )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


@dg.asset(
    group_name=GROUP,
    pool=POOL,
    deps=[events],
    description="Odds API /scores applied to events: scores, and the status moved scheduled → "
    "live → final (or postponed). Stored raw and logged like the odds snapshots.",
)
def event_scores(
    context: dg.AssetExecutionContext,
    config: ScoresConfig,
    odds_api: OddsApiResource,
    warehouse_db: WarehouseResource,
) -> dg.MaterializeResult:
    """Fetch ``/scores`` per sport and update the events (each sport committed on its own).

    On the replay resource, sports without a recorded scores body are skipped."""
    settings = Settings.from_env()
    resolver = load_aliases()
    replay = replay_of(odds_api)
    drain = replay is not None
    recorded = None if replay is None else index_recordings(replay.data_dir)
    statuses: dict[str, dict[str, int]] = {}
    cost = 0
    for sport in config.sports:
        if recorded is not None and ("scores", sport) not in recorded:
            context.log.info(f"{sport}: no recorded scores to replay; skipped")
            continue
        try:
            results = fetch_all(
                lambda sport=sport: odds_api.scores(sport, days_from=config.days_from),
                drain=drain,
            )
        except OddsApiError as error:
            raise _fail(sport, error) from None
        stamp = now()
        prepared = prepare_fetches(results, Path(settings.raw_dir), stamp, events_loaded=True)
        with warehouse_db.connect() as con, warehouse.transaction(con):
            insert_fetches(con, prepared)
            for result in results:
                statuses[sport] = apply_scores(con, result, resolver, stamp)
        cost += sum(r.cost for r in results)
        context.log.info(
            f"{sport}: {len(results)} scores body(ies) applied, events by status {statuses[sport]}"
        )
    with warehouse_db.connect() as con:
        total = _table_count(con, "events")
        final = con.execute("SELECT count(*) FROM events WHERE status = 'final'").fetchall()[0][0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "events_final": int(final),
            "sports": dg.MetadataValue.json(sorted(statuses)),
            "by_status": dg.MetadataValue.json(statuses),
            "cost": cost,
        }
    )
