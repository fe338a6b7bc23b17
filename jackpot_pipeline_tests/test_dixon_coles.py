"""Dixon-Coles engine against independent oracles: finite differences, brute-force sums,
penaltyblog's fit of the same data, and invariances."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from penaltyblog.models import DixonColesGoalModel, dixon_coles_weights
from scipy.optimize import check_grad

from jackpot_pipeline.core import dixon_coles as dc
from jackpot_pipeline_tests.dc_real_data import load_real, season_labels

SEASON = "2023-24"
FIVE_SEASONS = season_labels(2019, 2023)
XI = 0.0065


@pytest.fixture(scope="module")
def one_season() -> pd.DataFrame:
    return load_real("E0", [SEASON])


@pytest.fixture(scope="module")
def five_seasons() -> pd.DataFrame:
    return load_real("E0", FIVE_SEASONS)


def day_after_last(matches: pd.DataFrame) -> pd.Timestamp:
    return matches["match_date"].max() + pd.Timedelta(days=1)


def perturbed_start(problem: dc.DixonColesProblem) -> np.ndarray:
    """A deterministic non-optimal θ (so the gradient is far from zero)."""
    theta = problem.theta_from(None)
    return theta + 0.05 * np.sin(np.arange(len(theta)) + 1.0)


# --- 1. analytic derivatives vs finite differences ------------------------------------------


@pytest.mark.parametrize("prior", [dc.NO_PRIOR, dc.DEFAULT_PRIOR])
def test_gradient_matches_finite_differences(five_seasons: pd.DataFrame, prior: dc.TeamPrior):
    problem = dc.build_problem(five_seasons, day_after_last(five_seasons), xi=XI, prior=prior)
    theta = perturbed_start(problem)
    error = check_grad(
        lambda t: problem.value_and_gradient(t)[0],
        lambda t: problem.value_and_gradient(t)[1],
        theta,
        epsilon=1e-6,
    )
    norm = np.linalg.norm(problem.value_and_gradient(theta)[1])
    assert norm > 1.0  # a point where the gradient matters
    assert error < 1e-5 * norm


def test_hessian_matches_central_differences_of_gradient(one_season: pd.DataFrame):
    problem = dc.build_problem(one_season, day_after_last(one_season), xi=XI)
    theta = perturbed_start(problem)
    step = 1e-6
    columns = []
    for i in range(len(theta)):
        shift = np.zeros_like(theta)
        shift[i] = step
        upper = problem.value_and_gradient(theta + shift)[1]
        lower = problem.value_and_gradient(theta - shift)[1]
        columns.append((upper - lower) / (2 * step))
    numeric = np.array(columns)
    analytic = problem.hessian(theta)
    assert np.abs(numeric - analytic).max() < 1e-5 * np.abs(analytic).max()


def test_log_likelihood_matches_direct_sum_over_matches(one_season: pd.DataFrame):
    """The pair-aggregated likelihood equals a plain per-match loop with math functions."""
    as_of = day_after_last(one_season)
    params = dc.fit(one_season, as_of, xi=XI)
    index = {team: i for i, team in enumerate(params.teams)}
    total = 0.0
    for row in one_season.itertuples():
        h, a = index[row.home_team_id], index[row.away_team_id]
        lam = math.exp(params.attack[h] + params.defence[a] + params.home_advantage)
        mu = math.exp(params.attack[a] + params.defence[h])
        x, y = row.home_goals, row.away_goals
        tau = brute_tau(x, y, lam, mu, params.rho)
        weight = math.exp(-XI * (as_of - row.match_date).days)
        total += weight * math.log(tau * poisson(x, lam) * poisson(y, mu))
    assert params.log_likelihood == pytest.approx(total, rel=1e-12)


# --- 2. score grid and markets vs brute force -----------------------------------------------


def poisson(k: int, rate: float) -> float:
    return math.exp(-rate) * rate**k / math.factorial(k)


def brute_tau(x: int, y: int, lam: float, mu: float, rho: float) -> float:
    if (x, y) == (0, 0):
        return 1 - lam * mu * rho
    if (x, y) == (0, 1):
        return 1 + lam * rho
    if (x, y) == (1, 0):
        return 1 + mu * rho
    if (x, y) == (1, 1):
        return 1 - rho
    return 1.0


def brute_markets(lam: float, mu: float, rho: float, limit: int = 40) -> dict[str, float]:
    """1X2, BTTS, over 2.5 and the top score by a double loop over scores 0..limit."""
    out = {"home": 0.0, "draw": 0.0, "away": 0.0, "btts": 0.0, "over": 0.0, "xg": 0.0}
    best, top = -1.0, (0, 0)
    for x in range(limit + 1):
        for y in range(limit + 1):
            p = brute_tau(x, y, lam, mu, rho) * poisson(x, lam) * poisson(y, mu)
            out["home" if x > y else "draw" if x == y else "away"] += p
            out["btts"] += p if x > 0 and y > 0 else 0.0
            out["over"] += p if x + y > 2.5 else 0.0
            out["xg"] += x * p
            if p > best:
                best, top = p, (x, y)
    out["top"] = top
    return out


@pytest.mark.parametrize(
    ("lam", "mu", "rho"),
    [(1.45, 1.12, -0.13), (0.35, 2.9, 0.08), (3.8, 0.6, -0.2), (1.0, 1.0, 0.0)],
)
def test_score_grid_and_markets_match_brute_force(lam: float, mu: float, rho: float):
    grid = dc.score_grid(np.array([lam]), np.array([mu]), rho, 12)[0]
    for x in range(13):
        for y in range(13):
            expected = brute_tau(x, y, lam, mu, rho) * poisson(x, lam) * poisson(y, mu)
            assert grid[x, y] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    params = dc.DixonColesParams(
        teams=("A", "B"),
        attack=np.array([0.5 * math.log(lam / mu), -0.5 * math.log(lam / mu)]),
        defence=np.full(2, 0.5 * math.log(lam * mu)),
        home_advantage=0.0,
        rho=rho,
        xi=0.0,
        as_of=pd.Timestamp("2024-01-01").date(),
        n_matches=0,
        log_likelihood=0.0,
        converged=True,
        iterations=0,
        prior=dc.DEFAULT_PRIOR,
        newcomers=(),
    )
    forecast = dc.predict(params, ["A"], ["B"])
    brute = brute_markets(lam, mu, rho)
    assert forecast.lambda_home[0] == pytest.approx(lam, rel=1e-12)
    assert forecast.p_home[0] == pytest.approx(brute["home"], abs=1e-10)
    assert forecast.p_draw[0] == pytest.approx(brute["draw"], abs=1e-10)
    assert forecast.p_away[0] == pytest.approx(brute["away"], abs=1e-10)
    assert forecast.btts[0] == pytest.approx(brute["btts"], abs=1e-10)
    assert forecast.over(2.5)[0] == pytest.approx(brute["over"], abs=1e-9)
    assert forecast.expected_goals_home[0] == pytest.approx(brute["xg"], abs=1e-8)
    assert tuple(forecast.most_likely_score[0]) == brute["top"]
    assert forecast.truncated_mass[0] < 1e-10
    total = forecast.p_home + forecast.p_draw + forecast.p_away + forecast.truncated_mass
    assert total[0] == pytest.approx(1.0, abs=1e-12)


def test_grid_grows_until_truncated_mass_is_negligible():
    assert dc.grid_size(0.3) == dc.DEFAULTS.max_goals
    small, large = dc.grid_size(1.5), dc.grid_size(9.0)
    assert dc.DEFAULTS.max_goals < small < large
    for rate, size in ((1.5, small), (9.0, large)):
        grid = dc.score_grid(np.array([rate]), np.array([0.5]), -0.05, size)[0]
        assert 1.0 - grid.sum() < 1e-10


def test_over_under_and_push_partition_the_grid(one_season: pd.DataFrame):
    params = dc.fit(one_season, day_after_last(one_season))
    forecast = dc.predict(params, ["Arsenal", "Luton"], ["Luton", "Man City"])
    push = forecast.grid[:, 0, 2] + forecast.grid[:, 1, 1] + forecast.grid[:, 2, 0]
    whole = forecast.over(2) + forecast.under(2) + push + forecast.truncated_mass
    np.testing.assert_allclose(whole, 1.0, atol=1e-12)
    half = forecast.over(2.5) + forecast.under(2.5) + forecast.truncated_mass
    np.testing.assert_allclose(half, 1.0, atol=1e-12)
    frame = forecast.to_frame(lines=(1.5, 2.5))
    assert list(frame["home_team_id"]) == ["Arsenal", "Luton"]
    assert {"p_over_1.5", "p_under_2.5", "p_btts", "truncated_mass"} <= set(frame.columns)


# --- 3. penaltyblog on the same data ----------------------------------------------------------


def penaltyblog_fit(matches: pd.DataFrame, xi: float) -> DixonColesGoalModel:
    weights = dixon_coles_weights(
        list(matches["match_date"]), xi=xi, base_date=day_after_last(matches)
    )
    model = DixonColesGoalModel(
        matches["home_goals"],
        matches["away_goals"],
        matches["home_team_id"],
        matches["away_team_id"],
        weights=weights,
    )
    model.fit()
    return model


def as_our_params(model: DixonColesGoalModel, template: dc.DixonColesParams) -> dc.DixonColesParams:
    """penaltyblog's strengths in our parametrization (attacks centred: same λ, μ)."""
    n = model.n_teams
    attack, defence = model._params[:n], model._params[n : 2 * n]
    assert tuple(model.teams) == template.teams
    return dataclasses.replace(
        template,
        attack=attack - attack.mean(),
        defence=defence + attack.mean(),
        home_advantage=float(model._params[-2]),
        rho=float(model._params[-1]),
    )


