"""Match history for the forecast members, read from the shipped football-data files.

One row per played match with goals, match statistics (shots, shots on target, corners) and
margin-free market probabilities of the match:

* ``market_*``: closing 1X2 as the warehouse stores it (Pinnacle closing, else market average
  closing, else pre-closing; Shin's margin removal, :func:`select_market_odds`) — the reference
  the report compares against, never a model input for the match itself;
* ``over_25``: margin-free P(over 2.5 goals) (Shin), closing Pinnacle, else closing market
  average, else the pre-closing Pinnacle / market / BetBrain average prices.

The members read only earlier matches' odds (see :mod:`jackpot_pipeline.core.goal_models.
market_ratings`). Files are parsed with the pipeline's own parser, so ids and matches are
those of the warehouse.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import MATCH_COLUMNS as DC_MATCH_COLUMNS
from jackpot_pipeline.core.football_data import (
    MAX_PRICE,
    MIN_PRICE,
    parse_football_data,
    select_market_odds,
)
from jackpot_pipeline.core.goal_models import elo
from jackpot_pipeline.core.goal_models.bivariate_poisson import BIVARIATE_POISSON
from jackpot_pipeline.core.goal_models.market_ratings import implied_rates
from jackpot_pipeline.core.goal_models.negative_binomial import NEGATIVE_BINOMIAL
from jackpot_pipeline.core.goal_models.poisson import POISSON
from jackpot_pipeline.core.goal_models.ratings import RatingPrior
from jackpot_pipeline.core.goal_models.shots import PROXY_COLUMNS, expected_goals_proxy
from jackpot_pipeline.core.goal_models.walk_forward import MemberSpec, walk_forward_members
from jackpot_pipeline.core.margins import MarginMethod, remove_margin
from jackpot_pipeline.core.metrics import encode_results
from jackpot_pipeline.core.stacking import (
    PoolWeights,
    VariantSelection,
    calibrate_walk_forward,
    select_variants,
    walk_forward_stack,
)
from jackpot_pipeline.core.teams import LEAGUES
from jackpot_pipeline.core.walk_forward import walk_forward_selected
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.settings import Settings

STAT_COLUMNS: dict[str, str] = {
    "HS": "home_shots",
    "AS": "away_shots",
    "HST": "home_shots_on_target",
    "AST": "away_shots_on_target",
    "HC": "home_corners",
    "AC": "away_corners",
}
#: Over/under 2.5 sources in order of preference: (bookmaker, phase).
OVER_UNDER_SOURCES: tuple[tuple[str, str], ...] = (
    ("pinnacle", "closing"),
    ("market_avg", "closing"),
    ("pinnacle", "opening"),
    ("market_avg", "opening"),
    ("betbrain_avg", "opening"),
)
MARGIN_METHOD = MarginMethod.SHIN


def season_folder(season: str) -> str:
    """Folder of a season label: '2023-24' → '2324'."""
    return f"{season[2:4]}{season[5:7]}"


def load_season(path: Path, league: str, season: str) -> pd.DataFrame:
    """Played matches of one file with statistics and margin-free market probabilities."""
    parsed = parse_football_data(path.read_bytes(), league, season)
    matches = parsed.matches
    stats = parsed.raw[["match_id", *[c for c in STAT_COLUMNS if c in parsed.raw.columns]]]
    stats = stats.rename(columns=STAT_COLUMNS).set_index("match_id")
    for column in STAT_COLUMNS.values():
        values = stats[column] if column in stats.columns else pd.Series("", index=stats.index)
        stats[column] = pd.to_numeric(values.str.strip(), errors="coerce")
    frame = matches.join(stats[list(STAT_COLUMNS.values())], on="match_id")
    frame = frame.merge(_closing_1x2(matches, parsed.odds), on="match_id", how="left")
    frame = frame.merge(_over_25(parsed.odds), on="match_id", how="left")
    played = frame["home_goals"].notna() & frame["away_goals"].notna()
    frame = frame[played].drop_duplicates("match_id").reset_index(drop=True)
    frame["home_goals"] = frame["home_goals"].astype(np.int64)
    frame["away_goals"] = frame["away_goals"].astype(np.int64)
    frame["match_date"] = pd.to_datetime(frame["match_date"]).astype("datetime64[ns]")
    return frame


def _closing_1x2(matches: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    chosen = select_market_odds(matches, odds)
    prices = chosen[["odds_home", "odds_draw", "odds_away"]].to_numpy(dtype=float)
    fair = remove_margin(prices, MARGIN_METHOD).probabilities
    return pd.DataFrame(
        {
            "match_id": chosen["match_id"],
            "market_source": chosen["odds_source"],
            "market_home": fair[:, 0],
            "market_draw": fair[:, 1],
            "market_away": fair[:, 2],
        }
    )


def _over_25(odds: pd.DataFrame) -> pd.DataFrame:
    """Margin-free P(over 2.5) per match from the preferred complete over/under pair."""
    ou = odds[(odds["market"] == "OU2.5") & odds["price"].between(MIN_PRICE, MAX_PRICE)]
    pairs = ou.pivot_table(
        index=["match_id", "bookmaker", "phase"], columns="outcome", values="price", aggfunc="first"
    ).reindex(columns=["over", "under"])
    pairs = pairs.dropna()
    out = pd.Series(np.nan, index=pd.Index(ou["match_id"].unique(), name="match_id"))
    for bookmaker, phase in reversed(OVER_UNDER_SOURCES):
        try:
            block = pairs.xs((bookmaker, phase), level=("bookmaker", "phase"))
        except KeyError:
            continue
        fair = remove_margin(block.to_numpy(dtype=float), MARGIN_METHOD).probabilities
        out.loc[block.index] = fair[:, 0]
    return out.rename("over_25").reset_index()


def load_history(
    leagues: Sequence[str], seasons: Sequence[str], data_dir: Path | None = None
) -> pd.DataFrame:
    """Every played match of ``leagues`` × ``seasons`` whose file exists, oldest first."""
    root = data_dir or Settings.from_env().football_data_dir
    frames = [
        load_season(root / season_folder(season) / f"{league}.csv", league, season)
        for league in leagues
        for season in seasons
        if (root / season_folder(season) / f"{league}.csv").exists()
    ]
    if not frames:
        raise FileNotFoundError(f"no football-data files for {list(leagues)} in {root}")
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["match_date", "match_id"], kind="stable").reset_index(drop=True)


def linked_divisions(league: str) -> tuple[str, ...]:
    """Partner divisions of ``league`` for the linked members: the registry's enabled leagues
    of the same country one tier above or below (E0 with the Championship E1, E1 with the
    Premier League it feeds)."""
    info = LEAGUES[league]
    return tuple(
        code
        for code, other in LEAGUES.items()
        if code != league and other.country == info.country and abs(other.tier - info.tier) == 1
    )


TARGETS: dict[str, tuple[str, str]] = {
    "goals": ("home_goals", "away_goals"),
    "xg": PROXY_COLUMNS,
    "market": ("market_home_xg", "market_away_xg"),
}
#: The rating members. ξ per day: 0.002 is Dixon & Coles' (1997) 0.0065 per half-week.
MEMBER_SPECS: tuple[MemberSpec, ...] = (
    MemberSpec("shots", POISSON, "xg", 0.002),
    MemberSpec("poisson_goals", POISSON, "goals", 0.002),
    MemberSpec("second_tier", POISSON, "goals", 0.002, linked=True),
)
#: Variants of the odds-ratings member (linked divisions, market-implied targets): ξ per day
#: × prior precision. Market targets carry far less noise than goals, so the grid reaches
#: weak priors and short memories; one variant per season is chosen from earlier seasons
#: (:func:`jackpot_pipeline.core.stacking.select_variants`).
ODDS_XI_GRID: tuple[float, ...] = (0.005, 0.01, 0.02, 0.04)
ODDS_PRECISION_GRID: tuple[float, ...] = (0.2, 1.0)
ODDS_DEFAULT = "odds[xi=0.005,precision=1]"
ODDS_SPECS: tuple[MemberSpec, ...] = tuple(
    MemberSpec(
        f"odds[xi={xi:g},precision={precision:g}]",
        POISSON,
        "market",
        xi,
        linked=True,
        prior=RatingPrior(precision=precision),
    )
    for xi in ODDS_XI_GRID
    for precision in ODDS_PRECISION_GRID
)
GOAL_FAMILY_SPECS: tuple[MemberSpec, ...] = (
    MemberSpec("poisson", POISSON, "goals", 0.002),
    MemberSpec("negative_binomial", NEGATIVE_BINOMIAL, "goals", 0.002),
    MemberSpec("bivariate_poisson", BIVARIATE_POISSON, "goals", 0.002),
)


def with_market_targets(history: pd.DataFrame) -> pd.DataFrame:
    """History with the market-implied expected goals of every match, from its own margin-free
    closing 1X2 and over 2.5 prices (used only as a target of *later* fits; NaN without
    prices)."""
    rates = implied_rates(
        history["market_home"].to_numpy(float),
        history["market_away"].to_numpy(float),
        history["over_25"].to_numpy(float),
    )
    return history.assign(market_home_xg=rates[:, 0], market_away_xg=rates[:, 1])


def with_member_targets(history: pd.DataFrame) -> pd.DataFrame:
    """:func:`with_market_targets` and the shots proxy (coefficients from earlier seasons, per
    league)."""
    out = with_market_targets(history)
    proxies = [expected_goals_proxy(group) for _, group in out.groupby("league", sort=True)]
    return pd.concat(proxies).loc[out.index]


def rating_member_forecasts(
    history: pd.DataFrame,
    leagues: Sequence[str],
    specs: Sequence[MemberSpec] = MEMBER_SPECS,
) -> pd.DataFrame:
    """Long OOS forecasts (match_id, member, as_of, p_*, unseen) of the rating members."""
    frames = [
        walk_forward_members(history, league, specs, TARGETS, links=linked_divisions(league))
        for league in leagues
    ]
    return pd.concat(frames, ignore_index=True)


def dixon_coles_forecasts(history: pd.DataFrame, leagues: Sequence[str]) -> pd.DataFrame:
    """The pipeline's Dixon-Coles walk-forward with ξ selected per season from earlier ones."""
    frames = []
    for league in leagues:
        matches = history.loc[history["league"] == league, list(DC_MATCH_COLUMNS)]
        predictions = walk_forward_selected(matches).predictions
        frames.append(predictions[["match_id", "p_home", "p_draw", "p_away"]].assign(member="dc"))
    return pd.concat(frames, ignore_index=True)


