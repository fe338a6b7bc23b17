"""Exact jackpot analytics: argmax tickets, optimal combination tickets and result scoring.

A jackpot of ``k`` fixtures is described by a probability array ``P`` of shape ``(k, 3)`` whose
columns are home / draw / away (outcome indices 0 / 1 / 2, coupon codes ``1`` / ``X`` / ``2``).
Fixtures are treated as independent, so every number here is a closed form or an exact dynamic
programme: nothing is simulated.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
Selection = tuple[int, ...]
State = tuple[int, int]
Outcomes = Sequence[object] | ArrayLike

OUTCOME_CODES: tuple[str, str, str] = ("1", "X", "2")
DEFAULT_MISSES: tuple[int, ...] = (1, 2, 3)
ROW_SUM_TOLERANCE = 1e-6
LOG_LOSS_FLOOR = 1e-15

_OUTCOME_ALIASES: dict[str, int] = {
    "h": 0, "home": 0, "1": 0,
    "d": 1, "draw": 1, "x": 1,
    "a": 2, "away": 2, "2": 2,
}  # fmt: skip
# Outcome counts c per fixture and the (doubles, trebles) increment each adds to the state.
_CHOICE_STEPS: tuple[tuple[int, State], ...] = ((1, (0, 0)), (2, (1, 0)), (3, (0, 1)))


@dataclass(frozen=True)
class ArgmaxTicket:
    """The single-line ticket calling each fixture's most probable outcome.

    With ``q_i = max_j P[i, j]`` and ``X`` the number of correct picks (a Poisson-binomial
    variable): ``p_all_correct = Π q_i``, ``log_p_all_correct = Σ ln q_i``,
    ``correct_distribution[j] = P(X = j)`` for ``j = 0..k``, ``expected_correct = E[X] = Σ q_i``
    and ``p_at_least[t] = P(X ≥ t)``.
    """

    picks: tuple[int, ...]
    pick_probabilities: tuple[float, ...]
    p_all_correct: float
    log_p_all_correct: float
    correct_distribution: tuple[float, ...]
    expected_correct: float
    p_at_least: dict[int, float]

    @property
    def codes(self) -> tuple[str, ...]:
        """Coupon codes of the picks, e.g. ``("1", "X", "2")``."""
        return tuple(OUTCOME_CODES[pick] for pick in self.picks)


@dataclass(frozen=True)
class CombinationTicket:
    """A combination (system) ticket: one set of called outcomes per fixture.

    ``lines = Π |C_i| = 2^doubles · 3^trebles ≤ budget`` and
    ``p_all_correct = Π_i Σ_{j ∈ C_i} P[i, j]``.
    """

    selections: tuple[Selection, ...]
    lines: int
    p_all_correct: float
    budget: int
    doubles: int
    trebles: int

    @property
    def codes(self) -> tuple[str, ...]:
        """Coupon codes of the selections, e.g. ``("1", "1X", "1X2")``."""
        return tuple("".join(OUTCOME_CODES[j] for j in chosen) for chosen in self.selections)


@dataclass(frozen=True)
class SetScore:
    """How one probability set fared against the known results.

    Over the ``n_known`` fixtures with a result ``o_i``:
    ``brier = mean_i Σ_j (P[i, j] − 1[o_i = j])²`` (0 is perfect, 2 is worst) and
    ``log_loss = mean_i −ln max(P[i, o_i], 1e-15)``; both are NaN when no result is known.
    A ticket's ``*_won`` is True when every fixture is known and called, False as soon as one
    known fixture is missed, and None (undecided) otherwise.
    """

    n_known: int
    correct_picks: int
    brier: float
    log_loss: float
    argmax_won: bool | None
    combination_won: bool | None


@dataclass(frozen=True)
class SetAnalysis:
    """Everything computed for one probability set of a jackpot."""

    argmax: ArgmaxTicket
    combination: CombinationTicket
    score: SetScore | None


def as_probabilities(probs: ArrayLike) -> FloatArray:
    """Validate a ``(k, 3)`` array of finite, non-negative rows summing to 1 (±1e-6); k ≥ 1."""
    array = np.asarray(probs, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] == 0:
        raise ValueError(f"probabilities must have shape (k, 3) with k ≥ 1, got {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("probabilities must be finite and non-negative")
    bad_rows = np.flatnonzero(np.abs(array.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE)
    if bad_rows.size:
        raise ValueError(f"probability rows {bad_rows.tolist()} do not sum to 1")
    return array


def poisson_binomial(success_probs: ArrayLike) -> FloatArray:
    """Exact distribution of the number of successes of independent Bernoulli(p_i) trials.

    Dynamic programme over trials: ``f_i(j) = f_{i−1}(j)·(1 − p_i) + f_{i−1}(j − 1)·p_i`` from
    ``f_0 = [1]``; returns ``[P(X = 0), …, P(X = k)]``.
    """
    distribution = np.ones(1)
    for p in np.asarray(success_probs, dtype=np.float64):
        distribution = np.append(distribution * (1.0 - p), 0.0) + np.insert(
            distribution * p, 0, 0.0
        )
    return distribution


def argmax_ticket(probs: ArrayLike, misses: Sequence[int] = DEFAULT_MISSES) -> ArgmaxTicket:
    """The argmax ticket and its exact correct-count distribution.

    Ties go to the lower outcome index (home before draw before away). ``misses`` lists the
    bonus tiers as numbers of wrong calls allowed: ``p_at_least`` has ``P(X ≥ k − m)`` for each
    ``m`` with ``k − m ≥ 0``, plus ``P(X ≥ k) = P(all correct)``.
    """
    array = as_probabilities(probs)
    k = array.shape[0]
    picks = array.argmax(axis=1)
    hit = array[np.arange(k), picks]
    distribution = poisson_binomial(hit)
    thresholds = sorted({k} | {k - m for m in _validated_misses(misses) if m <= k}, reverse=True)
    return ArgmaxTicket(
        picks=tuple(int(pick) for pick in picks),
        pick_probabilities=tuple(float(q) for q in hit),
        p_all_correct=math.prod(float(q) for q in hit),
        log_p_all_correct=float(np.log(hit).sum()),
        correct_distribution=tuple(float(f) for f in distribution),
        expected_correct=float(hit.sum()),
        p_at_least={t: float(distribution[t:].sum()) for t in thresholds},
    )


def optimal_combination(probs: ArrayLike, budget: int) -> CombinationTicket:
    """The combination ticket of at most ``budget`` lines maximising P(all correct), exactly.

    Problem: choose ``C_i ⊆ {0, 1, 2}``, ``|C_i| = c_i ≥ 1``, to maximise
    ``Π_i S_i(C_i)`` with ``S_i(C) = Σ_{j ∈ C} P[i, j]``, subject to ``Π_i c_i ≤ budget``.

    Lemma: for given counts ``c_i`` the best ``C_i`` are the ``c_i`` most probable outcomes.
    Proof: the cost depends on the counts only, and the objective is a product of non-negative
    factors each depending on its own ``C_i``, so each factor is maximised separately; a set of
    size ``c`` that misses one of the ``c`` largest probabilities can swap in that outcome for
    a smaller one without decreasing ``S_i``, hence the top-``c`` set attains the maximum
    ``v_i(c)``.

    So only counts remain, with cost ``2^a·3^b`` for ``a`` doubles and ``b`` trebles. The
    programme keeps, after each fixture, the best product per reachable state ``(a, b)`` with
    ``2^a·3^b ≤ budget``: ``best_i(a, b) = max_c best_{i−1}((a, b) − step(c))·v_i(c)``. Partial
    tickets with the same state have the same completions, so keeping only the best one is exact
    (optimal substructure). Any integer budget ≥ 1 works (e.g. 5 allows 1, 2, 3 or 4 lines); ties
    in probability go to fewer lines. At most ``(k + 1)²`` states, so ``O(k³)`` time.
    """
    array = as_probabilities(probs)
    limit = operator.index(budget)
    if limit < 1:
        raise ValueError(f"budget must be at least one line, got {limit}")
    order = np.argsort(-array, axis=1, kind="stable")
    top_sums = np.cumsum(np.take_along_axis(array, order, axis=1), axis=1)
    best: dict[State, float] = {(0, 0): 1.0}
    back: list[dict[State, tuple[State, int]]] = []
    for values in top_sums:
        best, pointers = _extend(best, values, limit)
        back.append(pointers)
    end = max(best, key=lambda state: (best[state], -_lines(state)))
    counts = _backtrack(back, end)
    selections = tuple(
        tuple(sorted(int(j) for j in row[:c])) for row, c in zip(order, counts, strict=True)
    )
    return CombinationTicket(
        selections=selections,
        lines=_lines(end),
        p_all_correct=float(best[end]),
        budget=limit,
        doubles=end[0],
        trebles=end[1],
    )


def parse_outcomes(outcomes: Outcomes) -> FloatArray:
    """Results as floats 0 / 1 / 2 (home / draw / away), NaN when unknown.

    Accepts indices 0–2, ``H``/``D``/``A`` (football-data ``FTR``), ``1``/``X``/``2``,
    ``home``/``draw``/``away``; None, NaN and empty strings mean unknown.
    """
    return np.array([_parse_outcome(value) for value in np.asarray(outcomes, dtype=object)])


def ticket_won(selections: Sequence[Sequence[int]], outcomes: Outcomes) -> bool | None:
    """Three-valued: False if a known result is not called, None if undecided, else True."""
    results = parse_outcomes(outcomes)
    _check_lengths(len(selections), results.size)
    hits = [
        None if math.isnan(result) else int(result) in chosen
        for result, chosen in zip(results, selections, strict=True)
    ]
    if False in hits:
        return False
    return None if None in hits else True


def score_set(probs: ArrayLike, outcomes: Outcomes, combination: CombinationTicket) -> SetScore:
    """Score one probability set, its argmax ticket and ``combination`` on the known results."""
    array = as_probabilities(probs)
    results = parse_outcomes(outcomes)
    _check_lengths(array.shape[0], results.size)
    known = ~np.isnan(results)
    observed = results[known].astype(int)
    known_probs = array[known]
    onehot = np.eye(3)[observed]
    hit_probs = known_probs[np.arange(observed.size), observed]
    picks = array.argmax(axis=1)
    return SetScore(
        n_known=int(known.sum()),
        correct_picks=int((picks[known] == observed).sum()),
        brier=_mean(((known_probs - onehot) ** 2).sum(axis=1)),
        log_loss=_mean(-np.log(np.maximum(hit_probs, LOG_LOSS_FLOOR))),
        argmax_won=ticket_won([(int(pick),) for pick in picks], results),
        combination_won=ticket_won(combination.selections, results),
    )


def analyse_jackpot(
    probability_sets: Mapping[str, ArrayLike],
    budget: int,
    misses: Sequence[int] = DEFAULT_MISSES,
    outcomes: Outcomes | None = None,
) -> dict[str, SetAnalysis]:
    """Argmax ticket, optimal ``budget``-line combination and (given results) score per set."""
    analyses: dict[str, SetAnalysis] = {}
    for name, probs in probability_sets.items():
        combination = optimal_combination(probs, budget)
        score = None if outcomes is None else score_set(probs, outcomes, combination)
        analyses[name] = SetAnalysis(argmax_ticket(probs, misses), combination, score)
    return analyses


def _extend(
    best: Mapping[State, float], values: FloatArray, budget: int
) -> tuple[dict[State, float], dict[State, tuple[State, int]]]:
    """One DP step: extend every state by a single, double or treble on the next fixture."""
    layer: dict[State, float] = {}
    pointers: dict[State, tuple[State, int]] = {}
    for state, p in best.items():
        for count, (da, db) in _CHOICE_STEPS:
            target = (state[0] + da, state[1] + db)
            if _lines(target) > budget:
                continue
            candidate = p * float(values[count - 1])
            if target not in layer or candidate > layer[target]:
                layer[target] = candidate
                pointers[target] = (state, count)
    return layer, pointers


def _backtrack(back: Sequence[Mapping[State, tuple[State, int]]], end: State) -> list[int]:
    """Outcome counts per fixture of the DP path ending in ``end``."""
    counts: list[int] = []
    state = end
    for pointers in reversed(back):
        state, count = pointers[state]
        counts.append(count)
    return counts[::-1]


def _lines(state: State) -> int:
    """Number of lines ``2^a·3^b`` of a state with ``a`` doubles and ``b`` trebles."""
    return 2 ** state[0] * 3 ** state[1]


def _validated_misses(misses: Sequence[int]) -> list[int]:
    """Bonus tiers as non-negative integers."""
    values = [operator.index(m) for m in misses]
    if any(m < 0 for m in values):
        raise ValueError(f"misses must be non-negative, got {values}")
    return values


def _parse_outcome(value: object) -> float:
    """One result as 0.0 / 1.0 / 2.0, or NaN when unknown."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        text = value.strip().casefold()
        if not text:
            return math.nan
        if text in _OUTCOME_ALIASES:
            return float(_OUTCOME_ALIASES[text])
    elif (
        isinstance(value, int | float | np.number)
        and not isinstance(value, bool)
        and value in (0, 1, 2)
    ):
        return float(value)
    raise ValueError(f"unrecognised outcome {value!r}")


def _check_lengths(n_fixtures: int, n_outcomes: int) -> None:
    """Fail when results and fixtures do not line up."""
    if n_fixtures != n_outcomes:
        raise ValueError(f"{n_outcomes} outcomes given for {n_fixtures} fixtures")


def _mean(values: FloatArray) -> float:
    """Mean, or NaN for an empty array (no known results)."""
    return float(values.mean()) if values.size else math.nan
