"""Walk-forward predictions: no look-ahead, determinism, first-season rule and ξ selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.walk_forward import (
    PREDICTION_COLUMNS,
    WalkForwardConfig,
    log_loss_1x2,
    select_xi,
    walk_forward,
    walk_forward_selected,
)
from jackpot_pipeline_tests.dc_real_data import load_parsed, load_real

SEASONS = ["2021-22", "2022-23", "2023-24"]
CONFIG = WalkForwardConfig(history_seasons=1)


@pytest.fixture(scope="module")
def matches() -> pd.DataFrame:
    return load_real("E0", SEASONS)


@pytest.fixture(scope="module")
def predictions(matches: pd.DataFrame) -> pd.DataFrame:
    return walk_forward(matches, CONFIG, seasons=["2023-24"])


def test_output_rows_are_out_of_sample_and_well_formed(
    matches: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert len(predictions) == 380 and predictions["match_id"].is_unique
    assert (predictions["as_of"] <= predictions["match_date"]).all()
    assert (predictions["match_date"] < predictions["as_of"] + pd.Timedelta(days=7)).all()
    total = predictions[["p_home", "p_draw", "p_away"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    assert predictions["converged"].all()
    # Each fit saw exactly the matches before its as-of date, from 2022-23 on.
    window = matches[matches["season"] >= "2022-23"]
    expected = [int((window["match_date"] < day).sum()) for day in predictions["as_of"]]
    assert list(predictions["n_train_matches"]) == expected
    # Promoted teams are unseen only before they play: the fallback is used on matchday 1.
    fallback = predictions[predictions["home_fallback"] | predictions["away_fallback"]]
    assert 0 < len(fallback) <= 3
    assert (fallback["as_of"] == predictions["as_of"].min()).all()


def test_prediction_ignores_its_own_and_all_later_results(
    matches: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    on_fit_day = predictions[predictions["match_date"] == predictions["as_of"]]
    target = on_fit_day.iloc[len(on_fit_day) // 2]  # mid-season, first day of its block
    later = matches["match_date"] >= target["match_date"]
    changed = matches.assign(
        home_goals=np.where(later, matches["away_goals"] + 4, matches["home_goals"]),
        away_goals=np.where(later, matches["home_goals"], matches["away_goals"]),
    )
    again = walk_forward(changed, CONFIG, seasons=["2023-24"])
    upto = predictions["match_date"] <= target["match_date"]
    pd.testing.assert_frame_equal(again[upto], predictions[upto], check_exact=True)
    assert not np.allclose(again.loc[~upto, "p_home"], predictions.loc[~upto, "p_home"])


def test_same_input_gives_bit_identical_output(
    matches: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    again = walk_forward(matches.sample(frac=1.0, random_state=11), CONFIG, seasons=["2023-24"])
    pd.testing.assert_frame_equal(again, predictions, check_exact=True)


def test_first_season_starts_once_enough_matches_are_played(matches: pd.DataFrame) -> None:
    first = matches[matches["season"] == "2021-22"]
    predicted = walk_forward(first, CONFIG)
    assert predicted["n_train_matches"].min() >= CONFIG.min_train_matches
    assert len(first) - 100 < len(predicted) < len(first)
    unpredicted = first[~first["match_id"].isin(predicted["match_id"])]
    assert unpredicted["match_date"].max() < predicted["match_date"].min()


def test_one_league_at_a_time(matches: pd.DataFrame) -> None:
    mixed = pd.concat([matches, load_real("E1", ["2023-24"])], ignore_index=True)
    with pytest.raises(ValueError, match="one league"):
        walk_forward(mixed, CONFIG)


def test_log_loss_is_minus_log_probability_of_the_outcome(
    matches: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    row = predictions.iloc[0]
    result = matches.set_index("match_id").loc[row["match_id"]]
    outcome = (
        "p_home"
        if result["home_goals"] > result["away_goals"]
        else ("p_draw" if result["home_goals"] == result["away_goals"] else "p_away")
    )
    assert log_loss_1x2(predictions, matches).iloc[0] == pytest.approx(-np.log(row[outcome]))


def test_xi_selection_uses_only_earlier_seasons(matches: pd.DataFrame) -> None:
    grid = (0.002, 0.0065)
    by_xi = {
        xi: walk_forward(matches, dataclasses.replace(CONFIG, xi=xi), seasons=SEASONS[1:])
        for xi in grid
    }
    selection = select_xi(by_xi, matches, "2023-24", validation_seasons=1)
    assert selection.validation_seasons == ("2022-23",)
    scores = dict(selection.scores)
    assert selection.xi == min(scores, key=scores.get)
    validation = {xi: frame[frame["season"] == "2022-23"] for xi, frame in by_xi.items()}
    for xi, frame in validation.items():
        assert scores[xi] == pytest.approx(log_loss_1x2(frame, matches).mean())
    assert selection.n_validation_matches == len(validation[grid[0]])
    # Results of the target season cannot move the choice.
    target = matches["season"] == "2023-24"
    scrambled = matches.assign(home_goals=np.where(target, 0, matches["home_goals"]))
    assert select_xi(by_xi, scrambled, "2023-24", validation_seasons=1) == selection
    # The first predicted season has nothing earlier: the configured ξ, no scores.
    first = select_xi(by_xi, matches, "2022-23", default_xi=0.0065)
    assert (first.xi, first.scores) == (0.0065, ())


def test_walk_forward_selected_takes_each_season_from_its_chosen_xi(
    matches: pd.DataFrame,
) -> None:
    grid = (0.002, 0.0065)
    predicted, selections = walk_forward_selected(
        matches, dataclasses.replace(CONFIG, min_train_matches=150), grid, validation_seasons=1
    )
    assert [s.season for s in selections] == SEASONS
    assert selections[0].xi == CONFIG.xi and selections[0].scores == ()
    for selection in selections:
        rows = predicted[predicted["season"] == selection.season]
        assert (rows["xi"] == selection.xi).all()
    assert predicted["match_id"].is_unique


def test_shared_parser_frames_give_the_same_predictions(predictions: pd.DataFrame) -> None:
    """The pipeline's parser (string/Int64 dtypes, slug team ids) feeds the same model."""
    parsed = load_parsed("E0", SEASONS)
    again = walk_forward(parsed, CONFIG, seasons=["2023-24"])
    keyed = again.join(parsed.set_index("match_id")["home_team"], on="match_id")
    ours = predictions.assign(home_team=predictions["match_id"].str.split("-", n=2).str[2])
    merged = ours.merge(keyed, on=["match_date", "home_team"], suffixes=("", "_parsed"))
    assert len(merged) == len(predictions)
    for column in ("p_home", "p_draw", "p_away", "lambda_home"):
        np.testing.assert_allclose(merged[f"{column}_parsed"], merged[column], atol=1e-9)
