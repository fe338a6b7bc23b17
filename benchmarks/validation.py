"""Validation benchmark: the pooled out-of-sample table of 2015-16 … 2024-25 (the enabled leagues)
FROM THE STORED ROWS.

Run: ``uv run python benchmarks/validation.py [WAREHOUSE]`` (default: the settings' warehouse,
opened read-only; it needs ``prediction_sets``, ``oos_predictions``, ``matches`` and
``match_odds``, i.e. after ``jackpot run``). Nothing is refitted: the sets are the stored rows as
delivered (``prediction_sets``), scored by ``services.report.comparison`` — the function behind
``jackpot report --json``. Prints ``name: value`` lines:

- ``n``, ``<metric>.<forecast>``: RPS, log loss, Brier and ECE per outcome of sets A–G, the
  uncalibrated Dixon-Coles model, the decision-time (pre-closing) and the closing market and
  the base rate, all on the same matches;
- ``diff_<metric>.<set>.<market|closing_market>``: mean paired difference set − market with
  its 95 % week-block bootstrap interval;
- ``reduces_to.<set>``: sets whose forecasts equal another's;
- ``seconds.report``: time to score the stored rows (bootstrap included).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

from jackpot_pipeline.core.metrics import OUTCOMES
from jackpot_pipeline.services import report
from jackpot_pipeline.settings import Settings


def main(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    started = time.perf_counter()
    try:
        result = report.comparison(con, Settings.from_env().calibration_bins)
    finally:
        con.close()
    seconds = time.perf_counter() - started
    pooled = result["pooled"]
    print(f"window: {result['window']}")
    print(f"n: {result['n']}")
    if pooled is None:
        print("no stored prediction sets: run `jackpot run` first")
        return
    for name, metrics in pooled["metrics"].items():
        print(f"n.{name}: {metrics['n']}")
        for metric in ("rps", "log_loss", "brier"):
            print(f"{metric}.{name}: {metrics[metric]:.5f}")
        for outcome in OUTCOMES:
            print(f"ece_{outcome}.{name}: {metrics[f'ece_{outcome}']:.4f}")
    for name, references in pooled["vs"].items():
        for reference, by_metric in references.items():
            for metric, d in by_metric.items():
                print(
                    f"diff_{metric}.{name}.{reference}: {d['mean']:+.5f} "
                    f"[{d['low']:+.5f}, {d['high']:+.5f}] (n {d['n']}, {d['n_blocks']} weeks)"
                )
    for name, other in pooled["reduces_to"].items():
        print(f"reduces_to.{name}: {other}")
    market = pooled["metrics"][report.MARKET]["rps"]
    closing = pooled["metrics"][report.CLOSING]["rps"]
    a = pooled["metrics"]["A"]["rps"]
    print(f"rps_gap_pct.A.market: {100 * (a / market - 1):+.2f}")
    print(f"rps_gap_pct.A.closing_market: {100 * (a / closing - 1):+.2f}")
    print(f"seconds.report: {seconds:.1f}")
    print()
    print(report.formatted(report.comparison_table(pooled)).to_string())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Settings.from_env().warehouse_path)
