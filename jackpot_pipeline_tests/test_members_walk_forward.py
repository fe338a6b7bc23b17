"""Member walk-forward: the Dixon-Coles splits exactly, and second-tier history at work."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jackpot_pipeline.core.goal_models.poisson import POISSON
from jackpot_pipeline.core.goal_models.walk_forward import MemberSpec, walk_forward_members
from jackpot_pipeline.core.walk_forward import walk_forward
from jackpot_pipeline_tests.dc_real_data import load_real

SEASONS = ["2021-22", "2022-23", "2023-24"]
GOALS = {"goals": ("home_goals", "away_goals")}
SPECS = [
    MemberSpec("single", POISSON, "goals", 0.002),
    MemberSpec("linked", POISSON, "goals", 0.002, linked=True),
]


def _matches() -> pd.DataFrame:
    return pd.concat([load_real("E0", SEASONS), load_real("E1", SEASONS)], ignore_index=True)


def test_members_use_the_dixon_coles_splits() -> None:
    matches = _matches()
    ours = walk_forward_members(matches, "E0", SPECS, GOALS, links=["E1"])
    dc = walk_forward(matches[matches.league == "E0"])
    for name in ("single", "linked"):
        member = ours[ours.member == name].set_index("match_id")
        assert member.index.is_unique
        assert set(member.index) == set(dc["match_id"])
        as_of = member.loc[dc["match_id"], "as_of"].to_numpy().astype("datetime64[D]")
        np.testing.assert_array_equal(as_of, dc["as_of"].to_numpy().astype("datetime64[D]"))
    assert np.allclose(ours[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)


def test_second_tier_history_rates_promoted_clubs() -> None:
    """On the opening weekend of 2023-24 the single-league member has never seen two of the
    promoted clubs (Sheffield United, Luton; Burnley played E0 in 2021-22, inside the window);
    the linked member has their E1 seasons."""
    matches = _matches()
    ours = walk_forward_members(matches, "E0", SPECS, GOALS, links=["E1"])
    ours = ours.merge(matches[["match_id", "season", "home_team_id", "away_team_id"]])
    promoted = {"Sheffield United", "Luton"}
    rows = ours[
        (ours.season == "2023-24")
        & (ours.as_of == ours.loc[ours.season == "2023-24", "as_of"].min())
        & (ours.home_team_id.isin(promoted) | ours.away_team_id.isin(promoted))
    ]
    assert rows.loc[rows.member == "single", "unseen"].all()
    assert not rows.loc[rows.member == "linked", "unseen"].any()
    single = rows[rows.member == "single"].set_index("match_id")["p_home"]
    linked = rows[rows.member == "linked"].set_index("match_id")["p_home"]
    assert (single - linked.loc[single.index]).abs().max() > 0.02
