"""Walk-forward predictions: no look-ahead, determinism, first-season rule and ξ selection."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.dixon_coles import MatchData, TeamPrior, predict, to_day
from jackpot_pipeline.core.walk_forward import (
    NO_EVIDENCE_PRIOR,
    NO_EVIDENCE_XI,
    PREDICTION_COLUMNS,
    SelectedWalk,
    WalkForwardConfig,
    data_version,
    in_force,
    log_loss_1x2,
    next_fit,
    season_scores,
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
    scores = season_scores(by_xi, matches, "E0")
    selection = select_xi(scores, "2023-24", validation_seasons=1)
    assert selection.validation_seasons == ("2022-23",)
    chosen = dict(selection.scores)
    assert selection.xi == min(chosen, key=chosen.get)
    validation = {xi: frame[frame["season"] == "2022-23"] for xi, frame in by_xi.items()}
    for xi, frame in validation.items():
        assert chosen[xi] == pytest.approx(log_loss_1x2(frame, matches).mean(), abs=1e-12)
    assert selection.n_validation_matches == len(validation[grid[0]])
    # Results of the target season cannot move the choice.
    target = matches["season"] == "2023-24"
    scrambled = matches.assign(home_goals=np.where(target, 0, matches["home_goals"]))
    assert select_xi(season_scores(by_xi, scrambled, "E0"), "2023-24", validation_seasons=1) == (
        selection
    )
    # A first season takes the other leagues' earlier choice; with nothing anywhere, no decay.
    first = select_xi(scores, "2022-23")
    assert (first.xi, first.scores) == (NO_EVIDENCE_XI, ())
    others = scores.assign(league="E1", season="2021-22")
    borrowed = select_xi(scores, "2022-23", other_scores=others)
    assert borrowed.validation_seasons == ("2021-22",)
    assert borrowed.xi == min(dict(borrowed.scores), key=dict(borrowed.scores).get)


def test_walk_forward_selected_takes_each_season_from_its_chosen_xi(
    matches: pd.DataFrame,
) -> None:
    grid = (0.002, 0.0065)
    walked = walk_forward_selected(
        matches, dataclasses.replace(CONFIG, min_train_matches=150), grid, validation_seasons=1
    )
    predicted, selections = walked.predictions, walked.selections
    assert [s.season for s in selections] == SEASONS
    assert selections[0].xi == NO_EVIDENCE_XI == 0.0 and selections[0].scores == ()
    assert 0.0 not in grid  # the first season is walked at ξ = 0 though it is not in the grid
    for selection in selections:
        rows = predicted[predicted["season"] == selection.season]
        assert (rows["xi"] == selection.xi).all()
    assert predicted["match_id"].is_unique


def test_every_prediction_joins_the_stored_fit_that_reproduces_it(matches: pd.DataFrame) -> None:
    """model_version is the id of a kept fit; predicting with that fit gives the row again,
    and the walk's next refit rule (``next_fit``) reproduces each fit from the one before."""
    walked = walk_forward_selected(matches, CONFIG, (0.002, 0.0065), validation_seasons=1)
    fits = {block.model_id: block for block in walked.fits}
    rows = walked.predictions
    assert set(rows["model_version"]) == set(fits)
    data = MatchData.from_frame(matches)
    for model, group in rows.groupby("model_version"):
        block = fits[model]
        again = predict(block.params, *zip(*group["match_id"].map(teams_of(matches)), strict=True))
        np.testing.assert_array_equal(again.p_home, group["p_home"].to_numpy())
        np.testing.assert_array_equal(again.p_away, group["p_away"].to_numpy())
        assert block.data_version == data_version(data, block.since, to_day(block.params.as_of))
        assert all(
            in_force(block, to_day(d), block.season, CONFIG.refit_days) for d in group["match_date"]
        )
    season = [b for b in walked.fits if b.season == "2023-24"]
    for before, after in itertools.pairwise(season):
        redone = next_fit(
            data, before, to_day(after.params.as_of), "2023-24", after.params.xi, CONFIG
        )
        assert redone.model_id == after.model_id


