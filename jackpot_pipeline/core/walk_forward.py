"""Walk-forward out-of-sample Dixon-Coles predictions and per-league ξ selection.

Walk-forward (one league): the matches of each target season are cut into blocks of
``refit_days`` consecutive days starting at the first not-yet-predicted match date d. The model
is refitted as of d (matches strictly before d, from the first of the previous
``history_seasons`` seasons on, weights exp(−ξ·days), warm-started from the previous fit) and
predicts every match of the block. Block boundaries depend on dates only, so a prediction never
depends on its own result or on any later one. Home advantage is fitted per league because
each league is walked on its own.

A block is predicted only when at least ``min_train_matches`` matches precede it in the
window. The first season of the data therefore starts being predicted once that many of its
own matches are played (≈ 6 matchdays with the default 60); later seasons are predicted
from their first matchday, promoted teams starting from the promoted-team prior.

Newcomer prior per league: at the start of each walked season, the strengths that the latest
fit gives the previous season's newcomers (teams new to the league that season) are recorded;
the prior centre for newcomers becomes the mean of these records and the default centre
(counted as one record). A second tier, whose newcomers are relegated and promoted clubs
alike, thus learns a centre near zero, a top flight one near the promoted-team average.

ξ selection: every ξ of the grid is walked forward; for a target season the chosen ξ
minimizes the mean 1X2 log loss −log p(observed outcome) over the walk-forward predictions of
the ``validation_seasons`` seasons strictly before it (all with OOS predictions from that ξ).
The first predicted season has no earlier predictions and keeps the configured ξ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import (
    DEFAULT_PRIOR,
    DEFAULTS,
    DixonColesParams,
    MatchData,
    TeamPrior,
    fit,
    predict,
    single_thread_blas,
)

#: ξ grid, per day: half-lives ∞, 693, 347, 231, 139, 107 and 77 days.
XI_GRID: tuple[float, ...] = (0.0, 0.001, 0.002, 0.003, 0.005, 0.0065, 0.009)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "match_id",
    "league",
    "season",
    "match_date",
    "as_of",
    "lambda_home",
    "lambda_away",
    "p_home",
    "p_draw",
    "p_away",
    "xi",
    "model_version",
    "n_train_matches",
    "converged",
    "home_fallback",
    "away_fallback",
)


@dataclass(frozen=True)
class WalkForwardConfig:
    """Walk-forward settings: ξ per day, history window in seasons, refit period in days."""

    xi: float = DEFAULTS.xi
    history_seasons: int = 3
    refit_days: int = 7
    min_train_matches: int = 60
    prior: TeamPrior = DEFAULT_PRIOR


@dataclass(frozen=True)
class XiSelection:
    """ξ chosen for ``season`` and the mean 1X2 log loss of every grid value."""

    season: str
    xi: float
    scores: tuple[tuple[float, float], ...]
    validation_seasons: tuple[str, ...]
    n_validation_matches: int


def _single_league(matches: pd.DataFrame) -> str:
    leagues = matches["league"].unique()
    if len(leagues) != 1:
        raise ValueError(f"walk-forward needs exactly one league, got {sorted(leagues)}")
    return str(leagues[0])


def walk_forward(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    seasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Out-of-sample predictions of the matches of ``seasons`` (default: all) of one league.

    Returns one row per predicted match with :data:`PREDICTION_COLUMNS`, in (date, match_id)
    order; ``as_of`` is the fit date (the model saw only matches before it).
    """
    league = _single_league(matches)
    data = MatchData.from_frame(matches)
    targets = data.seasons if seasons is None else tuple(sorted(seasons))
    rows: list[pd.DataFrame] = []
    params: DixonColesParams | None = None
    offsets: list[tuple[float, float]] = []
    with single_thread_blas():
        for season in targets:
            index = data.seasons.index(season)
            if params is not None and index >= 2:
                offsets.extend(_newcomer_offsets(data, params, index - 1))
            prior = _league_prior(config.prior, offsets)
            since = data.day[data.season >= index - config.history_seasons].min()
            in_season = np.flatnonzero(data.season == index)
            start = 0
            while start < len(in_season):
                as_of = data.day[in_season[start]]
                stop = np.searchsorted(data.day[in_season], as_of + config.refit_days)
                block = in_season[start:stop]
                start = stop
                n_train = int(((data.day >= since) & (data.day < as_of)).sum())
                if n_train < config.min_train_matches:
                    continue
                params = fit(
                    data,
                    np.datetime64(int(as_of), "D"),
                    xi=config.xi,
                    since=np.datetime64(int(since), "D"),
                    prior=prior,
                    init=params,
                )
                rows.append(_block_frame(data, block, params, league, season))
    if not rows:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    return pd.concat(rows, ignore_index=True)