@pytest.mark.parametrize(("seasons", "xi"), [([SEASON], 0.0), (FIVE_SEASONS, XI)])
def test_optimum_at_least_as_good_as_penaltyblog(seasons: list[str], xi: float):
    matches = load_real("E0", seasons)
    as_of = day_after_last(matches)
    ours = dc.fit(matches, as_of, xi=xi, prior=dc.NO_PRIOR)
    reference = penaltyblog_fit(matches, xi)
    assert ours.converged
    # The same likelihood: our formula at penaltyblog's parameters gives its value.
    problem = dc.build_problem(matches, as_of, xi=xi, prior=dc.NO_PRIOR)
    theirs = as_our_params(reference, ours)
    assert problem.log_likelihood(problem.theta_from(theirs)) == pytest.approx(
        reference.loglikelihood, rel=1e-10
    )
    # Our optimum is at least as high: penaltyblog's SLSQP stops short of the stationary point,
    # and Newton started from penaltyblog's answer climbs to ours.
    assert ours.log_likelihood >= reference.loglikelihood - 1e-9
    assert np.abs(problem.value_and_gradient(problem.theta_from(theirs))[1]).max() > 1e-3
    assert np.abs(problem.value_and_gradient(problem.theta_from(ours))[1]).max() < 1e-6
    polished = dc.fit(matches, as_of, xi=xi, prior=dc.NO_PRIOR, init=theirs)
    assert polished.log_likelihood == pytest.approx(ours.log_likelihood, abs=1e-9)
    # 1X2 of every pairing of the last season: equal to polished, close to penaltyblog's.
    teams = sorted(set(load_real("E0", [seasons[-1]])["home_team_id"]))
    home = [h for h in teams for a in teams if h != a]
    away = [a for h in teams for a in teams if h != a]
    ours_1x2 = dc.predict(ours, home, away)
    np.testing.assert_allclose(dc.predict(polished, home, away).grid, ours_1x2.grid, atol=1e-7)
    theirs_1x2 = reference.predict_many(home, away, max_goals=ours_1x2.grid.shape[1])
    for name, column in (("home_win", ours_1x2.p_home), ("draw", ours_1x2.p_draw)):
        gap = np.abs(column - [getattr(grid, name) for grid in theirs_1x2])
        assert gap.max() < 5e-3


