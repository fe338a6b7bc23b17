"""Ingest one football-data file into the warehouse: raw layer, checks, one transaction.

Steps: store the bytes content-addressed (never rewritten) → parse → compare with the
partition and the league's other seasons (:mod:`services.partition_guard`: implausible sizes
or clubs, a match key on rows with different contents, more than a small share of rows lost,
stored matches lost → refused unless ``allow_shrink``) → run the data-quality checks → apply
their actions (strict mode rejects rows failing error checks; identical copies of a row are
dropped) → replace the partition's rows of ``matches``, ``match_odds`` and
``market_probabilities``, add new teams, the quality records and the ``ingestion_log`` row, all
in one transaction. A refused or unusable file writes only its log records. The ingestion id is
derived from league, season, checksum and settings: the same bytes ingested again write
nothing while the partition holds them (:func:`partition_holds`), and are applied again when it
does not (a good file put back after a bad one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.football_data import (
    FootballDataError,
    ParsedFile,
    duplicate_conflicts,
    parse_football_data,
    rekey_teams,
    select_market_odds,
)
from jackpot_pipeline.core.margins import MarginMethod, remove_margin
from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.services import partition_guard as guard
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.partition_guard import PartitionRefusedError
from jackpot_pipeline.services.quality import CheckOutcome, run_checks
from jackpot_pipeline.services.raw_store import StoredBlob, store_blob

PARSER_VERSION = "football-data/1"
SOURCE = "football-data.co.uk"
MATCH_KEY = ("match_id",)
ODDS_KEY = ("match_id", "bookmaker", "market", "outcome", "phase")


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest and how: the file's bytes and the settings that matter."""

    league: str
    season: str
    uri: str
    data: bytes
    raw_dir: Path
    strict: bool
    margin_method: str
    today: date
    now: datetime
    allow_shrink: bool = False  # apply a file even if it loses rows or stored matches


@dataclass(frozen=True)
class IngestSummary:
    """What one ingestion did, for logs, metadata and the CLI summary."""

    league: str
    season: str
    status: str  # "loaded", "unchanged" or "failed"
    checksum: str
    raw_path: str
    rows_loaded: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_skipped: int
    odds_rows: int
    quality_records: int
    outcomes: tuple[CheckOutcome, ...]
    message: str


def ingest_id(request: IngestRequest, checksum: str) -> str:
    """Deterministic id of ingesting ``checksum`` into the request's partition with its
    settings (parser version, strict mode, margin method, allow_shrink when set)."""
    key = (
        f"{SOURCE}|{request.league}|{request.season}|{checksum}|{PARSER_VERSION}|"
        f"strict={request.strict}|margin={request.margin_method}"
        + ("|allow_shrink" if request.allow_shrink else "")
    )
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def partition_holds(
    con: duckdb.DuckDBPyConnection, league: str, season: str, checksum: str
) -> bool:
    """Whether the partition holds exactly the file ``checksum``: every stored match carries
    it, or (a partition emptied by an allowed shrink) the last file loaded into it is that
    one. Content ingested before but not held now (a good file put back after a bad one) must
    be applied again."""
    held = con.execute(
        "SELECT DISTINCT source_checksum FROM matches WHERE league = ? AND season = ?",
        [league, season],
    ).fetchall()
    if held:
        return held == [(checksum,)]
    last = con.execute(
        "SELECT checksum FROM ingestion_log WHERE league = ? AND season = ? AND source = ? "
        "AND status = 'loaded' ORDER BY finished_at DESC LIMIT 1",
        [league, season, SOURCE],
    ).fetchall()
    return last == [(checksum,)]


def _attempt_id(con: duckdb.DuckDBPyConnection, request: IngestRequest, ident: str) -> str:
    """The log id of bytes loaded before and applied again (the restore case): ``ident`` with
    the partition's number of log rows, so each application has its own ``ingestion_log`` row."""
    done = con.execute(
        "SELECT count(*) FROM ingestion_log WHERE league = ? AND season = ? AND source = ?",
        [request.league, request.season, SOURCE],
    ).fetchall()[0][0]
    return hashlib.sha256(f"{ident}|again|{done}".encode()).hexdigest()[:24]


