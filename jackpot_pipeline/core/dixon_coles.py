"""Weighted Dixon-Coles (1997) goal model: fit as of a date, predict score grids and markets.

Model, per match (λ home and μ away scoring rate, goals per match)::

    log λ = attack[home] + defence[away] + home_advantage
    log μ = attack[away] + defence[home]
    P(x, y) = τ(x, y) · Pois(x; λ) · Pois(y; μ)
    τ(0,0) = 1 − λμρ,  τ(0,1) = 1 + λρ,  τ(1,0) = 1 + μρ,  τ(1,1) = 1 − ρ,  τ = 1 otherwise.

* Identifiability: attacks sum to zero. The likelihood is flat along (attack + c, defence − c);
  the gauge term ½(Σ attack)² removes that direction without moving the optimum.
* Time decay: a match played d ≥ 1 days before the as-of date has weight exp(−ξ·d) ≤ 1;
  matches on or after the as-of date have weight 0, so a fit "as of" a date sees only earlier
  results.
* Fit: damped Newton with the analytic gradient and Hessian, vectorized over (home, away)
  pairs (matches aggregated into sufficient statistics), Cholesky solves from scipy.linalg, one
  BLAS thread, warm start from earlier parameters. It converges in 3-5 steps where L-BFGS-B
  needs 20-200 (teams seen only long ago carry tiny weights and make the problem stiff).
  Problems sharing a training window (the walk-forward's ξ and precision grids) are solved
  as one :class:`ProblemStack`: one evaluation per Newton step for the whole grid, the
  Hessian assembled from dense team × team matrices, every number row-wise, so a stacked fit
  is bit-identical to the same fit alone.
* ρ stays where every τ is positive at every training pair, i.e.
  max(−1/λ, −1/μ) < ρ < min(1, 1/(λμ)) over the training rates: points outside have value
  +∞ and are refused by the line search, and a log-barrier TAU_BARRIER·Σ log τ over all pairs
  and the four cells keeps the optimum strictly inside (it moves the log-likelihood by < 1e-8).
* Prior (:class:`TeamPrior`): a Gaussian (ridge) penalty ``precision/2 · Σ (a − m_a)² +
  (d − mean(d) − m_d)²`` on centred attacks a and defences d. Teams *new to the league*
  (playing in the latest training season but not in the one before) are pulled towards a
  newcomer centre (m_a, m_d), the others towards the value that keeps the centre's mean at
  zero. One match carries ≈ λ ≈ 1.4 units of Fisher information, so precision 5 weighs like
  3-4 matches: the data dominate after a few matchdays, a team with no result keeps its prior
  centre, and no rate runs off to 0 or ∞. ``DEFAULT_PRIOR`` (precision 5, centre −0.2/+0.15:
  promoted teams score ≈ 18 % less and concede ≈ 16 % more than average) is only the default
  of a stand-alone :func:`fit`; the walk-forward and everything it delivers choose the
  precision per season and learn the centre per league from earlier seasons only
  (:mod:`~jackpot_pipeline.core.walk_forward`).
* A fixture team the fit has never seen is predicted with the promoted-team average
  (``fallback_attack``/``fallback_defence``) and flagged in :class:`MatchPredictions`.
* Prediction: score grid 0..G per side, G ≥ ``max_goals`` raised until the mass beyond the
  grid is below ``tail_tol`` (1e-10); the truncated mass 1 − F_λ(G)·F_μ(G) is reported per
  fixture (the τ corrections sum to zero, so it is exact). Markets are sums over the grid.

Everything is deterministic: inputs are put in a canonical order (date, match_id), BLAS runs on
one thread and the optimizer has no randomness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.special import gammaln, pdtrc
from threadpoolctl import ThreadpoolController

from jackpot_pipeline.settings import Settings

DEFAULTS = Settings()
MODEL_VERSION = "dc1"
MATCH_COLUMNS: tuple[str, ...] = (
    "match_id",
    "league",
    "season",
    "match_date",
    "home_team_id",
    "away_team_id",
    "home_goals",
    "away_goals",
)
GOAL_COLUMNS = ("home_goals", "away_goals")
TAU_BARRIER = 1e-6  # weight of the log-barrier Σ log τ over every training pair and cell
NEWTON_MAX_ITER = 100
NEWTON_TOL = 1e-8  # relative Newton decrement at which the next step is the last
ARMIJO = 1e-4
MIN_STEP = 1e-6
GRID_TAIL_TOL = 1e-10

MAX_DAMPING = 1e12  # relative damping beyond which a Hessian counts as unusable
DateLike = date | str | pd.Timestamp | np.datetime64


class FitError(ArithmeticError):
    """The Newton iteration met a non-finite value or a Hessian no damping makes usable."""


def to_day(value: DateLike) -> int:
    """Calendar date as days since 1970-01-01 (times of day are dropped)."""
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


@cache
def _blas() -> ThreadpoolController:
    """Controller of the loaded BLAS pools (scanned once; limiting through it costs ~10 µs)."""
    return ThreadpoolController()


def single_thread_blas() -> AbstractContextManager:
    """Context manager pinning BLAS to one thread (tiny optimizer steps thrash with more)."""
    return _blas().limit(limits=1)


@dataclass(frozen=True)
class TeamPrior:
    """Gaussian prior on team strengths (log-rate units); precision 0 gives the plain MLE."""

    precision: float = 5.0
    newcomer_attack: float = -0.2
    newcomer_defence: float = 0.15


DEFAULT_PRIOR = TeamPrior()
NO_PRIOR = TeamPrior(precision=0.0)


@dataclass(frozen=True, eq=False)
class MatchData:
    """Matches in canonical order (match_date, match_id) as integer arrays.

    ``home``/``away`` index ``teams`` (sorted ids), ``season`` indexes ``seasons`` (sorted labels),
    ``day`` is the match date in days since 1970-01-01.
    """

    match_ids: np.ndarray
    teams: tuple[str, ...]
    seasons: tuple[str, ...]
    home: np.ndarray
    away: np.ndarray
    home_goals: np.ndarray
    away_goals: np.ndarray
    day: np.ndarray
    season: np.ndarray

    @classmethod
    def from_frame(cls, matches: pd.DataFrame) -> MatchData:
        """Validate and index a frame with the columns of :data:`MATCH_COLUMNS`."""
        missing = [c for c in MATCH_COLUMNS if c not in matches.columns]
        if missing:
            raise ValueError(f"matches lack columns: {', '.join(missing)}")
        ids = matches["match_id"].to_numpy(dtype=str)
        day = matches["match_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.lexsort((ids, day))
        goals = np.stack([matches[c].to_numpy(dtype=np.int64)[order] for c in GOAL_COLUMNS])
        if (goals < 0).any():
            raise ValueError("negative goals")
        if len(set(matches["match_id"].to_numpy(dtype=object))) < len(ids):
            raise ValueError("duplicate match_id")
        sides = [matches[c].to_numpy()[order] for c in ("home_team_id", "away_team_id")]
        codes, teams = pd.factorize(np.concatenate(sides), sort=True)
        season, seasons = pd.factorize(matches["season"].to_numpy()[order], sort=True)
        n = len(ids)
        return cls(
            match_ids=ids[order],
            teams=tuple(str(t) for t in teams),
            seasons=tuple(str(s) for s in seasons),
            home=codes[:n],
            away=codes[n:],
            home_goals=goals[0],
            away_goals=goals[1],
            day=day[order],
            season=season,
        )


def as_match_data(matches: pd.DataFrame | MatchData) -> MatchData:
    """``matches`` itself or indexed from a frame."""
    return matches if isinstance(matches, MatchData) else MatchData.from_frame(matches)


@dataclass(frozen=True, eq=False)
class DixonColesParams:
    """A fitted model: team strengths (log-rate units) aligned with ``teams``, and fit metadata.

    ``log_likelihood`` is the time-weighted log-likelihood of the training matches, prior
    excluded (log factorials included, as in penaltyblog); ``newcomers`` got the promoted prior.
    """

    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    home_advantage: float
    rho: float
    xi: float
    as_of: date
    n_matches: int
    log_likelihood: float
    converged: bool
    iterations: int
    prior: TeamPrior
    newcomers: tuple[str, ...]

    @property
    def fallback_attack(self) -> float:
        """Attack given to a team never seen in training: the promoted-team average."""
        return self.prior.newcomer_attack

    @property
    def fallback_defence(self) -> float:
        """Defence given to a team never seen in training: the promoted-team average."""
        return float(self.defence.mean()) + self.prior.newcomer_defence

    @cached_property
    def params_hash(self) -> str:
        """Short SHA-256 of teams, strengths, ρ, home advantage, ξ and as-of date."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.teams).encode())
        digest.update(np.concatenate([self.attack, self.defence]).tobytes())
        digest.update(np.array([self.home_advantage, self.rho, self.xi]).tobytes())
        digest.update(self.as_of.isoformat().encode())
        return digest.hexdigest()[:16]

    @property
    def version(self) -> str:
        """Model version tag: ``dc1-<params hash>``."""
        return f"{MODEL_VERSION}-{self.params_hash}"


