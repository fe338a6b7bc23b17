"""Model-member benchmark: every member and the stacked set A against the closing market.

Run: ``OMP_NUM_THREADS=1 uv run python benchmarks/models.py [--penaltyblog-season 2024-25]``.
Reads the shipped football-data files (the shipped leagues, 2012-13 … 2024-25), walks every member
forward on the Dixon-Coles splits (weekly refits, three seasons of history), stacks them on
earlier seasons' out-of-sample forecasts, calibrates, and prints ``name: value`` lines:

- ``seconds.*``: load, targets, the Dixon-Coles walk-forward with its ξ selection, the rating
  members, Elo, stacking;
- per forecast on 2015-16 … 2024-25 (matches every member and the market have): RPS, log loss,
  ECE per outcome, the RPS gap to the margin-free closing market in % with a 95 % block-bootstrap
  interval (blocks = calendar weeks, 2,000 replicates, seed 20261130), also on newcomer matches
  (a club not in the league the season before) and on well-known teams (the others);
- ``stack.weights.<season>``: the pool weights used in each season (fitted on earlier seasons);
- ``drop.<member>``: set A's RPS change when that member is left out of the stack (> 0: it helped);
- ``penaltyblog.*``: penaltyblog's models and ours refitted on identical splits of one season of
  E0 — RPS, log loss and mean fit time, with ratios.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from jackpot_pipeline.core import stacking
from jackpot_pipeline.core.dixon_coles import single_thread_blas
from jackpot_pipeline.core.metrics import encode_results, evaluate
from jackpot_pipeline.services import members

LEAGUES = ("D1", "E0", "E1", "F1", "I1", "SP1")
SEASONS = tuple(f"{y}-{(y + 1) % 100:02d}" for y in range(2012, 2025))
REPORT = tuple(s for s in SEASONS if s >= "2015-16")
SEED = 20261130
REPLICATES = 2000
MARKET = "market_closing"


def timed(label: str, work: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Run ``work`` printing wall and CPU seconds (CPU time is what a shared, loaded machine
    distorts least: the wall time grows with the number of runnable processes per core)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    print(
        f"seconds.{label}: wall {time.perf_counter() - wall:.1f} "
        f"cpu {time.process_time() - cpu:.1f}"
    )
    return out


def newcomer_matches(frame: pd.DataFrame) -> np.ndarray:
    """True where a side did not play in the same league the season before."""
    teams = pd.concat(
        [
            frame[["league", "season", side]].rename(columns={side: "team"})
            for side in ("home_team_id", "away_team_id")
        ]
    ).drop_duplicates()
    order = {s: i for i, s in enumerate(sorted(frame["season"].unique()))}
    teams["next"] = teams["season"].map(order) + 1
    known = set(zip(teams["league"], teams["next"], teams["team"], strict=True))
    index = frame["season"].map(order).to_numpy()
    flags = [
        np.array(
            [
                (lg, i, t) not in known
                for lg, i, t in zip(frame["league"], index, frame[side], strict=True)
            ]
        )
        for side in ("home_team_id", "away_team_id")
    ]
    return flags[0] | flags[1]


def rps_rows(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-match ranked probability score."""
    cum = np.cumsum(probs, axis=1)[:, :2]
    obs = np.cumsum(np.eye(3)[y], axis=1)[:, :2]
    return ((cum - obs) ** 2).sum(axis=1) / 2.0


def gap_interval(
    model: np.ndarray, market: np.ndarray, weeks: np.ndarray
) -> tuple[float, float, float]:
    """RPS gap to the market in % and its 95 % block-bootstrap interval (blocks = weeks)."""
    codes, week = np.unique(weeks, return_inverse=True)
    m_sum = np.bincount(week, model, len(codes))
    k_sum = np.bincount(week, market, len(codes))
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, len(codes), size=(REPLICATES, len(codes)))
    ratio = m_sum[draws].sum(axis=1) / k_sum[draws].sum(axis=1)
    low, high = np.percentile(100 * (ratio - 1), [2.5, 97.5])
    return 100 * (model.sum() / market.sum() - 1), float(low), float(high)


def report(name: str, probs: np.ndarray, sample: pd.DataFrame, y: np.ndarray, groups: dict) -> None:
    r = evaluate(probs, y)
    ece = "/".join(f"{e:.4f}" for e in r.ece)
    print(f"{name}: rps {r.rps:.5f} log_loss {r.log_loss:.5f} ece(h/d/a) {ece}")
    market = rps_rows(sample[["market_home", "market_draw", "market_away"]].to_numpy(), y)
    mine = rps_rows(probs, y)
    weeks = sample["match_date"].dt.strftime("%G-%V").to_numpy()
    for label, rows in groups.items():
        gap, low, high = gap_interval(mine[rows], market[rows], weeks[rows])
        print(f"  gap_vs_closing.{label}: {gap:+.2f} % [{low:+.2f}, {high:+.2f}] n={rows.sum()}")