def already_ingested(con: duckdb.DuckDBPyConnection, request: IngestRequest) -> bool:
    """Whether the request's bytes were loaded into its partition with its settings and the
    partition still holds them (a good file put back after a bad one is not "done")."""
    checksum = hashlib.sha256(request.data).hexdigest()
    query = "SELECT 1 FROM ingestion_log WHERE ingest_id = ? AND status = 'loaded'"
    loaded = bool(con.execute(query, [ingest_id(request, checksum)]).fetchall())
    return loaded and partition_holds(con, request.league, request.season, checksum)


def ingest(con: duckdb.DuckDBPyConnection, request: IngestRequest) -> IngestSummary:
    """Ingest one file; raises FootballDataError (after logging it) if it is unusable, or
    PartitionRefusedError (after logging it) if it would shrink or corrupt its partition."""
    blob = store_blob(request.raw_dir, "football-data", request.data, ".csv")
    ident = ingest_id(request, blob.checksum)
    seen = con.execute("SELECT status FROM ingestion_log WHERE ingest_id = ?", [ident]).fetchall()
    loaded_before = seen == [("loaded",)]
    if loaded_before and not partition_holds(con, request.league, request.season, blob.checksum):
        ident, seen, loaded_before = _attempt_id(con, request, ident), [], False
    try:
        parsed = parse_football_data(request.data, request.league, request.season)
        if loaded_before:
            outcomes = tuple(run_checks(parsed, request.season, request.today))
            return _summary(request, blob, parsed, outcomes, "unchanged", counts=None)
        state = guard.load_state(con, request.league, request.season)
        _refuse_if(guard.implausible_size(parsed, state), "implausible_size", request, blob)
        renamed, name_records = guard.known_club_names(parsed, state)
        parsed = rekey_teams(parsed, request.league, renamed)
        _refuse_if(guard.implausible_clubs(parsed, state), "implausible_clubs", request, blob)
        outcomes = tuple(run_checks(parsed, request.season, request.today))
        conflicts = duplicate_conflicts(parsed)
        _refuse_if("; ".join(conflicts) or None, "duplicate_conflict", request, blob)
        matches, odds, records = apply_checks(parsed, outcomes, request.strict)
        allowed = _shrink_records(parsed, matches, state, request, blob)
    except FootballDataError as error:
        if not seen:
            _log_failure(con, request, blob, ident, error)
        raise
    records = pd.concat([records, pd.DataFrame([*name_records, *allowed])], ignore_index=True)
    markets = market_probabilities(matches, odds)
    matches = attach_market(matches, markets, request.margin_method, blob.checksum)
    with warehouse.transaction(con):
        counts = _diff_counts(con, request, matches)
        where = {"league": request.league, "season": request.season}
        # Children first: they are found through the partition's stored (old) matches, so a
        # match dropped from the new file must still be in ``matches`` when its odds go.
        _replace_children(con, "match_odds", request, odds)
        _replace_children(con, "market_probabilities", request, markets)
        warehouse.replace_rows(con, "matches", where, matches)
        warehouse.upsert_frame(con, "teams", team_rows(matches, request.league))
        warehouse.insert_frame(con, "data_quality_log", _records_frame(records, request, blob))
        message = "; ".join(r["detail"] for r in allowed)
        warehouse.insert_frame(
            con,
            "ingestion_log",
            _log_frame(request, blob, ident, parsed, counts, "loaded", message),
        )
    return _summary(request, blob, parsed, outcomes, "loaded", counts, len(odds), len(records))


def _refuse_if(
    reason: str | None, issue_type: str, request: IngestRequest, blob: StoredBlob
) -> None:
    """Raise PartitionRefusedError naming the partition, the file and ``reason`` (if any)."""
    if reason is not None:
        raise PartitionRefusedError(issue_type, _refusal(request, blob, reason))


def _refusal(request: IngestRequest, blob: StoredBlob, reason: str) -> str:
    return (
        f"{request.league} {request.season}: file {request.uri} (sha256 {blob.checksum[:12]}) "
        f"refused: {reason}. Nothing was written; the partition keeps its stored matches."
    )


