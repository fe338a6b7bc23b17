"""Dixon-Coles benchmark: our fit against penaltyblog's on real E0 data, and the walk-forward.

Run: ``uv run python benchmarks/dixon_coles.py``. Prints ``name: value`` lines. BLAS is pinned to
one thread for everything. Fits are timed from the match frame (indexing included, as
penaltyblog's constructor indexes its input too): median of ROUNDS × REPEATS runs, in
alternating blocks of REPEATS so that load from elsewhere hits both alike. Both fit the same
likelihood (no prior: ``NO_PRIOR``); NLLs are time-weighted negative log-likelihoods at each
optimum.
The walk-forward covers every shipped league-season (data loading excluded), first at the
settings' ξ, then the pipeline's nested walk (``model_store.walk_league``: ξ and the prior
precision selected per season from earlier seasons; every grid ξ at the season's precision and
every grid precision at the season's ξ, all chains solved as one stack per block).
``xi_grid_*`` compares, on E0, walking the grid ξ by ξ (the reference, measured in the same
run: one problem per Newton step) with the lockstep walk that indexes each block once and
solves every ξ's problem in one stack.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from penaltyblog.models import DixonColesGoalModel, dixon_coles_weights

from jackpot_pipeline.core import dixon_coles as dc
from jackpot_pipeline.core.football_data import parse_football_data
from jackpot_pipeline.core.walk_forward import (
    NO_EVIDENCE_XI,
    XI_GRID,
    WalkForwardConfig,
    log_loss_1x2,
    walk,
    walk_forward,
    walk_grid,
)
from jackpot_pipeline.services.model_store import walk_league
from jackpot_pipeline.settings import Settings

REPEATS = 9
ROUNDS = 3
XI = Settings().xi
#: Issue 13's bound for the Dixon-Coles walk-forward with every selection, shipped leagues.
NESTED_TARGET_S = 15.0
FIVE_SEASONS = ["2019-20", "2020-21", "2021-22", "2022-23", "2023-24"]


def load(league: str, seasons: list[str]) -> pd.DataFrame:
    """Matches of a league's seasons through the pipeline's football-data parser."""
    root = Settings().football_data_dir
    frames = [
        parse_football_data(
            (root / f"{s[2:4]}{s[5:7]}" / f"{league}.csv").read_bytes(), league, s
        ).matches[list(dc.MATCH_COLUMNS)]
        for s in seasons
    ]
    return pd.concat(frames, ignore_index=True)


def shipped() -> dict[str, list[str]]:
    """League → seasons of every shipped file."""
    leagues: dict[str, list[str]] = {}
    for path in sorted(Settings().football_data_dir.glob("*/*.csv")):
        code = path.parent.name
        leagues.setdefault(path.stem, []).append(f"20{code[:2]}-{code[2:]}")
    return leagues


def elapsed_ms(run: Callable[[], object]) -> float:
    """Wall time of one call, in milliseconds."""
    start = time.perf_counter()
    run()
    return 1e3 * (time.perf_counter() - start)


def penaltyblog_fit(matches: pd.DataFrame, xi: float, as_of: pd.Timestamp) -> DixonColesGoalModel:
    weights = dixon_coles_weights(list(matches["match_date"]), xi=xi, base_date=as_of)
    model = DixonColesGoalModel(
        matches["home_goals"].to_numpy(np.int64),
        matches["away_goals"].to_numpy(np.int64),
        matches["home_team_id"].to_numpy(str),
        matches["away_team_id"].to_numpy(str),
        weights=weights,
    )
    model.fit()
    return model


def compare_fits(label: str, matches: pd.DataFrame, xi: float) -> tuple[float, float]:
    """Print fit times and speed-up; return (our NLL, penaltyblog's NLL)."""
    as_of = matches["match_date"].max() + pd.Timedelta(days=1)

    def ours() -> dc.DixonColesParams:
        return dc.fit(matches, as_of, xi=xi, prior=dc.NO_PRIOR)

    def theirs() -> DixonColesGoalModel:
        return penaltyblog_fit(matches, xi, as_of)

    ours_times, theirs_times = [], []
    for _ in range(ROUNDS):  # alternating blocks, so load changes hit both alike
        ours_times += [elapsed_ms(ours) for _ in range(REPEATS)]
        theirs_times += [elapsed_ms(theirs) for _ in range(REPEATS)]
    ours_ms, theirs_ms = statistics.median(ours_times), statistics.median(theirs_times)
    print(f"fit_ms_{label}: {ours_ms:.3f}")
    print(f"penaltyblog_ms_{label}: {theirs_ms:.3f}")
    print(f"speedup_{label}: {theirs_ms / ours_ms:.1f}")
    return -ours().log_likelihood, -theirs().loglikelihood


def walk_forward_all(leagues: dict[str, pd.DataFrame]) -> None:
    """Time the walk-forward of every league-season at the settings' ξ and the pipeline's
    nested walk with every selection (``walk_league``)."""
    start = time.perf_counter()
    fixed = {
        league: walk_forward(matches, WalkForwardConfig(xi=XI))
        for league, matches in leagues.items()
    }
    print(f"walkforward_all_s: {time.perf_counter() - start:.2f}")
    start = time.perf_counter()
    walks = {league: walk_league(matches) for league, matches in leagues.items()}
    nested = time.perf_counter() - start
    selected = {league: walk.predictions for league, walk in walks.items()}
    print(f"walkforward_nested_selection_all_s: {nested:.2f}")
    print(f"walkforward_nested_target_s: {NESTED_TARGET_S:.1f}")
    print(f"walkforward_nested_vs_target: {nested / NESTED_TARGET_S:.2f}")
    precisions = {s.precision for walk in walks.values() for s in walk.precision_selections}
    print(f"walkforward_precisions_chosen: {sorted(precisions)}")
    for name, runs in (("fixed_xi", fixed), ("selected_xi", selected)):
        # Same matches in both: seasons after each league's first (where ξ can be selected).
        losses = [
            log_loss_1x2(frame[frame["season"] > frame["season"].min()], leagues[league])
            for league, frame in runs.items()
        ]
        print(f"walkforward_logloss_1x2_{name}: {pd.concat(losses).mean():.5f}")
    print(f"walkforward_predicted_matches: {sum(len(frame) for frame in fixed.values())}")


def xi_grid_sharing(matches: pd.DataFrame) -> None:
    """The ξ grid of one league walked ξ by ξ (reference) and in lockstep with shared
    indexing; both must give identical predictions."""
    grid = sorted({*XI_GRID, NO_EVIDENCE_XI})
    config = WalkForwardConfig()
    start = time.perf_counter()
    separate = {xi: walk(matches, dataclasses.replace(config, xi=xi)) for xi in grid}
    reference = time.perf_counter() - start
    start = time.perf_counter()
    shared = walk_grid(matches, config, grid)
    lockstep = time.perf_counter() - start
    identical = all(separate[xi].predictions.equals(shared[xi].predictions) for xi in grid)
    print(f"xi_grid_separate_walks_s_E0: {reference:.2f}")
    print(f"xi_grid_shared_walk_s_E0: {lockstep:.2f}")
    print(f"xi_grid_speedup_E0: {reference / lockstep:.2f}")
    print(f"xi_grid_identical_predictions: {identical}")


def main() -> None:
    with dc.single_thread_blas():
        nll_one = compare_fits("1season", load("E0", [FIVE_SEASONS[-1]]), 0.0)
        nll_five = compare_fits("5seasons", load("E0", FIVE_SEASONS), XI)
        print(f"nll_ours_1season: {nll_one[0]:.6f}")
        print(f"nll_penaltyblog_1season: {nll_one[1]:.6f}")
        print(f"nll_ours: {nll_five[0]:.6f}")
        print(f"nll_penaltyblog: {nll_five[1]:.6f}")
        seasons = shipped()
        start = time.perf_counter()
        leagues = {league: load(league, names) for league, names in seasons.items()}
        print(f"league_seasons: {sum(len(names) for names in seasons.values())}")
        print(f"load_all_s: {time.perf_counter() - start:.2f}")
        xi_grid_sharing(leagues["E0"])
        walk_forward_all(leagues)


if __name__ == "__main__":
    main()
