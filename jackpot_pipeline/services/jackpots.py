"""Jackpots: a coupon in, immutable calibrated predictions out (no Dagster here).

One code path serves the ``jackpot_predictions`` asset and the ``jackpot predict FILE`` command
(:func:`predict_coupon`, wrapped by :func:`predict_file`); its stages live one module each:

* :mod:`services.jackpot_model`: validate the coupon, plan every fixture, derive the
  version and, for a new version only, compute its rows;
* :mod:`services.jackpot_store`: the tables; a version's rows are inserted once, in one
  transaction, and never updated or deleted, so the same inputs re-read the stored version;
* :mod:`services.jackpot_report`: results, ticket figures, text, markdown, exports;
* :mod:`services.jackpot_inbox`: the jackpot folders and the coupon bytes kept in the
  raw layer.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from jackpot_pipeline.core.coupon import Resolve, read_coupon_file
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.jackpot_inbox import jackpot_paths, store_coupon_bytes
from jackpot_pipeline.services.jackpot_model import compute_jackpot, plan_jackpot, validate_coupon
from jackpot_pipeline.services.jackpot_report import (
    DEFAULT_BUDGET,
    DEFAULT_SET,
    JackpotReport,
    jackpot_report,
    write_exports,
)
from jackpot_pipeline.services.jackpot_store import (
    JackpotRun,
    load_jackpot,
    store_jackpot,
    version_exists,
)
from jackpot_pipeline.settings import Settings


def predict_coupon(
    con: duckdb.DuckDBPyConnection,
    data: bytes,
    source: str,
    *,
    settings: Settings | None = None,
    raw_dir: Path | None = None,
    resolve: Resolve | None = None,
    now: datetime | None = None,
) -> JackpotRun:
    """The one prediction path: validate, keep the bytes in the raw layer, plan, and compute
    and store the version unless it is stored already; returns the stored rows.

    ``now`` (default: the clock) is the prediction's time: its ``created_at`` and the limit of
    the odds snapshots it may read."""
    settings = settings or Settings.from_env()
    now = now or datetime.now(UTC)
    coupon = validate_coupon(con, data, source, resolve)  # a rejected coupon is not stored
    raw_path = store_coupon_bytes(raw_dir or settings.raw_dir, data, source)
    plan = plan_jackpot(con, coupon, Path(source).name, settings, now)
    created = False
    if not version_exists(con, plan.version):
        created = store_jackpot(con, compute_jackpot(plan, raw_path, now))
    return JackpotRun(coupon, load_jackpot(con, plan.version), created)


def predict_file(
    path: str | Path,
    set_name: str = DEFAULT_SET,
    budget: int = DEFAULT_BUDGET,
    *,
    results_file: str | Path | None = None,
    settings: Settings | None = None,
) -> JackpotReport:
    """``jackpot predict FILE [--set G] [--budget N]``: validate, predict through the asset's
    path (same immutable rows), export, and return the report (shown by :mod:`cli.predict`).

    Raises :class:`CouponValidationError` (print ``error.report()``) for an invalid file."""
    if budget < 1:  # checked before anything is stored
        raise ValueError(f"the budget must be at least 1 line, got {budget}")
    settings = settings or Settings.from_env()
    path = Path(path)
    data = read_coupon_file(path)
    con = warehouse.connect(settings.warehouse_path, lock_timeout_s=settings.lock_timeout_s)
    try:
        run = predict_coupon(con, data, path.name, settings=settings)
        report = jackpot_report(
            con, run, budget=budget, set_name=set_name, results_file=results_file
        )
    finally:
        con.close()
    exports = write_exports(report, jackpot_paths(settings).out)
    return dataclasses.replace(report, exports=exports)
