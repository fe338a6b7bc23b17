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
the prior centre for newcomers becomes the mean of these records (before any record: 0, the
league average, :data:`NO_EVIDENCE_PRIOR`). A second tier, whose newcomers are relegated and
promoted clubs alike, thus learns a centre near zero, a top flight one near the promoted-team
average.

Nested selection (:func:`walk_forward_selected`): before each season S, ξ and the prior
precision are chosen, each minimizing the mean 1X2 log loss −log p(observed outcome) over the
walk-forward predictions of the ``validation_seasons`` seasons strictly before S: every grid ξ
is walked at the season's precision, every grid precision at the season's ξ (coordinate-wise,
|ξ grid| + |precision grid| chains in one lockstep walk rather than the product), and S is
predicted by the chain at (ξ_S, p_S). A league's first predicted season has no earlier
predictions of its own: it takes the choice from the other leagues' scores of the seasons
before it (``other_scores``); with no earlier predictions anywhere (the first season of the
data) the no-evidence values: ξ = 0 (the window then holds that season alone) and
:data:`NO_EVIDENCE_PRIOR`'s precision. No configured fallback is used.

Every fit is kept (:class:`BlockFit`): the model that predicted a block is the model in force
from its as-of date until the next refit, identified by :func:`model_id` (code version,
parameters, training-window data version). :func:`next_fit` is the one rule for a model as of
a later date (the jackpot forecaster extends the stored walk with it).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jackpot_pipeline.core.dixon_coles import (
    DEFAULTS,
    MODEL_VERSION,
    DixonColesParams,
    MatchData,
    TeamPrior,
    fit,
    outcome_probabilities,
    predict,
    single_thread_blas,
    solve_stack,
    to_day,
    training_window,
)

#: ξ with no earlier predictions anywhere to choose from: no decay.
NO_EVIDENCE_XI = 0.0
#: Team prior with no earlier evidence: newcomers centred on the league average (0, 0), and
#: precision 5, which weighs like 3-4 matches (one match carries ≈ λ ≈ 1.4 units of Fisher
#: information), so the data dominate after a few matchdays. Used only where no earlier
#: season of any league was predicted (precision) or none of the league's newcomers was
#: rated yet (centre).
NO_EVIDENCE_PRIOR = TeamPrior(precision=5.0, newcomer_attack=0.0, newcomer_defence=0.0)
#: Prior precision grid (per squared log-rate unit): a factor 2 apart, around the no-evidence
#: value (the walk-forward log loss is flat within a few 1e-5 near its optimum; with 2.5-10
#: only, 10 was chosen in 42 of 81 league-seasons, hence 20).
PRECISION_GRID: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0)
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
#: What scoring a chain needs of its predictions (1X2 from ``outcome_probabilities``).
SCORED_COLUMNS: tuple[str, ...] = ("match_id", "season", "p_home", "p_draw", "p_away")
PRECISION_SCORE_COLUMNS: tuple[str, ...] = ("league", "season", "precision", "n", "log_loss")


@dataclass(frozen=True)
class WalkForwardConfig:
    """Walk-forward settings: ξ per day, history window in seasons, refit period in days."""

    xi: float = DEFAULTS.xi
    history_seasons: int = 3
    refit_days: int = 7
    min_train_matches: int = 60
    prior: TeamPrior = NO_EVIDENCE_PRIOR


@dataclass(frozen=True)
class XiSelection:
    """ξ chosen for ``season`` and the mean 1X2 log loss of every grid value."""

    season: str
    xi: float
    scores: tuple[tuple[float, float], ...]
    validation_seasons: tuple[str, ...]
    n_validation_matches: int


@dataclass(frozen=True)
class PrecisionSelection:
    """Prior precision chosen for ``season`` and the mean 1X2 log loss of every grid value."""

    season: str
    precision: float
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
    """One walk in progress: its ξ and prior this season, latest fit, newcomer offsets, fits,
    each block's 1X2 for scoring (``outcomes``; ``mark``: the first of the season being
    walked) and, while ``full``, its prediction rows (:data:`PREDICTION_COLUMNS`)."""

    xi: float = 0.0
    prior: TeamPrior | None = None
    full: bool = True
    params: DixonColesParams | None = None
    offsets: tuple[tuple[float, float], ...] = ()
    rows: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
    outcomes: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
    fits: list[BlockFit] = dataclasses.field(default_factory=list)
    mark: int = 0


