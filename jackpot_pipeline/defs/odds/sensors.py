"""Sensors of the odds pipeline. Both are STOPPED by default (no network unless a human turns
them on in the UI or with ``dagster sensor start``). Their runs call The Odds API through the
``odds_api`` resource: live when ``ODDS_API_KEY`` was set when the code location loaded (each
fetch costs quota), else a replay of the recordings in ``data/odds-api`` (offline, no key).

- ``odds_fetch_sensor`` (every 30 min): per configured sport, reads the upcoming scheduled
  fixtures from ``events`` and asks :func:`~jackpot_pipeline.core.odds.is_fetch_due` whether
  the sport's current tier (opening >72 h before the nearest kickoff, early >24 h, sharp >12 h,
  pregame >3 h, closing; a boundary instant belongs to the nearer tier) is due; due sports get a
  run of the odds assets with run config naming the sport and that tier. The cursor (JSON) keeps
  the last *requested* fetch per sport and tier, so a failed run uses up its slot (the next
  interval or tier fetches again). Skips when nothing is upcoming or when the last quota reading
  in ``fetch_log`` is below the reserve.
- ``odds_scores_sensor`` (every 30 min): when fixtures of the last three days have started and
  are not final, a run of ``event_scores`` (at most hourly per sport); when events of a league
  became final since the last tick, a re-ingestion of that league's current-season
  ``football_data`` partition (``football_data_refresh_job``, in ``defs/ingestion/schedules``).

Clock: every decision reads the module-level :func:`now`; tests replace it with
``monkeypatch.setattr(sensors, "now", lambda: fixed)``. Warehouse reads
(:mod:`jackpot_pipeline.services.odds_store`, imported when a tick is evaluated) use
short-lived read-only connections; a missing, busy or older warehouse gives a
``SkipReason``, never an exception.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from jackpot_pipeline.defs.ingestion.schedules import football_data_refresh_job
from jackpot_pipeline.defs.odds.assets import (
    DEFAULT_SPORTS,
    closing_lines,
    event_scores,
    events,
    market_consensus,
    odds,
    odds_snapshots,
)
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS, current_season, partition_key
from jackpot_pipeline.defs.resources import WarehouseResource

TICK_SECONDS = 30 * 60
QUOTA_RESERVE = 25  # credits kept back; no odds/scores run is requested below it
SCORES_INTERVAL = timedelta(hours=1)

odds_fetch_job = dg.define_asset_job(
    "odds_fetch_job",
    selection=dg.AssetSelection.assets(
        odds_snapshots, events, odds, closing_lines, market_consensus
    ),
    description="Fetch /odds for the sports and tier of the run config and refresh the tables.",
)
odds_scores_job = dg.define_asset_job(
    "odds_scores_job",
    selection=dg.AssetSelection.assets(event_scores),
    description="Fetch /scores and move started events to live/final.",
)


def now() -> datetime:
    """The sensors' clock (UTC); tests monkeypatch it."""
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- cursor


def load_cursor(text: str | None) -> dict[str, Any]:
    """The JSON cursor as a dict (empty or unreadable → ``{}``)."""
    try:
        cursor = json.loads(text) if text else {}
    except ValueError:
        return {}
    return cursor if isinstance(cursor, dict) else {}


def _stamps(entries: Mapping[str, str]) -> dict[str, datetime]:
    return {key: datetime.fromisoformat(value) for key, value in entries.items()}


# ----------------------------------------------------------------------------- odds sensor


def odds_run_request(sport: str, tier: str, at: datetime) -> dg.RunRequest:
    """A run of the odds assets fetching ``sport`` for ``tier``."""
    return dg.RunRequest(
        run_key=f"odds:{sport}:{tier}:{at.strftime('%Y%m%dT%H%M')}",
        run_config={"ops": {"odds_snapshots": {"config": {"sports": [sport], "tier": tier}}}},
        tags={"jackpot/sport": sport, "jackpot/tier": tier},
    )


def quota_low(remaining: int | None, reserve: int) -> str | None:
    """The skip reason when the last known quota is below the reserve (None: fetching is fine;
    an unknown quota never blocks)."""
    if remaining is not None and remaining < reserve:
        return f"quota low: {remaining} credits left, reserve {reserve}"
    return None


def evaluate_odds_tick(
    path: str,
    cursor: dict[str, Any],
    at: datetime,
    sports: Sequence[str] = DEFAULT_SPORTS,
    quota_reserve: int = QUOTA_RESERVE,
) -> tuple[list[dg.RunRequest], str | None, dict[str, Any]]:
    """(run requests, skip reason, new cursor) of one odds sensor tick at ``at``."""
    from jackpot_pipeline.core.odds import is_fetch_due
    from jackpot_pipeline.services import odds_store  # DuckDB, pandas: loaded with a tick

    try:
        with odds_store.reading(path) as query:
            nearest = odds_store.nearest_kickoffs(query, sports, at)
            remaining = odds_store.last_quota(query) if nearest else None
    except odds_store.WarehouseUnavailable as error:
        return [], str(error), cursor
    if not nearest:
        return [], "no upcoming fixtures for " + ", ".join(sports), cursor
    if low := quota_low(remaining, quota_reserve):
        return [], low, cursor
    last = cursor.setdefault("odds", {})
    requests, reasons = [], []
    for sport in sports:
        kickoff = nearest.get(sport)
        decision = is_fetch_due(at, kickoff, _stamps(last.get(sport, {})))
        if decision.due and decision.tier is not None:
            tier = str(decision.tier)
            last.setdefault(sport, {})[tier] = at.isoformat()
            requests.append(odds_run_request(sport, tier, at))
        else:
            reasons.append(f"{sport}: {decision.reason}")
    return requests, None if requests else "; ".join(reasons), cursor


