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

This module is the Dagster shell only: the work is done by :mod:`services.odds_store`,
imported in the asset bodies so that pandas, DuckDB and the core load with a run, not with the
code location.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.defs.conventions import DATA_OWNERS, KINDS, POOL
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.services.odds_api import OddsApiError, OddsApiResource

GROUP = "odds"
COMMON = {"group_name": GROUP, "pool": POOL, "kinds": KINDS, "owners": DATA_OWNERS}
DEFAULT_SPORTS: tuple[str, ...] = tuple(
    league.odds_api_sport for league in LEAGUES.values() if league.odds_api_sport
)


def now() -> datetime:
    """The assets' wall clock (UTC); tests monkeypatch it."""
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- run config


class OddsFetchConfig(dg.Config):
    """Which sports to fetch and for which tier (the odds sensor sets both for its runs)."""

    sports: list[str] = Field(
        default=list(DEFAULT_SPORTS),
        description="The Odds API sport keys to fetch (default: the enabled leagues' sports).",
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
        default=list(DEFAULT_SPORTS),
        description="The Odds API sport keys (default: the enabled leagues).",
    )
    days_from: int = Field(
        default=3, ge=1, le=3, description="Include games completed up to this many days ago."
    )


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


@dg.asset(
    **COMMON,
    description="One row per distinct Odds API response body (checksum × sport × endpoint), "
    "stored raw as received; every call also logged in fetch_log with its quota reading.",
)
def odds_snapshots(
    context: dg.AssetExecutionContext,
    config: OddsFetchConfig,
    odds_api: OddsApiResource,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Fetch ``/odds`` for each configured sport (each sport committed on its own)."""
    from jackpot_pipeline.services import odds_store, warehouse

    if config.tier is not None and config.tier not in odds_store.TIER_NAMES:
        names = ", ".join(odds_store.TIER_NAMES)
        raise dg.Failure(f"unknown tier {config.tier!r}; expected one of {names}")
    options = settings.settings()
    drain = odds_store.replay_of(odds_api) is not None
    summaries = []
    for sport in config.sports:
        try:
            summary = odds_store.fetch_sport_odds(
                odds_api,
                warehouse_db.connect,
                Path(options.raw_dir),
                sport,
                tier=config.tier,
                regions=config.regions,
                markets=config.markets,
                drain=drain,
                clock=now,
            )
        except OddsApiError as error:
            raise _fail(sport, error) from None
        context.log.info(
            f"{sport}: {summary.fetches} fetch(es), {summary.new_snapshots} new snapshot(s), "
            f"cost {summary.cost}, quota remaining {summary.quota_remaining}"
        )
        summaries.append(summary)
    with warehouse_db.connect() as con:
        total = warehouse.table_count(con, "odds_snapshots")
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
    **COMMON,
    deps=[odds_snapshots, "team_aliases"],
    description="Odds API events: kickoff, source team names, resolved team ids (null when "
    "unresolved, logged in data_quality_log), status lifecycle and scores.",
)
def events(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Apply the odds snapshots not yet applied to ``events``."""
    from jackpot_pipeline.services import odds_store
    from jackpot_pipeline.services.team_names import warehouse_resolver

    with warehouse_db.connect() as con:
        resolver = warehouse_resolver(con)
        snapshots, changed = odds_store.load_pending_events(con, resolver, now())
        counts = odds_store.event_counts(con)
    context.log.info(f"{snapshots} snapshot(s) applied, {changed} event(s) added or updated")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts.total,
            "snapshots_applied": snapshots,
            "events_changed": changed,
            "events_unresolved": counts.unresolved,
            "by_status": dg.MetadataValue.json(counts.by_status),
        }
    )


@dg.asset(
    **COMMON,
    deps=[odds_snapshots],
    description="Long odds rows (event × bookmaker × market × outcome × snapshot) of every "
    "stored snapshot; validated, issues in data_quality_log (errors rejected in strict mode).",
)
def odds(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Normalize and insert the snapshots not yet loaded (re-running adds nothing)."""
    from jackpot_pipeline.services import odds_store, warehouse

    options = settings.settings()
    with warehouse_db.connect() as con:
        load = odds_store.load_pending_odds(con, options.strict_mode, now())
        total = warehouse.table_count(con, "odds")
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
            "strict_mode": options.strict_mode,
        }
    )


@dg.asset(
    **COMMON,
    deps=[odds],
    description="Per event × bookmaker × market, the prices of its last snapshot before kickoff.",
)
def closing_lines(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Rebuild the closing lines from all stored odds."""
    from jackpot_pipeline.services import odds_store

    with warehouse_db.connect() as con:
        lines = odds_store.rebuild_closing_lines(con)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(lines), "events": int(lines["event_id"].nunique())}
    )


@dg.asset(
    **COMMON,
    deps=[odds, events],
    description="Per event: consensus (mean over bookmakers) and Pinnacle margin-free 1X2 "
    "probabilities of the closing board, with the resolved team ids.",
)
def market_consensus(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Rebuild the consensus table from all stored odds."""
    from jackpot_pipeline.services import odds_store

    with warehouse_db.connect() as con:
        table = odds_store.rebuild_market_consensus(con)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "with_pinnacle": int(table["pinnacle_home"].notna().sum()),
        }
    )


@dg.asset(
    **COMMON,
    deps=[events, "team_aliases"],
    description="Odds API /scores applied to events: scores, and the status moved scheduled → "
    "live → final (or postponed). Stored raw and logged like the odds snapshots.",
)
def event_scores(
    context: dg.AssetExecutionContext,
    config: ScoresConfig,
    odds_api: OddsApiResource,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Fetch ``/scores`` per sport and update the events (each sport committed on its own).

    On the replay resource, sports without a recorded scores body are skipped."""
    from jackpot_pipeline.services import odds_store
    from jackpot_pipeline.services.team_names import warehouse_resolver

    options = settings.settings()
    with warehouse_db.connect() as con:
        resolver = warehouse_resolver(con)
    recorded = odds_store.recorded_sports(odds_api, "scores")  # None: live
    statuses: dict[str, dict[str, int]] = {}
    cost = 0
    for sport in config.sports:
        if recorded is not None and sport not in recorded:
            context.log.info(f"{sport}: no recorded scores to replay; skipped")
            continue
        try:
            summary, statuses[sport] = odds_store.fetch_sport_scores(
                odds_api,
                warehouse_db.connect,
                Path(options.raw_dir),
                sport,
                resolver,
                days_from=config.days_from,
                drain=recorded is not None,
                clock=now,
            )
        except OddsApiError as error:
            raise _fail(sport, error) from None
        cost += summary.cost
        context.log.info(
            f"{sport}: {summary.fetches} scores body(ies) applied, events by status "
            f"{statuses[sport]}"
        )
    with warehouse_db.connect() as con:
        counts = odds_store.event_counts(con)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts.total,
            "events_final": counts.final,
            "sports": dg.MetadataValue.json(sorted(statuses)),
            "by_status": dg.MetadataValue.json(statuses),
            "cost": cost,
        }
    )


ODDS_ASSETS = [odds_snapshots, events, odds, closing_lines, market_consensus, event_scores]
