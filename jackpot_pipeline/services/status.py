"""``jackpot status``: what the odds pipeline has fetched and stored, per sport.

:func:`status_text` reads the warehouse on a read-only connection (it never creates or changes
anything) and reports the last fetch, the quota remaining and the row counts per sport.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from jackpot_pipeline.services import warehouse

STATUS_ORDER = ("scheduled", "live", "final", "postponed", "cancelled")
ODDS_TABLES = ("fetch_log", "odds_snapshots", "events", "odds")


def _table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _stamp(value: object) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}Z"


def status_text(warehouse_path: Path | str) -> str:
    """A plain-text report of the odds tables of the warehouse at ``warehouse_path``."""
    path = Path(warehouse_path)
    if not path.exists():
        return f"odds status: no warehouse at {path} (run `jackpot run` first)"
    con = warehouse.connect(path, read_only=True, lock_timeout_s=10.0)
    try:
        con.execute("SET TimeZone = 'UTC'")
        missing = [t for t in ODDS_TABLES if t not in _table_names(con)]
        if missing:
            return f"odds status: {path} has no odds tables yet ({', '.join(missing)})"
        return _report(con, path)
    finally:
        con.close()


def _report(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    quota = con.execute(
        "SELECT quota_remaining, requested_at FROM fetch_log WHERE quota_remaining IS NOT NULL "
        "ORDER BY requested_at DESC, fetched_at DESC LIMIT 1"
    ).fetchall()
    fetches = {
        sport: (n, cost, last, tier, endpoint)
        for sport, n, cost, last, tier, endpoint in con.execute(
            "SELECT sport, count(*), sum(cost), max(requested_at), "
            "arg_max(tier, requested_at), arg_max(endpoint, requested_at) "
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
    lines = [f"odds status of {path}"]
    if quota:
        lines.append(f"quota remaining: {quota[0][0]} credits (read {_stamp(quota[0][1])})")
    else:
        lines.append("quota remaining: unknown (no fetch logged)")
    if not sports:
        lines.append("nothing fetched yet")
        return "\n".join(lines)
    header = f"{'sport':<28} {'last fetch':<18} {'tier':<9} {'fetches':>7} {'cost':>5} "
    header += f"{'snapshots':>9} {'odds rows':>9}  events by status"
    lines += ["", header, "-" * len(header)]
    for sport in sports:
        n, cost, last, tier, _ = fetches.get(sport, (0, 0, None, None, None))
        statuses = by_status.get(sport, {})
        order = [s for s in STATUS_ORDER if s in statuses] + sorted(
            set(statuses) - set(STATUS_ORDER)
        )
        events = ", ".join(f"{s} {statuses[s]}" for s in order) or "-"
        lines.append(
            f"{sport:<28} {_stamp(last):<18} {tier or '-':<9} {n:>7} {cost or 0:>5} "
            f"{snapshots.get(sport, 0):>9} {odds_rows.get(sport, 0):>9}  {events}"
        )
    totals = (
        f"total: {sum(snapshots.values())} snapshots, {sum(odds_rows.values())} odds rows, "
        f"{sum(sum(s.values()) for s in by_status.values())} events"
    )
    lines += ["", totals]
    return "\n".join(lines)