#: Per season, before it is walked, given the chains so far: {chain key: (ξ, prior precision,
#: whether the chain's prediction rows are kept)}.
Plan = Callable[[str, Mapping[Hashable, _Chain]], Mapping[Hashable, tuple[float, float, bool]]]


def walk_grid(
    matches: pd.DataFrame,
    config: WalkForwardConfig,
    xis: Sequence[float],
    seasons: Sequence[str] | None = None,
) -> dict[float, WalkResult]:
    """The walk of one league at every ξ of ``xis`` (``config.xi`` ignored), in lockstep, all
    at ``config.prior``'s precision (see :func:`walk_chains`)."""
    precision = config.prior.precision
    plan = {xi: (xi, precision, True) for xi in xis}
    chains = walk_chains(matches, config, lambda *_: plan, seasons, scored=False)
    return {xi: _result(chains[xi]) for xi in xis}


def walk_chains(
    matches: pd.DataFrame,
    config: WalkForwardConfig,
    plan: Plan,
    seasons: Sequence[str] | None,
    *,
    scored: bool = True,
) -> dict[Hashable, _Chain]:
    """Walks of one league in lockstep, each chain with the ξ and prior precision ``plan``
    gives it per season (newcomer centre: :func:`league_prior` of the chain's own offsets);
    ``scored``: every chain's 1X2 kept for scoring (``_Chain.outcomes``).

    Block boundaries and training windows depend on dates only, so each block's matches are
    indexed once (:func:`~jackpot_pipeline.core.dixon_coles.training_window`) and every
    chain's problem is built from that index and solved in one stack
    (:func:`~jackpot_pipeline.core.dixon_coles.solve_stack`); each chain keeps its own
    warm-start fit and newcomer offsets, so the result is bit for bit that of walking each
    chain alone.
    """
    league = _single_league(matches)
    data = MatchData.from_frame(matches)
    targets = data.seasons if seasons is None else tuple(sorted(seasons))
    chains: dict[Hashable, _Chain] = {}
    teams = np.array(data.teams)
    with single_thread_blas():
        for season in targets:
            active = []
            for key, (xi, precision, full) in plan(season, chains).items():
                chain = chains.setdefault(key, _Chain())
                chain.offsets = season_offsets(data, chain.params, season, chain.offsets)
                chain.xi, chain.prior = xi, league_prior(config.prior, chain.offsets, precision)
                chain.full, chain.mark = full, len(chain.outcomes)
                active.append(chain)
            since = window_start(data, season, config.history_seasons)
            in_season = np.flatnonzero(data.season == data.seasons.index(season))
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
                problems = window.problems([(chain.xi, chain.prior) for chain in active])
                starts = [p.theta_from(c.params) for p, c in zip(problems, active, strict=True)]
                for chain, params in zip(active, solve_stack(problems, starts), strict=True):
                    chain.params = params
                    chain.fits.append(
                        BlockFit(league, season, since, params, chain.offsets, params.version)
                    )
                    if chain.full:
                        chain.rows.append(shared | _model_columns(params, home, away))
                if not scored:
                    continue
                outcomes = outcome_probabilities([chain.params for chain in active], home, away)
                for chain, probabilities in zip(active, outcomes, strict=True):
                    chain.outcomes.append(
                        {
                            "match_id": shared["match_id"],
                            "season": shared["season"],
                            "p_home": probabilities[:, 0],
                            "p_draw": probabilities[:, 1],
                            "p_away": probabilities[:, 2],
                        }
                    )
    return chains


def _result(chain: _Chain) -> WalkResult:
    """A finished chain as predictions (one frame) and fits."""
    return WalkResult(_frame(chain.rows), tuple(chain.fits))


def _frame(
    rows: Sequence[dict[str, np.ndarray]], columns: Sequence[str] = PREDICTION_COLUMNS
) -> pd.DataFrame:
    """Rows of blocks as one frame with ``columns``."""
    if not rows:
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame({c: np.concatenate([r[c] for r in rows]) for c in columns})


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
    precision: float | None = None,
) -> BlockFit:
    """The walk's refit as of day ``as_of`` (in ``season``) after ``last``: the same window,
    league prior (``precision``: the season's choice; default ``last``'s) and ξ rule,
    warm-started from ``last`` (the walk-forward's next block)."""
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
        prior=league_prior(
            config.prior, offsets, last.params.prior.precision if precision is None else precision
        ),
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


