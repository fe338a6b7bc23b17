"""Jackpot analytics checked against brute-force enumeration on small random jackpots."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from jackpot_pipeline.core.jackpot_analytics import (
    analyse_jackpot,
    argmax_ticket,
    as_probabilities,
    optimal_combination,
    parse_outcomes,
    poisson_binomial,
    score_set,
    ticket_won,
)

SUBSETS = [c for size in (1, 2, 3) for c in itertools.combinations(range(3), size)]
BUDGETS = (1, 2, 3, 4, 5, 6, 7, 12, 20, 36, 100)


def random_probs(k: int, seed: int) -> np.ndarray:
    """Random Dirichlet(1, 1, 1) rows: a (k, 3) probability array."""
    return np.random.default_rng(seed).dirichlet(np.ones(3), size=k)


def brute_force_combinations(probs: np.ndarray) -> list[tuple[float, int, tuple]]:
    """(P(all correct), lines, selections) of every combination ticket."""
    sums = [{chosen: float(row[list(chosen)].sum()) for chosen in SUBSETS} for row in probs]
    tickets = []
    for selections in itertools.product(SUBSETS, repeat=len(probs)):
        p = 1.0
        for row_sums, chosen in zip(sums, selections, strict=True):
            p *= row_sums[chosen]
        tickets.append((p, math.prod(len(chosen) for chosen in selections), selections))
    return tickets


@pytest.mark.parametrize("k", range(1, 7))
def test_optimal_combination_matches_brute_force(k: int) -> None:
    probs = random_probs(k, seed=k)
    tickets = brute_force_combinations(probs)
    for budget in BUDGETS:
        best_p, _, best_selections = max((t for t in tickets if t[1] <= budget), key=lambda t: t[0])
        ticket = optimal_combination(probs, budget)
        assert ticket.p_all_correct == pytest.approx(best_p, abs=1e-12)
        assert ticket.selections == best_selections
        assert ticket.lines == math.prod(len(c) for c in ticket.selections) <= budget
        assert ticket.lines == 2**ticket.doubles * 3**ticket.trebles


@pytest.mark.parametrize("k", [1, 4, 6])
def test_budget_one_is_argmax_ticket(k: int) -> None:
    probs = random_probs(k, seed=10 + k)
    single = max(
        itertools.product(range(3), repeat=k),
        key=lambda picks: math.prod(probs[i, j] for i, j in enumerate(picks)),
    )
    ticket = optimal_combination(probs, 1)
    argmax = argmax_ticket(probs)
    assert ticket.selections == tuple((j,) for j in single)
    assert argmax.picks == single
    assert ticket.lines == 1
    assert ticket.p_all_correct == pytest.approx(argmax.p_all_correct, abs=1e-15)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_full_cover_budget_is_certain(k: int) -> None:
    probs = random_probs(k, seed=20 + k)
    ticket = optimal_combination(probs, 3**k)
    assert ticket.p_all_correct == pytest.approx(1.0, abs=1e-12)
    assert ticket.selections == ((0, 1, 2),) * k
    assert ticket.trebles == k
    assert optimal_combination(probs, 10 * 3**k).lines == 3**k


def test_budget_not_a_product_of_twos_and_threes() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25]])
    ticket = optimal_combination(probs, 5)
    # 4 lines (two doubles): 0.8 · 0.75 = 0.6 beats a treble plus a single (0.5).
    assert ticket.lines == 4
    assert ticket.selections == ((0, 1), (0, 1))
    assert ticket.codes == ("1X", "1X")
    assert ticket.p_all_correct == pytest.approx(0.6, abs=1e-15)


def test_large_budget_and_many_fixtures() -> None:
    probs = random_probs(20, seed=7)
    ticket = optimal_combination(probs, 3**20 - 1)
    assert ticket.lines <= 3**20 - 1
    assert (ticket.doubles, ticket.trebles) == (1, 19)


def test_invalid_budget_rejected() -> None:
    with pytest.raises(ValueError, match="budget"):
        optimal_combination(random_probs(2, 0), 0)
    with pytest.raises(TypeError):
        optimal_combination(random_probs(2, 0), 2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 5, 8])
def test_poisson_binomial_matches_enumeration(k: int) -> None:
    p = np.random.default_rng(k).uniform(size=k)
    expected = np.zeros(k + 1)
    for pattern in itertools.product([False, True], repeat=k):
        expected[sum(pattern)] += math.prod(
            pi if hit else 1 - pi for pi, hit in zip(p, pattern, strict=True)
        )
    distribution = poisson_binomial(p)
    np.testing.assert_allclose(distribution, expected, atol=1e-12)
    assert distribution.sum() == pytest.approx(1.0, abs=1e-12)
    assert distribution @ np.arange(k + 1) == pytest.approx(p.sum(), abs=1e-12)


def test_argmax_ticket_distribution_and_thresholds() -> None:
    probs = random_probs(6, seed=3)
    ticket = argmax_ticket(probs, misses=(1, 2, 3))
    q = probs.max(axis=1)
    assert ticket.picks == tuple(probs.argmax(axis=1))
    assert ticket.p_all_correct == pytest.approx(math.prod(q), abs=1e-15)
    assert math.exp(ticket.log_p_all_correct) == pytest.approx(ticket.p_all_correct, rel=1e-12)
    assert sum(ticket.correct_distribution) == pytest.approx(1.0, abs=1e-12)
    assert ticket.expected_correct == pytest.approx(q.sum(), abs=1e-12)
    assert list(ticket.p_at_least) == [6, 5, 4, 3]
    assert ticket.p_at_least[6] == pytest.approx(ticket.p_all_correct, abs=1e-15)
    assert ticket.p_at_least[5] == pytest.approx(sum(ticket.correct_distribution[5:]), abs=1e-15)


def test_argmax_thresholds_beyond_fixture_count_dropped() -> None:
    ticket = argmax_ticket(random_probs(2, seed=4), misses=(0, 2, 3))
    assert list(ticket.p_at_least) == [2, 0]
    assert ticket.p_at_least[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        argmax_ticket(random_probs(2, seed=4), misses=(-1,))


def test_argmax_ties_go_to_lower_outcome() -> None:
    ticket = argmax_ticket([[0.4, 0.4, 0.2], [0.3, 0.35, 0.35]])
    assert ticket.picks == (0, 1)
    assert ticket.codes == ("1", "X")


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.ones((2, 2)) / 2, "shape"),
        (np.empty((0, 3)), "shape"),
        ([[0.5, 0.6, -0.1]], "non-negative"),
        ([[0.5, 0.3, 0.3]], "sum to 1"),
        ([[np.nan, 0.5, 0.5]], "finite"),
    ],
)
def test_invalid_probabilities_rejected(probs: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_probabilities(probs)


def test_parse_outcomes_accepts_codes_and_unknowns() -> None:
    parsed = parse_outcomes(["H", "d", "A", "1", "X", "2", "away", None, "", float("nan"), 1])
    np.testing.assert_array_equal(parsed[:7], [0, 1, 2, 0, 1, 2, 2])
    assert np.isnan(parsed[7:10]).all()
    assert parsed[10] == 1
    with pytest.raises(ValueError, match="unrecognised"):
        parse_outcomes(["W"])
    with pytest.raises(ValueError, match="unrecognised"):
        parse_outcomes([True])


def test_ticket_won_is_three_valued() -> None:
    selections = [(0,), (0, 1), (0, 1, 2)]
    assert ticket_won(selections, ["H", "D", "A"]) is True
    assert ticket_won(selections, ["H", None, "A"]) is None
    assert ticket_won(selections, ["A", None, "A"]) is False
    with pytest.raises(ValueError, match="2 outcomes given for 3 fixtures"):
        ticket_won(selections, ["H", "D"])


def test_score_set_on_known_fixtures_only() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
    combination = optimal_combination(probs, 2)
    score = score_set(probs, ["H", "D", None], combination)
    assert score.n_known == 2
    assert score.correct_picks == 1
    brier = ((0.4**2 + 0.3**2 + 0.1**2) + (0.2**2 + 0.7**2 + 0.5**2)) / 2
    assert score.brier == pytest.approx(brier, abs=1e-15)
    assert score.log_loss == pytest.approx(-(math.log(0.6) + math.log(0.3)) / 2, abs=1e-15)
    assert score.argmax_won is False
    assert combination.selections == ((0,), (2,), (0, 1))
    assert score.combination_won is False


def test_score_set_without_results_is_nan() -> None:
    probs = random_probs(3, seed=5)
    score = score_set(probs, [None] * 3, optimal_combination(probs, 1))
    assert score.n_known == 0
    assert math.isnan(score.brier)
    assert math.isnan(score.log_loss)
    assert score.argmax_won is None


def test_analyse_jackpot_per_set() -> None:
    sets = {"model": random_probs(4, seed=1), "market": random_probs(4, seed=2)}
    analyses = analyse_jackpot(sets, budget=8, outcomes=["H", "D", "A", "H"])
    assert set(analyses) == {"model", "market"}
    for name, analysis in analyses.items():
        assert analysis.combination == optimal_combination(sets[name], 8)
        assert analysis.argmax.picks == tuple(sets[name].argmax(axis=1))
        assert analysis.score is not None
        assert analysis.score.n_known == 4
    assert analyse_jackpot(sets, budget=1)["model"].score is None