def _shrink_records(
    parsed: ParsedFile,
    matches: pd.DataFrame,
    state: guard.PartitionState,
    request: IngestRequest,
    blob: StoredBlob,
) -> list[dict]:
    """Refuse a file losing more than a small share of its rows or any stored match, unless
    ``allow_shrink``; then the loss is returned as ``allowed`` quality records."""
    reasons = guard.rejected_reasons(parsed, request.season, len(matches))
    share = sum(reasons.values()) / parsed.rows_read
    problems: list[tuple[str, str]] = []
    if share > guard.MAX_REJECTED_SHARE:
        kind = reasons.most_common(1)[0][0]
        problems.append(
            (
                kind,
                f"{sum(reasons.values())} of its {parsed.rows_read} rows would not be stored "
                f"({share:.0%} > {guard.MAX_REJECTED_SHARE:.0%}): "
                + guard.describe_rejections(parsed, request.season, reasons),
            )
        )
    loss = guard.lost_matches(state, matches)
    if loss.lost:
        problems.append(("shrink", loss.describe()))
    if not problems:
        return []
    if not request.allow_shrink:
        kind = problems[0][0]
        hint = " (set allow_shrink / JACKPOT_ALLOW_SHRINK=true to apply it anyway)"
        raise PartitionRefusedError(
            kind, _refusal(request, blob, "; ".join(p for _, p in problems) + hint)
        )
    return [
        guard.guard_record(kind, f"applied with allow_shrink: {text}", "allowed")
        for kind, text in problems
    ]