# --- 4. invariance and determinism ------------------------------------------------------------


def test_relabelling_teams_and_reordering_matches_leave_predictions_unchanged(
    one_season: pd.DataFrame,
):
    as_of = pd.Timestamp("2024-02-01")
    rename = {
        team: f"team-{i:02d}"
        for i, team in enumerate(sorted(one_season["home_team_id"].unique(), reverse=True))
    }
    relabelled = one_season.assign(
        home_team_id=one_season["home_team_id"].map(rename),
        away_team_id=one_season["away_team_id"].map(rename),
    ).sample(frac=1.0, random_state=7)
    original = dc.fit(one_season, as_of)
    renamed = dc.fit(relabelled, as_of)
    home, away = list(one_season["home_team_id"]), list(one_season["away_team_id"])
    expected = dc.predict(original, home, away)
    actual = dc.predict(renamed, [rename[t] for t in home], [rename[t] for t in away])
    np.testing.assert_allclose(actual.grid, expected.grid, rtol=1e-7, atol=1e-12)
    assert renamed.log_likelihood == pytest.approx(original.log_likelihood, rel=1e-12)


def test_same_input_in_any_row_order_gives_bit_identical_output(one_season: pd.DataFrame):
    as_of = pd.Timestamp("2024-03-01")
    first = dc.fit(one_season, as_of)
    shuffled = dc.fit(one_season.sample(frac=1.0, random_state=3), as_of)
    again = dc.fit(one_season.copy(), as_of)
    for other in (shuffled, again):
        assert np.array_equal(other.attack, first.attack)
        assert np.array_equal(other.defence, first.defence)
        assert (other.rho, other.home_advantage) == (first.rho, first.home_advantage)
        assert other.params_hash == first.params_hash
    fixtures = (["Arsenal", "Everton"], ["Chelsea", "Fulham"])
    assert np.array_equal(dc.predict(first, *fixtures).grid, dc.predict(again, *fixtures).grid)


