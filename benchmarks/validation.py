"""Validation benchmark: the pooled walk-forward figures of 2015-16 … 2024-25 (the enabled leagues).

Run: ``uv run python benchmarks/validation.py [WAREHOUSE]`` (default: the settings' warehouse,
opened read-only; it needs ``oos_predictions`` and ``matches``, i.e. after ``jackpot run``).
Prints ``name: value`` lines. Everything is rebuilt in memory from the out-of-sample Dixon-Coles
predictions with the core functions the assets use (curves and set parameters of season S fitted
on seasons < S only), so it does not need the calibration assets to be materialized:

- ``<metric>.<forecast>``: RPS, log loss, Brier, accuracy and ECE per outcome of sets A–G (the
  chosen design), the uncalibrated Dixon-Coles model, the closing market and the base rate;
- ``choice.<what>.<set>``: the design alternatives, with the mean per-match difference of log
  loss and RPS (chosen − alternative) and its standard error (paired over matches);
- ``target.*``: the three targets.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
import numpy as np

from jackpot_pipeline.core.calibration import apply_walk_forward, fit_walk_forward_curves
from jackpot_pipeline.core.dixon_coles import single_thread_blas
from jackpot_pipeline.core.metrics import OUTCOMES, encode_results, evaluate
from jackpot_pipeline.core.prediction_sets import (
    SetInputs,
    build_walk_forward_sets,
    fit_walk_forward_params,
)
from jackpot_pipeline.services import calibration_store as store
from jackpot_pipeline.services import report, validation
from jackpot_pipeline.settings import Settings

CHOICES = (
    ("calibration_scope", "A", "A|calibration=pooled", "A|calibration=league"),
    *(
        ("pooling", name, f"{name}|pooling=log", f"{name}|pooling=linear")
        for name in ("B", "C", "E", "F", "G")
    ),
    *(
        ("params_scope", name, f"{name}|pooling=log", f"{name}|params=league")
        for name in ("B", "E", "F", "G")
    ),
)


def main(path: Path) -> None:
    settings = Settings.from_env()
    con = duckdb.connect(str(path), read_only=True)
    try:
        oos = store.load_oos(con, report.REPORT_SEASONS[-1])
        counts = store.outcome_counts(con)
    finally:
        con.close()
    started = time.perf_counter()
    with single_thread_blas():
        played = oos[oos["result"].isin(["H", "D", "A"])].reset_index(drop=True)
        frame = played.rename(columns={"match_date": "date"})
        curves = fit_walk_forward_curves(
            frame,
            "season",
            scope=store.CALIBRATION_SCOPE,
            min_samples=settings.min_calibration_samples,
            n_bins=settings.calibration_bins,
        )
        model = apply_walk_forward(frame, curves, "season", scope=store.CALIBRATION_SCOPE)
        inputs = SetInputs(
            model, store.probs_of(played, store.MARKET_COLUMNS), played["league"].to_numpy()
        )
        y_all, periods = played["result"].to_numpy(), played["season"].to_numpy()
        params = fit_walk_forward_params(
            inputs,
            y_all,
            periods,
            pooling=store.POOLING,
            max_market_weight=settings.max_market_weight,
            min_samples=settings.min_calibration_samples,
        )
        sets = build_walk_forward_sets(inputs, periods, params)
        alternatives = validation.design_alternatives(oos, settings)
    seconds = time.perf_counter() - started
    window = np.isin(periods, report.REPORT_SEASONS)
    sample = played[window].reset_index(drop=True)
    forecasts = {name: built.probs[window] for name, built in sets.items()}
    forecasts[report.DIXON_COLES] = store.probs_of(sample)
    forecasts[report.MARKET] = store.probs_of(sample, store.MARKET_COLUMNS)
    forecasts[report.BASE_RATE] = report.base_rates(counts, sample)
    assert alternatives.matches["match_id"].tolist() == sample["match_id"].tolist()
    y = encode_results(sample["result"].to_numpy())
    print(f"window: {report.REPORT_WINDOW}")
    print(f"matches: {len(sample)}")
    print(f"leagues: {sample['league'].nunique()}")
    print(f"seconds.walk_forward_fits: {seconds:.1f}")
    print(
        f"design: calibration={store.CALIBRATION_SCOPE} params={store.PARAMS_SCOPE} "
        f"pooling={store.POOLING}"
    )
    reports = {}
    for name, probs in forecasts.items():
        rows = np.isfinite(probs).all(axis=1)
        reports[name] = evaluate(probs[rows], y[rows], settings.calibration_bins)
        r = reports[name]
        print(f"n.{name}: {r.n_matches}")
        print(f"rps.{name}: {r.rps:.5f}")
        print(f"log_loss.{name}: {r.log_loss:.5f}")
        print(f"brier.{name}: {r.brier:.5f}")
        print(f"accuracy.{name}: {r.accuracy:.4f}")
        for outcome, ece in zip(OUTCOMES, r.ece, strict=True):
            print(f"ece_{outcome}.{name}: {ece:.4f}")
    market = reports[report.MARKET].rps
    for name in report.SET_NAMES:
        print(f"rps_vs_market_pct.{name}: {100 * (reports[name].rps / market - 1):+.3f}")
    for what, name, chosen, other in CHOICES:
        ll_a, rps_a = report.per_match_scores(alternatives.probs[chosen], y)
        ll_b, rps_b = report.per_match_scores(alternatives.probs[other], y)
        for label, a, b in (("log_loss", ll_a, ll_b), ("rps", rps_a, rps_b)):
            diff = a - b
            se = diff.std(ddof=1) / np.sqrt(len(diff))
            print(
                f"choice.{what}.{name}.{label}: {a.mean():.5f} ({chosen}) vs {b.mean():.5f} "
                f"({other}), diff {diff.mean():+.6f} ± {se:.6f}"
            )
    a = reports["A"]
    best_blended = min(report.BLENDED_SETS, key=lambda n: reports[n].rps)
    print(f"target.a_rps_gap_pct: {100 * (a.rps / market - 1):+.2f} (target ≤ +1.50)")
    print(
        f"target.best_blended_rps_minus_market: {best_blended} "
        f"{reports[best_blended].rps - market:+.2e} (target ≤ 0)"
    )
    print(f"target.a_max_ece: {max(a.ece):.4f} (target < 0.01)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Settings.from_env().warehouse_path)
