"""The seam from member forecasts to set A (services.members.stack_set_a) on real matches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jackpot_pipeline.services import members
from jackpot_pipeline.settings import Settings

SEASONS = ("2020-21", "2021-22", "2022-23", "2023-24")


def _history() -> pd.DataFrame:
    root = Settings().football_data_dir
    frames = [members.load_season(root / f"{s[2:4]}{s[5:7]}/E0.csv", "E0", s) for s in SEASONS]
    return pd.concat(frames, ignore_index=True)


def _forecasts(history: pd.DataFrame) -> pd.DataFrame:
    """Every member and odds variant as the closing market shrunk towards 1/3 by its own
    amount (the variant listed third is the sharpest)."""
    market = history[["market_home", "market_draw", "market_away"]].to_numpy()
    names = [m for m in members.SET_A_MEMBERS if m != "odds_ratings"]
    variants = [spec.name for spec in members.ODDS_SPECS]
    shrink = {name: 0.5 for name in names} | {v: 0.3 + 0.05 * i for i, v in enumerate(variants)}
    shrink[variants[2]] = 0.05
    frames = []
    for name, amount in shrink.items():
        probs = (1 - amount) * market + amount / 3
        frames.append(
            pd.DataFrame(
                {"match_id": history["match_id"], "member": name}
                | {f"p_{k}": probs[:, i] for i, k in enumerate(("home", "draw", "away"))}
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_stack_set_a_selects_pools_and_calibrates_out_of_sample() -> None:
    history = _history()
    stacked = members.stack_set_a(history, _forecasts(history))
    frame = stacked.frame
    last = (frame["season"] == SEASONS[-1]).to_numpy()
    set_a = frame[["set_a_home", "set_a_draw", "set_a_away"]].to_numpy()
    assert np.isnan(set_a[~last]).all()  # < 1,000 earlier matches before 2023-24
    np.testing.assert_allclose(set_a[last].sum(axis=1), 1.0)
    chosen = {s.period: s.chosen for s in stacked.selections}
    assert chosen[SEASONS[0]] == members.ODDS_DEFAULT
    assert chosen[SEASONS[-1]] == members.ODDS_SPECS[2].name
    weights = stacked.weights[SEASONS[-1]]
    assert weights.n_train == int((~last).sum())
    assert max(weights.weights) == weights.weights[weights.members.index("odds_ratings")]


def test_the_dixon_coles_member_is_the_pipelines_nested_walk() -> None:
    """The benchmark's Dixon-Coles member: the league's nested walk-forward predictions."""
    history = _history()
    dc = members.dixon_coles_forecasts(history, ["E0"])
    assert set(dc["member"]) == {"dc"} and len(dc) > 2 * 380
    assert dc["match_id"].isin(history["match_id"]).all()
    np.testing.assert_allclose(dc[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)