def elo_forecasts(history: pd.DataFrame) -> pd.DataFrame:
    """Elo + ordered logit forecasts of every match after the first season."""
    return elo.walk_forward(history).dropna().assign(member="elo")


def wide(history: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per history match with ``{member}_home/draw/away`` columns (NaN if missing)."""
    table = forecasts.pivot_table(
        index="match_id", columns="member", values=["p_home", "p_draw", "p_away"]
    )
    table.columns = [f"{member}_{col[2:]}" for col, member in table.columns]
    return history.join(table, on="match_id")


#: Members of the stack, in order: no member sees the odds of the match it forecasts.
SET_A_MEMBERS: tuple[str, ...] = (
    "dc",
    *(spec.name for spec in MEMBER_SPECS),
    "odds_ratings",
    "elo",
)


@dataclass(frozen=True, eq=False)
class StackedSetA:
    """Set A from the members: ``frame`` (history rows every member forecasts, with the
    members' columns, ``odds_ratings_*`` (the selected variant), ``stack_*`` (pooled) and
    ``set_a_*`` (pooled, then calibrated); NaN before the stack has enough earlier seasons),
    the odds variant chosen per season and the pool weights per season."""

    frame: pd.DataFrame
    selections: tuple[VariantSelection, ...]
    weights: dict[str, PoolWeights]


def stack_set_a(
    history: pd.DataFrame, forecasts: pd.DataFrame, names: Sequence[str] = SET_A_MEMBERS
) -> StackedSetA:
    """Choose the odds variant per season, pool ``names`` with weights fitted on earlier
    seasons and calibrate (isotonic, pooled, earlier seasons), all out of sample.

    ``forecasts``: long rows (match_id, member, p_home, p_draw, p_away) of the members of
    ``names`` other than odds_ratings, and of every variant in :data:`ODDS_SPECS`.
    """
    variants = [spec.name for spec in ODDS_SPECS]
    frame = wide(history, forecasts)
    needed = [m for m in names if m != "odds_ratings"] + variants
    complete = frame[[f"{m}_home" for m in needed]].notna().all(axis=1)
    frame = frame[complete].reset_index(drop=True)
    frame["outcome"] = encode_results(frame["result"].to_numpy())
    selected, selections = select_variants(frame, variants, default=ODDS_DEFAULT)
    frame[["odds_ratings_home", "odds_ratings_draw", "odds_ratings_away"]] = selected
    pooled, weights = walk_forward_stack(frame, list(names))
    ok = np.isfinite(pooled).all(axis=1)
    calibrated = np.full_like(pooled, np.nan)
    calibrated[ok] = calibrate_walk_forward(frame[ok], pooled[ok])
    for prefix, probs in (("stack", pooled), ("set_a", calibrated)):
        frame[[f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away"]] = probs
    return StackedSetA(frame, selections, weights)


# ---------------------------------------------------------------------------------------------
# The pipeline's member stage: the members of set A read from the warehouse
# ---------------------------------------------------------------------------------------------

#: The members the pipeline walks besides Dixon-Coles (oos_predictions): every odds-ratings
#: variant (one is chosen per season by the stack) and Elo.
PIPELINE_SPECS: tuple[MemberSpec, ...] = ODDS_SPECS
ELO = "elo"
MARKET_TARGETS = {"market": TARGETS["market"]}


def warehouse_history(
    con: duckdb.DuckDBPyConnection, leagues: Sequence[str], until_season: str
) -> pd.DataFrame:
    """Played matches of ``leagues`` up to ``until_season`` from the warehouse, oldest first,
    with the stored margin-free market 1X2 (closing first, as :func:`select_market_odds`), the
    margin-free P(over 2.5) and the market-implied expected goals (targets of later fits)."""
    marks = ", ".join("?" for _ in leagues)
    where = f"league IN ({marks}) AND season <= ? AND home_goals IS NOT NULL"
    frame = con.execute(
        "SELECT match_id, league, season, match_date, home_team_id, away_team_id, home_goals, "
        "away_goals, result, prob_home_market AS market_home, prob_draw_market AS market_draw, "
        f"prob_away_market AS market_away FROM matches WHERE {where} AND away_goals IS NOT NULL "
        "ORDER BY match_date, match_id",
        [*leagues, until_season],
    ).df()
    odds = con.execute(
        "SELECT match_id, bookmaker, market, outcome, phase, price FROM match_odds "
        f"WHERE market = 'OU2.5' AND match_id IN (SELECT match_id FROM matches WHERE {where})",
        [*leagues, until_season],
    ).df()
    frame["match_date"] = pd.to_datetime(frame["match_date"]).astype("datetime64[ns]")
    frame = frame.astype({"home_goals": "int64", "away_goals": "int64"})
    over = _over_25(odds) if len(odds) else pd.DataFrame(columns=["match_id", "over_25"])
    frame = frame.merge(over, on="match_id", how="left")
    frame["over_25"] = frame["over_25"].astype(float)
    return with_market_targets(frame)


def league_members(history: pd.DataFrame, league: str) -> pd.DataFrame:
    """Walk-forward rows (match_id, member, as_of, p_home, p_draw, p_away) of every
    :data:`PIPELINE_SPECS` variant and of Elo for ``league`` on the Dixon-Coles splits.

    ``history``: :func:`warehouse_history` of the league and its :func:`linked_divisions`.
    Elo rates each match with the results before its block's as-of day and maps the rating
    difference by an ordered logit fitted on the league's earlier seasons."""
    odds = walk_forward_members(
        history, league, PIPELINE_SPECS, MARKET_TARGETS, links=linked_divisions(league)
    )
    columns = ["match_id", "member", "as_of", "p_home", "p_draw", "p_away"]
    if odds.empty:
        return pd.DataFrame(columns=columns)
    return pd.concat([odds[columns], elo_rows(history, league, odds)], ignore_index=True)


def elo_rows(history: pd.DataFrame, league: str, walked: pd.DataFrame) -> pd.DataFrame:
    """Elo's rows for the matches ``walked`` predicts (their as_of: the block's decision day);
    other matches are rated as of their own date."""
    own = history[history["league"] == league]
    blocks = walked.drop_duplicates("match_id").set_index("match_id")["as_of"]
    as_of = own["match_id"].map(blocks).fillna(own["match_date"])
    probs = elo.walk_forward(own.assign(as_of=as_of)).set_index("match_id")
    rows = probs.loc[probs.index.isin(blocks.index)].dropna()
    return rows.assign(member=ELO, as_of=blocks.loc[rows.index]).reset_index()


def run_members(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    by_league: Mapping[str, Sequence[str]],
    log: logging.Logger,
) -> list[dict[str, object]]:
    """Walk every league of the run once (leagues in parallel processes, one per core) and
    store the member rows of its partition seasons (``member_predictions``); one summary row
    (league, season, rows, matches, members) per partition with rows."""
    histories = {}
    with connect() as con:
        for league, seasons in by_league.items():
            divisions = [league, *linked_divisions(league)]
            history = warehouse_history(con, divisions, seasons[-1])
            if (history["league"] == league).any():
                histories[league] = history
    summary: list[dict[str, object]] = []
    for league, rows in zip(histories, _walk_leagues(histories), strict=True):
        identity = ["match_id", "league", "season", "match_date"]
        own = histories[league]
        rows = own.loc[own["league"] == league, identity].merge(rows, on="match_id")
        for season in by_league[league]:
            part = rows[rows["season"] == season]
            if part.empty:
                continue
            with connect() as con, warehouse.transaction(con):
                where = {"league": league, "season": season}
                warehouse.replace_rows(con, "member_predictions", where, part)
            summary.append(
                {
                    "league": league,
                    "season": season,
                    "rows": len(part),
                    "matches": int(part["match_id"].nunique()),
                    "members": int(part["member"].nunique()),
                }
            )
            log.info(f"{league} {season}: {len(part)} member forecasts")
    return summary


def _walk_leagues(histories: Mapping[str, pd.DataFrame]) -> list[pd.DataFrame]:
    """:func:`league_members` of every league, in spawned worker processes when there are
    several leagues and cores (the walks are pure and deterministic: same rows either way)."""
    workers = min(len(histories), os.cpu_count() or 1)
    if workers <= 1:
        return [league_members(history, league) for league, history in histories.items()]
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        return list(pool.map(league_members, histories.values(), histories.keys()))


PARENT_CHECK_SECONDS = 1.0


def exit_with_parent(parent: int) -> None:
    """Worker initializer: end this process once ``parent`` is gone (a ``kill -9`` of the run
    would otherwise leave its workers waiting forever), checked every
    :data:`PARENT_CHECK_SECONDS` by a daemon thread."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
