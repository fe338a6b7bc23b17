"""The one forecaster: a coupon of past fixtures gets exactly the stored out-of-sample numbers.

A warehouse with the shipped leagues' real 2022-23 … 2024-25 matches (``test_jackpots``'s
template) is walked forward (Dixon-Coles and the other members, stacked) and its calibration curves
and prediction sets are stored by the
same services the assets call; then the shipped example coupons are predicted through
``predict_coupon`` (the path of ``jackpot predict`` and the inbox runs) with a clock after the
round. Every fixture and set must equal the stored ``prediction_sets`` row of that match to
1e-12, and every stored forecast must name a stored model that reproduces it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.dixon_coles import predict
from jackpot_pipeline.services import members, model_store, report, stack, validation, warehouse
from jackpot_pipeline.services.jackpots import predict_coupon
from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.test_jackpots import (
    EXAMPLE_DATES,
    EXAMPLE_JSON,
    EXAMPLE_NO_ODDS,
    LEAGUES,
    NOW,
    template_warehouse,
)

SET_NAMES = list("ABCDEFG")
LOG = logging.getLogger("test_forecaster")


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template warehouse walked forward, calibrated and with sets stored (once)."""
    path = tmp_path_factory.mktemp("forecaster") / "warehouse.duckdb"
    shutil.copyfile(template_warehouse(), path)

    @contextmanager
    def connect() -> Iterator[duckdb.DuckDBPyConnection]:
        con = warehouse.connect(path)
        try:
            yield con
        finally:
            con.close()

    by_league = {league: ["2022-23", "2023-24", "2024-25"] for league in LEAGUES}
    for league, seasons in by_league.items():
        with connect() as con:
            matches = model_store.load_matches(con, [league], seasons[-1])
            others = model_store.load_scores(con, exclude_league=league)
            precisions = model_store.load_precision_scores(con, exclude_league=league)
        walk = model_store.walk_league(matches, others, precisions)
        for season in seasons:
            with connect() as con, warehouse.transaction(con):
                model_store.store_season(con, league, season, walk, matches)
    members.run_members(connect, by_league, LOG)
    stack.run_stack(connect, by_league, LOG)
    settings = Settings()
    validation.run_curves(connect, by_league, settings, LOG)
    validation.run_prediction_sets(connect, by_league, settings, LOG)
    return path


@pytest.fixture
def con(walked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> duckdb.DuckDBPyConnection:
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(walked, db)
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(db))
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    connection = warehouse.connect(db)
    yield connection
    connection.close()


def delivered(con: duckdb.DuckDBPyConnection, path: Path, tmp_path: Path) -> pd.DataFrame:
    """The coupon's predictions (one row per fixture and set) with the stored set row of the
    same match beside them."""
    run = predict_coupon(con, path.read_bytes(), path.name, now=NOW, raw_dir=tmp_path / "raw")
    fixtures = run.stored.fixtures[
        ["match_order", "home_team_id", "away_team_id", "match_date", "market_source", "members"]
    ]
    rows = run.stored.predictions.merge(fixtures, on="match_order")
    stored = con.execute(
        "SELECT m.home_team_id, m.away_team_id, m.match_date, s.set_name AS set_id, "
        "s.p_home AS stored_home, s.p_draw AS stored_draw, s.p_away AS stored_away, "
        "s.market_source AS stored_source, o.model_version "
        "FROM prediction_sets s JOIN matches m USING (match_id) "
        "JOIN oos_predictions o USING (match_id)"
    ).df()
    rows["match_date"] = pd.to_datetime(rows["match_date"])
    stored["match_date"] = pd.to_datetime(stored["match_date"])
    return rows.merge(
        stored, on=["home_team_id", "away_team_id", "match_date", "set_id"], how="left"
    )


@pytest.mark.parametrize("coupon", [EXAMPLE_NO_ODDS, EXAMPLE_JSON], ids=["no-odds", "pinnacle"])
def test_past_coupon_returns_the_stored_out_of_sample_sets(
    con: duckdb.DuckDBPyConnection, coupon: Path, tmp_path: Path
) -> None:
    """No odds: the forecaster takes the match's football-data pre-closing line, like the
    walk-forward; Pinnacle pre-closing odds on the coupon are that same line."""
    rows = delivered(con, coupon, tmp_path)
    assert len(rows) == 13 * len(SET_NAMES) and rows["stored_home"].notna().all()
    assert (rows["model_id"] == rows["model_version"]).all()
    stacked = rows["members"].map(json.loads)
    assert (stacked.map(lambda m: m["source"]) == "stack").all()  # set A's input: the stack
    assert stacked.map(lambda m: min(m["weights"].values()) >= 0 < max(m["weights"].values())).all()
    ours = rows[["prob_home", "prob_draw", "prob_away"]].to_numpy()
    theirs = rows[["stored_home", "stored_draw", "stored_away"]].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert rows["stored_source"].str.startswith("football-data pinnacle pre-closing").all()
    if coupon == EXAMPLE_NO_ODDS:
        assert rows["market_source"].str.startswith("football-data pinnacle pre-closing").all()
    else:
        assert (rows["market_source"] == "coupon").all()


