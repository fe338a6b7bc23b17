"""Prediction sets A–G: seven proper 1X2 forecasts built from the model and the market.

Inputs per match: A = calibrated Dixon-Coles probs, M = margin-free market probs (a NaN row when
the match has no odds) and the league code. Every set returns probs (n, 3) strictly inside
(0, 1) whose rows sum to 1 (floored at ``PROB_FLOOR`` = 1e-6, then renormalized), their entropy
in nats, and ``fell_back_to_a``: True where the set needs odds that are missing; such a row
gets A instead (for G: its market-based members are A there).

Pooling of a model forecast P with the market, model weight w, ``pooling`` "linear" or "log":
    linear  pool_w(P, M) = w·P + (1 − w)·M
    log     pool_w(P, M) ∝ P^w · M^(1 − w)                       (renormalized geometric mean)

A  pure model       A.
B  market-aware     pool_w(A, M); w minimizes log loss on earlier seasons within
                    [1 − max_market_weight, 1] = [0.3, 1]: the market never gets more than 70 %.
C  market-dominant  pool_0.2(A, M): a fixed 20 % model / 80 % market.
D  draw-boosted     logit d' = logit d + λ_L·b with balance b = 1 − |h − a| ∈ (0, 1];
                    h' = h·(1 − d')/(1 − d), a' = a·(1 − d')/(1 − d). One λ_L per league solves
                    mean d' = the league's observed draw rate in earlier seasons (exactly, on
                    those rows); leagues with < min_samples earlier rows use the pooled λ.
                    λ > 0 where the model under-predicts draws, most in balanced fixtures.
E  entropy-tuned    B^(1/T), renormalized (temperature scaling of the market-aware pool); T in
                    [0.2, 5] minimizes log loss on earlier seasons. A jackpot needs more
                    combinations the higher each match's entropy, so the pool's entropy must be
                    right: T < 1 removes the excess entropy a pool of calibrated forecasts
                    carries (a linear pool is under-confident, Ranjan & Gneiting 2010),
                    T > 1 adds entropy to an over-confident pool.
F  Kelly-weighted   the market, moved towards the model on outcomes where the model would bet:
                    Kelly stake at fair odds o_k = 1/M_k is f_k = max(0, (A_k·o_k − 1)/(o_k − 1))
                    = max(0, (A_k − M_k)/(1 − M_k)); model share v_k = min(1, κ·f_k);
                    F_k ∝ (1 − v_k)·M_k + v_k·A_k. κ ∈ [0, 20] minimizes log loss on earlier
                    seasons: κ = 0 is the market, a large κ trusts every edge the model claims.
                    It answers "are the model's value bets real?" with a proper forecast.
G  ensemble         Σ_j v_j·S_j over S ∈ (A, …, F), v on the simplex minimizing log loss on
                    earlier seasons (SLSQP, uniform start; never worse there than any member).

Parameters come from ``fit_set_params`` on the rows it is given; ``fit_walk_forward_params``
fits each period on strictly earlier periods only. With fewer than ``min_samples`` rows (rows
with odds for B, E, F) a set keeps its default: w = 0.6, T = 1, κ = 0, λ = 0, uniform v.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import expit, logit, softmax

from jackpot_pipeline.core.metrics import N_OUTCOMES, encode_results, entropy, log_loss

Pooling = Literal["linear", "log"]

PROB_FLOOR = 1e-6
DEFAULT_MODEL_WEIGHT = 0.6
MAX_MARKET_WEIGHT = 0.7
MARKET_DOMINANT_MODEL_WEIGHT = 0.2
TEMPERATURE_BOUNDS = (0.2, 5.0)
KELLY_SCALE_BOUNDS = (0.0, 20.0)
DRAW_BOOST_BOUND = 10.0
DEFAULT_MIN_SAMPLES = 30
MEMBER_NAMES = ("A", "B", "C", "D", "E", "F")


@dataclass(frozen=True)
class SetInputs:
    """Per-match inputs: ``model`` A (n, 3), ``market`` M (n, 3, NaN rows = no odds), ``league``.

    Rows of A and the complete rows of M are floored at ``PROB_FLOOR`` and renormalized.
    """

    model: np.ndarray
    market: np.ndarray
    league: np.ndarray

    def __post_init__(self) -> None:
        model = np.asarray(self.model, dtype=np.float64)
        market = np.asarray(self.market, dtype=np.float64)
        league = np.asarray(self.league).astype(str)
        n = len(model)
        if (
            model.shape != (n, N_OUTCOMES)
            or market.shape != (n, N_OUTCOMES)
            or league.shape != (n,)
        ):
            raise ValueError("expected model (n, 3), market (n, 3) and league (n,)")
        if not np.all(np.isfinite(model)) or np.any(model < 0):
            raise ValueError("model probabilities must be finite and non-negative")
        complete = np.isfinite(market).all(axis=1)
        market = np.where(complete[:, None], market, np.nan)
        market[complete] = _proper(market[complete])
        object.__setattr__(self, "model", _proper(model))
        object.__setattr__(self, "market", market)
        object.__setattr__(self, "league", league)

    @property
    def has_market(self) -> np.ndarray:
        """Boolean (n,): the match has a complete row of market probabilities."""
        return ~np.isnan(self.market[:, 0])

    def take(self, rows: np.ndarray) -> SetInputs:
        """The inputs restricted to ``rows`` (boolean mask or positions)."""
        return SetInputs(self.model[rows], self.market[rows], self.league[rows])


@dataclass(frozen=True)
class SetParams:
    """Fitted parameters of every set (defaults = nothing fitted); see the module docstring."""

    pooling: Pooling = "linear"
    model_weight: float = DEFAULT_MODEL_WEIGHT
    temperature: float = 1.0
    kelly_scale: float = 0.0
    draw_boost: Mapping[str, float] = field(default_factory=dict)
    pooled_draw_boost: float = 0.0
    ensemble_weights: tuple[float, ...] = (1 / len(MEMBER_NAMES),) * len(MEMBER_NAMES)
    n_train: int = 0
    n_train_with_market: int = 0


@dataclass(frozen=True)
class PredictionSet:
    """One set's output: probs (n, 3), entropy (n,) in nats, fell_back_to_a (n,) booleans."""

    name: str
    probs: np.ndarray
    entropy: np.ndarray
    fell_back_to_a: np.ndarray