def forecasts(cache: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History and every member's long OOS forecasts; members already in ``cache`` are read
    from it, the others computed (and timed) and added to it."""
    if cache is not None and cache.exists():
        history, long = pd.read_pickle(cache)
        print(f"cache: {cache} has {sorted(long['member'].unique())} (not re-timed)")
    else:
        history = timed("load_files", lambda: members.load_history(LEAGUES, SEASONS))
        history = timed("member_targets", lambda: members.with_member_targets(history))
        long = pd.DataFrame(columns=["member"])
    done = set(long["member"].unique())
    parts = [long]
    with single_thread_blas():
        if "dc" not in done:
            parts.append(
                timed(
                    "dixon_coles_walk_forward_with_xi_selection",
                    lambda: members.dixon_coles_forecasts(history, LEAGUES),
                )
            )
        for spec in (*members.MEMBER_SPECS, *members.ODDS_SPECS):
            if spec.name not in done:
                parts.append(
                    timed(
                        f"walk_forward.{spec.name}",
                        lambda spec=spec: members.rating_member_forecasts(history, LEAGUES, [spec]),
                    )
                )
        if "elo" not in done:
            parts.append(timed("walk_forward.elo", lambda: members.elo_forecasts(history)))
    long = pd.concat([p for p in parts if len(p)], ignore_index=True)
    if cache is not None:
        pd.to_pickle((history, long), cache)
    return history, long


def stack(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Pooled (uncalibrated) and calibrated set A, and the weights per season."""
    pooled, weights = stacking.walk_forward_stack(frame, names)
    ok = np.isfinite(pooled).all(axis=1)
    calibrated = np.full_like(pooled, np.nan)
    calibrated[ok] = stacking.calibrate_walk_forward(frame[ok], pooled[ok])
    return pooled, calibrated, weights


def main(penaltyblog_season: str, cache: Path | None) -> None:
    print("load_average_1_5_15: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    history, long = forecasts(cache)
    variants = [spec.name for spec in members.ODDS_SPECS]
    names = list(members.SET_A_MEMBERS)
    started = time.perf_counter()
    with single_thread_blas():
        stacked = members.stack_set_a(history, long)
        frame = stacked.frame[stacked.frame["market_home"].notna()].reset_index(drop=True)
        pooled, set_a = member_probs(frame, "stack"), member_probs(frame, "set_a")
        selections, weights = stacked.selections, stacked.weights
        dc_cal = stacking.calibrate_walk_forward(frame, member_probs(frame, "dc"))
    print(f"seconds.stack_and_calibrate: {time.perf_counter() - started:.1f}")
    window = frame["season"].isin(REPORT).to_numpy()
    sample = frame[window].reset_index(drop=True)
    y = sample["outcome"].to_numpy()
    flags = pd.Series(newcomer_matches(history), index=history["match_id"])
    new = flags.loc[sample["match_id"]].to_numpy()
    groups = {"all": np.ones(len(sample), bool), "newcomer": new, "well_known": ~new}
    print(f"matches: {len(sample)} (seasons {REPORT[0]}..{REPORT[-1]}, {len(LEAGUES)} leagues)")
    report(MARKET, member_probs(sample, "market"), sample, y, groups)
    report("set_A_stacked_calibrated", set_a[window], sample, y, groups)
    report("stack_uncalibrated", pooled[window], sample, y, groups)
    report("dc_calibrated (today's set A)", dc_cal[window], sample, y, groups)
    for m in names:
        report(f"member.{m}", member_probs(sample, m), sample, y, groups)
    market_rps = evaluate(member_probs(sample, "market"), y).rps
    for v in variants:
        rps = evaluate(member_probs(sample, v), y).rps
        print(f"variant.{v}: rps {rps:.5f} gap {100 * (rps / market_rps - 1):+.2f} %")
    for selection in selections:
        print(f"odds_ratings.selected.{selection.period}: {selection.chosen}")
    for season, w in weights.items():
        text = " ".join(f"{m}={v:.3f}" for m, v in zip(w.members, w.weights, strict=True))
        print(f"stack.weights.{season}: {text} (n_train={w.n_train})")
    base = evaluate(set_a[window], y).rps
    for m in names:
        _, without, _ = stack(frame, [n for n in names if n != m])
        rps = evaluate(without[window], y).rps
        print(f"drop.{m}: set A rps without it {rps:.5f} (change {rps - base:+.5f})")
    penaltyblog_section(history, penaltyblog_season)


def member_probs(frame: pd.DataFrame, member: str) -> np.ndarray:
    """(n, 3) probabilities of a member's (or the market's) columns."""
    return frame[[f"{member}_home", f"{member}_draw", f"{member}_away"]].to_numpy(float)


def penaltyblog_section(history: pd.DataFrame, season: str) -> None:
    """penaltyblog's goal models vs ours on identical E0 splits of one season."""
    import penaltyblog as pb

    from jackpot_pipeline.core import dixon_coles
    from jackpot_pipeline.core.dixon_coles import NO_PRIOR
    from jackpot_pipeline.core.goal_models.ratings import (
        NO_RATING_PRIOR,
        History,
        fit_ratings,
        training_set,
    )
    from jackpot_pipeline.core.goal_models.walk_forward import DEFAULT_CONFIG, walk_blocks
    from jackpot_pipeline.core.metrics import log_loss, ranked_probability_score

    league = history[history["league"] == "E0"].reset_index(drop=True)
    h = History.from_frame(league, {"goals": ("home_goals", "away_goals")})
    ordered = league.sort_values("match_date", kind="stable").reset_index(drop=True)
    target = np.flatnonzero(ordered["season"].to_numpy() == season)
    xi = 0.002
    models = {
        "poisson": (pb.models.PoissonGoalsModel, members.POISSON),
        "negative_binomial": (pb.models.NegativeBinomialGoalModel, members.NEGATIVE_BINOMIAL),
        "bivariate_poisson": (pb.models.BivariatePoissonGoalModel, members.BIVARIATE_POISSON),
        "dixon_coles": (pb.models.DixonColesGoalModel, "dc"),
        "weibull_copula": (pb.models.WeibullCopulaGoalsModel, None),
    }
    out = {name: {"pb": [], "ours": [], "t_pb": [], "t_ours": []} for name in models}
    rows = []
    for as_of, since, block in walk_blocks(h, DEFAULT_CONFIG):
        if not np.isin(block, target).all():
            continue
        train = ordered[(h.day >= since) & (h.day < as_of)]
        known = set(train["home_team_id"]) | set(train["away_team_id"])
        sides = ordered[["home_team_id", "away_team_id"]].to_numpy()[block]
        block = block[[a in known and b in known for a, b in sides]]  # pb needs seen teams
        if not len(block):
            continue
        rows.append(block)
        data = training_set(h, "goals", as_of, xi=xi, since_day=since)
        weights = np.exp(-xi * (as_of - h.day[(h.day >= since) & (h.day < as_of)]))
        home, away = (
            ordered["home_team_id"].to_numpy()[block],
            ordered["away_team_id"].to_numpy()[block],
        )
        for name, (pb_model, family) in models.items():
            started = time.perf_counter()
            model = pb_model(
                train["home_goals"],
                train["away_goals"],
                train["home_team_id"],
                train["away_team_id"],
                weights,
            )
            model.fit()
            grids = [model.predict(a, b) for a, b in zip(home, away, strict=True)]
            out[name]["t_pb"].append(time.perf_counter() - started)
            out[name]["pb"].append(np.array([[g.home_win, g.draw, g.away_win] for g in grids]))
            if family is None:
                continue
            started = time.perf_counter()
            if family == "dc":
                day = np.datetime64(int(as_of), "D")
                params = dixon_coles.fit(
                    ordered, day, xi=xi, since=np.datetime64(int(since), "D"), prior=NO_PRIOR
                )
                grid = dixon_coles.predict(params, home, away)
                out[name]["ours"].append(np.column_stack([grid.p_home, grid.p_draw, grid.p_away]))
            else:
                fit = fit_ratings(data, family, NO_RATING_PRIOR)
                out[name]["ours"].append(fit.predict(home, away))
            out[name]["t_ours"].append(time.perf_counter() - started)
    y = encode_results(ordered["result"].to_numpy()[np.concatenate(rows)])
    print(
        f"penaltyblog.splits: {len(rows)} weekly fits of E0 {season}, xi {xi}, no prior (both), "
        f"{sum(map(len, rows))} matches whose teams both fits know"
    )
    for name, r in out.items():
        pb_probs = np.vstack(r["pb"])
        t_pb = 1000 * np.mean(r["t_pb"])
        line = (
            f"penaltyblog.{name}: pb rps {ranked_probability_score(pb_probs, y):.5f} "
            f"ll {log_loss(pb_probs, y):.5f} fit+predict {t_pb:.1f} ms"
        )
        if r["ours"]:
            ours, t_ours = np.vstack(r["ours"]), 1000 * np.mean(r["t_ours"])
            line += (
                f" | ours rps {ranked_probability_score(ours, y):.5f} "
                f"ll {log_loss(ours, y):.5f} {t_ours:.1f} ms (pb/ours time x{t_pb / t_ours:.1f})"
            )
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--penaltyblog-season", default="2024-25")
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the forecasts")
    args = parser.parse_args()
    main(args.penaltyblog_season, args.cache)
