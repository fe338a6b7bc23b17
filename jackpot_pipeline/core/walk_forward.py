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
A league's first predicted season has no earlier predictions of its own: it takes the choice
from the other leagues' scores of the seasons before it (``other_scores``); with no earlier
predictions anywhere (the first season of the data) the grid's no-decay value ξ = 0 (the
window then holds that season alone). No configured fallback ξ is used.

Every fit is kept (:class:`BlockFit`): the model that predicted a block is the model in force
from its as-of date until the next refit, identified by :func:`model_id` (code version,
parameters, training-window data version). :func:`next_fit` is the one rule for a model as of
a later date (the jackpot forecaster extends the stored walk with it).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import (
    DEFAULT_PRIOR,
    DEFAULTS,
    MODEL_VERSION,
    DixonColesParams,
    MatchData,
    TeamPrior,
    fit,
    predict,
    single_thread_blas,
    solve_stack,
    to_day,
    training_window,
)

#: ξ with no earlier predictions anywhere to choose from: no decay.
NO_EVIDENCE_XI = 0.0
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
SCORE_COLUMNS: tuple[str, ...] = ("league", "season", "xi", "n", "log_loss")


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


@dataclass(frozen=True, eq=False)
class BlockFit:
    """One refit of the walk: the model in force from ``params.as_of`` until the next refit.

    ``since`` is the first training day (days since 1970-01-01), ``offsets`` the newcomer
    offsets behind ``params.prior`` (see :func:`league_prior`), ``model_id`` the stored id.
    """

    league: str
    season: str
    since: int
    params: DixonColesParams
    offsets: tuple[tuple[float, float], ...]
    model_id: str
    data_version: str = ""


@dataclass(frozen=True, eq=False)
class WalkResult:
    """The predictions of a walk and every fit that made them (in date order)."""

    predictions: pd.DataFrame
    fits: tuple[BlockFit, ...]


