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
- ``rps_gap_pct.<forecast>.<market>``: the RPS difference in % of the market's RPS, interval;
- the same lines prefixed ``newcomer.`` (a side not in the league the season before) and
  ``well_known.`` (the other matches); the members of set A (Dixon-Coles, odds ratings, Elo,
  their uncalibrated stack) are scored beside the sets;
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
    print(f"window: {result['window']}")
    print(f"n: {result['n']}")
    if result["pooled"] is None:
        print("no stored prediction sets: run `jackpot run` first")
        return
    samples = {"": result["pooled"], **{f"{k}.": v for k, v in result["subsets"].items()}}
    for prefix, sample in samples.items():
        print_sample(prefix, sample)
    print(f"seconds.report: {seconds:.1f}")
    for prefix, sample in samples.items():
        print()
        print(f"{prefix.rstrip('.') or 'pooled'} ({sample['n']:,} matches)")
        print(report.formatted(report.comparison_table(sample)).to_string())


def print_sample(prefix: str, sample: dict) -> None:
    """``name: value`` lines of one sample (the pooled window or a subset of it)."""
    for name, metrics in sample["metrics"].items():
        print(f"{prefix}n.{name}: {metrics['n']}")
        for metric in ("rps", "log_loss", "brier"):
            print(f"{prefix}{metric}.{name}: {metrics[metric]:.5f}")
        for outcome in OUTCOMES:
            print(f"{prefix}ece_{outcome}.{name}: {metrics[f'ece_{outcome}']:.4f}")
    for name, references in sample["vs"].items():
        for reference, by_metric in references.items():
            for metric, d in by_metric.items():
                print(
                    f"{prefix}diff_{metric}.{name}.{reference}: {d['mean']:+.5f} "
                    f"[{d['low']:+.5f}, {d['high']:+.5f}] (n {d['n']}, {d['n_blocks']} weeks)"
                )
    for name, other in sample["reduces_to"].items():
        print(f"{prefix}reduces_to.{name}: {other}")
    for reference in (report.MARKET, report.CLOSING):
        base = sample["metrics"][reference]["rps"]
        for name, references in sample["vs"].items():
            d = references.get(reference, {}).get("rps")
            if d is not None:
                pct = [100 * d[k] / base for k in ("mean", "low", "high")]
                print(
                    f"{prefix}rps_gap_pct.{name}.{reference}: {pct[0]:+.2f} "
                    f"[{pct[1]:+.2f}, {pct[2]:+.2f}]"
                )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Settings.from_env().warehouse_path)
