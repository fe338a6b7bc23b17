"""Calibration curves, prediction sets A–G and validation reports through real Dagster runs.

A temporary warehouse holds a small real slice: Premier League and La Liga 2012-13 … 2015-16
ingested from the shipped football-data files, walked forward by the ``dixon_coles`` asset and
the member assets (set A's input: their stack).
Five La Liga 2015-16 matches lose their odds, to exercise the fall-back to set A.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.calibration import (
    CalibrationCurve,
    apply_calibration,
    fit_calibration,
    fit_walk_forward_curves,
)
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.metrics import encode_results
from jackpot_pipeline.core.prediction_sets import (
    PREDICTION_SETS,
    SetInputs,
    build_prediction_sets,
)
from jackpot_pipeline.defs.calibration.assets import CALIBRATION_ASSETS
from jackpot_pipeline.defs.incremental import FORCE_TAG
from jackpot_pipeline.defs.modelling.assets import dixon_coles
from jackpot_pipeline.defs.modelling.members import MEMBER_ASSETS
from jackpot_pipeline.defs.partitions import partition_key
from jackpot_pipeline.defs.resources import (
    FootballDataSource,
    SettingsResource,
    WarehouseResource,
)
from jackpot_pipeline.services import calibration_store as store
from jackpot_pipeline.services import report, validation, warehouse
from jackpot_pipeline.services.ingestion import IngestRequest, ingest
from jackpot_pipeline.settings import DATA_DIR, Settings

LEAGUES = ("E0", "SP1")
SEASONS = ("2012-13", "2013-14", "2014-15", "2015-16")
MIN_SAMPLES = Settings().min_calibration_samples
PARTITIONED = ["calibration_curves", "prediction_set_params", "prediction_sets"]
NO_ODDS = 5  # La Liga 2015-16 matches whose pre-closing (decision-time) odds are removed
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class Slice:
    """A warehouse with the slice built and every calibration asset materialized."""

    root: Path
    db: Path
    pooled: dg.ExecuteInProcessResult
    partitioned: tuple[dg.ExecuteInProcessResult, ...]

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, list(params)).df()
        finally:
            con.close()


def materialize(
    db: Path, selection: list[str], leagues: Sequence[str] = (), key=None
) -> list[dg.ExecuteInProcessResult]:
    """One run per league over SEASONS (or one run for ``key`` / an unpartitioned asset)."""
    resources = {
        "warehouse_db": WarehouseResource(path=str(db)),
        "football_data_source": FootballDataSource(),
        "settings": SettingsResource.from_env(),
    }
    runs = []
    ranges = [
        {
            "dagster/asset_partition_range_start": str(partition_key(league, SEASONS[0])),
            "dagster/asset_partition_range_end": str(partition_key(league, SEASONS[-1])),
        }
        for league in leagues
    ] or [{}]
    for tags in ranges:
        result = dg.materialize(
            [dixon_coles, *MEMBER_ASSETS, *CALIBRATION_ASSETS],
            resources=resources,
            selection=selection,
            partition_key=key,
            tags=tags,
            run_config=QUIET,
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        runs.append(result)
    return runs


def build_slice(root: Path) -> Path:
    """Ingest the slice, walk it forward and drop the odds of a few matches."""
    db = root / "warehouse.duckdb"
    now = datetime(2025, 1, 1, tzinfo=UTC)
    con = warehouse.connect(db)
    try:
        for league in LEAGUES:
            for season in SEASONS:
                source = FootballDataSource().fetch(league, season)
                assert source is not None
                request = IngestRequest(
                    league, season, source.uri, source.data, root / "raw", True, "shin",
                    now.date(), now,
                )  # fmt: skip
                ingest(con, request)
    finally:
        con.close()
    materialize(db, ["dixon_coles_models", "oos_predictions", "member_predictions"], LEAGUES)
    materialize(db, ["stacked_predictions"], LEAGUES)
    con = warehouse.connect(db)
    try:
        con.execute(
            "DELETE FROM match_odds WHERE market = '1X2' AND phase = 'opening' AND match_id IN "
            "(SELECT match_id FROM matches WHERE league = 'SP1' AND season = '2015-16' "
            "ORDER BY match_id LIMIT ?)",
            [NO_ODDS],
        )
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slice]:
    root = tmp_path_factory.mktemp("calibration")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACKPOT_RAW_DIR", str(root / "raw"))
        mp.setenv("JACKPOT_STRICT_MODE", "true")
        mp.delenv("JACKPOT_MARGIN_METHOD", raising=False)
        db = build_slice(root)
        partitioned = materialize(db, [*PARTITIONED, "validation_reports"], LEAGUES)
        (pooled,) = materialize(db, ["validation_report_pooled"])
        yield Slice(root, db, pooled, tuple(partitioned))


def oos_frame(slice_: Slice) -> pd.DataFrame:
    con = duckdb.connect(str(slice_.db), read_only=True)
    try:
        return store.load_oos(con, SEASONS[-1])
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Calibration curves
# ---------------------------------------------------------------------------------------------


def test_curves_are_stored_per_partition_and_scope_with_their_window(built: Slice) -> None:
    curves = built.query("SELECT * FROM calibration_curves ORDER BY league, season, scope")
    assert len(curves) == len(LEAGUES) * len(SEASONS) * 5
    labels = {"pooled", *LEAGUES}
    assert set(curves["scope"]) == labels | {f"{label}|last3" for label in labels} | {"none"}
    none = curves[curves["scope"] == "none"]  # no calibration: a candidate, no rows
    assert none["is_identity"].all() and (none["n_samples"] == 0).all()
    assert curves.groupby(["league", "season"])["selected"].sum().eq(1).all()
    curves = curves[curves["scope"] != "none"]
    first = curves[curves["season"] == SEASONS[0]]
    assert first["is_identity"].all() and first["trained_on_end"].isna().all()
    assert (first.loc[first["selected"], "scope"] == store.CALIBRATION_SCOPE).all()
    oos = oos_frame(built)
    for row in curves[curves["season"] > SEASONS[0]].itertuples():
        train = oos[(oos["season"] < row.season) & oos["result"].notna()]
        scope, _, window = row.scope.partition("|last")
        if scope != "pooled":
            train = train[train["league"] == scope]
        if window:
            train = train[train["season"].isin(sorted(train["season"].unique())[-int(window) :])]
        assert row.n_samples == len(train)
        assert pd.Timestamp(row.trained_on_end).date() == train["match_date"].max().date()
        first_match = oos.loc[oos["season"] == row.season, "match_date"].min()
        assert pd.Timestamp(row.trained_on_end) < first_match
        bins = json.loads(row.bins)
        assert [b["outcome"] for b in bins] == ["home", "draw", "away"]
        assert sum(bins[0]["count"]) == row.n_samples
    # the stored all-seasons curves are the core's walk-forward curves (pooled and per league)
    frame = oos[oos["result"].notna()].rename(columns={"match_date": "date"})
    for scope in ("pooled", "league"):
        expected = fit_walk_forward_curves(frame, "season", scope=scope)
        whole = curves[~curves["scope"].str.contains("|", regex=False)]
        for row in whole[(whole["scope"] == "pooled") == (scope == "pooled")].itertuples():
            stored = CalibrationCurve.from_dict(json.loads(row.curve))
            assert stored.outcomes == expected[(row.scope, row.season)].outcomes


def test_the_selected_curve_scored_best_on_the_leagues_earlier_seasons(built: Slice) -> None:
    """Brute force: every candidate's curve for each earlier season T refitted here on the
    rows before T, applied to the league's rows of T; the selected candidate has the lowest
    match-weighted mean log loss, and the stored scores are those means."""
    curves = built.query("SELECT * FROM calibration_curves ORDER BY league, season, scope")
    oos = oos_frame(built)
    played = oos[oos["result"].notna()]

    def loss(league: str, label: str, season: str) -> tuple[int, float]:
        rows = played[(played["league"] == league) & (played["season"] == season)]
        if label == "none":  # the model's own probabilities
            observed = store.probs_of(rows)[
                np.arange(len(rows)), encode_results(rows["result"].to_numpy())
            ]
            return len(rows), float(-np.log(observed).mean())
        scope, _, window = label.partition("|last")
        train = played[played["season"] < season]
        if scope != "pooled":
            train = train[train["league"] == scope]
        if window:
            train = train[train["season"].isin(sorted(train["season"].unique())[-int(window) :])]
        curve = fit_calibration(
            store.probs_of(train), train["result"].to_numpy(), min_samples=MIN_SAMPLES
        )
        rows = played[(played["league"] == league) & (played["season"] == season)]
        calibrated = apply_calibration(curve, store.probs_of(rows))
        observed = calibrated[np.arange(len(rows)), encode_results(rows["result"].to_numpy())]
        return len(rows), float(-np.log(observed).mean())

    for (league, season), group in curves.groupby(["league", "season"]):
        earlier = [t for t in SEASONS if t < season and (played["season"] == t).any()]
        if not earlier:
            assert group["selection_log_loss"].isna().all()
            continue
        expected = {}
        for label in group["scope"]:
            scored = [loss(league, label, t) for t in earlier]
            expected[label] = sum(n * v for n, v in scored) / sum(n for n, _ in scored)
        stored = dict(zip(group["scope"], group["selection_log_loss"], strict=True))
        assert stored == pytest.approx(expected, abs=1e-12)
        order = ["pooled", "pooled|last3", league, f"{league}|last3", "none"]  # ties: earlier
        best = min(order, key=lambda label: (expected[label], order.index(label)))
        assert group.loc[group["selected"], "scope"].item() == best


def test_the_curve_choice_ignores_the_season_it_is_for_and_later_ones(built: Slice) -> None:
    """Leakage: flipping every result from 2015-16 on changes no choice for 2015-16."""
    oos = oos_frame(built)
    later = oos["season"] >= "2015-16"
    flip = oos["result"].map({"H": "A", "D": "H", "A": "D"})
    flipped = oos.assign(result=np.where(later, flip, oos["result"]))
    settings = Settings()
    for league in LEAGUES:
        ours, theirs = (
            validation.choose_curve(validation.curve_scores(frame, league, settings, {}), "2015-16")
            for frame in (oos, flipped)
        )
        assert ours == theirs
        assert not validation.curve_scores(flipped, league, settings, {}).equals(
            validation.curve_scores(oos, league, settings, {})
        )


def _alter_later_seasons(db: Path, season: str) -> None:
    """Every result of ``season`` and later flipped (home ↔ away, draws to home wins) and the
    predictions of later seasons scrambled."""
    con = warehouse.connect(db)
    try:
        con.execute(
            "UPDATE matches SET result = CASE result WHEN 'H' THEN 'A' WHEN 'A' THEN 'D' "
            "ELSE 'H' END, home_goals = away_goals, away_goals = home_goals + 1 "
            "WHERE season >= ?",
            [season],
        )
        con.execute(
            "UPDATE oos_predictions SET p_home = 0.8, p_draw = 0.15, p_away = 0.05 "
            "WHERE season > ?",
            [season],
        )
    finally:
        con.close()


def _stored_season(db: Path, season: str) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            table: con.execute(
                f"SELECT * FROM {table} WHERE season = ? ORDER BY ALL", [season]
            ).df()
            for table in ("calibration_curves", "prediction_set_params", "prediction_sets")
        }
    finally:
        con.close()


def test_no_leakage_results_of_the_season_or_later_do_not_move_its_curve_or_params(
    built: Slice, tmp_path: Path
) -> None:
    season = "2014-15"
    before = _stored_season(built.db, season)
    copy = tmp_path / "altered.duckdb"
    shutil.copy(built.db, copy)
    _alter_later_seasons(copy, season)
    for league in LEAGUES:
        materialize(copy, PARTITIONED, key=partition_key(league, season))
    after = _stored_season(copy, season)
    for table, frame in before.items():
        assert len(frame) > 0
        pd.testing.assert_frame_equal(frame, after[table], check_exact=True)
    # control: one earlier result changed does move them (the comparison can fail)
    control = tmp_path / "control.duckdb"
    shutil.copy(built.db, control)
    con = warehouse.connect(control)
    try:
        con.execute(
            "UPDATE matches SET result = CASE result WHEN 'H' THEN 'A' ELSE 'H' END "
            "WHERE season = '2013-14' AND match_id IN (SELECT match_id FROM oos_predictions "
            "WHERE season = '2013-14' ORDER BY match_id LIMIT 40)"
        )
    finally:
        con.close()
    materialize(control, PARTITIONED, key=partition_key("E0", season))
    moved = _stored_season(control, season)
    e0 = moved["calibration_curves"]["league"] == "E0"
    assert not moved["calibration_curves"][e0]["curve"].equals(
        before["calibration_curves"][before["calibration_curves"]["league"] == "E0"]["curve"]
    )
    assert not moved["prediction_set_params"]["params"].equals(
        before["prediction_set_params"]["params"]
    )


def test_load_calibration_and_set_params_pick_the_latest_window_before_kickoff(
    built: Slice,
) -> None:
    con = duckdb.connect(str(built.db), read_only=True)
    try:

        def stored(condition: str) -> dict[str, tuple[date, CalibrationCurve]]:
            rows = con.execute(
                "SELECT season, trained_on_end, curve FROM calibration_curves "
                f"WHERE league = 'E0' AND {condition} ORDER BY season"
            ).fetchall()
            return {s: (end, CalibrationCurve.from_dict(json.loads(c))) for s, end, c in rows}

        by_season = stored("selected")
        end_2015, curve_2015 = by_season["2015-16"]
        kickoff = end_2015 + timedelta(days=80)
        assert store.load_calibration(con, "E0", kickoff) == curve_2015
        # on the last training day itself the window has not ended before kick-off
        end_2014, curve_2014 = by_season["2014-15"]
        assert store.load_calibration(con, "E0", end_2015) == curve_2014
        assert store.load_calibration(con, "E0", end_2014 - timedelta(days=400)) is None
        # the no-evidence choice (pooled) serves a league without partitions of its own
        pooled = stored(f"scope = '{store.CALIBRATION_SCOPE}'")["2015-16"][1]
        assert store.load_calibration(con, "I1", kickoff) == pooled
        params = store.load_set_params(con, "SP1", kickoff)
        stored = con.execute(
            "SELECT params FROM prediction_set_params WHERE league = 'SP1' AND season = '2015-16'"
        ).fetchone()[0]
        assert params == store.params_from_dict(json.loads(stored))
        assert params.pooling in validation.POOLINGS  # chosen from the earlier seasons
        assert store.load_set_params(con, "SP1", date(2010, 1, 1)) is None
    finally:
        con.close()
    # what the jackpot feature does with them: calibrate, then build the sets
    model = apply_calibration(curve_2015, np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]))
    market = np.array([[0.55, 0.25, 0.20], [np.nan, np.nan, np.nan]])
    sets = build_prediction_sets(SetInputs(model, market, np.array(["SP1", "SP1"])), params)
    assert sets["B"].fell_back_to_a.tolist() == [False, True]


def test_params_and_curves_survive_a_json_round_trip(built: Slice) -> None:
    con = duckdb.connect(str(built.db), read_only=True)
    try:
        params = store.load_set_params(con, "E0", date(2016, 1, 1))
        assert params is not None and params.n_train > 0
        again = store.params_from_dict(json.loads(json.dumps(store.params_to_dict(params))))
        assert again == params
    finally:
        con.close()
    # missing tables (a fresh warehouse) give None, not an error
    fresh = duckdb.connect(":memory:")
    assert store.load_calibration(fresh, "E0", date(2020, 1, 1)) is None
    assert store.load_set_params(fresh, "E0", date(2020, 1, 1)) is None


# ---------------------------------------------------------------------------------------------
# Prediction sets
# ---------------------------------------------------------------------------------------------


def test_every_set_for_every_match_is_proper_with_entropy_and_fallback_flags(
    built: Slice,
) -> None:
    sets = built.query("SELECT * FROM prediction_sets")
    oos = oos_frame(built)
    assert len(sets) == len(oos) * len(PREDICTION_SETS)
    assert sets.groupby("match_id")["set_name"].nunique().eq(len(PREDICTION_SETS)).all()
    p = sets[["p_home", "p_draw", "p_away"]].to_numpy()
    assert np.all((p > 0) & (p < 1))
    assert np.max(np.abs(p.sum(axis=1) - 1)) <= 1e-9
    np.testing.assert_allclose(sets["entropy"], -np.sum(p * np.log(p), axis=1), rtol=1e-12)
    no_odds = set(oos.loc[oos["market_home"].isna(), "match_id"])
    assert len(no_odds) == NO_ODDS
    flagged = sets[sets["fell_back_to_a"]]
    needs_market = {name for name, spec in PREDICTION_SETS.items() if spec.needs_market}
    assert set(flagged["match_id"]) == no_odds
    assert set(flagged["set_name"]) == needs_market
    assert len(flagged) == NO_ODDS * len(needs_market)
    wide = sets[sets["match_id"].isin(no_odds)].pivot(
        index="match_id", columns="set_name", values="p_home"
    )
    for name in needs_market:  # the fallback *is* set A
        np.testing.assert_allclose(wide[name], wide["A"], rtol=1e-12)


def test_set_a_is_the_model_mapped_by_the_stored_curve_of_its_season(built: Slice) -> None:
    """The model is the stack of the members (E0 2015-16: every match stacked)."""
    sets = built.query(
        "SELECT s.match_id, s.p_home, s.p_draw, s.p_away, o.p_home AS raw_home, "
        "o.p_draw AS raw_draw, o.p_away AS raw_away, o.source FROM prediction_sets s "
        "JOIN stacked_predictions o USING (match_id) "
        "WHERE s.set_name = 'A' AND s.league = 'E0' AND s.season = '2015-16' ORDER BY match_id"
    )
    (curve_json,) = built.query(
        "SELECT curve FROM calibration_curves WHERE league = 'E0' AND season = '2015-16' "
        "AND selected"
    )["curve"]
    curve = CalibrationCurve.from_dict(json.loads(curve_json))
    assert (sets["source"] == "stack").all()
    expected = apply_calibration(curve, sets[["raw_home", "raw_draw", "raw_away"]].to_numpy())
    np.testing.assert_allclose(sets[["p_home", "p_draw", "p_away"]], expected, atol=2e-6)
    params = built.query("SELECT * FROM prediction_set_params ORDER BY league, season")
    assert len(params) == len(LEAGUES) * len(SEASONS)
    # Pooling is chosen per season from earlier seasons; without any, the default.
    assert params["pooling"].isin(validation.POOLINGS).all()
    assert (params.loc[params["season"] == SEASONS[0], "pooling"] == store.POOLING).all()
    assert (params["model_weight"] >= 0.3 - 1e-9).all()  # market weight capped at 0.7
    oos = oos_frame(built)
    for row in params[params["season"] > SEASONS[0]].itertuples():
        first_match = oos.loc[oos["season"] == row.season, "match_date"].min()
        assert pd.Timestamp(row.trained_on_end) < first_match
        assert row.n_train == int(((oos["season"] < row.season) & oos["result"].notna()).sum())


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _rps_by_loops(probs: np.ndarray, results: Sequence[str]) -> float:
    total = 0.0
    for row, result in zip(probs, results, strict=True):
        observed = {"H": (1, 0, 0), "D": (0, 1, 0), "A": (0, 0, 1)}[result]
        cumulative_p = cumulative_o = score = 0.0
        for k in range(2):
            cumulative_p += row[k]
            cumulative_o += observed[k]
            score += (cumulative_p - cumulative_o) ** 2
        total += score / 2
    return total / len(probs)


def _metrics_by_hand(probs: np.ndarray, results: Sequence[str]) -> dict[str, float]:
    index = {"H": 0, "D": 1, "A": 2}
    brier = log_loss = hits = 0.0
    for row, result in zip(probs, results, strict=True):
        brier += sum((row[k] - (index[result] == k)) ** 2 for k in range(3))
        log_loss -= math.log(row[index[result]])
        hits += int(np.argmax(row)) == index[result]
    n = len(probs)
    return {
        "rps": _rps_by_loops(probs, results),
        "brier": brier / n,
        "log_loss": log_loss / n,
        "accuracy": hits / n,
    }


@pytest.mark.parametrize(
    ("league", "season", "forecast"),
    [("E0", "2015-16", "B"), ("SP1", "2015-16", "G"), ("SP1", "2015-16", "market"),
     ("E0", "2014-15", "dixon_coles_uncalibrated"), ("SP1", "2013-14", "base_rate")],
)  # fmt: skip
def test_stored_validation_metrics_match_an_independent_recomputation(
    built: Slice, league: str, season: str, forecast: str
) -> None:
    matches = built.query(
        "SELECT o.match_id, m.result, o.p_home, o.p_draw, o.p_away FROM oos_predictions o "
        "JOIN matches m USING (match_id) WHERE o.league = ? AND o.season = ? ORDER BY match_id",
        [league, season],
    )
    # The scored sample: matches with a pre-closing line (Pinnacle first), read from the raw
    # prices and freed of margin by Shin here.
    prices = built.query(
        "SELECT match_id, bookmaker, outcome, price FROM match_odds WHERE market = '1X2' "
        "AND phase = 'opening' AND bookmaker IN ('pinnacle', 'market_avg', 'bet365')"
    ).pivot_table(index=["match_id", "bookmaker"], columns="outcome", values="price")
    line = {}
    books = set(prices.index.get_level_values("bookmaker"))
    for book in [b for b in ("bet365", "market_avg", "pinnacle") if b in books]:
        block = prices.xs(book, level="bookmaker")[["home", "draw", "away"]].dropna()
        line.update({m: row for m, row in zip(block.index, block.to_numpy(), strict=True)})
    matches = matches[matches["match_id"].isin(line)].reset_index(drop=True)
    if forecast == "market":
        odds = np.array([line[m] for m in matches["match_id"]])
        probs = remove_margin(odds, "shin").probabilities
    elif forecast == "dixon_coles_uncalibrated":
        probs = matches[["p_home", "p_draw", "p_away"]].to_numpy()
    elif forecast == "base_rate":
        earlier = built.query(
            "SELECT result FROM matches WHERE league = ? AND season < ?", [league, season]
        )["result"]
        rates = [float((earlier == r).mean()) for r in "HDA"]
        probs = np.tile(rates, (len(matches), 1))
    else:
        sets = built.query(
            "SELECT match_id, p_home, p_draw, p_away FROM prediction_sets "
            "WHERE league = ? AND season = ? AND set_name = ? ORDER BY match_id",
            [league, season, forecast],
        )
        sets = sets[sets["match_id"].isin(line)]
        assert sets["match_id"].tolist() == matches["match_id"].tolist()
        probs = sets[["p_home", "p_draw", "p_away"]].to_numpy()
    stored = built.query(
        "SELECT * FROM validation_results WHERE league = ? AND season = ? AND forecast = ?",
        [league, season, forecast],
    ).iloc[0]
    assert stored["n"] == len(matches) > 300
    if forecast == "market" and league == "SP1" and season == "2015-16":
        assert stored["n"] == 380 - NO_ODDS
    by_hand = _metrics_by_hand(probs, matches["result"].tolist())
    for metric, value in by_hand.items():
        assert stored[metric] == pytest.approx(value, rel=1e-10, abs=1e-12)
    outcomes = json.loads(stored["outcomes"])
    assert [o["observed"] for o in outcomes] == [int((matches["result"] == r).sum()) for r in "HDA"]
    reliability = json.loads(stored["reliability"])
    ece_home = sum(
        c * abs(f - m)
        for c, f, m in zip(
            reliability[0]["count"],
            reliability[0]["observed_frequency"],
            reliability[0]["mean_predicted"],
            strict=True,
        )
    ) / len(matches)
    assert stored["ece_home"] == pytest.approx(ece_home, rel=1e-9)


def test_every_partition_has_every_forecast_and_its_own_report(built: Slice) -> None:
    """Each validation_reports partition of a range run reports that season only: its title,
    its stored rows; no image copies in partition metadata."""
    rows = built.query(
        "SELECT league, season, count(*) AS n, list(forecast) AS names FROM validation_results "
        "WHERE league <> 'pooled' AND season NOT LIKE '%..%' AND forecast <> 'closing_market' "
        "GROUP BY ALL"
    )
    # The closing benchmark is scored where the files have closing prices.
    closing = built.query(
        "SELECT DISTINCT league, season FROM validation_results WHERE forecast = 'closing_market'"
    )
    assert len(closing) > 0
    every_season = {*PREDICTION_SETS, report.DIXON_COLES, report.STACK, report.MARKET}
    later = every_season | {report.BASE_RATE, report.ODDS_RATINGS, report.ELO}
    for row in rows.itertuples():  # the first season: no base rate, no Elo (no earlier one)
        names = set(row.names)
        assert len(names) == row.n and every_season <= names <= later
        assert row.season == SEASONS[0] or names == later
    assert len(rows) == len(LEAGUES) * len(SEASONS)
    every = built.query(  # every stored forecast of the partition, the closing benchmark too
        "SELECT league, season, count(*) AS n FROM validation_results "
        "WHERE league <> 'pooled' AND season NOT LIKE '%..%' GROUP BY ALL"
    )
    stored = {(r.league, r.season): r.n for r in every.itertuples()}
    for result in built.partitioned:
        events = [
            e
            for e in result.asset_materializations_for_node("validation_reports")
            if e.asset_key == dg.AssetKey("validation_reports")
        ]
        assert len(events) == len(SEASONS)
        for event in events:
            meta = event.metadata
            league, season = meta["league"].value, meta["season"].value
            assert event.partition == str(partition_key(league, season))
            assert meta["dagster/row_count"].value == stored[(league, season)]
            text = meta["report"].value
            assert text.startswith(f"### Validation {league} {season}: ")
            assert "Best set by RPS" in text and "base64" not in text


def test_calibration_metadata_describes_each_partition(built: Slice) -> None:
    curves = built.query(
        "SELECT league, season, scope, n_samples FROM calibration_curves WHERE selected"
    )
    params = built.query("SELECT league, season, n_train FROM prediction_set_params")
    for result in built.partitioned:
        events = [
            *result.asset_materializations_for_node("calibration_curves"),
            *result.asset_materializations_for_node("prediction_sets"),
        ]
        by_key = {(e.asset_key.to_user_string(), e.partition): e.metadata for e in events}
        for row in params.itertuples():
            key = str(partition_key(row.league, row.season))
            if ("prediction_set_params", key) not in by_key:
                continue  # the other league's run
            assert by_key[("prediction_set_params", key)]["n_train"].value == row.n_train
            curve = curves[(curves["league"] == row.league) & (curves["season"] == row.season)]
            metadata = by_key[("calibration_curves", key)]
            assert metadata["chosen/n_samples"].value == curve["n_samples"].item()
            assert metadata["chosen_scope"].value == curve["scope"].item()


def test_blend_alpha_sets_the_model_weight_until_there_are_rows_to_fit_it(
    built: Slice, tmp_path: Path
) -> None:
    """JACKPOT_BLEND_ALPHA changes set B of a season without earlier rows (E0 2012-13)."""
    weights, set_b = {}, {}
    for alpha in (0.6, 0.9):
        db = tmp_path / f"alpha{alpha}.duckdb"
        shutil.copy(built.db, db)
        result = dg.materialize(
            [dixon_coles, *MEMBER_ASSETS, *CALIBRATION_ASSETS],
            resources={
                "warehouse_db": WarehouseResource(path=str(db)),
                "settings": SettingsResource(raw_dir=str(built.root / "raw"), blend_alpha=alpha),
            },
            selection=["prediction_set_params", "prediction_sets"],
            partition_key=partition_key("E0", SEASONS[0]),
            run_config=QUIET,
            instance=dg.DagsterInstance.ephemeral(),
            tags={FORCE_TAG: "true"},  # the default alpha's fingerprint is already recorded
        )
        assert result.success
        con = duckdb.connect(str(db), read_only=True)
        try:
            weights[alpha] = con.execute(
                "SELECT model_weight FROM prediction_set_params WHERE league = 'E0' AND season = ?",
                [SEASONS[0]],
            ).fetchall()[0][0]
            set_b[alpha] = (
                con.execute(
                    "SELECT p_home FROM prediction_sets WHERE league = 'E0' AND season = ? "
                    "AND set_name = 'B' ORDER BY match_id",
                    [SEASONS[0]],
                )
                .df()["p_home"]
                .to_numpy()
            )
        finally:
            con.close()
    assert weights == {0.6: pytest.approx(0.6), 0.9: pytest.approx(0.9)}
    assert np.abs(set_b[0.6] - set_b[0.9]).max() > 1e-3


def test_pooled_report_names_the_best_set_and_stores_the_pooled_rows(built: Slice) -> None:
    (event,) = built.pooled.asset_materializations_for_node("validation_report_pooled")
    text = event.metadata["report"].value
    assert "Best set by RPS" in text and "Best set by log loss" in text
    assert "decision-time market" in text and "data:image/png;base64," in text
    assert "Design choices" in text
    png = Path(event.metadata["reliability_diagram"].value)
    assert png.is_relative_to(built.root) and png.exists()
    assert not png.is_relative_to(DATA_DIR)
    assert Path(event.metadata["report_file"].value).read_text().startswith("#")
    pooled = built.query(
        "SELECT * FROM validation_results WHERE league = 'pooled' AND season = ?",
        [report.REPORT_WINDOW],
    ).set_index("forecast")
    assert {*PREDICTION_SETS, "market", "dixon_coles_uncalibrated", "base_rate"} <= set(
        pooled.index
    )
    assert "A|calibration=league" in pooled.index and "B|pooling=linear" in pooled.index
    # only 2015-16 of the slice is in the evaluation window
    n = built.query("SELECT count(*) AS n FROM oos_predictions WHERE season = '2015-16'")["n"].iloc[
        0
    ]
    assert pooled.loc["A", "n"] == n - NO_ODDS  # every forecast on the matches with a line
    assert pooled.loc["market", "n"] == n - NO_ODDS
    sets = pooled.loc[list(PREDICTION_SETS)]
    best = sets["rps"].idxmin()
    con = duckdb.connect(str(built.db), read_only=True)
    try:
        pooled_report = report.pooled_report(con)
    finally:
        con.close()
    text_report = "\n".join([*pooled_report["best"], *pooled_report["targets"]])
    assert f"Best set by RPS: {report.LABELS[best]}" in text_report
    assert f"Best set by RPS: {report.LABELS[best]}" in event.metadata["best_set"].value
    assert "Target A within 1.5 %" in text_report
    by_season = built.query(
        "SELECT forecast, rps FROM validation_results WHERE league = 'pooled' "
        "AND season = '2015-16' AND forecast = 'A'"
    )
    assert by_season["rps"].iloc[0] == pytest.approx(pooled.loc["A", "rps"], rel=1e-12)


def test_pooled_report_is_none_before_the_pooled_asset_ran(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "empty.duckdb")
    try:
        assert report.pooled_report(con) is None
    finally:
        con.close()
