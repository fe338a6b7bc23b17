"""``jackpot status`` and ``jackpot leagues``: how fresh the history is and what the odds
pipeline has fetched, read on a read-only connection (nothing is created or changed).

- :func:`freshness`: the current season and, per enabled league, the latest result in the
  warehouse and its age in days on ``today`` (stale when older than ``stale_after_days``).
- :func:`league_rows`: the registry with, per league, enabled, seasons with data, matches and the
  latest result date.
- :func:`odds_summary`: the last fetch, the quota remaining and the row counts per sport.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from jackpot_pipeline.core.leagues import League
from jackpot_pipeline.core.seasons import season_of
from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.settings import Settings

STATUS_ORDER = ("scheduled", "live", "final", "postponed", "cancelled")
ODDS_TABLES = ("fetch_log", "odds_snapshots", "events", "odds")


def _table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


@contextmanager
def reading(warehouse_path: Path | str) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only UTC connection to the warehouse, or None when there is no warehouse file."""
    path = Path(warehouse_path)
    if not path.exists():
        yield None
        return
    con = warehouse.connect(path, read_only=True, lock_timeout_s=Settings.from_env().lock_timeout_s)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


# ----------------------------------------------------------------------------- results


def _per_league(con: duckdb.DuckDBPyConnection | None) -> dict[str, dict[str, Any]]:
    """Per league in ``matches``: seasons with data, matches, latest result date."""
    if con is None or "matches" not in _table_names(con):
        return {}
    rows = con.execute(
        "SELECT league, list(DISTINCT season ORDER BY season), count(*), "
        "max(match_date) FILTER (WHERE result IS NOT NULL) FROM matches GROUP BY league"
    ).fetchall()
    return {
        league: {"seasons": list(seasons), "matches": int(n), "latest_result": latest}
        for league, seasons, n, latest in rows
    }


def freshness(
    con: duckdb.DuckDBPyConnection | None,
    leagues: Mapping[str, League],
    today: date,
    current_season: str,
    stale_after_days: int,
) -> dict[str, Any]:
    """The current season and, per league of ``leagues``, its latest result and age in days
    (``today − latest result``); ``stale`` when the age exceeds ``stale_after_days`` or there is
    no result at all."""
    data = _per_league(con)
    rows = []
    for code, league in leagues.items():
        latest = data.get(code, {}).get("latest_result")
        age = None if latest is None else (today - latest).days
        current = [s for s in data.get(code, {}).get("seasons", []) if s == current_season]
        rows.append(
            {
                "league": code,
                "name": league.name,
                "latest_result": None if latest is None else latest.isoformat(),
                "age_days": age,
                "stale": age is None or age > stale_after_days,
                "current_season_has_data": bool(current),
            }
        )
    return {
        "today": today.isoformat(),
        "current_season": current_season,
        "stale_after_days": stale_after_days,
        "leagues": rows,
    }


def league_rows(
    con: duckdb.DuckDBPyConnection | None, registry: Mapping[str, League]
) -> list[dict[str, Any]]:
    """Every registry league with enabled, seasons with data, matches and latest result."""
    data = _per_league(con)
    rows = []
    for code, league in registry.items():
        found = data.get(code, {"seasons": [], "matches": 0, "latest_result": None})
        latest = found["latest_result"]
        rows.append(
            {
                "code": code,
                "name": league.name,
                "country": league.country,
                "tier": league.tier,
                "odds_api_sport": league.odds_api_sport,
                "enabled": league.enabled,
                "seasons_with_data": found["seasons"],
                "matches": found["matches"],
                "latest_result": None if latest is None else latest.isoformat(),
            }
        )
    return rows


def seasons_span(seasons: list[str]) -> str:
    """'2012-13..2025-26 (14)' or '-'."""
    return f"{seasons[0]}..{seasons[-1]} ({len(seasons)})" if seasons else "-"


# ----------------------------------------------------------------------------- odds


def odds_summary(con: duckdb.DuckDBPyConnection | None) -> dict[str, Any]:
    """Quota and per-sport fetches, snapshots, odds rows and events by status (empty when the
    warehouse has no odds tables yet)."""
    if con is None or any(t not in _table_names(con) for t in ODDS_TABLES):
        return {"quota_remaining": None, "quota_read_at": None, "sports": []}
    quota = con.execute(
        "SELECT quota_remaining, requested_at FROM fetch_log WHERE quota_remaining IS NOT NULL "
        "ORDER BY requested_at DESC, fetched_at DESC LIMIT 1"
    ).fetchall()
    fetches = {
        sport: (n, cost, last, tier)
        for sport, n, cost, last, tier in con.execute(
            "SELECT sport, count(*), sum(cost), max(requested_at), arg_max(tier, requested_at) "
            "FROM fetch_log GROUP BY sport"
        ).fetchall()
    }
    snapshots = dict(
        con.execute(
            "SELECT sport, count(*) FROM odds_snapshots WHERE endpoint = 'odds' GROUP BY 1"
        ).fetchall()
    )
    odds_rows = dict(con.execute("SELECT sport, count(*) FROM odds GROUP BY 1").fetchall())
    by_status: dict[str, dict[str, int]] = {}
    for sport, status, n in con.execute(
        "SELECT sport, status, count(*) FROM events GROUP BY 1, 2"
    ).fetchall():
        by_status.setdefault(sport, {})[status] = n
    sports = sorted(set(fetches) | set(snapshots) | set(odds_rows) | set(by_status) - {None})
    rows = []
    for sport in sports:
        n, cost, last, tier = fetches.get(sport, (0, 0, None, None))
        statuses = by_status.get(sport, {})
        order = [s for s in STATUS_ORDER if s in statuses] + sorted(
            set(statuses) - set(STATUS_ORDER)
        )
        rows.append(
            {
                "sport": sport,
                "last_fetch": None if last is None else last.isoformat(),
                "tier": tier,
                "fetches": int(n),
                "cost": int(cost or 0),
                "snapshots": int(snapshots.get(sport, 0)),
                "odds_rows": int(odds_rows.get(sport, 0)),
                "events": {s: int(statuses[s]) for s in order},
            }
        )
    return {
        "quota_remaining": quota[0][0] if quota else None,
        "quota_read_at": quota[0][1].isoformat() if quota else None,
        "sports": rows,
    }


# ----------------------------------------------------------------------------- status


def status_data(
    warehouse_path: Path | str,
    settings: Settings | None = None,
    leagues: Mapping[str, League] | None = None,
) -> dict[str, Any]:
    """Everything ``jackpot status`` shows, JSON-ready: the clock and current season of
    ``settings``, the freshness of ``leagues`` (default: the enabled ones) and the odds."""
    settings = settings or Settings.from_env()
    today = settings.today_date()
    with reading(warehouse_path) as con:
        return {
            "warehouse": str(warehouse_path),
            "warehouse_exists": con is not None,
            **freshness(
                con,
                LEAGUES if leagues is None else leagues,
                today,
                season_of(today, settings.season_boundary),
                settings.stale_history_days,
            ),
            "odds": odds_summary(con),
        }
