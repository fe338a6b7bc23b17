"""Skipping unchanged partitions inside a run (the fingerprints live in ``services``).

A partitioned warehouse asset asks ``stale_partitions`` which of its run's partitions have
changed inputs, code or settings since they were last computed, works on those only, and
records them with ``record_done`` once stored. A run tagged ``jackpot/force=true``
recomputes every partition of its range.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import dagster as dg

from jackpot_pipeline.defs.partitions import split_key
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.settings import Settings

FORCE_TAG = "jackpot/force"


@dataclass(frozen=True)
class Todo:
    """The stale partitions of a run, by league (seasons in order), with their fingerprints."""

    op: str
    by_league: dict[str, list[str]]
    fingerprints: dict[tuple[str, str], str] = field(repr=False)


def forced(context: dg.AssetExecutionContext) -> bool:
    """Whether the run asks to recompute unchanged partitions too."""
    return context.run.tags.get(FORCE_TAG, "").lower() == "true"


def stale_partitions(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, op: str, settings: Settings
) -> Todo:
    """The run's partitions whose fingerprint changed (all of them when forced)."""
    from jackpot_pipeline.services import fingerprints

    keys = [split_key(key) for key in context.partition_keys]
    with warehouse_db.connect() as con:
        wanted = fingerprints.input_fingerprints(con, op, keys, settings)
        todo = sorted(keys) if forced(context) else fingerprints.stale(con, op, wanted)
    if len(todo) < len(keys):
        context.log.info(
            f"{op}: {len(keys) - len(todo)} of {len(keys)} partitions unchanged (same inputs, "
            "code and settings): skipped"
        )
    by_league: dict[str, list[str]] = defaultdict(list)
    for league, season in todo:
        by_league[league].append(season)
    return Todo(op, dict(by_league), {p: wanted[p] for p in todo})


def record_done(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, todo: Todo
) -> None:
    """Record the fingerprints of the partitions just computed and stored."""
    from jackpot_pipeline.services import fingerprints

    with warehouse_db.connect() as con:
        fingerprints.record(con, todo.op, todo.fingerprints, context.run.run_id)
