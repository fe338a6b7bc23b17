"""Shots-based ratings: Poisson team ratings fitted to an expected-goals proxy from shots.

Per team and match the proxy is xg = b_on·(shots on target) + b_off·(shots off target), with
(b_on, b_off) the least-squares regression of goals on the two shot counts (no intercept,
home and away sides pooled) over every match of the seasons *before* the one the match
belongs to (the earliest season, having none, uses its own matches). Shots are far more
numerous than goals, so ratings built on them are less noisy (cf. Wheatcroft 2020, GAP
ratings); the ratings themselves are the Poisson model of :mod:`.poisson` on real-valued
targets, with the usual time weights (only matches before the as-of date).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jackpot_pipeline.core.goal_models import poisson
from jackpot_pipeline.core.goal_models.ratings import (
    DEFAULT_RATING_PRIOR,
    RatingPrior,
    RatingsFit,
    TrainingSet,
)

SHOT_COLUMNS = {
    "home": ("home_goals", "home_shots", "home_shots_on_target"),
    "away": ("away_goals", "away_shots", "away_shots_on_target"),
}
PROXY_COLUMNS = ("home_xg_proxy", "away_xg_proxy")


def _sides(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Goals (2n,) and shot features [on target, off target] (2n, 2), home rows then away."""
    goals, features = [], []
    for goal_col, shots_col, target_col in SHOT_COLUMNS.values():
        on = frame[target_col].to_numpy(dtype=float)
        goals.append(frame[goal_col].to_numpy(dtype=float))
        features.append(np.column_stack([on, frame[shots_col].to_numpy(dtype=float) - on]))
    return np.concatenate(goals), np.vstack(features)


def shot_coefficients(frame: pd.DataFrame) -> np.ndarray:
    """(b_on, b_off): least squares of goals on shots on / off target over complete rows."""
    goals, features = _sides(frame)
    ok = np.isfinite(features).all(axis=1) & (features >= 0).all(axis=1)
    if ok.sum() < 2:
        raise ValueError("too few matches with shot statistics")
    return np.linalg.lstsq(features[ok], goals[ok], rcond=None)[0]


def expected_goals_proxy(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`PROXY_COLUMNS` (NaN where shots are missing or inconsistent),
    coefficients of each season fitted on the earlier seasons of ``frame`` only."""
    seasons = sorted(frame["season"].unique())
    out = np.full((len(frame), 2), np.nan)
    for i, season in enumerate(seasons):
        rows = (frame["season"] == season).to_numpy()
        earlier = frame[frame["season"].isin(seasons[:i])] if i else frame[rows]
        coef = shot_coefficients(earlier)
        _, features = _sides(frame[rows])
        proxy = features @ coef
        proxy[~((features >= 0).all(axis=1))] = np.nan
        out[rows] = proxy.reshape(2, -1).T
    return frame.assign(**{c: out[:, k] for k, c in enumerate(PROXY_COLUMNS)})


def fit(
    data: TrainingSet, prior: RatingPrior = DEFAULT_RATING_PRIOR, init: RatingsFit | None = None
) -> RatingsFit:
    """Poisson ratings of a training set whose targets are the expected-goals proxy."""
    return poisson.fit(data, prior, init)