def league_prior(
    default: TeamPrior, offsets: Sequence[tuple[float, float]], precision: float | None = None
) -> TeamPrior:
    """Prior with ``precision`` (default: ``default``'s) whose newcomer centre is the mean of
    the league's observed newcomer offsets; without any, ``default``'s centre (the walk's
    :data:`NO_EVIDENCE_PRIOR`: newcomers like the league average)."""
    if offsets:
        attack = sum(a for a, _ in offsets) / len(offsets)
        defence = sum(d for _, d in offsets) / len(offsets)
    else:
        attack, defence = default.newcomer_attack, default.newcomer_defence
    return TeamPrior(default.precision if precision is None else precision, attack, defence)


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
    rows = pd.Index(matches["match_id"]).get_indexer(predictions["match_id"])
    if (rows < 0).any():
        raise KeyError("predictions of matches not in ``matches``")
    margin = (matches["home_goals"].to_numpy() - matches["away_goals"].to_numpy())[rows]
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
    chosen = _select(scores, season, "xi", validation_seasons, other_scores)
    return (
        XiSelection(season, *chosen) if chosen else XiSelection(season, NO_EVIDENCE_XI, (), (), 0)
    )


def select_precision(
    scores: pd.DataFrame,
    season: str,
    *,
    validation_seasons: int = 2,
    other_scores: pd.DataFrame | None = None,
) -> PrecisionSelection:
    """Prior precision chosen like :func:`select_xi` from :data:`PRECISION_SCORE_COLUMNS` rows
    (no evidence: :data:`NO_EVIDENCE_PRIOR`'s; ties go to the smaller precision)."""
    chosen = _select(scores, season, "precision", validation_seasons, other_scores)
    if not chosen:
        return PrecisionSelection(season, NO_EVIDENCE_PRIOR.precision, (), (), 0)
    return PrecisionSelection(season, *chosen)


def _select(
    scores: pd.DataFrame,
    season: str,
    column: str,
    validation_seasons: int,
    other_scores: pd.DataFrame | None,
) -> tuple[float, tuple[tuple[float, float], ...], tuple[str, ...], int] | None:
    """(best value, mean log loss per value, validation seasons, matches) of ``column`` over
    the latest ``validation_seasons`` seasons before ``season`` of ``scores``, else of
    ``other_scores`` (pooled, weighted by matches); None without either."""
    for source in (scores, other_scores):
        if source is None or source.empty:
            continue
        before = source[source["season"] < season]
        earlier = sorted(before["season"].unique())[-validation_seasons:]
        if not earlier:
            continue
        chosen = before[before["season"].isin(earlier)]
        total = (chosen["n"] * chosen["log_loss"]).groupby(chosen[column]).sum()
        count = chosen.groupby(column)["n"].sum()
        mean = (total / count).sort_index()
        table = tuple((float(x), float(v)) for x, v in mean.items())
        return float(mean.idxmin()), table, tuple(earlier), int(count.iloc[0])
    return None


@dataclass(frozen=True, eq=False)
class SelectedWalk:
    """The walk-forward of one league with ξ and prior precision chosen per season: the
    predictions, the choices, the fits that made the predictions (model ids set) and every
    grid value's season scores (ξ at the season's precision, precision at the season's ξ)."""

    predictions: pd.DataFrame
    selections: tuple[XiSelection, ...]
    fits: tuple[BlockFit, ...]
    scores: pd.DataFrame
    precision_selections: tuple[PrecisionSelection, ...] = ()
    precision_scores: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=list(PRECISION_SCORE_COLUMNS))
    )


