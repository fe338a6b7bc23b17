"""Goal-model members against independent oracles on real Premier League data.

Oracles: penaltyblog's own Cython losses and fits (Poisson, negative binomial, bivariate
Poisson), a brute-force enumeration of the bivariate Poisson's latent counts, finite
differences of the objective, and a second optimizer (L-BFGS-B vs Newton) for the prior fit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np
import pandas as pd
import penaltyblog as pb
import pytest
from scipy.stats import poisson

from jackpot_pipeline.core.goal_models import bivariate_poisson, negative_binomial
from jackpot_pipeline.core.goal_models import poisson as poisson_model
from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    NO_RATING_PRIOR,
    History,
    RatingsFit,
    TrainingSet,
    _Layout,
    _Objective,
    fit_ratings,
    training_set,
)
from jackpot_pipeline_tests.dc_real_data import load_real

GOALS = {"goals": ("home_goals", "away_goals")}


@cache
def _season() -> tuple[pd.DataFrame, TrainingSet]:
    matches = load_real("E0", ["2023-24"])
    history = History.from_frame(matches, GOALS)
    return matches, training_set(history, "goals", int(history.day.max()) + 1, xi=0.0)


def _pb_params(fit: RatingsFit, model: pb.models.BaseGoalsModel, shape: float) -> np.ndarray:
    """Our fit in penaltyblog's parameter layout (teams in its order)."""
    order = [fit.teams.index(t) for t in model.teams]
    return np.concatenate([fit.attack[order], fit.defence[order], fit.home_advantage, [shape]])


@pytest.mark.parametrize(
    ("family", "pb_model", "to_pb_shape", "shapes"),
    [
        (
            negative_binomial.NEGATIVE_BINOMIAL,
            pb.models.NegativeBinomialGoalModel,
            np.exp,
            (np.log(3.0), np.log(40.0)),
        ),
        (
            bivariate_poisson.BIVARIATE_POISSON,
            pb.models.BivariatePoissonGoalModel,
            lambda s: s,
            (np.log(0.05), np.log(0.3)),
        ),
    ],
)
def test_log_likelihood_equals_penaltyblog_loss(family, pb_model, to_pb_shape, shapes) -> None:
    """At the same parameters our likelihood is penaltyblog's (its own Cython loss)."""
    matches, data = _season()
    fit = poisson_model.fit(data, DEFAULT_RATING_PRIOR)  # realistic strengths
    model = pb_model(
        matches.home_goals, matches.away_goals, matches.home_team_id, matches.away_team_id
    )
    eta_h = fit.attack[data.home] + fit.defence[data.away] + fit.home_advantage[0]
    eta_a = fit.attack[data.away] + fit.defence[data.home]
    for shape in shapes:
        nll = family.nll(eta_h, eta_a, np.array([shape]), data.x, data.y)[0]
        theta = _pb_params(fit, model, to_pb_shape(shape))
        assert nll.sum() == pytest.approx(model._loss_function(theta), rel=1e-10)


@pytest.mark.parametrize(
    ("family", "pb_model"),
    [
        (poisson_model.POISSON, pb.models.PoissonGoalsModel),
        (negative_binomial.NEGATIVE_BINOMIAL, pb.models.NegativeBinomialGoalModel),
        # penaltyblog bounds log λ3 to [−3, 3] and its optimum sits at −3: same bounds here.
        (
            dataclasses.replace(bivariate_poisson.BIVARIATE_POISSON, shape_bounds=((-3.0, 3.0),)),
            pb.models.BivariatePoissonGoalModel,
        ),
    ],
)
def test_maximum_likelihood_matches_or_beats_penaltyblog(family, pb_model) -> None:
    """Without prior, our optimum is at least penaltyblog's and the forecasts agree."""
    matches, data = _season()
    fit = fit_ratings(data, family, NO_RATING_PRIOR)
    model = pb_model(
        matches.home_goals, matches.away_goals, matches.home_team_id, matches.away_team_id
    )
    model.fit()
    assert fit.converged
    assert fit.log_likelihood >= model.loglikelihood - 1e-6
    home = np.array(["Arsenal", "Luton", "Everton"])
    away = np.array(["Luton", "Man City", "Fulham"])
    theirs = np.array([[g.home_win, g.draw, g.away_win] for g in map(model.predict, home, away)])
    np.testing.assert_allclose(fit.predict(home, away), theirs, atol=2e-4)


