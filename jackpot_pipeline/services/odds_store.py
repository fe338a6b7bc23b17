"""The Odds API data in the warehouse: fetching and recording, events, odds rows, closing lines,
consensus, and the sensors' reads. Plain Python (no Dagster): the odds assets and sensors in
:mod:`defs.odds.assets` and :mod:`defs.odds.sensors` import it in their bodies,
so pandas, DuckDB and the core load with a run or a tick, not with the code location.

Each unit of work is idempotent and atomic (one transaction):

- fetches: every body is stored as received in the raw layer (``<raw_dir>/odds-api/…``), each
  call gets a ``fetch_log`` row (quota bookkeeping) and each distinct body (checksum × sport ×
  endpoint) an ``odds_snapshots`` row; a body already stored adds no snapshot row.
- events: the events listed by snapshots not yet loaded, with home/away team ids resolved
  through the alias table (unresolved names are kept with a null id and logged to
  ``data_quality_log``) and the status as known at the snapshot's time.
- odds: normalized long rows of every snapshot not yet loaded, validated (issues logged to
  ``data_quality_log``; in strict mode error groups are rejected).
- closing lines / market consensus: rebuilt from all odds rows.
- scores: ``/scores`` bodies moving events scheduled → live → final (or postponed).

Nothing stored contains the API key: URLs are kept only in their redacted form (``apiKey=***``).
There is no clock here: callers pass the times (or a ``clock``) in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from jackpot_pipeline.core import odds as core
from jackpot_pipeline.core.odds import EventStatus, ScoreRecord, Tier
from jackpot_pipeline.core.teams import LEAGUES, TeamResolver, UnknownTeamError
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.odds_api import (
    FetchResult,
    OddsApi,
    OddsApiResource,
    ReplayOddsApi,
    index_recordings,
)
from jackpot_pipeline.services.raw_store import store_blob

SOURCE = "odds-api"
RAW_NAMESPACE = "odds-api"
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
NOT_CLOSING = (
    "home_team",
    "away_team",
    "bookmaker_last_update",
    "market_last_update",
    "two_way_h2h",
)
CLOSING_COLUMNS = tuple(column for column in core.ODDS_COLUMNS if column not in NOT_CLOSING)
LOCK_TIMEOUT_S = 5.0  # a sensor tick must finish well within Dagster's 60 s evaluation limit
SCORES_WINDOW = timedelta(days=3)  # /scores?daysFrom=3 cannot report older games
OPEN_STATUSES = (EventStatus.SCHEDULED.value, EventStatus.LIVE.value)


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
    clock: Callable[[], datetime],
) -> FetchSummary:
    """Fetch one sport's odds and record them, requested at ``clock()`` once fetched
    (``con_factory()`` is a connection context)."""
    results = fetch_odds(api, sport, regions, markets, drain=drain)
    with con_factory() as con:
        return record_fetches(con, results, raw_dir, clock(), tier)


def recorded_sports(api: OddsApi, endpoint: str) -> set[str | None] | None:
    """The sports a replay has recordings of ``endpoint`` for; None when ``api`` is live."""
    replay = replay_of(api)
    if replay is None:
        return None
    return {sport for kind, sport in index_recordings(replay.data_dir) if kind == endpoint}


def fetch_sport_scores(
    api: OddsApi,
    con_factory: Callable[[], Any],
    raw_dir: Path,
    sport: str,
    resolver: TeamResolver,
    *,
    days_from: int,
    drain: bool = False,
    clock: Callable[[], datetime],
) -> tuple[FetchSummary, dict[str, int]]:
    """Fetch one sport's ``/scores`` (every recording of it with ``drain``), store the bodies raw,
    then log the calls and apply the bodies to ``events`` at ``clock()`` in one transaction.

    Returns what the fetch added and the sport's events by status afterwards."""
    results = fetch_all(lambda: api.scores(sport, days_from=days_from), drain=drain)
    stamp = clock()
    prepared = prepare_fetches(results, raw_dir, stamp, events_loaded=True)
    statuses: dict[str, int] = {}
    with con_factory() as con, warehouse.transaction(con):
        summary = insert_fetches(con, prepared)
        for result in results:
            statuses = apply_scores(con, result, resolver, stamp)
    return summary, statuses


# ----------------------------------------------------------------------------- events


def resolve_team(
    resolver: TeamResolver, name: str | None, league: str | None
) -> tuple[str | None, str | None]:
    """(team id, None) or (None, reason) for a source name.

    Without a league (a sport of no enabled league) only exact or normalized alias matches
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


def rebuild_closing_lines(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Replace ``closing_lines`` with the closing lines of all stored odds (returned)."""
    lines = core.closing_lines(read_odds(con))[list(CLOSING_COLUMNS)]
    _replace(con, "closing_lines", lines)
    return lines