def data_version(data: MatchData, since: int, as_of: int) -> str:
    """Short SHA-256 of the training rows since ≤ day < as_of (ids, days, goals)."""
    keep = (data.day >= since) & (data.day < as_of)
    digest = hashlib.sha256("\x1f".join(data.match_ids[keep].tolist()).encode())
    for values in (data.day, data.home_goals, data.away_goals):
        digest.update(np.ascontiguousarray(values[keep], dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def model_id(params: DixonColesParams, data_ver: str) -> str:
    """``dc1-`` + SHA-256(code version, parameter version, training data version)[:16]."""
    key = f"{MODEL_VERSION}|{params.version}|{data_ver}"
    return f"{MODEL_VERSION}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def window_start(data: MatchData, season: str, history_seasons: int) -> int:
    """First training day for ``season``: the first match of the ``history_seasons`` seasons
    of the data before it (``season`` itself when there is none)."""
    earlier = [s for s in data.seasons if s < season][-history_seasons:]
    first = earlier[0] if earlier else season
    labels = np.array(data.seasons)[data.season]
    return int(data.day[labels >= first].min())


def walk_forward(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    seasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Out-of-sample predictions of the matches of ``seasons`` (default: all) of one league.

    Returns one row per predicted match with :data:`PREDICTION_COLUMNS`, in (date, match_id)
    order; ``as_of`` is the fit date (the model saw only matches before it).
    """
    return walk(matches, config, seasons).predictions


def walk(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    seasons: Sequence[str] | None = None,
) -> WalkResult:
    """:func:`walk_forward` with every fit kept (see :class:`WalkResult`)."""
    return walk_grid(matches, config, (config.xi,), seasons)[config.xi]


@dataclass(eq=False)
class _Chain:
    """One ξ's walk in progress: its latest fit, newcomer offsets, rows and fits."""

    params: DixonColesParams | None = None
    offsets: tuple[tuple[float, float], ...] = ()
    prior: TeamPrior | None = None
    rows: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
    fits: list[BlockFit] = dataclasses.field(default_factory=list)


def walk_grid(
    matches: pd.DataFrame,
    config: WalkForwardConfig,
    xis: Sequence[float],
    seasons: Sequence[str] | None = None,
) -> dict[float, WalkResult]:
    """The walk of one league at every ξ of ``xis`` (``config.xi`` ignored), in lockstep.

    Block boundaries and training windows depend on dates only, so each block's matches are
    indexed once (:func:`~jackpot_pipeline.core.dixon_coles.training_window`) and every ξ's
    problem is built from that index; each ξ keeps its own warm-start chain and newcomer
    prior, so the result is exactly that of walking each ξ alone.
    """
    league = _single_league(matches)
    data = MatchData.from_frame(matches)
    targets = data.seasons if seasons is None else tuple(sorted(seasons))
    chains = {xi: _Chain() for xi in xis}
    teams = np.array(data.teams)
    with single_thread_blas():
        for season in targets:
            index = data.seasons.index(season)
            for chain in chains.values():
                chain.offsets = season_offsets(data, chain.params, season, chain.offsets)
                chain.prior = league_prior(config.prior, chain.offsets)
            since = window_start(data, season, config.history_seasons)
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
                window = training_window(
                    data, np.datetime64(int(as_of), "D"), np.datetime64(int(since), "D")
                )
                home, away = teams[data.home[block]], teams[data.away[block]]
                shared = _block_columns(data, block, league, season)
                problems = [window.problem(xi, chain.prior) for xi, chain in chains.items()]
                starts = [
                    p.theta_from(c.params) for p, c in zip(problems, chains.values(), strict=True)
                ]
                fitted = solve_stack(problems, starts)
                for chain, params in zip(chains.values(), fitted, strict=True):
                    chain.params = params
                    chain.fits.append(
                        BlockFit(
                            league, season, since, chain.params, chain.offsets, chain.params.version
                        )
                    )
                    chain.rows.append(shared | _model_columns(chain.params, home, away))
    return {xi: _result(chain) for xi, chain in chains.items()}


def _result(chain: _Chain) -> WalkResult:
    """A finished chain as predictions (one frame) and fits."""
    if not chain.rows:
        return WalkResult(pd.DataFrame(columns=list(PREDICTION_COLUMNS)), ())
    columns = {c: np.concatenate([r[c] for r in chain.rows]) for c in PREDICTION_COLUMNS}
    return WalkResult(pd.DataFrame(columns), tuple(chain.fits))


def season_offsets(
    data: MatchData,
    params: DixonColesParams | None,
    season: str,
    offsets: tuple[tuple[float, float], ...],
) -> tuple[tuple[float, float], ...]:
    """Newcomer offsets at the start of ``season``: ``offsets`` plus what ``params`` (the
    latest fit before the season) gives the newcomers of the season before, when that season
    is not the first of the data."""
    previous = [s for s in data.seasons if s < season]
    if params is None or len(previous) < 2:
        return offsets
    return (*offsets, *_newcomer_offsets(data, params, data.seasons.index(previous[-1])))


def next_fit(
    data: MatchData,
    last: BlockFit,
    as_of: int,
    season: str,
    xi: float,
    config: WalkForwardConfig = WalkForwardConfig(),
) -> BlockFit:
    """The walk's refit as of day ``as_of`` (in ``season``) after ``last``: the same window,
    league prior and ξ rule, warm-started from ``last`` (the walk-forward's next block)."""
    offsets = (
        last.offsets
        if last.season == season
        else season_offsets(data, last.params, season, last.offsets)
    )
    since = window_start(data, season, config.history_seasons)
    params = fit(
        data,
        np.datetime64(int(as_of), "D"),
        xi=xi,
        since=np.datetime64(int(since), "D"),
        prior=league_prior(config.prior, offsets),
        init=last.params,
    )
    version = data_version(data, since, as_of)
    return BlockFit(last.league, season, since, params, offsets, model_id(params, version), version)


def in_force(fit_: BlockFit, day: int, season: str, refit_days: int) -> bool:
    """Whether the walk would still predict a match of ``season`` on ``day`` with this fit
    (same season, as_of ≤ day < as_of + refit_days)."""
    start = to_day(fit_.params.as_of)
    return fit_.season == season and start <= day < start + refit_days


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


def league_prior(default: TeamPrior, offsets: Sequence[tuple[float, float]]) -> TeamPrior:
    """Prior whose newcomer centre averages the league's observed newcomer offsets with the
    default centre counted as one more season."""
    attack = (default.newcomer_attack + sum(a for a, _ in offsets)) / (1 + len(offsets))
    defence = (default.newcomer_defence + sum(d for _, d in offsets)) / (1 + len(offsets))
    return dataclasses.replace(default, newcomer_attack=attack, newcomer_defence=defence)


def _block_columns(
    data: MatchData, block: np.ndarray, league: str, season: str
) -> dict[str, np.ndarray]:
    """The prediction columns of a block of matches that no model changes (identity, date)."""
    n = len(block)
    return {
        "match_id": data.match_ids[block].astype(object),
        "league": np.full(n, league, dtype=object),
        "season": np.full(n, season, dtype=object),
        "match_date": data.day[block].astype("datetime64[D]").astype("datetime64[ns]"),
    }


def _model_columns(
    params: DixonColesParams, home: np.ndarray, away: np.ndarray
) -> dict[str, np.ndarray]:
    """The prediction columns a model gives a block's fixtures (``home`` v ``away``)."""
    forecast = predict(params, home, away)
    n = len(home)
    return {
        "as_of": np.full(n, np.datetime64(params.as_of, "D").astype("datetime64[ns]")),
        "lambda_home": forecast.lambda_home,
        "lambda_away": forecast.lambda_away,
        "p_home": forecast.p_home,
        "p_draw": forecast.p_draw,
        "p_away": forecast.p_away,
        "xi": np.full(n, params.xi),
        "model_version": np.full(n, params.version, dtype=object),
        "n_train_matches": np.full(n, params.n_matches, dtype=np.int64),
        "converged": np.full(n, params.converged),
        "home_fallback": forecast.home_fallback,
        "away_fallback": forecast.away_fallback,
    }


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


def season_scores(
    predictions_by_xi: Mapping[float, pd.DataFrame], matches: pd.DataFrame, league: str
) -> pd.DataFrame:
    """Per season and grid ξ: predicted matches ``n`` and mean 1X2 ``log_loss``
    (:data:`SCORE_COLUMNS`)."""
    rows = []
    for xi in sorted(predictions_by_xi):
        predictions = predictions_by_xi[xi]
        if predictions.empty:
            continue
        losses = log_loss_1x2(predictions, matches).to_numpy()
        for season, index in predictions.groupby("season").indices.items():
            rows.append((league, season, xi, len(index), float(losses[index].mean())))
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def select_xi(
    scores: pd.DataFrame,
    season: str,
    *,
    validation_seasons: int = 2,
    other_scores: pd.DataFrame | None = None,
) -> XiSelection:
    """ξ minimizing the mean 1X2 log loss over the league's ``validation_seasons`` predicted
    seasons strictly before ``season`` (``scores``: :func:`season_scores` rows).

    Without any, the other leagues' scores of their ``validation_seasons`` latest seasons
    before ``season`` (pooled, weighted by matches); without those either,
    :data:`NO_EVIDENCE_XI`. Ties go to the smaller ξ.
    """
    for source in (scores, other_scores):
        if source is None or source.empty:
            continue
        before = source[source["season"] < season]
        earlier = sorted(before["season"].unique())[-validation_seasons:]
        if not earlier:
            continue
        chosen = before[before["season"].isin(earlier)]
        total = (chosen["n"] * chosen["log_loss"]).groupby(chosen["xi"]).sum()
        count = chosen.groupby("xi")["n"].sum()
        mean = (total / count).sort_index()
        best = float(mean.idxmin())
        n_matches = int(count.iloc[0])
        return XiSelection(
            season,
            best,
            tuple((float(x), float(v)) for x, v in mean.items()),
            tuple(earlier),
            n_matches,
        )
    return XiSelection(season, NO_EVIDENCE_XI, (), (), 0)


@dataclass(frozen=True, eq=False)
class SelectedWalk:
    """The walk-forward of one league with ξ chosen per season: the predictions, the ξ choices,
    the fits that made the predictions (model ids set) and every grid ξ's season scores."""

    predictions: pd.DataFrame
    selections: tuple[XiSelection, ...]
    fits: tuple[BlockFit, ...]
    scores: pd.DataFrame


def walk_forward_selected(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    grid: Sequence[float] = XI_GRID,
    *,
    validation_seasons: int = 2,
    other_scores: pd.DataFrame | None = None,
) -> SelectedWalk:
    """Walk-forward of one league with ξ selected per season from earlier seasons only.

    Every grid ξ (and :data:`NO_EVIDENCE_XI`) is walked forward once over all seasons; each
    season then takes the
    predictions and fits of the ξ chosen for it by :func:`select_xi`. The chosen fits get
    their :func:`model_id`, which the prediction rows carry as ``model_version``.
    """
    league = _single_league(matches)
    values = sorted({*grid, NO_EVIDENCE_XI})
    walks = walk_grid(matches, config, values)
    by_xi = {xi: result.predictions for xi, result in walks.items()}
    scores = season_scores(by_xi, matches, league)
    data = MatchData.from_frame(matches)
    seasons = sorted({s for result in walks.values() for s in result.predictions["season"]})
    selections, chosen, fits = [], [], []
    for season in seasons:
        selection = select_xi(
            scores, season, validation_seasons=validation_seasons, other_scores=other_scores
        )
        if selection.xi not in walks:
            raise ValueError(f"ξ {selection.xi} chosen for {league} {season} is not in the grid")
        selections.append(selection)
        result = walks[selection.xi]
        ids = {}
        for block in result.fits:
            if block.season != season:
                continue
            version = data_version(data, block.since, to_day(block.params.as_of))
            identified = dataclasses.replace(
                block, model_id=model_id(block.params, version), data_version=version
            )
            ids[block.model_id] = identified.model_id
            fits.append(identified)
        rows = result.predictions[result.predictions["season"] == season].copy()
        rows["model_version"] = rows["model_version"].map(ids)
        chosen.append(rows)
    predictions = (
        pd.concat(chosen, ignore_index=True)
        if chosen
        else pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    )
    return SelectedWalk(predictions, tuple(selections), tuple(fits), scores)