def _newcomer_offsets(
    data: MatchData, params: DixonColesParams, season: int
) -> list[tuple[float, float]]:
    """[(mean attack, mean defence − league mean defence)] in ``params`` of the teams new in
    ``season`` (playing in it, not in the season before); empty if ``params`` knows none."""

    def teams_of(index: int) -> set[int]:
        mask = data.season == index
        return set(data.home[mask].tolist()) | set(data.away[mask].tolist())

    new = {data.teams[t] for t in teams_of(season) - teams_of(season - 1)}
    known = [i for i, team in enumerate(params.teams) if team in new]
    if not known:
        return []
    defence = params.defence - params.defence.mean()
    return [(float(params.attack[known].mean()), float(defence[known].mean()))]


def _league_prior(default: TeamPrior, offsets: Sequence[tuple[float, float]]) -> TeamPrior:
    """Prior whose newcomer centre averages the league's observed newcomer offsets with the
    default centre counted as one more season."""
    attack = (default.newcomer_attack + sum(a for a, _ in offsets)) / (1 + len(offsets))
    defence = (default.newcomer_defence + sum(d for _, d in offsets)) / (1 + len(offsets))
    return dataclasses.replace(default, newcomer_attack=attack, newcomer_defence=defence)


def _block_frame(
    data: MatchData, block: np.ndarray, params: DixonColesParams, league: str, season: str
) -> pd.DataFrame:
    """Prediction rows of one block of matches."""
    teams = np.array(data.teams)
    forecast = predict(params, teams[data.home[block]], teams[data.away[block]])
    return pd.DataFrame(
        {
            "match_id": data.match_ids[block],
            "league": league,
            "season": season,
            "match_date": data.day[block].astype("datetime64[D]").astype("datetime64[ns]"),
            "as_of": pd.Timestamp(params.as_of),
            "lambda_home": forecast.lambda_home,
            "lambda_away": forecast.lambda_away,
            "p_home": forecast.p_home,
            "p_draw": forecast.p_draw,
            "p_away": forecast.p_away,
            "xi": params.xi,
            "model_version": params.version,
            "n_train_matches": params.n_matches,
            "converged": params.converged,
            "home_fallback": forecast.home_fallback,
            "away_fallback": forecast.away_fallback,
        }
    )


def log_loss_1x2(predictions: pd.DataFrame, matches: pd.DataFrame) -> pd.Series:
    """−log p(observed 1X2 outcome) per predicted match, indexed by match_id."""
    results = matches.set_index("match_id").loc[predictions["match_id"]]
    margin = (results["home_goals"] - results["away_goals"]).to_numpy()
    probability = np.select(
        [margin > 0, margin == 0],
        [predictions["p_home"].to_numpy(), predictions["p_draw"].to_numpy()],
        predictions["p_away"].to_numpy(),
    )
    return pd.Series(-np.log(probability), index=predictions["match_id"].to_numpy())


def select_xi(
    predictions_by_xi: Mapping[float, pd.DataFrame],
    matches: pd.DataFrame,
    season: str,
    *,
    validation_seasons: int = 2,
    default_xi: float = DEFAULTS.xi,
) -> XiSelection:
    """ξ minimizing the mean 1X2 log loss over the predicted seasons strictly before ``season``.

    ``predictions_by_xi`` maps each grid ξ to its walk-forward predictions (same matches for all
    ξ). Ties go to the smaller ξ. Without earlier predictions, ``default_xi`` with no scores.
    """
    first = next(iter(predictions_by_xi.values()))
    earlier = sorted(s for s in first["season"].unique() if s < season)[-validation_seasons:]
    if not earlier:
        return XiSelection(season, default_xi, (), (), 0)
    scores = []
    for xi in sorted(predictions_by_xi):
        predictions = predictions_by_xi[xi]
        chosen = predictions[predictions["season"].isin(earlier)]
        scores.append((xi, float(log_loss_1x2(chosen, matches).mean())))
    best = min(scores, key=lambda item: item[1])[0]
    n_matches = int(first["season"].isin(earlier).sum())
    return XiSelection(season, best, tuple(scores), tuple(earlier), n_matches)


def walk_forward_selected(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    grid: Sequence[float] = XI_GRID,
    *,
    validation_seasons: int = 2,
) -> tuple[pd.DataFrame, tuple[XiSelection, ...]]:
    """Walk-forward of one league with ξ selected per season from earlier seasons only.

    Every grid ξ (and the configured one, used for the first predicted season) is walked forward
    once over all seasons; each season then takes the predictions of the ξ chosen for it by
    :func:`select_xi`.
    """
    by_xi = {
        xi: walk_forward(matches, dataclasses.replace(config, xi=xi))
        for xi in sorted({*grid, config.xi})
    }
    seasons = sorted(by_xi[config.xi]["season"].unique())
    selections = tuple(
        select_xi(by_xi, matches, s, validation_seasons=validation_seasons, default_xi=config.xi)
        for s in seasons
    )
    chosen = [
        by_xi[selection.xi].loc[lambda frame, s=selection.season: frame["season"] == s]
        for selection in selections
    ]
    if not chosen:  # too few matches for any prediction (a small or new league)
        return by_xi[config.xi], selections
    return pd.concat(chosen, ignore_index=True), selections