def apply_checks(
    parsed: ParsedFile, outcomes: tuple[CheckOutcome, ...], strict: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Kept matches and odds, and the quality records (parse issues + check failures).

    Duplicated match keys always keep the first row. In strict mode, rows failing an
    error-severity check are rejected: matches (with their odds), single prices, or one
    bookmaker's closing 1X2 prices of a match, according to the check's frame.
    """
    matches, odds = parsed.matches, parsed.odds
    records = [parsed.issues.assign(check_name="parse", action="logged")]
    first = ~matches.duplicated(subset=list(MATCH_KEY), keep="first")
    for outcome in outcomes:
        if outcome.passed:
            continue
        spec, failures = outcome.spec, outcome.failures
        reject = strict and spec.severity == "error"
        if spec.name == "match_key_unique":
            reject = True
            failures = failures[~failures["source_row"].isin(matches.loc[first, "source_row"])]
        action = "rejected" if reject else "logged"
        records.append(
            failures.assign(
                check_name=spec.name,
                severity=spec.severity,
                issue_type=spec.name,
                action=action,
                row_number=failures.get("source_row"),
            )
        )
        if not reject:
            continue
        if spec.frame == "matches":
            bad = failures.get("source_row", None)
            drop = (
                matches["source_row"].isin(bad)
                if bad is not None
                else matches["match_id"].isin(failures["match_id"])
            )
            matches = matches[~drop]
        else:
            keys = [c for c in failures.columns if c in odds.columns]
            odds = _anti_join(odds, failures[keys], keys, closing_only=spec.frame == "overrounds")
    odds = odds[odds["match_id"].isin(matches["match_id"])]
    # A duplicated match row repeats its prices under the same key: keep the first row's
    # (odds are in file-row order within each column), as for the match itself.
    odds = odds.drop_duplicates(subset=list(ODDS_KEY), keep="first")
    kept = [r for r in records if not r.empty]
    frame = pd.concat(kept, ignore_index=True) if kept else records[0]
    return matches.reset_index(drop=True), odds.reset_index(drop=True), frame


def _anti_join(
    odds: pd.DataFrame, bad: pd.DataFrame, keys: list[str], closing_only: bool
) -> pd.DataFrame:
    """Odds rows not matching ``bad`` on ``keys`` (restricted to closing 1X2 if asked)."""
    marked = odds.merge(bad.drop_duplicates().assign(_bad=True), on=keys, how="left")
    hit = marked["_bad"].eq(True).to_numpy(dtype=bool)
    if closing_only:
        hit &= ((odds["market"] == "1X2") & (odds["phase"] == "closing")).to_numpy()
    return odds[~hit]


def market_probabilities(matches: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    """Margin-free 1X2 probabilities per match by every method, from the preferred source."""
    chosen = select_market_odds(matches, odds).dropna(subset=["odds_source"])
    prices = chosen[["odds_home", "odds_draw", "odds_away"]].to_numpy(dtype=float)
    frames = []
    for method in MarginMethod:
        fair = remove_margin(prices, method)
        frames.append(
            pd.DataFrame(
                {
                    "match_id": chosen["match_id"].to_numpy(),
                    "method": method.value,
                    "odds_source": chosen["odds_source"].to_numpy(),
                    "prob_home": fair.probabilities[:, 0],
                    "prob_draw": fair.probabilities[:, 1],
                    "prob_away": fair.probabilities[:, 2],
                    "overround": fair.overround,
                    "odds_home": prices[:, 0],
                    "odds_draw": prices[:, 1],
                    "odds_away": prices[:, 2],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def attach_market(
    matches: pd.DataFrame, markets: pd.DataFrame, method: str, checksum: str
) -> pd.DataFrame:
    """Matches with the chosen source's prices and the ``method`` probabilities as columns."""
    MarginMethod(method)
    chosen = markets[markets["method"] == method].rename(
        columns={
            "prob_home": "prob_home_market",
            "prob_draw": "prob_draw_market",
            "prob_away": "prob_away_market",
            "method": "margin_method",
        }
    )
    out = matches.merge(chosen, on="match_id", how="left")
    return out.assign(source_checksum=checksum)


def team_rows(matches: pd.DataFrame, league: str) -> pd.DataFrame:
    """teams rows (team_id, name, country, first_league) for every club of the stored matches
    (a club seen only on rejected rows is not added)."""
    home = matches[["home_team_id", "home_team"]].to_numpy()
    away = matches[["away_team_id", "away_team"]].to_numpy()
    pairs = pd.DataFrame(np.vstack([home, away]), columns=["team_id", "name"]).drop_duplicates(
        "team_id"
    )
    return pairs.assign(country=LEAGUES[league].country, first_league=league).sort_values(
        "team_id", ignore_index=True
    )


def _replace_children(
    con: duckdb.DuckDBPyConnection, table: str, request: IngestRequest, frame: pd.DataFrame
) -> None:
    """Replace a match-keyed table's rows for the partition's matches (old and new)."""
    con.execute(
        f"DELETE FROM {table} WHERE match_id IN "
        "(SELECT match_id FROM matches WHERE league = ? AND season = ?)",
        [request.league, request.season],
    )
    con.register("_ids", frame[["match_id"]].drop_duplicates())
    try:
        con.execute(f"DELETE FROM {table} WHERE match_id IN (SELECT match_id FROM _ids)")
    finally:
        con.unregister("_ids")
    columns = [c for c in warehouse.table_columns(con, table) if c in frame.columns]
    warehouse.insert_frame(con, table, frame[columns])


def _diff_counts(
    con: duckdb.DuckDBPyConnection, request: IngestRequest, matches: pd.DataFrame
) -> dict[str, int]:
    """Inserted / updated / unchanged match counts against the stored partition."""
    columns = warehouse.table_columns(con, "matches")
    old = con.execute(
        "SELECT * FROM matches WHERE league = ? AND season = ?", [request.league, request.season]
    ).df()
    new = matches.reindex(columns=columns)
    old_rows = dict(zip(old["match_id"], _row_fingerprints(old, columns), strict=True))
    new_rows = _row_fingerprints(new, columns)
    inserted = updated = unchanged = 0
    for match_id, fingerprint in zip(new["match_id"], new_rows, strict=True):
        if match_id not in old_rows:
            inserted += 1
        elif old_rows[match_id] == fingerprint:
            unchanged += 1
        else:
            updated += 1
    return {"inserted": inserted, "updated": updated, "unchanged": unchanged}


def _row_fingerprints(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """A comparable text form of each row, ignoring the source checksum."""
    compared = [c for c in columns if c != "source_checksum"]
    normalized = frame[compared].astype(object).where(frame[compared].notna(), None)
    normalized["match_date"] = pd.to_datetime(frame["match_date"]).dt.date
    normalized["kickoff_utc"] = pd.to_datetime(frame["kickoff_utc"], utc=True)
    return ["|".join(_cell(v) for v in row) for row in normalized.itertuples(index=False)]


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(round(value, 12))
    return str(value)


def _records_frame(records: pd.DataFrame, request: IngestRequest, blob: StoredBlob) -> pd.DataFrame:
    frame = records.reindex(
        columns=[
            "check_name",
            "severity",
            "issue_type",
            "match_id",
            "row_number",
            "detail",
            "action",
        ]
    )
    return frame.assign(
        source=SOURCE,
        league=request.league,
        season=request.season,
        checksum=blob.checksum,
        logged_at=request.now,
        row_number=pd.to_numeric(frame["row_number"], errors="coerce").astype("Int64"),
    )


def _log_frame(
    request: IngestRequest,
    blob: StoredBlob,
    ident: str,
    parsed: ParsedFile | None,
    counts: dict[str, int] | None,
    status: str,
    message: str,
) -> pd.DataFrame:
    counts = counts or {"inserted": 0, "updated": 0, "unchanged": 0}
    loaded = parsed.rows_read if parsed is not None else 0
    stored = counts["inserted"] + counts["updated"] + counts["unchanged"]
    row = {
        "ingest_id": ident,
        "source": SOURCE,
        "league": request.league,
        "season": request.season,
        "uri": request.uri,
        "checksum": blob.checksum,
        "raw_path": str(blob.path),
        "parser_version": PARSER_VERSION,
        "rows_loaded": loaded,
        "rows_inserted": counts["inserted"],
        "rows_updated": counts["updated"],
        "rows_unchanged": counts["unchanged"],
        "rows_skipped": loaded - stored,
        "status": status,
        "message": message,
        "started_at": request.now,
        "finished_at": datetime.now(request.now.tzinfo),
    }
    return pd.DataFrame([row])


def _log_failure(
    con: duckdb.DuckDBPyConnection,
    request: IngestRequest,
    blob: StoredBlob,
    ident: str,
    error: FootballDataError,
) -> None:
    """One ``data_quality_log`` record and one ``ingestion_log`` row (status ``failed`` for an
    unusable file, ``refused`` for a file refused for its partition)."""
    message = str(error)
    refused = isinstance(error, PartitionRefusedError)
    if refused:
        record = pd.DataFrame([guard.guard_record(error.issue_type, message, "refused")])
    else:
        record = pd.DataFrame(
            [
                {
                    "check_name": "parse",
                    "severity": "error",
                    "issue_type": "unusable_file",
                    "match_id": None,
                    "row_number": None,
                    "detail": message,
                    "action": "rejected",
                }
            ]
        )
    status = "refused" if refused else "failed"
    with warehouse.transaction(con):
        warehouse.insert_frame(con, "data_quality_log", _records_frame(record, request, blob))
        warehouse.insert_frame(
            con, "ingestion_log", _log_frame(request, blob, ident, None, None, status, message)
        )


def _summary(
    request: IngestRequest,
    blob: StoredBlob,
    parsed: ParsedFile,
    outcomes: tuple[CheckOutcome, ...],
    status: str,
    counts: dict[str, int] | None,
    odds_rows: int = 0,
    quality_records: int = 0,
) -> IngestSummary:
    counts = counts or {"inserted": 0, "updated": 0, "unchanged": len(parsed.matches)}
    stored = counts["inserted"] + counts["updated"] + counts["unchanged"]
    return IngestSummary(
        league=request.league,
        season=request.season,
        status=status,
        checksum=blob.checksum,
        raw_path=str(blob.path),
        rows_loaded=parsed.rows_read,
        rows_inserted=counts["inserted"],
        rows_updated=counts["updated"],
        rows_unchanged=counts["unchanged"],
        rows_skipped=parsed.rows_read - stored,
        odds_rows=odds_rows,
        quality_records=quality_records,
        outcomes=outcomes,
        message="same bytes already ingested: nothing written" if status == "unchanged" else "",
    )


def partition_row_counts(
    con: duckdb.DuckDBPyConnection, league: str, season: str
) -> dict[str, int]:
    """Stored rows of ``league`` × ``season`` in matches, match_odds and market_probabilities."""
    matches = "SELECT match_id FROM matches WHERE league = ? AND season = ?"
    queries = {
        "matches": f"SELECT count(*) FROM ({matches})",
        **{
            table: f"SELECT count(*) FROM {table} WHERE match_id IN ({matches})"
            for table in ("match_odds", "market_probabilities")
        },
    }
    return {
        table: int(con.execute(sql, [league, season]).fetchone()[0])
        for table, sql in queries.items()
    }