@dataclass(eq=False)
class _NestedPlan:
    """The selected walk's :data:`Plan`: before each season S, score every chain on the season
    just walked, choose ξ_S and the precision p_S from the scores of seasons before S
    (:func:`select_xi`, :func:`select_precision`), then walk every grid ξ at p_S (chains
    ``("xi", ξ)``) and every grid precision at ξ_S (chains ``("precision", p)``)."""

    matches: pd.DataFrame
    league: str
    xis: tuple[float, ...]
    precisions: tuple[float, ...]
    validation_seasons: int
    other_scores: pd.DataFrame | None
    other_precision_scores: pd.DataFrame | None
    scores: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    precision_scores: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    selections: list[XiSelection] = dataclasses.field(default_factory=list)
    precision_selections: list[PrecisionSelection] = dataclasses.field(default_factory=list)

    def __call__(
        self, season: str, chains: Mapping[Hashable, _Chain]
    ) -> dict[Hashable, tuple[float, float]]:
        self.score(chains)
        xi = select_xi(
            self.score_frame(),
            season,
            validation_seasons=self.validation_seasons,
            other_scores=self.other_scores,
        )
        precision = select_precision(
            self.precision_frame(),
            season,
            validation_seasons=self.validation_seasons,
            other_scores=self.other_precision_scores,
        )
        self.selections.append(xi)
        self.precision_selections.append(precision)
        return {("xi", x): (x, precision.precision, x == xi.xi) for x in self.xis} | {
            ("precision", p): (xi.xi, p, False) for p in self.precisions
        }

    def score(self, chains: Mapping[Hashable, _Chain]) -> None:
        """Season scores (mean 1X2 log loss, :data:`SCORE_COLUMNS`) of each chain's 1X2 since
        its mark: the season just walked, whose blocks every chain predicted alike (so the
        observed outcomes are looked up once)."""
        rows: dict[str, list[tuple[str, str, float, int, float]]] = {"xi": [], "precision": []}
        observed = None
        for (family, value), chain in chains.items():
            blocks = chain.outcomes[chain.mark :]
            chain.mark = len(chain.outcomes)
            if not blocks:
                continue
            if observed is None:
                frame = _frame(blocks, SCORED_COLUMNS)
                index = pd.Index(self.matches["match_id"]).get_indexer(frame["match_id"])
                goals = self.matches[["home_goals", "away_goals"]].to_numpy(np.int64)[index]
                observed = 1 - np.sign(goals[:, 0] - goals[:, 1])  # 0 home, 1 draw, 2 away
                season = str(frame["season"].iloc[0])
            probs = np.stack(
                [np.concatenate([b[c] for b in blocks]) for c in ("p_home", "p_draw", "p_away")],
                axis=1,
            )
            loss = -np.log(probs[np.arange(len(probs)), observed]).mean()
            rows[family].append((self.league, season, value, len(probs), float(loss)))
        self.scores.append(pd.DataFrame(rows["xi"], columns=list(SCORE_COLUMNS)))
        self.precision_scores.append(
            pd.DataFrame(rows["precision"], columns=list(PRECISION_SCORE_COLUMNS))
        )

    def score_frame(self) -> pd.DataFrame:
        return _concat(self.scores, SCORE_COLUMNS)

    def precision_frame(self) -> pd.DataFrame:
        return _concat(self.precision_scores, PRECISION_SCORE_COLUMNS)


def _concat(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Non-empty ``frames`` stacked (an empty frame with ``columns`` if none)."""
    kept = [f for f in frames if not f.empty]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=list(columns))


def walk_forward_selected(
    matches: pd.DataFrame,
    config: WalkForwardConfig = WalkForwardConfig(),
    grid: Sequence[float] = XI_GRID,
    *,
    precisions: Sequence[float] = PRECISION_GRID,
    validation_seasons: int = 2,
    other_scores: pd.DataFrame | None = None,
    other_precision_scores: pd.DataFrame | None = None,
) -> SelectedWalk:
    """Walk-forward of one league with ξ and prior precision selected per season from earlier
    seasons only (:class:`_NestedPlan`: every grid ξ, and :data:`NO_EVIDENCE_XI`, at the
    season's precision; every grid precision at the season's ξ; all in one lockstep walk).

    Each season takes the predictions and fits of chain ("xi", ξ_S), walked at (ξ_S, p_S). The
    chosen fits get their :func:`model_id`, which the prediction rows carry as
    ``model_version``.
    """
    league = _single_league(matches)
    plan = _NestedPlan(
        matches,
        league,
        tuple(sorted({*grid, NO_EVIDENCE_XI})),
        tuple(sorted(precisions)),
        validation_seasons,
        other_scores,
        other_precision_scores,
    )
    chains = walk_chains(matches, config, plan, None)
    plan.score(chains)
    data = MatchData.from_frame(matches)
    walked = {key[1]: _result(chain) for key, chain in chains.items() if key[0] == "xi"}
    predicted = {s for result in walked.values() for s in result.predictions["season"]}
    selections, chosen, fits = [], [], []
    for selection in plan.selections:
        season = selection.season
        if season not in predicted:
            continue
        selections.append(selection)
        result = walked[selection.xi]
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
    return SelectedWalk(
        predictions,
        tuple(selections),
        tuple(fits),
        plan.score_frame(),
        tuple(p for p in plan.precision_selections if p.season in predicted),
        plan.precision_frame(),
    )