def test_other_coupon_odds_change_only_the_market_sets(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Bet365 odds on the coupon are the market input: A and D (no price) still equal the
    stored rows exactly, the market-using sets follow the coupon's prices."""
    rows = delivered(con, EXAMPLE_DATES, tmp_path)
    assert len(rows) == 17 * len(SET_NAMES)
    ours = rows[["prob_home", "prob_draw", "prob_away"]].to_numpy()
    theirs = rows[["stored_home", "stored_draw", "stored_away"]].to_numpy()
    priceless = rows["set_id"].isin(["A", "D"]).to_numpy()
    np.testing.assert_allclose(ours[priceless], theirs[priceless], rtol=0, atol=1e-12)
    assert np.abs(ours[~priceless] - theirs[~priceless]).max() > 1e-4


def test_every_stored_forecast_has_a_stored_model_that_reproduces_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    oos = con.execute(
        "SELECT o.*, m.home_team_id, m.away_team_id, d.data_version, d.training_since "
        "FROM oos_predictions o JOIN matches m USING (match_id) "
        "LEFT JOIN models d ON d.model_id = o.model_version"
    ).df()
    assert len(oos) > 2000 and oos["data_version"].notna().all()
    for league in LEAGUES:
        fits = {f.model_id: f for f in model_store.load_fits(con, league)}
        rows = oos[oos["league"] == league]
        assert set(rows["model_version"]) == set(fits)
        for model, group in rows.groupby("model_version"):
            params = fits[model].params
            assert (pd.to_datetime(group["as_of"]).dt.date == params.as_of).all()
            again = predict(params, group["home_team_id"], group["away_team_id"])
            np.testing.assert_array_equal(again.p_home, group["p_home"].to_numpy())
            np.testing.assert_array_equal(again.p_draw, group["p_draw"].to_numpy())


def test_without_a_stored_walk_the_forecaster_walks_the_league_the_same_way(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """No stored models: the league is walked in memory on its matches before the decision
    days, with the modelling asset's configuration — the numbers are the same."""
    con.execute("DELETE FROM model_team_ratings")
    con.execute("DELETE FROM models")
    rows = delivered(con, EXAMPLE_NO_ODDS, tmp_path)
    assert (rows["model_id"] == rows["model_version"]).all()
    ours = rows[["prob_home", "prob_draw", "prob_away"]].to_numpy()
    theirs = rows[["stored_home", "stored_draw", "stored_away"]].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_report_scores_every_forecast_on_the_same_matches_with_intervals(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """``jackpot report --json``'s numbers: the stored set rows and both markets on the same
    matches; each paired difference is the difference of the means, inside its interval."""
    result = report.comparison(con)
    pooled = result["pooled"]
    stored = con.execute(
        "SELECT s.match_id, s.set_name, s.p_home, s.p_draw, s.p_away, m.result "
        "FROM prediction_sets s JOIN matches m USING (match_id) "
        "WHERE s.market_source IS NOT NULL AND m.result IS NOT NULL AND s.season <= '2024-25'"
    ).df()
    n = stored["match_id"].nunique()
    assert result["n"] == pooled["n"] == n > 2000
    metrics = pooled["metrics"]
    for name in SET_NAMES:
        rows = stored[stored["set_name"] == name]
        probs = rows[["p_home", "p_draw", "p_away"]].to_numpy()
        observed = np.eye(3)[["HDA".index(r) for r in rows["result"]]]
        cumulative = np.cumsum(probs - observed, axis=1)[:, :2]
        assert metrics[name]["n"] == n
        assert metrics[name]["rps"] == pytest.approx((cumulative**2).sum(axis=1).mean() / 2)
        for reference in ("market", "closing_market"):
            diff = pooled["vs"][name][reference]["rps"]
            assert diff["low"] <= diff["mean"] <= diff["high"]
            if metrics[reference]["n"] == n:
                expected = metrics[name]["rps"] - metrics[reference]["rps"]
                assert diff["mean"] == pytest.approx(expected, abs=1e-12)
    assert set(result["leagues"]) == set(LEAGUES)
    assert sum(sample["n"] for sample in result["leagues"].values()) == n