@dataclass(frozen=True)
class SetSpec:
    """Registry entry: name, one-line label, formula, whether odds are needed, builder."""

    name: str
    label: str
    formula: str
    needs_market: bool
    build: Callable[[SetInputs, SetParams], np.ndarray]


def pool(
    model: np.ndarray, market: np.ndarray, model_weight: float, pooling: Pooling
) -> np.ndarray:
    """Linear w·P + (1 − w)·M or logarithmic P^w·M^(1 − w) pool, renormalized."""
    if pooling == "linear":
        return _proper(model_weight * model + (1 - model_weight) * market)
    if pooling == "log":
        return _proper(
            softmax(model_weight * np.log(model) + (1 - model_weight) * np.log(market), axis=1)
        )
    raise ValueError(f"pooling must be 'linear' or 'log', got {pooling!r}")


def boost_draw(probs: np.ndarray, strength: float | np.ndarray) -> np.ndarray:
    """Set D's transform: logit d' = logit d + λ·(1 − |h − a|); home/away rescaled to 1 − d'."""
    home, draw, away = probs.T
    new_draw = expit(logit(draw) + strength * (1 - np.abs(home - away)))
    scale = (1 - new_draw) / (1 - draw)
    return _proper(np.column_stack([home * scale, new_draw, away * scale]))


def temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Set E's transform: p_k^(1/T) renormalized (T < 1 sharpens, T > 1 flattens)."""
    return _proper(softmax(np.log(probs) / temperature, axis=1))


def kelly_fraction(model: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Kelly stake per outcome at fair odds 1/M if the model were right: max(0, (A − M)/(1 − M))."""
    return np.maximum(0.0, (model - market) / (1 - market))


def kelly_blend(model: np.ndarray, market: np.ndarray, kelly_scale: float) -> np.ndarray:
    """Set F's transform: F_k ∝ (1 − v_k)·M_k + v_k·A_k with v_k = min(1, κ·f_k)."""
    share = np.minimum(1.0, kelly_scale * kelly_fraction(model, market))
    return _proper((1 - share) * market + share * model)


def set_a(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """A: the calibrated model itself."""
    return inputs.model


def set_b(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """B: pool of A and M with the fitted model weight."""
    return _with_market(inputs, lambda a, m: pool(a, m, params.model_weight, params.pooling))


def set_c(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """C: pool of A and M with a fixed 20 % model weight."""
    return _with_market(
        inputs, lambda a, m: pool(a, m, MARKET_DOMINANT_MODEL_WEIGHT, params.pooling)
    )


def set_d(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """D: A with the draw boosted by its league's fitted strength."""
    codes, inverse = np.unique(inputs.league, return_inverse=True)
    strengths = np.array(
        [params.draw_boost.get(str(code), params.pooled_draw_boost) for code in codes]
    )
    return boost_draw(inputs.model, strengths[inverse])


def set_e(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """E: set B sharpened or flattened by the fitted temperature."""
    return _with_market(
        inputs,
        lambda a, m: temper(pool(a, m, params.model_weight, params.pooling), params.temperature),
    )


def set_f(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """F: market moved towards the model by the model's Kelly stakes."""
    return _with_market(inputs, lambda a, m: kelly_blend(a, m, params.kelly_scale))


MEMBER_BUILDERS = (set_a, set_b, set_c, set_d, set_e, set_f)


def member_probs(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """Stacked probs (6, n, 3) of the ensemble members A–F."""
    return np.stack([build(inputs, params) for build in MEMBER_BUILDERS])


def set_g(inputs: SetInputs, params: SetParams) -> np.ndarray:
    """G: the fitted simplex-weighted mixture of A–F."""
    weights = np.asarray(params.ensemble_weights)
    return _proper(np.tensordot(weights, member_probs(inputs, params), axes=1))


PREDICTION_SETS: dict[str, SetSpec] = {
    spec.name: spec
    for spec in (
        SetSpec("A", "pure model", "calibrated Dixon-Coles A", False, set_a),
        SetSpec("B", "market-aware", "pool_w(A, M), w fitted by log loss, w ≥ 0.3", True, set_b),
        SetSpec("C", "market-dominant", "pool_0.2(A, M)", True, set_c),
        SetSpec(
            "D",
            "draw-boosted",
            "logit d' = logit d + λ_league·(1 − |h − a|), λ matches the league draw rate",
            False,
            set_d,
        ),
        SetSpec("E", "entropy-tuned", "B^(1/T) renormalized, T fitted by log loss", True, set_e),
        SetSpec(
            "F",
            "Kelly-weighted",
            "F ∝ (1 − v)·M + v·A, v = min(1, κ·Kelly stake of A at odds 1/M), κ fitted",
            True,
            set_f,
        ),
        SetSpec("G", "ensemble", "Σ v_j·S_j over A–F, v on the simplex by log loss", True, set_g),
    )
}


def build_prediction_sets(inputs: SetInputs, params: SetParams) -> dict[str, PredictionSet]:
    """Every registered set for ``inputs`` with ``params``, keyed by set name."""
    missing = ~inputs.has_market
    sets = {}
    for name, spec in PREDICTION_SETS.items():
        probs = spec.build(inputs, params)
        fell_back = missing if spec.needs_market else np.zeros(len(missing), dtype=bool)
        sets[name] = PredictionSet(name, probs, entropy(probs), fell_back)
    return sets


def fit_pool_weight(
    model: np.ndarray,
    market: np.ndarray,
    outcomes: ArrayLike,
    pooling: Pooling,
    max_market_weight: float = MAX_MARKET_WEIGHT,
) -> float:
    """Model weight w ∈ [1 − max_market_weight, 1] minimizing the log loss of pool_w(A, M)."""
    if not 0 <= max_market_weight <= 1:
        raise ValueError("max_market_weight must be in [0, 1]")
    return _fit_scalar(
        lambda w: log_loss(pool(model, market, w, pooling), outcomes), (1 - max_market_weight, 1.0)
    )


def fit_temperature(probs: np.ndarray, outcomes: ArrayLike) -> float:
    """Temperature T ∈ ``TEMPERATURE_BOUNDS`` minimizing the log loss of p^(1/T) renormalized."""
    return _fit_scalar(lambda t: log_loss(temper(probs, t), outcomes), TEMPERATURE_BOUNDS)


def fit_kelly_scale(model: np.ndarray, market: np.ndarray, outcomes: ArrayLike) -> float:
    """Kelly scale κ ∈ ``KELLY_SCALE_BOUNDS`` minimizing the log loss of set F."""
    return _fit_scalar(
        lambda k: log_loss(kelly_blend(model, market, k), outcomes), KELLY_SCALE_BOUNDS
    )


def fit_draw_boost(probs: np.ndarray, outcomes: ArrayLike) -> float:
    """λ with mean boosted draw probability = observed draw rate (clamped to ±10 if unreachable)."""
    target = np.mean(encode_results(outcomes) == 1)

    def gap(strength: float) -> float:
        return float(np.mean(boost_draw(probs, strength)[:, 1]) - target)

    if gap(-DRAW_BOOST_BOUND) >= 0:
        return -DRAW_BOOST_BOUND
    if gap(DRAW_BOOST_BOUND) <= 0:
        return DRAW_BOOST_BOUND
    return float(brentq(gap, -DRAW_BOOST_BOUND, DRAW_BOOST_BOUND, xtol=1e-14))


def fit_ensemble_weights(members: np.ndarray, outcomes: ArrayLike) -> tuple[float, ...]:
    """Simplex weights v minimizing −mean ln Σ_j v_j·S_j[y] for members (k, n, 3).

    The loss is convex in v; SLSQP starts from uniform weights, and the best single member is
    kept if the optimizer ends above it, so the fitted loss is never worse than any member's.
    """
    k, n, _ = members.shape
    observed = members[:, np.arange(n), encode_results(outcomes)]  # (k, n)

    def loss(v: np.ndarray) -> float:
        return float(-np.mean(np.log(v @ observed)))

    def gradient(v: np.ndarray) -> np.ndarray:
        return -np.mean(observed / (v @ observed), axis=1)

    result = minimize(
        loss,
        np.full(k, 1 / k),
        jac=gradient,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints={"type": "eq", "fun": lambda v: v.sum() - 1, "jac": lambda v: np.ones(k)},
        options={"ftol": 1e-12, "maxiter": 500},
    )
    weights = np.maximum(result.x, 0.0)
    weights /= weights.sum()
    vertices = np.eye(k)
    member_losses = [loss(vertex) for vertex in vertices]
    if loss(weights) > min(member_losses):
        weights = vertices[int(np.argmin(member_losses))]
    return tuple(float(w) for w in weights)


def fit_set_params(
    train: SetInputs,
    outcomes: ArrayLike,
    *,
    pooling: Pooling = "linear",
    max_market_weight: float = MAX_MARKET_WEIGHT,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    default_model_weight: float = DEFAULT_MODEL_WEIGHT,
) -> SetParams:
    """Fit B's w, E's T, F's κ, D's λ per league and G's weights on ``train`` (earlier rows);
    B's w is ``max(default_model_weight, 1 − max_market_weight)`` until there are enough rows."""
    y = encode_results(outcomes)
    if len(y) != len(train.model):
        raise ValueError("one outcome per training row is required")
    with_market = train.has_market
    n_market = int(with_market.sum())
    params = SetParams(
        pooling=pooling,
        model_weight=max(default_model_weight, 1 - max_market_weight),
        n_train=len(y),
        n_train_with_market=n_market,
    )
    if n_market >= min_samples:
        a, m, ym = train.model[with_market], train.market[with_market], y[with_market]
        weight = fit_pool_weight(a, m, ym, pooling, max_market_weight)
        params = replace(
            params,
            model_weight=weight,
            temperature=fit_temperature(pool(a, m, weight, pooling), ym),
            kelly_scale=fit_kelly_scale(a, m, ym),
        )
    if len(y) < min_samples:
        return params
    params = replace(
        params,
        draw_boost={
            str(league): fit_draw_boost(train.model[rows], y[rows])
            for league in np.unique(train.league)
            if (rows := train.league == league).sum() >= min_samples
        },
        pooled_draw_boost=fit_draw_boost(train.model, y),
    )
    return replace(params, ensemble_weights=fit_ensemble_weights(member_probs(train, params), y))


def fit_walk_forward_params(
    inputs: SetInputs,
    outcomes: ArrayLike,
    periods: ArrayLike,
    *,
    pooling: Pooling = "linear",
    max_market_weight: float = MAX_MARKET_WEIGHT,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> dict[Hashable, SetParams]:
    """Params per period P fitted by ``fit_set_params`` only on rows with period < P."""
    y = encode_results(outcomes)
    period_values = np.asarray(periods)
    params = {}
    for period in sorted(set(period_values.tolist())):
        earlier = period_values < period
        params[period] = fit_set_params(
            inputs.take(earlier),
            y[earlier],
            pooling=pooling,
            max_market_weight=max_market_weight,
            min_samples=min_samples,
        )
    return params


def build_walk_forward_sets(
    inputs: SetInputs, periods: ArrayLike, params: Mapping[Hashable, SetParams]
) -> dict[str, PredictionSet]:
    """Every set for all rows, each period's rows built with that period's params."""
    period_values = np.asarray(periods)
    n = len(period_values)
    probs = {name: np.empty((n, N_OUTCOMES)) for name in PREDICTION_SETS}
    fell_back = {name: np.zeros(n, dtype=bool) for name in PREDICTION_SETS}
    for period in set(period_values.tolist()):
        rows = period_values == period
        for name, built in build_prediction_sets(inputs.take(rows), params[period]).items():
            probs[name][rows] = built.probs
            fell_back[name][rows] = built.fell_back_to_a
    return {
        name: PredictionSet(name, probs[name], entropy(probs[name]), fell_back[name])
        for name in PREDICTION_SETS
    }


def _with_market(
    inputs: SetInputs, combine: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """``combine(A, M)`` on rows with odds, A elsewhere."""
    out = inputs.model.copy()
    rows = inputs.has_market
    out[rows] = combine(inputs.model[rows], inputs.market[rows])
    return out


def _fit_scalar(loss: Callable[[float], float], bounds: tuple[float, float]) -> float:
    """Bounded Brent minimizer of a 1-D loss (absolute tolerance 1e-6)."""
    result = minimize_scalar(loss, bounds=bounds, method="bounded", options={"xatol": 1e-6})
    return float(result.x)


def _proper(probs: np.ndarray) -> np.ndarray:
    """Rows floored at ``PROB_FLOOR`` and renormalized to sum to 1."""
    floored = np.maximum(probs, PROB_FLOOR)
    return floored / floored.sum(axis=1, keepdims=True)