def rebuild_market_consensus(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Replace ``market_consensus`` with the consensus table of all stored odds (returned)."""
    table = consensus_table(read_odds(con), con.execute("SELECT * FROM events").df())
    columns = [c for c in warehouse.table_columns(con, "market_consensus") if c in table.columns]
    _replace(con, "market_consensus", table[columns])
    return table


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    with warehouse.transaction(con):
        con.execute(f"DELETE FROM {table}")
        warehouse.insert_frame(con, table, frame)


@dataclass(frozen=True)
class EventCounts:
    """``events`` at a glance: rows, rows with an unresolved team, finals, rows by status."""

    total: int
    unresolved: int
    final: int
    by_status: dict[str, int]


def event_counts(con: duckdb.DuckDBPyConnection) -> EventCounts:
    """Counts of the ``events`` table."""
    unresolved = con.execute(
        "SELECT count(*) FROM events WHERE home_team_id IS NULL OR away_team_id IS NULL"
    ).fetchall()[0][0]
    by_status = dict(con.execute("SELECT status, count(*) FROM events GROUP BY 1").fetchall())
    return EventCounts(
        total=warehouse.table_count(con, "events"),
        unresolved=int(unresolved),
        final=int(by_status.get(EventStatus.FINAL.value, 0)),
        by_status=by_status,
    )


# ----------------------------------------------------------------------------- sensor reads


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read right now (missing, locked, or without the odds tables)."""


Query = Callable[[str, Sequence[Any]], list[tuple]]


@contextmanager
def reading(path: str) -> Iterator[Query]:
    """A query function on one short-lived read-only connection (closed on exit).

    Raises :class:`WarehouseUnavailable` when the file is missing, locked by a writer for
    longer than ``LOCK_TIMEOUT_S``, or a query fails (e.g. the odds tables do not exist yet).
    """
    file = Path(path)
    if not file.exists():
        raise WarehouseUnavailable(f"no warehouse at {file} yet")
    try:
        con = warehouse.connect(file, read_only=True, lock_timeout_s=LOCK_TIMEOUT_S)
    except (warehouse.WarehouseLockedError, duckdb.Error) as error:
        raise WarehouseUnavailable(f"warehouse busy or unreadable: {error}") from None

    def query(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return con.execute(sql, list(params)).fetchall()
        except duckdb.Error as error:
            raise WarehouseUnavailable(f"warehouse query failed: {error}") from None

    try:
        yield query
    finally:
        con.close()


def last_quota(query: Query) -> int | None:
    """The most recent ``x-requests-remaining`` reading in ``fetch_log`` (None: no reading)."""
    rows = query(
        "SELECT quota_remaining FROM fetch_log WHERE quota_remaining IS NOT NULL "
        "ORDER BY requested_at DESC, fetched_at DESC LIMIT 1",
        (),
    )
    return None if not rows else int(rows[0][0])


def nearest_kickoffs(query: Query, sports: Sequence[str], at: datetime) -> dict[str, datetime]:
    """Per sport, the nearest kickoff of a fixture we still fetch odds for (status rule)."""
    rows = query(
        "SELECT sport, status, commence_time FROM events "
        "WHERE list_contains(?, sport) AND status = 'scheduled' AND commence_time > ?",
        [list(sports), at],
    )
    nearest: dict[str, datetime] = {}
    for sport, status, commence in rows:
        if core.should_fetch_odds(EventStatus(status), commence, at) and (
            sport not in nearest or commence < nearest[sport]
        ):
            nearest[sport] = commence
    return nearest


def started_open_events(query: Query, sports: Sequence[str], at: datetime) -> dict[str, int]:
    """Per sport, the events of the scores window that have started but are not final."""
    rows = query(
        "SELECT sport, count(*) FROM events WHERE list_contains(?, sport) "
        "AND list_contains(?, status) AND commence_time <= ? AND commence_time >= ? GROUP BY 1",
        [list(sports), list(OPEN_STATUSES), at, at - SCORES_WINDOW],
    )
    return {sport: int(count) for sport, count in rows}


def recent_finals(query: Query, at: datetime) -> dict[str, datetime]:
    """Per league, the latest time an event of it became final (within the scores window)."""
    rows = query(
        "SELECT league, max(final_at) FROM events WHERE status = 'final' AND league IS NOT NULL "
        "AND final_at >= ? GROUP BY 1",
        [at - SCORES_WINDOW],
    )
    return {league: stamp for league, stamp in rows if stamp is not None}