@dataclass(frozen=True, eq=False)
class DixonColesProblem:
    """Negative log-posterior of one fit, aggregated by (home, away) pair, with derivatives.

    θ = [attack (n), defence (n), home_advantage, ρ]. Per pair p: w = Σ weights, wx/wy =
    Σ weight·goals, cells[p] = Σ weight over 0-0, 0-1 and 1-0 results (w11 sums the 1-1 weights:
    τ(1,1) is the same for every pair). Each low-score τ is 1 + ρ·s with s = −λμ, λ, μ (and −1
    for 1-1), so one formula gives all the τ derivatives.

    The quadratic term ½θᵀQθ − bᵀθ holds the prior on centred strengths and the gauge
    ½(Σ attack)², which pins the attack sum to zero without moving the likelihood optimum (the
    likelihood is flat along attack + c, defence − c). θ with some τ ≤ 0 at any training pair
    is infeasible (value +∞); the barrier TAU_BARRIER·Σ log τ over every pair and cell keeps
    the optimum strictly inside.
    """

    teams: tuple[str, ...]
    newcomers: tuple[str, ...]
    pair_home: np.ndarray
    pair_away: np.ndarray
    w: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    cells: np.ndarray
    w11: float
    log_factorials: float
    prior_attack: np.ndarray
    prior_defence: np.ndarray
    quadratic: np.ndarray
    linear: np.ndarray
    local: np.ndarray
    prior: TeamPrior
    xi: float
    as_of: date
    n_matches: int

    @property
    def n_teams(self) -> int:
        return len(self.teams)

    def log_rates(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log λ and log μ of every pair."""
        eta_home, eta_away = self.stack.log_rates(np.asarray(theta)[None])
        return eta_home[0], eta_away[0]

    @cached_property
    def stack(self) -> ProblemStack:
        """This problem alone as a :class:`ProblemStack` (the one evaluation code path)."""
        return ProblemStack.of([self])

    def log_likelihood(self, theta: np.ndarray) -> float:
        """Weighted log-likelihood at θ, prior excluded (−∞ where infeasible)."""
        return float(self.stack.log_likelihood(np.asarray(theta)[None])[0])

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-posterior and its gradient in θ; (+∞, NaN) where infeasible."""
        point = self.evaluate(theta)
        if point is None:
            return np.inf, np.full_like(theta, np.nan)
        return point.value, point.gradient

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Hessian of the negative log-posterior at a feasible θ."""
        point = self.evaluate(theta)
        if point is None:
            raise ValueError("θ is infeasible: some τ ≤ 0")
        return point.hessian

    def evaluate(self, theta: np.ndarray) -> Evaluation | None:
        """Value, gradient and Hessian of the negative log-posterior; None if infeasible."""
        point = self.stack.evaluate(np.asarray(theta, dtype=np.float64)[None])
        if not point.feasible[0]:
            return None
        return Evaluation(
            value=float(point.value[0]),
            gradient=point.gradient[0],
            hessian=point.hessian[0],
            log_likelihood=float(point.log_likelihood[0]),
            feasible=point.feasible[0],
        )

    def theta_from(self, params: DixonColesParams | None) -> np.ndarray:
        """Start point: ``params`` where they know the team, else the prior centre.

        Without ``params``, the moment start: attack = log(goals for per match / g),
        defence = log(goals against per match / g) + log(away goals per match), each rate
        shrunk by one pseudo-match at the mean g, home advantage = log(home/away goals) and
        ρ = 0 (the double Poisson; always feasible). From it Newton needs 3-4 steps where the
        settings' seeds (home advantage 0.35, ρ −0.13) cost one more.
        """
        if params is None:
            n, h, a = self.n_teams, self.pair_home, self.pair_away
            home_goals, away_goals, total = self.wx.sum(), self.wy.sum(), self.w.sum()
            mean = (home_goals + away_goals) / (2.0 * total)

            def log_rate(own: np.ndarray, other: np.ndarray) -> np.ndarray:
                goals = np.bincount(h, own, n) + np.bincount(a, other, n)
                played = np.bincount(h, self.w, n) + np.bincount(a, self.w, n)
                return np.log((goals + mean) / (played + 1.0) / mean)

            attack = log_rate(self.wx, self.wy)
            defence = log_rate(self.wy, self.wx) + np.log(max(away_goals, 0.1) / total)
            home_advantage = np.log(max(home_goals, 0.1) / max(away_goals, 0.1))
            return np.concatenate([attack - attack.mean(), defence, [home_advantage, 0.0]])
        known = {team: i for i, team in enumerate(params.teams)}
        idx = np.array([known.get(team, -1) for team in self.teams])
        seen = idx >= 0
        attack = np.where(seen, params.attack[idx], self.prior_attack)
        defence = np.where(seen, params.defence[idx], params.defence.mean() + self.prior_defence)
        return np.concatenate([attack, defence, [params.home_advantage, params.rho]])


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Negative log-posterior, its gradient and Hessian at θ, and the log-likelihood there.

    Of one problem (scalars, (m,), (m, m)) or of a :class:`ProblemStack` (a leading axis of K);
    ``feasible`` is False where some τ ≤ 0 (value +∞, the rest meaningless)."""

    value: np.ndarray | float
    gradient: np.ndarray
    hessian: np.ndarray
    log_likelihood: np.ndarray | float
    feasible: np.ndarray | bool

    def take(self, rows: np.ndarray, other: Evaluation) -> Evaluation:
        """This evaluation with ``other``'s values on ``rows`` (a boolean mask over K)."""
        return Evaluation(
            *(
                np.where(rows.reshape(-1, *([1] * (np.ndim(mine) - 1))), theirs, mine)
                for mine, theirs in (
                    (self.value, other.value),
                    (self.gradient, other.gradient),
                    (self.hessian, other.hessian),
                    (self.log_likelihood, other.log_likelihood),
                    (self.feasible, other.feasible),
                )
            )
        )


@dataclass(frozen=True, eq=False)
class _Kernel:
    """Per problem and pair: λ, μ (K, P), s = (−λμ, λ, μ) and τ = 1 + ρs (3, K, P: cell
    first, so every cell is one contiguous array); per problem: feasibility, log-likelihood
    and barrier (K,)."""

    lam: np.ndarray
    mu: np.ndarray
    s: np.ndarray
    tau: np.ndarray
    feasible: np.ndarray
    log_likelihood: np.ndarray
    barrier: np.ndarray


#: Per-pair derivative parts whose team row and column sums enter g and H (not ρ's and (ρ,ρ)).
SUMMED_PARTS = np.array([0, 1, 3, 4, 5, 6, 7])


@dataclass(frozen=True, eq=False)
class ProblemStack:
    """K problems of one training window (same teams and pairs; ξ and prior may differ),
    evaluated together: every array gets a leading axis of K, θ is (K, 2n+2).

    Each problem's numbers are computed by row-wise operations only (sums along a row,
    scatter-adds into the row's own bins, one Cholesky per row), so a problem gets bit for bit
    the same result alone (K = 1, what :func:`fit` does) or in any stack (the walk-forward's
    ξ and prior grids): one evaluation per Newton step serves the whole grid.
    """

    problems: tuple[DixonColesProblem, ...]
    n_teams: int
    w: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    cells: np.ndarray
    cells_barrier: np.ndarray
    w11: np.ndarray
    log_factorials: np.ndarray
    precision: np.ndarray
    quadratic: np.ndarray
    linear: np.ndarray
    local: np.ndarray
    pair_flat: np.ndarray
    pair_flat_transposed: np.ndarray
    home_teams: np.ndarray
    home_starts: np.ndarray
    away_order: np.ndarray
    away_teams: np.ndarray
    away_starts: np.ndarray

    @classmethod
    def of(cls, problems: Sequence[DixonColesProblem]) -> ProblemStack:
        """Stack problems built from one :class:`TrainingWindow`."""
        first = problems[0]
        if any(p.local is not first.local for p in problems):
            raise ValueError("stacked problems must share one training window")
        n = first.n_teams
        cells = np.ascontiguousarray(np.stack([p.cells for p in problems]).transpose(2, 0, 1))
        # pairs are sorted by (home, away): each home team's pairs are one segment
        home_teams, home_starts = np.unique(first.pair_home, return_index=True)
        away_order = np.argsort(first.pair_away, kind="stable")
        away_teams, away_starts = np.unique(first.pair_away[away_order], return_index=True)

        def stacked(field: str) -> np.ndarray:
            return np.stack([getattr(p, field) for p in problems])

        return cls(
            problems=tuple(problems),
            n_teams=n,
            w=stacked("w"),
            wx=stacked("wx"),
            wy=stacked("wy"),
            cells=cells,
            cells_barrier=cells + TAU_BARRIER,
            w11=np.array([p.w11 for p in problems]),
            log_factorials=np.array([p.log_factorials for p in problems]),
            precision=np.array([p.prior.precision for p in problems]),
            quadratic=stacked("quadratic"),
            linear=stacked("linear"),
            local=first.local,
            pair_flat=first.pair_home * n + first.pair_away,
            pair_flat_transposed=first.pair_away * n + first.pair_home,
            home_teams=home_teams,
            home_starts=home_starts,
            away_order=away_order,
            away_teams=away_teams,
            away_starts=away_starts,
        )

    def log_rates(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log λ and log μ of every problem and pair, (K, P) each."""
        local = self.local
        eta_home = theta[:, local[:, 0]] + theta[:, local[:, 1]] + theta[:, local[:1, 2]]
        eta_away = theta[:, local[:, 3]] + theta[:, local[:, 4]]
        return eta_home, eta_away

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        """Weighted log-likelihood per problem, prior excluded (−∞ where infeasible)."""
        kernel = self._kernel(theta)
        return np.where(kernel.feasible, kernel.log_likelihood, -np.inf)

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """Value, gradient and Hessian of each problem's negative log-posterior.

        The pair derivatives in (log λ, log μ, ρ) reach θ through log λ = a_h + d_a + h and
        log μ = a_a + d_h: written into dense team × team matrices (pair (h, a) at row h,
        column a, and transposed), each block of g and H is a sum of those matrices, their row
        sums and their column sums (:meth:`_assemble`).
        """
        kernel = self._kernel(theta)
        pair, d_rho_11, d2_rho_11 = self._pair_terms(theta, kernel)
        gradient, hessian = self._assemble(pair)
        gradient[:, -1] += d_rho_11
        hessian[:, -1, -1] += d2_rho_11
        n = self.n_teams
        attack, defence = theta[:, :n], theta[:, n : 2 * n]
        quad = np.zeros_like(theta)  # Qθ: the prior on centred strengths and the gauge (Σa)²
        quad[:, :n] = self.precision[:, None] * (attack - attack.mean(axis=1, keepdims=True))
        quad[:, :n] += attack.sum(axis=1, keepdims=True)
        quad[:, n : 2 * n] = self.precision[:, None] * (
            defence - defence.mean(axis=1, keepdims=True)
        )
        value = (
            -kernel.log_likelihood
            - kernel.barrier
            + 0.5 * (theta * quad).sum(axis=1)
            - (self.linear * theta).sum(axis=1)
        )
        return Evaluation(
            value=np.where(kernel.feasible, value, np.inf),
            gradient=quad - self.linear - gradient,
            hessian=self.quadratic - hessian,
            log_likelihood=kernel.log_likelihood,
            feasible=kernel.feasible,
        )

    def _assemble(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood gradient and Hessian in θ from per-pair derivatives (9, K, P):
        first (ηh, ηa, ρ), then second G_A..G_F = (ηh,ηh), (ηa,ηa), (ηh,ηa), (ηh,ρ), (ηa,ρ),
        (ρ,ρ).

        With M_X the team matrix of X (row h, column a), r_X its row and c_X its column sums:
        g_a = r_ηh + c_ηa, g_d = c_ηh + r_ηa, g_h = Σηh, g_ρ = Σρ;
        H_aa = diag(r_A + c_B) + M_C + M_Cᵀ, H_dd = diag(c_A + r_B) + M_C + M_Cᵀ,
        H_ad = M_A + M_Bᵀ + diag(r_C + c_C), H_ah = r_A + c_C, H_dh = c_A + r_C, H_hh = ΣA,
        H_aρ = r_D + c_E, H_dρ = c_D + r_E, H_hρ = ΣD, H_ρρ = ΣF. Every sum runs along a
        contiguous last axis (row and column sums: ``np.add.reduceat`` over the pairs grouped
        by home, resp. away team), so a row's numbers do not depend on the other rows.
        """
        parts, k, _ = values.shape
        n = self.n_teams
        summed = values[SUMMED_PARTS]
        rows, cols = np.zeros((2, parts, k, n))
        home_sums = np.add.reduceat(summed, self.home_starts, axis=2)
        away_sums = np.add.reduceat(summed[:, :, self.away_order], self.away_starts, axis=2)
        rows[SUMMED_PARTS[:, None], :, self.home_teams] = home_sums.transpose(0, 2, 1)
        cols[SUMMED_PARTS[:, None], :, self.away_teams] = away_sums.transpose(0, 2, 1)
        total = values.sum(axis=2)
        matrix = np.zeros((2, 2, k, n * n))
        matrix[0][:, :, self.pair_flat] = values[[3, 5]]
        matrix[1][:, :, self.pair_flat_transposed] = values[[4, 5]]
        (m_a, m_c), (mt_b, mt_c) = matrix.reshape(2, 2, k, n, n)
        size = 2 * n + 2
        team, att, dfc = np.arange(n), slice(0, n), slice(n, 2 * n)
        gradient = np.empty((k, size))
        gradient[:, att] = rows[0] + cols[1]
        gradient[:, dfc] = cols[0] + rows[1]
        gradient[:, 2 * n] = total[0]
        gradient[:, 2 * n + 1] = total[2]
        hessian = np.empty((k, size, size))
        hessian[:, att, att] = m_c + mt_c
        hessian[:, att, att][:, team, team] += rows[3] + cols[4]
        hessian[:, dfc, dfc] = m_c + mt_c
        hessian[:, dfc, dfc][:, team, team] += cols[3] + rows[4]
        cross = m_a + mt_b
        cross[:, team, team] += rows[5] + cols[5]
        hessian[:, att, dfc] = cross
        hessian[:, dfc, att] = cross.transpose(0, 2, 1)
        for index, strengths in (
            (2 * n, (rows[3] + cols[5], cols[3] + rows[5])),
            (2 * n + 1, (rows[6] + cols[7], cols[6] + rows[7])),
        ):
            for block, values_ in zip((att, dfc), strengths, strict=True):
                hessian[:, index, block] = values_
                hessian[:, block, index] = values_
        hessian[:, 2 * n, 2 * n] = total[3]
        hessian[:, 2 * n, 2 * n + 1] = hessian[:, 2 * n + 1, 2 * n] = total[6]
        hessian[:, 2 * n + 1, 2 * n + 1] = total[8]
        return gradient, hessian

    def _kernel(self, theta: np.ndarray) -> _Kernel:
        """Rates, τ, feasibility (every τ > 0), log-likelihood and barrier per problem;
        infeasible rows are computed at τ = 1 and flagged."""
        rho = theta[:, -1:]
        eta_home, eta_away = self.log_rates(theta)
        lam, mu = np.exp(eta_home), np.exp(eta_away)
        s = np.stack([-lam * mu, lam, mu])
        tau = 1.0 + rho * s
        lowest = np.minimum(np.minimum(tau[0], tau[1]), tau[2]).min(axis=1)
        feasible = (lowest > 0.0) & (rho[:, 0] < 1.0)
        if not feasible.all():
            tau = np.where(feasible[:, None], tau, 1.0)
        log_tau, log_tau_11 = np.log(tau), np.log1p(-np.where(feasible, rho[:, 0], 0.0))
        cells = self.cells
        per_pair = (
            self.wx * eta_home
            + self.wy * eta_away
            - self.w * (lam + mu)
            + cells[0] * log_tau[0]
            + cells[1] * log_tau[1]
            + cells[2] * log_tau[2]
        )
        log_likelihood = per_pair.sum(axis=1) + self.w11 * log_tau_11 - self.log_factorials
        barrier = TAU_BARRIER * ((log_tau[0] + log_tau[1] + log_tau[2]).sum(axis=1) + log_tau_11)
        return _Kernel(lam, mu, s, tau, feasible, log_likelihood, barrier)

    def _pair_terms(
        self, theta: np.ndarray, kernel: _Kernel
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-likelihood derivatives in (log λ, log μ, ρ) per pair, (9, K, P): first (ηh, ηa,
        ρ), then second (ηh,ηh), (ηa,ηa), (ηh,ηa), (ηh,ρ), (ηa,ρ), (ρ,ρ); and the first and
        second ρ derivative of the 1-1 cell, whose τ = 1 − ρ all pairs share (K,).

        With τ = 1 + ρs and u = log|s|: ∂log τ/∂u = ρs/τ, ∂/∂ρ = s/τ, ∂²/∂u² = ρs/τ²,
        ∂²/∂u∂ρ = s/τ², ∂²/∂ρ² = −s²/τ²; u = log λ + log μ (0-0), log λ (0-1), log μ (1-0).
        """
        rho, lam, mu, s, tau = theta[:, -1:], kernel.lam, kernel.mu, kernel.s, kernel.tau
        q = s / tau
        q *= self.cells_barrier
        r = q / tau
        q_home, q_away = q[0] + q[1], q[0] + q[2]
        r_home, r_away = r[0] + r[1], r[0] + r[2]
        rs = r * s
        w_lam, w_mu = self.w * lam, self.w * mu
        out = np.empty((9, *lam.shape))
        out[0] = self.wx - w_lam + rho * q_home
        out[1] = self.wy - w_mu + rho * q_away
        out[2] = q[0] + q[1] + q[2]
        out[3] = rho * r_home - w_lam
        out[4] = rho * r_away - w_mu
        out[5] = rho * r[0]
        out[6] = r_home
        out[7] = r_away
        out[8] = -(rs[0] + rs[1] + rs[2])
        w11, one_minus_rho = self.w11 + TAU_BARRIER, 1.0 - theta[:, -1]
        return out, -w11 / one_minus_rho, -w11 / one_minus_rho**2


@dataclass(frozen=True, eq=False)
class TrainingWindow:
    """The ξ- and prior-independent part of a fit's problem: the matches with since ≤ date <
    as_of indexed by team and (home, away) pair. Built once, it serves every ξ of a grid and
    every prior (:meth:`problem`), so a ξ grid shares the indexing work."""

    teams: tuple[str, ...]
    newcomers: np.ndarray
    x: np.ndarray
    y: np.ndarray
    age: np.ndarray  # days before as_of
    pair_home: np.ndarray
    pair_away: np.ndarray
    pair_index: np.ndarray
    cell: np.ndarray
    low: np.ndarray
    one_one: np.ndarray
    log_factorial: np.ndarray
    local: np.ndarray
    as_of: date
    n_matches: int

    def problem(self, xi: float, prior: TeamPrior) -> DixonColesProblem:
        """The objective with weights exp(−ξ·days before as_of) and ``prior``."""
        return self.problems([(xi, prior)])[0]

    def problems(self, grid: Sequence[tuple[float, TeamPrior]]) -> list[DixonColesProblem]:
        """:meth:`problem` of every (ξ, prior) of ``grid``, the weights of all built at once
        (row-wise, so each problem is the same as built alone)."""
        xis = np.array([xi for xi, _ in grid])
        weight = np.exp(-xis[:, None] * self.age)
        k, n_pairs = len(grid), len(self.pair_home)

        def per_pair(values: np.ndarray, index: np.ndarray, bins: int) -> np.ndarray:
            offsets = (index[None, :] + bins * np.arange(k)[:, None]).ravel()
            return np.bincount(offsets, values.ravel(), k * bins).reshape(k, bins)

        low, cell = self.low, self.cell
        w, wx, wy = (per_pair(weight * v, self.pair_index, n_pairs) for v in (1.0, self.x, self.y))
        cells = per_pair(weight[:, low], self.pair_index[low] * 3 + cell[low], 3 * n_pairs)
        w11 = (weight * self.one_one).sum(axis=1)
        log_factorials = (weight * self.log_factorial).sum(axis=1)
        newcomers = tuple(t for t, new in zip(self.teams, self.newcomers, strict=True) if new)
        out = []
        for row, (xi, prior) in enumerate(grid):
            prior_attack = _prior_centre(self.newcomers, prior.newcomer_attack)
            prior_defence = _prior_centre(self.newcomers, prior.newcomer_defence)
            quadratic, linear = _quadratic_prior(prior.precision, prior_attack, prior_defence)
            out.append(
                DixonColesProblem(
                    teams=self.teams,
                    newcomers=newcomers,
                    pair_home=self.pair_home,
                    pair_away=self.pair_away,
                    w=w[row],
                    wx=wx[row],
                    wy=wy[row],
                    cells=cells[row].reshape(n_pairs, 3),
                    w11=float(w11[row]),
                    log_factorials=float(log_factorials[row]),
                    prior_attack=prior_attack,
                    prior_defence=prior_defence,
                    quadratic=quadratic,
                    linear=linear,
                    local=self.local,
                    prior=prior,
                    xi=xi,
                    as_of=self.as_of,
                    n_matches=self.n_matches,
                )
            )
        return out


def training_window(
    matches: pd.DataFrame | MatchData, as_of: DateLike, since: DateLike | None = None
) -> TrainingWindow:
    """Index the matches with ``since`` ≤ date < ``as_of`` (see :class:`TrainingWindow`)."""
    data = as_match_data(matches)
    end = to_day(as_of)
    keep = data.day < end
    if since is not None:
        keep &= data.day >= to_day(since)
    if not keep.any():
        raise ValueError(f"no matches before {as_of} to fit on")
    used, inverse = _compress(np.concatenate([data.home[keep], data.away[keep]]), len(data.teams))
    n, n_kept = len(used), int(keep.sum())
    home, away = inverse[:n_kept], inverse[n_kept:]
    x, y = data.home_goals[keep], data.away_goals[keep]
    pair, pair_index = _compress(home * n + away, n * n)
    pair_home, pair_away = pair // n, pair % n
    cell = np.where((x <= 1) & (y <= 1), 2 * x + y, 3)  # 0-0 → 0, 0-1 → 1, 1-0 → 2
    local = np.stack(
        [
            pair_home,
            n + pair_away,
            np.full_like(pair, 2 * n),
            pair_away,
            n + pair_home,
            np.full_like(pair, 2 * n + 1),
        ],
        axis=1,
    )
    return TrainingWindow(
        teams=tuple(data.teams[i] for i in used),
        newcomers=_newcomers(data.season[keep], home, away, n),
        x=x,
        y=y,
        age=end - data.day[keep],
        pair_home=pair_home,
        pair_away=pair_away,
        pair_index=pair_index,
        cell=cell,
        low=cell < 3,
        one_one=(x == 1) & (y == 1),
        log_factorial=gammaln(x + 1.0) + gammaln(y + 1.0),
        local=local,
        as_of=pd.Timestamp(as_of).date(),
        n_matches=n_kept,
    )


def build_problem(
    matches: pd.DataFrame | MatchData,
    as_of: DateLike,
    *,
    xi: float = DEFAULTS.xi,
    since: DateLike | None = None,
    prior: TeamPrior = DEFAULT_PRIOR,
) -> DixonColesProblem:
    """The fit's objective on matches with ``since`` ≤ date < ``as_of``, weights exp(−ξ·days)."""
    return training_window(matches, as_of, since).problem(xi, prior)


def _compress(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct codes (all < size) and each code's position among them (no sort)."""
    present = np.bincount(codes, minlength=size) > 0
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[codes]


def _prior_centre(newcomers: np.ndarray, newcomer_value: float) -> np.ndarray:
    """Prior means: ``newcomer_value`` for newcomers, the rest set so the mean is zero."""
    n_new, n = int(newcomers.sum()), len(newcomers)
    others = -n_new * newcomer_value / (n - n_new) if n_new < n else 0.0
    return np.where(newcomers, newcomer_value, others)


def _quadratic_prior(
    precision: float, prior_attack: np.ndarray, prior_defence: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Q and b of ½θᵀQθ − bᵀθ = precision/2·(‖C·a − m_a‖² + ‖C·d − m_d‖²) + ½(Σa)² + const.

    C = I − 11ᵀ/n centres a vector (Cᵀ = C = C²).
    """
    n = len(prior_attack)
    centring = np.eye(n) - 1.0 / n
    quadratic = np.zeros((2 * n + 2, 2 * n + 2))
    quadratic[:n, :n] = precision * centring + 1.0
    quadratic[n : 2 * n, n : 2 * n] = precision * centring
    linear = np.zeros(2 * n + 2)
    linear[:n] = precision * centring @ prior_attack
    linear[n : 2 * n] = precision * centring @ prior_defence
    return quadratic, linear


def _newcomers(season: np.ndarray, home: np.ndarray, away: np.ndarray, n: int) -> np.ndarray:
    """Teams playing in the latest season of the data but not in the season before it."""
    latest = season.max()
    earlier = season[season < latest]
    if earlier.size == 0:
        return np.zeros(n, dtype=bool)
    previous = earlier.max()

    def plays_in(s: int) -> np.ndarray:
        mask = season == s
        return np.bincount(np.concatenate([home[mask], away[mask]]), minlength=n) > 0

    return plays_in(latest) & ~plays_in(previous)


def rho_bounds(lam: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Open interval of ρ with every τ > 0 for these rates: max(−1/λ, −1/μ) < ρ < min(1, 1/λμ)."""
    return -1.0 / max(lam.max(), mu.max()), min(1.0, 1.0 / (lam * mu).max())


def fit(
    matches: pd.DataFrame | MatchData,
    as_of: DateLike,
    *,
    xi: float = DEFAULTS.xi,
    since: DateLike | None = None,
    prior: TeamPrior = DEFAULT_PRIOR,
    init: DixonColesParams | None = None,
) -> DixonColesParams:
    """Fit on matches with ``since`` ≤ date < ``as_of`` (weights exp(−ξ·days before as_of)).

    Started from ``init`` (warm start, matched by team id; teams it lacks at their prior
    centre) or, without it, from the moment start of :meth:`DixonColesProblem.theta_from`.
    """
    problem = build_problem(matches, as_of, xi=xi, since=since, prior=prior)
    return solve(problem, problem.theta_from(init))


def solve(problem: DixonColesProblem, theta: np.ndarray) -> DixonColesParams:
    """Minimize the problem from θ (ρ reset to 0, i.e. τ = 1, if θ is infeasible) by Newton."""
    return solve_stack([problem], [theta])[0]


def solve_stack(
    problems: Sequence[DixonColesProblem], thetas: Sequence[np.ndarray]
) -> list[DixonColesParams]:
    """:func:`solve` of problems of one training window, each from its θ, in one
    :class:`ProblemStack` (every problem's result is bit for bit its :func:`solve`)."""
    stack = problems[0].stack if len(problems) == 1 else ProblemStack.of(problems)
    theta = np.array(np.stack(thetas), dtype=np.float64)
    with single_thread_blas():
        point = stack.evaluate(theta)
        if not point.feasible.all():
            theta[~point.feasible, -1] = 0.0
            point = stack.evaluate(theta)
        theta, log_likelihood, iterations, converged = newton(stack, theta, point)
    return [
        _params(problem, theta[k], float(log_likelihood[k]), int(iterations[k]), converged[k])
        for k, problem in enumerate(problems)
    ]


def _params(
    problem: DixonColesProblem,
    theta: np.ndarray,
    log_likelihood: float,
    iterations: int,
    converged: bool,
) -> DixonColesParams:
    """The fitted model of ``problem`` at its optimum θ."""
    n = problem.n_teams
    shift = theta[:n].mean()  # ≈ 0 already (gauge); moving it to defence leaves λ, μ unchanged
    return DixonColesParams(
        teams=problem.teams,
        attack=_frozen(theta[:n] - shift),
        defence=_frozen(theta[n : 2 * n] + shift),
        home_advantage=float(theta[2 * n]),
        rho=float(theta[2 * n + 1]),
        xi=problem.xi,
        as_of=problem.as_of,
        n_matches=problem.n_matches,
        log_likelihood=log_likelihood,
        converged=bool(converged),
        iterations=iterations,
        prior=problem.prior,
        newcomers=problem.newcomers,
    )


def newton(
    stack: ProblemStack,
    theta: np.ndarray,
    point: Evaluation,
    max_iter: int = NEWTON_MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton from feasible θ (K, m) evaluated at ``point``, every row on its own.

    Returns per row (θ, its log-likelihood, iterations, converged). Step p solves
    (H + δI)·p = g by Cholesky, δ raised from 0 until H + δI is positive definite. Armijo
    backtracking also rejects infeasible points, so every iterate keeps all τ > 0. Once the
    Newton decrement gᵀp (twice the predicted gain) is below NEWTON_TOL·(1 + |value|), the step
    is the last: Newton converges quadratically, so the relative gain left after it (< 1e-13)
    is rounding noise; it is taken whenever feasible. A line search that cannot make progress,
    or ``max_iter`` iterations, stop a row with converged False; a non-finite value, gradient
    or Hessian raises :class:`FitError` (never a silent wrong number, never an endless loop).
    Rows that are done keep their θ (their step is 0) while the others go on.
    """
    k = len(theta)
    done, converged = np.zeros(k, dtype=bool), np.zeros(k, dtype=bool)
    iterations = np.full(k, max_iter)
    log_likelihood = np.asarray(point.log_likelihood, dtype=np.float64).copy()
    for iteration in range(1, max_iter + 1):
        active = np.flatnonzero(~done)
        _check_finite(point, iteration, active)
        step = np.zeros_like(theta)
        for row in active:
            step[row] = _newton_step(point.hessian[row], point.gradient[row])
        decrement = (point.gradient * step).sum(axis=1)
        last = ~done & (decrement <= NEWTON_TOL * (1.0 + np.abs(point.value)))
        if last.any():
            final = stack.log_likelihood(theta - step)
            last &= final > -np.inf
            theta[last] -= step[last]
            log_likelihood[last], iterations[last] = final[last], iteration
            converged |= last
            done |= last
        step[done] = 0.0
        searching = ~done
        if not searching.any():
            break
        theta, point, stuck = _line_search(stack, theta, point, step, decrement, searching)
        log_likelihood[stuck], iterations[stuck] = point.log_likelihood[stuck], iteration
        done |= stuck
        if done.all():
            break
    else:
        log_likelihood[~done] = point.log_likelihood[~done]
    return theta, log_likelihood, iterations, converged


def _line_search(
    stack: ProblemStack,
    theta: np.ndarray,
    point: Evaluation,
    step: np.ndarray,
    decrement: np.ndarray,
    searching: np.ndarray,
) -> tuple[np.ndarray, Evaluation, np.ndarray]:
    """Armijo backtracking of every ``searching`` row from ``point`` along −``step``: the
    first length 1, ½, ¼, … with value ≤ value − ARMIJO·length·decrement. Returns the new θ
    and evaluation (unchanged rows where no length above MIN_STEP qualifies) and those
    ``stuck`` rows."""
    length = np.ones(len(theta))
    pending, stuck = searching.copy(), np.zeros(len(theta), dtype=bool)
    theta = theta.copy()
    while pending.any():
        trial = theta - length[:, None] * step
        candidate = stack.evaluate(trial)
        accept = pending & (candidate.value <= point.value - ARMIJO * length * decrement)
        theta[accept] = trial[accept]
        # every row accepted at once: those not searching have step 0, so the candidate
        # holds their own evaluation again
        point = candidate if (accept == searching).all() else point.take(accept, candidate)
        pending &= ~accept
        length[pending] *= 0.5
        stuck |= pending & (length < MIN_STEP)
        pending &= ~stuck
    return theta, point, stuck


def _check_finite(point: Evaluation, iteration: int, rows: np.ndarray) -> None:
    """Raise :class:`FitError` unless the value, gradient and Hessian of ``rows`` are all
    finite."""
    for name, values in (
        ("value", point.value),
        ("gradient", point.gradient),
        ("Hessian", point.hessian),
    ):
        if not np.isfinite(values[rows]).all():
            raise FitError(f"Dixon-Coles Newton iteration {iteration}: non-finite {name}")


def _newton_step(hessian: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """(H + δI)⁻¹g with the smallest δ ∈ {0, 1e-8·s, 1e-7·s, …} (s = max |diag H|) giving PD;
    :class:`FitError` once δ passes MAX_DAMPING·s.

    LAPACK Cholesky (dpotrf/dpotrs through scipy.linalg.lapack: no wrapper overhead).
    """
    factor, info = dpotrf(hessian, clean=False)
    if info == 0:
        step = dpotrs(factor, gradient)[0]
        if np.isfinite(step).all():
            return step
    scale = max(float(np.abs(np.diag(hessian)).max()), 1.0)
    damping = 1e-8 * scale
    while damping <= MAX_DAMPING * scale:
        factor, info = dpotrf(hessian + damping * np.eye(len(gradient)), clean=False)
        if info == 0:
            return dpotrs(factor, gradient)[0]
        damping *= 10.0
    raise FitError(f"Hessian not positive definite even with damping {damping:.3g}")


def _frozen(values: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """A read-only copy."""
    out = np.array(values, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class MatchPredictions:
    """Score grids of many fixtures: ``grid[i, x, y]`` = P(home scores x, away scores y).

    ``truncated_mass`` is the probability beyond the grid (0..G per side); ``*_fallback`` flag
    teams the model never saw, predicted with the promoted-team average.
    """

    home_team_ids: tuple[str, ...]
    away_team_ids: tuple[str, ...]
    lambda_home: np.ndarray
    lambda_away: np.ndarray
    grid: np.ndarray
    truncated_mass: np.ndarray
    home_fallback: np.ndarray
    away_fallback: np.ndarray

    @property
    def _margin(self) -> np.ndarray:
        """x − y over the grid."""
        goals = np.arange(self.grid.shape[1])
        return np.subtract.outer(goals, goals)

    @property
    def _total(self) -> np.ndarray:
        """x + y over the grid."""
        goals = np.arange(self.grid.shape[1])
        return np.add.outer(goals, goals)

    def _sum_where(self, mask: np.ndarray) -> np.ndarray:
        return (self.grid * mask).sum(axis=(1, 2))

    @property
    def p_home(self) -> np.ndarray:
        """P(x > y)."""
        return self._sum_where(self._margin > 0)

    @property
    def p_draw(self) -> np.ndarray:
        """P(x = y)."""
        return self._sum_where(self._margin == 0)

    @property
    def p_away(self) -> np.ndarray:
        """P(x < y)."""
        return self._sum_where(self._margin < 0)

    @property
    def btts(self) -> np.ndarray:
        """P(both teams score) = P(x ≥ 1, y ≥ 1)."""
        return self.grid[:, 1:, 1:].sum(axis=(1, 2))

    def over(self, line: float) -> np.ndarray:
        """P(x + y > line); for a whole-number line the rest splits into under and push."""
        return self._sum_where(self._total > line)

    def under(self, line: float) -> np.ndarray:
        """P(x + y < line)."""
        return self._sum_where(self._total < line)

    @property
    def expected_goals_home(self) -> np.ndarray:
        """Σ x·P(x, y) over the grid (= λ up to the truncated mass)."""
        return self.grid.sum(axis=2) @ np.arange(self.grid.shape[1])

    @property
    def expected_goals_away(self) -> np.ndarray:
        """Σ y·P(x, y) over the grid (= μ up to the truncated mass)."""
        return self.grid.sum(axis=1) @ np.arange(self.grid.shape[1])

    @property
    def most_likely_score(self) -> np.ndarray:
        """(home, away) goals of the most likely score, shape (n, 2)."""
        flat = self.grid.reshape(len(self.grid), -1).argmax(axis=1)
        return np.stack(np.unravel_index(flat, self.grid.shape[1:]), axis=1)

    def to_frame(self, lines: Sequence[float] = (2.5,)) -> pd.DataFrame:
        """One row per fixture: rates, 1X2, over/under per line, BTTS, xG, top score, flags."""
        top = self.most_likely_score
        columns: dict[str, object] = {
            "home_team_id": self.home_team_ids,
            "away_team_id": self.away_team_ids,
            "lambda_home": self.lambda_home,
            "lambda_away": self.lambda_away,
            "p_home": self.p_home,
            "p_draw": self.p_draw,
            "p_away": self.p_away,
        }
        for line in lines:
            columns[f"p_over_{line:g}"] = self.over(line)
            columns[f"p_under_{line:g}"] = self.under(line)
        columns |= {
            "p_btts": self.btts,
            "xg_home": self.expected_goals_home,
            "xg_away": self.expected_goals_away,
            "likely_home_goals": top[:, 0],
            "likely_away_goals": top[:, 1],
            "truncated_mass": self.truncated_mass,
            "home_fallback": self.home_fallback,
            "away_fallback": self.away_fallback,
        }
        return pd.DataFrame(columns)


def grid_size(
    max_rate: float, max_goals: int = DEFAULTS.max_goals, tail_tol: float = GRID_TAIL_TOL
) -> int:
    """Smallest G ≥ max_goals with P(Pois(max_rate) > G) < tail_tol / 2.

    Both sides' tails are then below tail_tol / 2, so the mass beyond the grid is < tail_tol.
    """
    goals = max_goals
    while pdtrc(goals, max_rate) >= tail_tol / 2:
        goals += 1
    return goals


def score_grid(
    lam: np.ndarray, mu: np.ndarray, rho: float | np.ndarray, max_goals: int
) -> np.ndarray:
    """Dixon-Coles grids P(x, y), x, y = 0..max_goals, shape (n, G+1, G+1).

    τ is clipped at 0 for a fixture whose rates lie outside the fit's ρ region, so no cell is
    negative; such a grid is then rescaled to the unclipped mass F_λ(G)·F_μ(G) (the τ terms
    conserve mass exactly when unclipped), so every grid stays a proper distribution.
    """
    goals = np.arange(max_goals + 1)
    log_factorial = gammaln(goals + 1.0)
    home = np.exp(np.outer(np.log(lam), goals) - lam[:, None] - log_factorial)
    away = np.exp(np.outer(np.log(mu), goals) - mu[:, None] - log_factorial)
    grid = home[:, :, None] * away[:, None, :]
    grid[:, 0, 0] *= np.maximum(1.0 - lam * mu * rho, 0.0)
    grid[:, 0, 1] *= np.maximum(1.0 + lam * rho, 0.0)
    grid[:, 1, 0] *= np.maximum(1.0 + mu * rho, 0.0)
    grid[:, 1, 1] *= np.maximum(1.0 - rho, 0.0)
    mass = home.sum(axis=1) * away.sum(axis=1)
    total = grid.sum(axis=(1, 2))
    clipped = (1.0 - lam * mu * rho < 0) | (1.0 + lam * rho < 0) | (1.0 + mu * rho < 0)
    grid[clipped] *= (mass[clipped] / total[clipped])[:, None, None]
    return grid


def predict(
    params: DixonColesParams,
    home_team_ids: Sequence[str],
    away_team_ids: Sequence[str],
    *,
    max_goals: int = DEFAULTS.max_goals,
    tail_tol: float = GRID_TAIL_TOL,
) -> MatchPredictions:
    """Score grids and market probabilities for fixtures (vectorized); the grid bound G is
    set by the model's highest possible rate, so a fixture's numbers do not depend on the
    batch it is predicted in."""
    home_idx, away_idx = _team_indices(params.teams, home_team_ids, away_team_ids)
    lam, mu, highest = _rates(params, home_idx, away_idx)
    goals = grid_size(highest, max_goals, tail_tol)
    tail_home, tail_away = pdtrc(goals, lam), pdtrc(goals, mu)
    return MatchPredictions(
        home_team_ids=tuple(map(str, home_team_ids)),
        away_team_ids=tuple(map(str, away_team_ids)),
        lambda_home=_frozen(lam),
        lambda_away=_frozen(mu),
        grid=_frozen(score_grid(lam, mu, params.rho, goals)),
        truncated_mass=_frozen(tail_home + tail_away - tail_home * tail_away),
        home_fallback=_frozen(home_idx < 0, bool),
        away_fallback=_frozen(away_idx < 0, bool),
    )


def _team_indices(
    teams: Sequence[str], home_team_ids: Sequence[str], away_team_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Fixtures' team indices in a model's ``teams`` (−1: never seen)."""
    index = {team: i for i, team in enumerate(teams)}
    home_idx = np.array([index.get(t, -1) for t in home_team_ids], dtype=np.int64)
    away_idx = np.array([index.get(t, -1) for t in away_team_ids], dtype=np.int64)
    if len(home_idx) != len(away_idx):
        raise ValueError("home and away team lists differ in length")
    return home_idx, away_idx


def _rates(
    params: DixonColesParams, home_idx: np.ndarray, away_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """λ and μ of fixtures (team indices −1: the promoted-team fallback) and the model's
    highest possible rate."""
    attack = np.append(params.attack, params.fallback_attack)
    defence = np.append(params.defence, params.fallback_defence)
    lam = np.exp(attack[home_idx] + defence[away_idx] + params.home_advantage)
    mu = np.exp(attack[away_idx] + defence[home_idx])
    # The grid size depends on the model only (its highest possible rate), never on which
    # other fixtures are predicted with it: a fixture gets the same numbers alone or in a batch.
    highest = float(np.exp(attack.max() + defence.max() + max(params.home_advantage, 0.0)))
    return lam, mu, highest


def outcome_probabilities(
    models: Sequence[DixonColesParams],
    home_team_ids: Sequence[str],
    away_team_ids: Sequence[str],
    *,
    max_goals: int = DEFAULTS.max_goals,
    tail_tol: float = GRID_TAIL_TOL,
) -> np.ndarray:
    """1X2 (P(x > y), P(x = y), P(x < y)) of fixtures under each model, shape (K, n, 3), in
    one vectorized pass on one grid (the largest any model needs): equal to
    :func:`predict`'s within ``tail_tol``. For scoring a grid of walks; :func:`predict` is
    what a delivered forecast uses."""
    indices: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for model in models:  # a grid of walks shares its teams: index them once
        if model.teams not in indices:
            indices[model.teams] = _team_indices(model.teams, home_team_ids, away_team_ids)
    rates = [_rates(model, *indices[model.teams]) for model in models]
    lam = np.concatenate([r[0] for r in rates])
    mu = np.concatenate([r[1] for r in rates])
    rho = np.repeat([model.rho for model in models], len(home_team_ids))
    goals = grid_size(max(r[2] for r in rates), max_goals, tail_tol)
    grid = score_grid(lam, mu, rho, goals)
    margin = np.subtract.outer(np.arange(goals + 1), np.arange(goals + 1))
    sums = [(grid * mask).sum(axis=(1, 2)) for mask in (margin > 0, margin == 0, margin < 0)]
    return np.stack(sums, axis=1).reshape(len(models), len(home_team_ids), 3)