@dg.sensor(
    job=odds_fetch_job,
    minimum_interval_seconds=TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Tiered odds fetching per sport by time to the nearest scheduled kickoff "
    "(opening 48 h, early 24 h, sharp 12 h, pregame 3 h, closing 30 min cadence). Needs "
    "ODDS_API_KEY at code load for live fetches (quota-costing; skips below the reserve), else "
    "replays data/odds-api; needs upcoming fixtures in events.",
)
def odds_fetch_sensor(
    context: dg.SensorEvaluationContext, warehouse_db: WarehouseResource
) -> dg.SensorResult:
    """Request a run per sport whose tier is due (see the module docstring)."""
    at = now()
    requests, skip, cursor = evaluate_odds_tick(warehouse_db.path, load_cursor(context.cursor), at)
    if skip is not None:
        context.log.info(f"odds sensor at {at.isoformat()}: skip ({skip})")
    return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=json.dumps(cursor))


# ----------------------------------------------------------------------------- scores sensor


def evaluate_scores_tick(
    path: str,
    cursor: dict[str, Any],
    at: datetime,
    sports: Sequence[str] = DEFAULT_SPORTS,
    quota_reserve: int = QUOTA_RESERVE,
) -> tuple[list[dg.RunRequest], str | None, dict[str, Any]]:
    """(run requests, skip reason, new cursor) of one scores sensor tick at ``at``."""
    from jackpot_pipeline.services import odds_store  # DuckDB, pandas: loaded with a tick

    try:
        with odds_store.reading(path) as query:
            started = odds_store.started_open_events(query, sports, at)
            finals = odds_store.recent_finals(query, at)
            remaining = odds_store.last_quota(query) if started else None
    except odds_store.WarehouseUnavailable as error:
        return [], str(error), cursor
    requests: list[dg.RunRequest] = []
    reasons: list[str] = []
    last_scores = _stamps(cursor.setdefault("scores", {}))
    due = [
        sport
        for sport in sports
        if started.get(sport)
        and at - last_scores.get(sport, datetime.min.replace(tzinfo=UTC)) >= SCORES_INTERVAL
    ]
    if due and (low := quota_low(remaining, quota_reserve)):
        reasons.append(low)
    elif due:
        for sport in due:
            cursor["scores"][sport] = at.isoformat()
        requests.append(
            dg.RunRequest(
                run_key=f"scores:{','.join(due)}:{at.strftime('%Y%m%dT%H%M')}",
                job_name=odds_scores_job.name,
                run_config={"ops": {"event_scores": {"config": {"sports": due}}}},
                tags={"jackpot/sports": ",".join(due)},
            )
        )
    else:
        reasons.append("no started fixture awaiting scores" if not started else "scores fresh")
    seen_finals = _stamps(cursor.setdefault("finals", {}))
    season = current_season(at.date())
    for league, stamp in sorted(finals.items()):
        if league in seen_finals and stamp <= seen_finals[league]:
            continue
        cursor["finals"][league] = stamp.isoformat()
        if season not in SEASONS or league not in LEAGUE_CODES:
            reasons.append(f"{league} {season}: no such partition")
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"football_data:{league}:{season}:{stamp.strftime('%Y%m%dT%H%M%S')}",
                job_name=football_data_refresh_job.name,
                partition_key=partition_key(league, season),
                tags={"jackpot/reason": "events final"},
            )
        )
    return requests, None if requests else "; ".join(reasons), cursor


@dg.sensor(
    jobs=[odds_scores_job, football_data_refresh_job],
    minimum_interval_seconds=TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Scores for started fixtures; re-ingestion of a league's current football-data "
    "season once its events are final. Needs ODDS_API_KEY at code load for live scores, else "
    "replays data/odds-api; the re-ingestion needs football_data_source in mode http to see "
    "new results.",
)
def odds_scores_sensor(
    context: dg.SensorEvaluationContext, warehouse_db: WarehouseResource
) -> dg.SensorResult:
    """Request score fetches and football-data refreshes (see the module docstring)."""
    at = now()
    requests, skip, cursor = evaluate_scores_tick(
        warehouse_db.path, load_cursor(context.cursor), at
    )
    return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=json.dumps(cursor))


ODDS_JOBS = [odds_fetch_job, odds_scores_job]
ODDS_SENSORS = [odds_fetch_sensor, odds_scores_sensor]