def teams_of(matches: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return dict(
        zip(
            matches["match_id"],
            zip(matches["home_team_id"], matches["away_team_id"], strict=True),
            strict=True,
        )
    )


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


NESTED_SEASONS = ["2020-21", "2021-22", "2022-23", "2023-24"]
NESTED_CONFIG = WalkForwardConfig(history_seasons=1, min_train_matches=150)
PRECISIONS = (2.5, 10.0)


@pytest.fixture(scope="module")
def nested_matches() -> pd.DataFrame:
    return load_real("E1", NESTED_SEASONS)


@pytest.fixture(scope="module")
def nested(nested_matches: pd.DataFrame) -> SelectedWalk:
    """ξ fixed to the no-evidence 0 (grid of one), so each precision's chain is a plain walk."""
    return walk_forward_selected(
        nested_matches, NESTED_CONFIG, (0.0,), precisions=PRECISIONS, validation_seasons=1
    )


def test_prior_precision_is_chosen_by_brute_force_walks_of_earlier_seasons(
    nested_matches: pd.DataFrame, nested: SelectedWalk
) -> None:
    """Each season's precision minimizes the previous season's walk-forward 1X2 log loss,
    recomputed by walking every precision on its own (``walk_forward`` and ``predict``)."""
    walks = {
        p: walk_forward(
            nested_matches,
            dataclasses.replace(NESTED_CONFIG, xi=0.0, prior=TeamPrior(p, 0.0, 0.0)),
        )
        for p in PRECISIONS
    }
    selections = nested.precision_selections
    assert [s.season for s in selections] == NESTED_SEASONS
    first = selections[0]
    assert (first.precision, first.scores) == (NO_EVIDENCE_PRIOR.precision, ())
    for selection in selections[1:]:
        (previous,) = selection.validation_seasons
        assert previous < selection.season
        brute = {
            p: log_loss_1x2(frame[frame["season"] == previous], nested_matches).mean()
            for p, frame in walks.items()
        }
        ours = dict(selection.scores)
        assert set(ours) == set(brute)
        for p in PRECISIONS:  # scored on one shared grid: equal to predict within 1e-10
            assert ours[p] == pytest.approx(brute[p], abs=1e-9)
        assert selection.precision == min(brute, key=brute.get)
        season_fits = [f for f in nested.fits if f.season == selection.season]
        assert {f.params.prior.precision for f in season_fits} == {selection.precision}


def test_newcomer_centre_is_the_mean_of_earlier_newcomer_ratings(
    nested_matches: pd.DataFrame, nested: SelectedWalk
) -> None:
    """The centre for season S averages, over earlier seasons T, what the last fit of T gave
    T's newcomers (recomputed from the stored fits); without any, the no-evidence 0."""

    def teams(season: str) -> set[str]:
        rows = nested_matches[nested_matches["season"] == season]
        return set(rows["home_team_id"]) | set(rows["away_team_id"])

    records = []
    for previous, season in itertools.pairwise(NESTED_SEASONS):
        if previous != NESTED_SEASONS[0]:  # the newcomers of `previous` in its last fit
            last = [f for f in nested.fits if f.season == previous][-1].params
            before = NESTED_SEASONS[NESTED_SEASONS.index(previous) - 1]
            index = [last.teams.index(t) for t in sorted(teams(previous) - teams(before))]
            defence = last.defence - last.defence.mean()
            records.append((last.attack[index].mean(), defence[index].mean()))
        prior = next(f for f in nested.fits if f.season == season).params.prior
        if records:
            assert prior.newcomer_attack == pytest.approx(np.mean([a for a, _ in records]))
            assert prior.newcomer_defence == pytest.approx(np.mean([d for _, d in records]))
        else:
            assert (prior.newcomer_attack, prior.newcomer_defence) == (0.0, 0.0)
    assert len(records) == 2  # two seasons centred on data


def test_no_choice_for_a_season_changes_when_that_season_or_later_ones_change(
    nested_matches: pd.DataFrame,
) -> None:
    """Leakage: scrambling the results of the last season moves none of the choices made
    for any season (each is made before the season is walked) nor any earlier prediction."""
    grid = (0.002, 0.0065)
    last = nested_matches["season"] == NESTED_SEASONS[-1]
    scrambled = nested_matches.assign(
        home_goals=np.where(last, nested_matches["away_goals"] + 2, nested_matches["home_goals"])
    )
    ours, theirs = (
        walk_forward_selected(
            frame, NESTED_CONFIG, grid, precisions=PRECISIONS, validation_seasons=1
        )
        for frame in (nested_matches, scrambled)
    )
    assert ours.selections == theirs.selections
    assert ours.precision_selections == theirs.precision_selections
    earlier = ours.predictions["season"] < NESTED_SEASONS[-1]
    pd.testing.assert_frame_equal(
        ours.predictions[earlier], theirs.predictions[theirs.predictions["season"] < "2023-24"]
    )
    # ...while the scrambled season itself is predicted from the same models but scored worse.
    assert not ours.scores.equals(theirs.scores)