def test_bivariate_poisson_grid_is_the_brute_force_convolution() -> None:
    """P(x, y) = Σ over the latent (W1, W2, W3) with W1 + W3 = x, W2 + W3 = y."""
    lam, mu, lam3 = np.array([1.7, 0.4]), np.array([0.9, 2.2]), 0.3
    grid = bivariate_poisson.BIVARIATE_POISSON.grid(lam, mu, np.array([np.log(lam3)]), 8)
    for i, x, y in product(range(2), range(9), range(9)):
        brute = sum(
            poisson.pmf(x - k, lam[i]) * poisson.pmf(y - k, mu[i]) * poisson.pmf(k, lam3)
            for k in range(min(x, y) + 1)
        )
        assert grid[i, x, y] == pytest.approx(brute, rel=1e-12)


@dataclass(frozen=True)
class _NoCurvature:
    """The Poisson family without its Hessian: forces the L-BFGS-B path."""

    name: str = "poisson"
    shape_init: tuple[float, ...] = ()
    shape_bounds: tuple[tuple[float, float], ...] = ()

    def nll(self, *args):
        return poisson_model.POISSON.nll(*args)

    def grid(self, *args):
        return poisson_model.POISSON.grid(*args)


def test_gradient_and_hessian_match_finite_differences() -> None:
    _, data = _season()
    layout = _Layout(len(data.teams), data.n_divisions, 0)
    problem = _Objective.build(data, poisson_model.POISSON, DEFAULT_RATING_PRIOR, layout)
    rng = np.random.default_rng(7)
    theta = rng.normal(0, 0.2, layout.size)
    _, grad, hess = problem.evaluate(theta)
    step = 1e-6
    for i in rng.choice(layout.size, 12, replace=False):
        e = np.zeros(layout.size)
        e[i] = step
        up, down = problem.evaluate(theta + e), problem.evaluate(theta - e)
        assert (up[0] - down[0]) / (2 * step) == pytest.approx(grad[i], rel=1e-5, abs=1e-5)
        np.testing.assert_allclose((up[1] - down[1]) / (2 * step), hess[i], rtol=1e-4, atol=1e-4)


def test_newton_and_lbfgs_reach_the_same_prior_optimum() -> None:
    _, data = _season()
    newton = poisson_model.fit(data, DEFAULT_RATING_PRIOR)
    lbfgs = fit_ratings(data, _NoCurvature(), DEFAULT_RATING_PRIOR)
    assert newton.objective <= lbfgs.objective + 1e-7
    home, away = np.array(data.teams), np.array(data.teams[::-1])
    np.testing.assert_allclose(newton.predict(home, away), lbfgs.predict(home, away), atol=1e-5)


def test_fit_sees_only_matches_before_the_as_of_date() -> None:
    matches = load_real("E0", ["2022-23", "2023-24"])
    history = History.from_frame(matches, GOALS)
    as_of = int(history.day[history.season == 1].min()) + 60
    data = training_set(history, "goals", as_of, xi=0.002)
    later = matches.assign(
        home_goals=np.where(
            pd.to_datetime(matches.match_date).dt.date >= data.as_of, 9, matches.home_goals
        )
    )
    changed = training_set(History.from_frame(later, GOALS), "goals", as_of, xi=0.002)
    first, second = poisson_model.fit(data), poisson_model.fit(changed)
    np.testing.assert_array_equal(first.theta, second.theta)
    assert data.weight.max() < 1.0 and len(data.x) == (history.day < as_of).sum()


def test_linked_divisions_carry_promoted_clubs_across() -> None:
    """Fitted on E0 and E1, a club promoted to E0 is rated from its Championship matches; the
    clubs that moved between the divisions in 2021-22 → 2022-23 put both on one scale."""
    seasons = ["2021-22", "2022-23"]
    matches = pd.concat([load_real("E0", seasons), load_real("E1", seasons)])
    history = History.from_frame(matches, GOALS)
    data = training_set(history, "goals", int(history.day.max()) + 1, xi=0.002)
    fit = poisson_model.fit(data)
    e0 = history.divisions.index("E0")
    eta_h, _, unseen = fit.log_rates(np.array(["Burnley"]), np.array(["Chelsea"]), e0)
    assert not unseen[0]
    assert np.exp(fit.home_advantage).min() > 1.0
    # Burnley won the 2022-23 Championship: stronger than the average E1 club …
    burnley = fit.teams.index("Burnley")
    latest = matches[matches.season == "2022-23"]
    e1_clubs = [fit.teams.index(t) for t in set(latest.loc[latest.league == "E1", "home_team_id"])]
    assert fit.attack[burnley] > fit.attack[e1_clubs].mean()
    # … while an average Championship club is weaker than an average Premier League club.
    e0_clubs = [fit.teams.index(t) for t in set(latest.loc[latest.league == "E0", "home_team_id"])]
    strength = fit.attack - fit.defence
    assert strength[e0_clubs].mean() > strength[e1_clubs].mean() + 0.2
    assert np.isfinite(eta_h).all()