# --- time decay, as-of and the ρ region -------------------------------------------------------


def test_results_on_or_after_as_of_are_ignored(one_season: pd.DataFrame):
    as_of = pd.Timestamp("2024-01-01")
    later = one_season["match_date"] >= as_of
    scrambled = one_season.assign(
        home_goals=np.where(later, 7, one_season["home_goals"]),
        away_goals=np.where(later, 0, one_season["away_goals"]),
    )
    base = dc.fit(one_season, as_of)
    assert base.n_matches == int((~later).sum())
    assert dc.fit(scrambled, as_of).params_hash == base.params_hash
    assert dc.fit(one_season[~later], as_of).params_hash == base.params_hash


def test_weights_decay_exponentially_and_never_exceed_one(one_season: pd.DataFrame):
    as_of = pd.Timestamp("2024-01-01")
    problem = dc.build_problem(one_season, as_of, xi=XI)
    before = one_season[one_season["match_date"] < as_of]
    days = (as_of - before["match_date"]).dt.days.to_numpy()
    weights = np.exp(-XI * days)
    assert days.min() >= 1 and weights.max() < 1.0
    assert problem.w.sum() == pytest.approx(weights.sum(), rel=1e-12)
    assert problem.wx.sum() == pytest.approx(weights @ before["home_goals"], rel=1e-12)


def test_rho_stays_where_every_tau_is_positive():
    """Data pushing ρ below −1/λ_max: the fit stops inside the admissible region."""
    rows = []
    teams = ["Giant", "B", "C", "D", "E", "F"]
    day = pd.Timestamp("2024-01-06")
    for round_ in range(6):
        for i, home in enumerate(teams):
            for away in teams[i + 1 :] if round_ % 2 == 0 else teams[:i]:
                if "Giant" in (home, away):
                    score = (6, 0) if home == "Giant" else (0, 5)
                else:
                    score = (0, 0) if (i + round_) % 2 else (1, 1)
                rows.append((f"m{len(rows):03d}", home, away, *score, day))
                day += pd.Timedelta(days=1)
    matches = pd.DataFrame(
        rows,
        columns=[
            "match_id",
            "home_team_id",
            "away_team_id",
            "home_goals",
            "away_goals",
            "match_date",
        ],
    ).assign(league="X", season="2023-24")
    params = dc.fit(matches, day, xi=0.0, prior=dc.NO_PRIOR)
    problem = dc.build_problem(matches, day, xi=0.0, prior=dc.NO_PRIOR)
    lam, mu = map(np.exp, problem.log_rates(problem.theta_from(params)))
    low, high = dc.rho_bounds(lam, mu)
    assert low < params.rho < high
    assert params.rho < -0.5 * 1 / lam.max()  # the bound matters here
    forecast = dc.predict(params, list(matches["home_team_id"]), list(matches["away_team_id"]))
    assert (forecast.grid >= 0).all()
    assert params.converged


# --- teams with little or no history -----------------------------------------------------------


def test_promoted_teams_get_the_newcomer_prior_and_sane_rates():
    matches = load_real("E0", ["2022-23", SEASON])
    as_of = pd.Timestamp("2023-08-20")  # one matchday of 2023-24 played
    params = dc.fit(matches, as_of)
    assert set(params.newcomers) == {"Burnley", "Luton", "Sheffield United"}
    index = {team: i for i, team in enumerate(params.teams)}
    luton = index["Luton"]
    assert -0.6 < params.attack[luton] < 0.0  # pulled to the promoted average, not to −∞
    forecast = dc.predict(params, ["Luton", "Man City"], ["Man City", "Luton"])
    assert ((forecast.lambda_home > 0.2) & (forecast.lambda_home < 5.0)).all()
    assert params.converged


def test_team_with_a_single_goalless_match_is_shrunk_not_sent_to_minus_infinity(
    one_season: pd.DataFrame,
):
    as_of = pd.Timestamp("2024-03-01")
    extra = pd.DataFrame(
        [("x1", "E0", SEASON, pd.Timestamp("2024-02-01"), "Newcomers FC", "Arsenal", 0, 4)],
        columns=list(dc.MATCH_COLUMNS),
    )
    params = dc.fit(pd.concat([one_season, extra], ignore_index=True), as_of)
    attack = params.attack[params.teams.index("Newcomers FC")]
    assert -1.5 < attack < 0.0
    assert params.converged


