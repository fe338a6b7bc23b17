"""``jackpot status``: what the odds pipeline has fetched and stored, per sport.

:func:`odds_status` reads a read-only connection (it never creates or changes anything): the
last fetch, the quota remaining and the row counts per sport.
"""

from __future__ import annotations

from typing import Any

import duckdb

STATUS_ORDER = ("scheduled", "live", "final", "postponed", "cancelled")
ODDS_TABLES = ("fetch_log", "odds_snapshots", "events", "odds")


def _table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def odds_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The odds collection of a warehouse (read-only): ``missing_tables`` (odds tables not
    created yet), the last known ``quota`` and per ``sports`` the fetches, last fetch, tier,
    credits spent, snapshots, odds rows and events by status, and the ``totals``."""
    missing = [t for t in ODDS_TABLES if t not in _table_names(con)]
    if missing:
        return {"missing_tables": missing, "quota": None, "sports": [], "totals": None}
    quota = con.execute(
        "SELECT quota_remaining, requested_at FROM fetch_log WHERE quota_remaining IS NOT NULL "
        "ORDER BY requested_at DESC, fetched_at DESC LIMIT 1"
    ).fetchall()
    fetches = {
        sport: (n, cost, last, tier)
        for sport, n, cost, last, tier in con.execute(
            "SELECT sport, count(*), sum(cost), max(requested_at), "
            "arg_max(tier, requested_at) FROM fetch_log GROUP BY sport"
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
    sports = []
    for sport in sorted(set(fetches) | set(snapshots) | set(odds_rows) | set(by_status) - {None}):
        n, cost, last, tier = fetches.get(sport, (0, 0, None, None))
        statuses = by_status.get(sport, {})
        order = [s for s in STATUS_ORDER if s in statuses] + sorted(
            set(statuses) - set(STATUS_ORDER)
        )
        sports.append(
            {
                "sport": sport,
                "last_fetch": last,
                "tier": tier,
                "fetches": n,
                "cost": cost or 0,
                "snapshots": snapshots.get(sport, 0),
                "odds_rows": odds_rows.get(sport, 0),
                "events": {s: statuses[s] for s in order},
            }
        )
    return {
        "missing_tables": [],
        "quota": {"remaining": quota[0][0], "read_at": quota[0][1]} if quota else None,
        "sports": sports,
        "totals": {
            "snapshots": sum(snapshots.values()),
            "odds_rows": sum(odds_rows.values()),
            "events": sum(sum(s.values()) for s in by_status.values()),
        },
    }