def test_unseen_fixture_team_uses_the_flagged_promoted_fallback(one_season: pd.DataFrame):
    params = dc.fit(one_season, day_after_last(one_season))
    forecast = dc.predict(params, ["Ipswich", "Arsenal"], ["Arsenal", "Ipswich"])
    assert list(forecast.home_fallback) == [True, False]
    assert list(forecast.away_fallback) == [False, True]
    arsenal = params.teams.index("Arsenal")
    expected = math.exp(params.fallback_attack + params.defence[arsenal] + params.home_advantage)
    assert forecast.lambda_home[0] == pytest.approx(expected, rel=1e-12)
    assert params.fallback_attack == dc.DEFAULT_PRIOR.newcomer_attack


def test_warm_start_reaches_the_same_optimum(one_season: pd.DataFrame):
    earlier = dc.fit(one_season, pd.Timestamp("2024-01-01"))
    cold = dc.fit(one_season, pd.Timestamp("2024-01-08"))
    warm = dc.fit(one_season, pd.Timestamp("2024-01-08"), init=earlier)
    np.testing.assert_allclose(warm.attack, cold.attack, atol=1e-7)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, abs=1e-9)


def test_params_are_read_only(one_season: pd.DataFrame):
    params = dc.fit(one_season, day_after_last(one_season))
    with pytest.raises(ValueError, match="read-only"):
        params.attack[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.rho = 0.0  # type: ignore[misc]


def test_grid_outside_rho_region_stays_a_proper_distribution() -> None:
    """A fixture whose rates make τ(0,0) negative (λμρ > 1) gets τ clipped at 0 and the grid
    rescaled to the unclipped mass, so 1X2 sums to 1 − truncation, as for any other fixture."""
    lam, mu, rho, goals = np.array([3.5]), np.array([0.75]), 0.45, 40
    grid = dc.score_grid(lam, mu, rho, goals)[0]
    assert 1.0 - lam[0] * mu[0] * rho < 0
    assert grid[0, 0] == 0.0
    assert (grid >= 0).all()
    assert abs(grid.sum() - 1.0) < 1e-12
    pmf = [[poisson(k, rate) for k in range(goals + 1)] for rate in (lam[0], mu[0])]
    independent = np.outer(pmf[0], pmf[1])
    untouched = np.ones_like(grid, dtype=bool)
    untouched[:2, :2] = False
    ratio = grid[untouched] / independent[untouched]
    assert np.allclose(ratio, ratio[0], rtol=1e-12)  # one common rescaling factor


def test_newton_is_bounded_and_refuses_non_finite_values(one_season: pd.DataFrame) -> None:
    """A non-finite start or Hessian gives a clear FitError, never an endless loop; the
    iteration limit stops a fit with converged False."""
    problem = dc.build_problem(one_season, one_season["match_date"].max())
    theta = problem.theta_from(None)
    theta[0] = np.nan
    with pytest.raises(dc.FitError, match="non-finite"):
        dc.solve(problem, theta)
    with pytest.raises(dc.FitError, match="not positive definite"):
        dc._newton_step(np.full((4, 4), np.nan), np.ones(4))
    start = problem.theta_from(None)
    stack = dc.ProblemStack.of([problem])
    limited, _, iterations, converged = dc.newton(
        stack, start[None].copy(), stack.evaluate(start[None]), max_iter=1
    )
    assert (iterations[0], converged[0]) == (1, False)
    assert problem.evaluate(limited[0]).value < problem.evaluate(start).value


def test_a_stack_of_problems_solves_each_bit_for_bit_as_alone(
    five_seasons: pd.DataFrame,
) -> None:
    """The walk solves a ξ/precision grid as one stack; every fit must equal its lone fit
    exactly (row-wise numerics), else stored models would not reproduce their predictions."""
    window = dc.training_window(five_seasons, day_after_last(five_seasons))
    problems = [
        window.problem(xi, dc.TeamPrior(precision, -0.1, 0.05))
        for xi, precision in ((0.0, 5.0), (XI, 2.5), (0.009, 10.0), (XI, 0.0))
    ]
    starts = [p.theta_from(None) for p in problems]
    starts[1][-1] = 0.5  # an infeasible start is reset on its own row only
    stacked = dc.solve_stack(problems, starts)
    for problem, start, ours in zip(problems, starts, stacked, strict=True):
        alone = dc.solve(problem, start)
        assert ours.converged and ours.version == alone.version
        np.testing.assert_array_equal(ours.attack, alone.attack)
        assert ours.log_likelihood == alone.log_likelihood
    assert len({fit.version for fit in stacked}) == len(problems)
