"""Jackpot predictions without Dagster: planning, versioning, immutability, calibration inputs,
results, reports, exports and ``predict_file``.

The warehouse is built once per test process from the real 2022-23 … 2024-25 football-data
files of the shipped leagues (``template_warehouse``) and copied per test; the odds tests copy it
once more with the recorded EPL odds snapshots replayed into it by the odds assets
(``odds_template``); nothing is written into the repository's ``data/`` folder.
``calibration_store`` is replaced by a controllable fake (``install_calibration_store``),
whether or not the real module exists.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import json
import os
import shutil
import sys
import tempfile
import types
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.calibration import apply_calibration, fit_calibration
from jackpot_pipeline.core.coupon import CouponValidationError
from jackpot_pipeline.core.jackpot_analytics import argmax_ticket
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.prediction_sets import (
    MARKET_DOMINANT_MODEL_WEIGHT,
    SetParams,
    kelly_blend,
    pool,
)
from jackpot_pipeline.defs.odds.assets import events as events_asset
from jackpot_pipeline.defs.odds.assets import odds as odds_asset
from jackpot_pipeline.defs.odds.assets import odds_snapshots
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.services import model_store, warehouse
from jackpot_pipeline.services.ingestion import ingest
from jackpot_pipeline.services.jackpot_inbox import JackpotPaths
from jackpot_pipeline.services.jackpot_model import (
    JackpotError,
    compute_jackpot,
    plan_jackpot,
    season_of,
    validate_coupon,
)
from jackpot_pipeline.services.jackpot_report import jackpot_report
from jackpot_pipeline.services.jackpot_store import (
    JACKPOT_TABLES,
    JackpotRun,
    jackpot_versions,
    store_jackpot,
)
from jackpot_pipeline.services.jackpots import predict_coupon, predict_file
from jackpot_pipeline.services.odds_api import OddsApiResource
from jackpot_pipeline.settings import DATA_DIR
from jackpot_pipeline_tests._corpus import make_request, real_bytes

EXAMPLES = DATA_DIR / "jackpots" / "examples"
EXAMPLE_JSON = EXAMPLES / "2025-04-26_bookmaker-names_pinnacle.json"
EXAMPLE_NO_ODDS = EXAMPLES / "2025-04-12_football-data-names.csv"
EXAMPLE_DATES = EXAMPLES / "2025-03-29_dates-only_bet365.csv"
#: Real full-time results of the example coupons (README of data/jackpots/examples).
RESULTS = {
    EXAMPLE_JSON.name: list("HAHHDDHHDAHHH"),
    EXAMPLE_NO_ODDS.name: list("AAAHHDDAAHHAD"),
    EXAMPLE_DATES.name: list("HHHHDHHHHHHHHHHHH"),
}
LEAGUES = ("E0", "E1", "SP1", "D1", "I1", "F1")
SEASONS = (("2223", "2022-23"), ("2324", "2023-24"), ("2425", "2024-25"))
TEMPLATE_ENV = "JACKPOT_TEST_JACKPOT_TEMPLATE"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
#: Ingestion clock: after the last 2024-25 match (strict mode rejects matches dated later).
INGEST_NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------- fixtures


def template_warehouse() -> Path:
    """A warehouse with the shipped leagues' 2022-23 … 2024-25 matches, built once per process
    (the folder is remembered in an environment variable so both jackpot test modules share
    it however pytest imports them) and removed at exit."""
    cached = os.environ.get(TEMPLATE_ENV)
    if cached and (Path(cached) / "warehouse.duckdb").exists():
        return Path(cached) / "warehouse.duckdb"
    folder = Path(tempfile.mkdtemp(prefix="jackpot-template-"))
    atexit.register(shutil.rmtree, folder, True)
    con = warehouse.connect(folder / "warehouse.duckdb")
    try:
        for code, season in SEASONS:
            for league in LEAGUES:
                request = make_request(real_bytes(code, league), folder / "raw", league, season)
                ingest(con, dataclasses.replace(request, today=INGEST_NOW.date(), now=INGEST_NOW))
    finally:
        con.close()
    os.environ[TEMPLATE_ENV] = str(folder)
    return folder / "warehouse.duckdb"


@dataclass
class FakeCalibrationStore:
    """Stands in for ``calibration_store``: returns ``curve`` / ``params`` and records calls."""

    curve: object = None
    params: SetParams | None = None
    error: Exception | None = None
    calls: list[tuple[str, str, date]] = field(default_factory=list)

    def load_calibration(self, con: object, league: str, before: date) -> object:
        self.calls.append(("calibration", league, before))
        if self.error is not None:
            raise self.error
        return self.curve

    def load_set_params(self, con: object, league: str, before: date) -> SetParams | None:
        self.calls.append(("set_params", league, before))
        if self.error is not None:
            raise self.error
        return self.params


def install_calibration_store(monkeypatch: pytest.MonkeyPatch) -> FakeCalibrationStore:
    """Replace ``load_calibration`` / ``load_set_params`` of ``calibration_store`` (a stand-in
    module is registered when the real one does not exist)."""
    fake = FakeCalibrationStore()
    name = "jackpot_pipeline.services.calibration_store"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        module = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(module, "load_calibration", fake.load_calibration, raising=False)
    monkeypatch.setattr(module, "load_set_params", fake.load_set_params, raising=False)
    return fake


@dataclass(frozen=True)
class Env:
    """A test's private warehouse and folders (also set in the JACKPOT_* variables)."""

    root: Path
    warehouse_path: Path
    raw_dir: Path
    paths: JackpotPaths

    def connect(self) -> duckdb.DuckDBPyConnection:
        return warehouse.connect(self.warehouse_path)


def make_env(root: Path, monkeypatch: pytest.MonkeyPatch, template: Path | None = None) -> Env:
    """Copy the template warehouse (default: :func:`template_warehouse`) into ``root`` and point
    the settings at ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "warehouse.duckdb"
    shutil.copyfile(template or template_warehouse(), db)
    env = Env(root, db, root / "raw", JackpotPaths(root / "jackpots"))
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(db))
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(env.raw_dir))
    monkeypatch.setenv("JACKPOT_JACKPOTS_DIR", str(env.paths.base))
    return env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return make_env(tmp_path, monkeypatch)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeCalibrationStore:
    return install_calibration_store(monkeypatch)


@pytest.fixture
def con(env: Env) -> duckdb.DuckDBPyConnection:
    connection = env.connect()
    yield connection
    connection.close()


def predict(con: duckdb.DuckDBPyConnection, path: Path, **kwargs: object) -> JackpotRun:
    return predict_coupon(con, path.read_bytes(), path.name, now=NOW, **kwargs)


def write_coupon(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def table_dump(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in JACKPOT_TABLES}


def calibration_curve() -> object:
    """A real (non-identity) isotonic curve fitted on synthetic, over-confident forecasts."""
    rng = np.random.default_rng(7)
    truth = rng.dirichlet([4, 2.5, 3], size=600)
    outcomes = np.array([rng.choice(3, p=p) for p in truth])
    sharp = truth**1.6 / (truth**1.6).sum(axis=1, keepdims=True)
    return fit_calibration(sharp, outcomes, scope="pooled", trained_on_end=date(2025, 1, 1))


# ---------------------------------------------------------------------------------- tests


def test_example_coupon_is_predicted_explained_and_scored(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """The real JSON example (bookmaker names, Pinnacle odds): every fixture resolved, fitted
    before kickoff, decomposed, predicted in sets A–G, and scored against the real results."""
    run = predict(con, EXAMPLE_JSON)
    assert run.created
    fixtures, predictions = run.stored.fixtures, run.stored.predictions
    assert len(fixtures) == 13
    assert len(predictions) == 13 * 7
    assert set(predictions["set_id"]) == set("ABCDEFG")
    assert fixtures["home_team_id"].tolist()[:4] == [
        "ger-bayern-munich",
        "ger-hoffenheim",
        "eng-brighton",
        "eng-wolves",
    ]
    # Every set's row is a proper distribution; picks follow the argmax.
    probs = predictions[["prob_home", "prob_draw", "prob_away"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert (predictions["pick"] == [("1", "X", "2")[i] for i in probs.argmax(axis=1)]).all()
    # The walk-forward model in force on the kickoff day (refitted within the week before it);
    # no model saw the kickoff day or anything after it.
    as_of, day = pd.to_datetime(fixtures["model_as_of"]), pd.to_datetime(fixtures["match_date"])
    assert ((as_of <= day) & (day < as_of + pd.Timedelta(days=7))).all()
    assert fixtures["xi_source"].str.startswith("walk-forward ").all()
    for row in fixtures.itertuples():
        latest = con.execute(
            "SELECT max(match_date) FROM matches WHERE league = ? AND match_date < ?",
            [row.league, row.match_date],
        ).fetchone()[0]
        assert latest < pd.Timestamp(row.match_date).date()
    # λ is explained by the stored ratings: log λ = attack_home + defence_away + home advantage.
    np.testing.assert_allclose(
        np.log(fixtures["lambda_home"]),
        fixtures["home_attack"] + fixtures["away_defence"] + fixtures["home_advantage"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        np.log(fixtures["lambda_away"]), fixtures["away_attack"] + fixtures["home_defence"]
    )
    # Market = the coupon's odds without margin (Shin); uncalibrated A = the raw model.
    odds = fixtures[["odds_home", "odds_draw", "odds_away"]].to_numpy()
    np.testing.assert_allclose(
        fixtures[["market_prob_home", "market_prob_draw", "market_prob_away"]].to_numpy(),
        remove_margin(odds, "shin").probabilities,
    )
    raw = fixtures[["dc_prob_home", "dc_prob_draw", "dc_prob_away"]].to_numpy()
    a = run.stored.set_probs("A")
    np.testing.assert_allclose(a, raw / raw.sum(axis=1, keepdims=True), atol=1e-6)
    # B pools A with the market at the default weight 0.6; C at 0.2.
    market = fixtures[["market_prob_home", "market_prob_draw", "market_prob_away"]].to_numpy()
    np.testing.assert_allclose(run.stored.set_probs("B"), pool(a, market, 0.6, "linear"), atol=1e-9)
    b_rows = predictions[predictions["set_id"] == "B"]
    assert (b_rows["blend_alpha"] == 0.6).all() and not b_rows["fell_back_to_a"].any()
    flags = [json.loads(f) for f in fixtures["flags"]]
    assert all({"uncalibrated", "default_set_params"} <= set(f) for f in flags)
    assert not any("no_market_odds" in f for f in flags)
    # Most likely score and λ are sensible.
    assert (fixtures["lambda_home"].between(0.2, 5)).all()
    assert (fixtures["likely_score_prob"].between(0.05, 0.5)).all()
    # Results come from matches; scoring agrees with an independent count.
    report = jackpot_report(con, run, budget=48)
    assert list(report.results) == RESULTS[EXAMPLE_JSON.name]
    for name in "ABG":
        picks = run.stored.set_probs(name).argmax(axis=1)
        observed = ["HDA".index(r) for r in RESULTS[EXAMPLE_JSON.name]]
        score = report.analyses[name].score
        assert score.correct_picks == int((picks == observed).sum())
        assert score.n_known == 13
        assert score.argmax_won is (score.correct_picks == 13)
    assert report.analyses["G"].combination.lines <= 48


def test_same_inputs_give_the_same_version_and_rows_never_change(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    first = predict(con, EXAMPLE_JSON)
    before = table_dump(con)
    second = predict_coupon(
        con, EXAMPLE_JSON.read_bytes(), EXAMPLE_JSON.name, now=datetime.now(UTC)
    )
    assert second.version == first.version
    assert not second.created
    assert table_dump(con) == before  # not even created_at moved
    pd.testing.assert_frame_equal(second.stored.predictions, first.stored.predictions)
    computed = compute_jackpot(plan_jackpot(con, first.coupon, EXAMPLE_JSON.name), now=NOW)
    assert not store_jackpot(con, computed)  # an existing version is never rewritten
    assert table_dump(con) == before


def test_a_model_update_creates_a_new_separately_stored_version(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """New inputs before kickoff (a corrected result) → a new version next to the old one, with
    new models for that league only; a change after kickoff → the same version."""
    first = predict(con, EXAMPLE_JSON)
    old_rows = table_dump(con)
    # A result after every kickoff of the coupon changes nothing.
    con.execute(
        "UPDATE matches SET home_goals = home_goals + 3 WHERE match_date > DATE '2025-04-27'"
    )
    assert predict(con, EXAMPLE_JSON).version == first.version
    # A corrected D1 result before kickoff: a model update for the D1 fixtures only.
    con.execute(
        "UPDATE matches SET home_goals = home_goals + 1 WHERE match_id = "
        "(SELECT match_id FROM matches WHERE league = 'D1' AND match_date < DATE '2025-04-20' "
        "ORDER BY match_date DESC, match_id LIMIT 1)"
    )
    second = predict(con, EXAMPLE_JSON)
    assert second.created and second.version != first.version
    d1 = second.stored.fixtures["league"] == "D1"
    changed = second.stored.fixtures["model_id"] != first.stored.fixtures["model_id"]
    assert changed.tolist() == d1.tolist()
    # A corrected E0 result before kickoff: a third version.
    con.execute(
        "UPDATE matches SET home_goals = home_goals + 1 WHERE match_id = "
        "(SELECT match_id FROM matches WHERE league = 'E0' AND match_date < DATE '2025-04-20' "
        "ORDER BY match_date DESC, match_id LIMIT 1)"
    )
    third = predict(con, EXAMPLE_JSON)
    assert third.version not in (first.version, second.version)
    # The old version's rows are untouched and all three are listed for the coupon.
    for table, rows in old_rows.items():
        stored = con.execute(
            f"SELECT * FROM {table} WHERE jackpot_version = ? ORDER BY ALL", [first.version]
        ).fetchall()
        assert stored == rows
    versions = jackpot_versions(con, first.coupon.content_sha256)
    assert set(versions["jackpot_version"]) == {first.version, second.version, third.version}


def test_calibration_and_set_params_come_from_the_calibration_store(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    uncalibrated = predict(con, EXAMPLE_JSON)
    store.curve = calibration_curve()
    store.params = SetParams(
        model_weight=0.9,
        temperature=0.8,
        kelly_scale=2.0,
        draw_boost={"E0": 0.5},
        pooled_draw_boost=0.1,
        ensemble_weights=(0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
        n_train=900,
        n_train_with_market=900,
    )
    store.calls.clear()
    run = predict(con, EXAMPLE_JSON)
    assert run.created and run.version != uncalibrated.version
    fixtures = run.stored.fixtures
    kickoffs = [pd.Timestamp(d).date() for d in fixtures["match_date"]]
    assert store.calls[0::2] == [
        ("calibration", lg, d) for lg, d in zip(fixtures["league"], kickoffs, strict=True)
    ]
    assert store.calls[1::2] == [
        ("set_params", lg, d) for lg, d in zip(fixtures["league"], kickoffs, strict=True)
    ]
    raw = fixtures[["dc_prob_home", "dc_prob_draw", "dc_prob_away"]].to_numpy()
    calibrated = apply_calibration(store.curve, raw)
    np.testing.assert_allclose(run.stored.set_probs("A"), calibrated, atol=1e-6)
    np.testing.assert_allclose(
        fixtures[["calibrated_prob_home", "calibrated_prob_draw", "calibrated_prob_away"]],
        calibrated,
    )
    assert fixtures["calibrated"].all()
    assert not any("uncalibrated" in json.loads(f) for f in fixtures["flags"])
    assert not any("default_set_params" in json.loads(f) for f in fixtures["flags"])
    # G is all C here; B uses the stored model weight; D the league's draw boost.
    np.testing.assert_allclose(run.stored.set_probs("G"), run.stored.set_probs("C"), atol=1e-9)
    predictions = run.stored.predictions
    assert (predictions.loc[predictions["set_id"] == "B", "blend_alpha"] == 0.9).all()
    details = {(r.match_order, r.set_id): json.loads(r.detail) for r in predictions.itertuples()}
    for row in fixtures.itertuples():
        boost = details[(row.match_order, "D")]
        assert boost["draw_boost"] == (0.5 if row.league == "E0" else 0.1)
        assert details[(row.match_order, "E")]["temperature"] == 0.8
    jackpot = run.stored.jackpot
    curves = json.loads(jackpot["calibrations"])
    assert next(iter(curves.values()))["outcomes"]["home"]["x"] == list(store.curve.outcomes[0].x)
    assert set(json.loads(jackpot["set_params"])) == set(fixtures["set_params_version"])


def test_missing_calibration_tables_mean_uncalibrated(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    store.error = duckdb.CatalogException("Table with name calibration_curves does not exist")
    # Predicted the day before the round: no recorded line may be read, so no market at all.
    run = predict_coupon(
        con,
        EXAMPLE_NO_ODDS.read_bytes(),
        EXAMPLE_NO_ODDS.name,
        now=datetime(2025, 4, 11, 12, tzinfo=UTC),
    )
    flags = [set(json.loads(f)) for f in run.stored.fixtures["flags"]]
    assert all({"uncalibrated", "default_set_params", "no_market_odds"} <= f for f in flags)
    # Without odds every market set falls back to A, and says so.
    predictions = run.stored.predictions
    market_sets = predictions[predictions["set_id"].isin(list("BCEF"))]
    assert market_sets["fell_back_to_a"].all()
    for name in "BCDEFG":
        np.testing.assert_allclose(run.stored.set_probs(name), run.stored.set_probs("A"))


def test_predictions_enforce_the_probability_sum(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    run = predict(con, EXAMPLE_JSON)
    row = run.stored.predictions.iloc[[0]].assign(jackpot_version="jp-bad", prob_home=0.9)
    with pytest.raises(duckdb.ConstraintException):
        warehouse.insert_frame(con, "predictions", row)


def test_predict_file_uses_the_same_rows_and_exports(env: Env, store: FakeCalibrationStore) -> None:
    report = predict_file(EXAMPLE_DATES, set_name="B", budget=12)
    assert report.created and report.set_name == "B" and report.budget == 12
    text = report.markdown()
    assert "Bayern Munich v St Pauli" in text and report.version in text
    assert "combination_ticket" in text and "p_all_correct" in text
    csv_path, json_path = report.exports
    assert csv_path.parent == env.paths.out and csv_path.name.endswith(f"{report.version}.csv")
    exported = pd.read_csv(csv_path)
    assert len(exported) == 17 * 7
    summary = json.loads(json_path.read_text())
    assert summary["jackpot"]["jackpot_version"] == report.version
    assert [f["result"] for f in summary["fixtures"]] == RESULTS[EXAMPLE_DATES.name]
    assert summary["fixtures"][0]["sets"]["G"]["probs"] == pytest.approx(
        report.stored.set_probs("G")[0].tolist()
    )
    b = next(s for s in summary["sets"] if s["set"] == "B")
    assert b["combination_lines"] <= 12
    assert b["correct_picks"] == report.analyses["B"].score.correct_picks
    # The raw coupon bytes are kept content-addressed; asking again re-reads the same version.
    assert Path(report.stored.jackpot["raw_path"]).read_bytes() == EXAMPLE_DATES.read_bytes()
    again = predict_file(EXAMPLE_DATES, set_name="B", budget=12)
    assert again.version == report.version and not again.created
    con = env.connect()
    try:
        run = predict(con, EXAMPLE_DATES)  # the asset's call
        assert run.version == report.version and not run.created
        assert con.execute("SELECT count(*) FROM jackpots").fetchone()[0] == 1
    finally:
        con.close()


def test_report_figures_follow_the_stored_probabilities(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    run = predict(con, EXAMPLE_NO_ODDS)
    report = jackpot_report(con, run, budget=20, set_name="D")
    for name, analysis in report.analyses.items():
        probs = run.stored.set_probs(name)
        assert analysis.argmax.p_all_correct == pytest.approx(np.prod(probs.max(axis=1)))
        assert analysis.argmax == argmax_ticket(probs)
        assert analysis.combination.lines <= 20
        assert analysis.combination.p_all_correct >= analysis.argmax.p_all_correct
        assert sum(analysis.argmax.correct_distribution) == pytest.approx(1.0)
    figures = report.set_figures()
    assert list(figures["set"]) == list("ABCDEFG")
    assert {"p_at_least_12", "p_at_least_11", "p_at_least_10", "correct_picks"} <= set(figures)
    markdown = report.markdown()
    assert "| Lazio v Roma" in markdown and "pick D" in markdown
    with pytest.raises(ValueError, match="unknown set"):
        jackpot_report(con, run, set_name="Z")


def test_unplayed_fixtures_inferred_league_and_results_file(
    env: Env, con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """A coupon without leagues after the data ends: leagues inferred from the teams' last
    matches, no results from matches, results from a file (by row or by names)."""
    coupon = write_coupon(
        env.root,
        "future.csv",
        "home,away,kickoff\nArsenal,Chelsea,2025-08-23T15:00:00+01:00\n"
        "Real Madrid,Barcelona,2025-08-24\nLeeds,Burnley,2025-08-24\n",
    )
    run = predict(con, coupon)
    fixtures = run.stored.fixtures
    assert fixtures["league"].tolist() == ["E0", "SP1", "E1"]
    assert fixtures["league_inferred"].all()
    assert fixtures["season"].tolist() == ["2025-26"] * 3
    assert all("league_inferred" in json.loads(f) for f in fixtures["flags"])
    report = jackpot_report(con, run)
    assert report.results == (None, None, None)
    assert all(a.score is None for a in report.analyses.values())
    results = write_coupon(
        env.root,
        "results.csv",
        "row,home,away,result,home_goals,away_goals\n1,,,X,,\n,Real Madrid,FC Barcelona,,0,2\n",
    )
    scored = jackpot_report(con, run, results_file=results)
    assert scored.results == ("D", "A", None)
    score = scored.analyses["A"].score
    assert score.n_known == 2 and score.combination_won is not True
    bad = write_coupon(env.root, "bad_results.csv", "row,result\n1,W\n")
    with pytest.raises(ValueError, match="not H/D/A"):
        jackpot_report(con, run, results_file=bad)


def test_invalid_coupons_and_missing_history_store_nothing(
    env: Env, con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    invalid = write_coupon(
        env.root, "invalid.csv", "home,away,kickoff,league\nNowhere Rovers,Chelsea,2025-04-01,E0\n"
    )
    with pytest.raises(CouponValidationError) as caught:
        predict(con, invalid)
    assert "unknown home team 'Nowhere Rovers'" in caught.value.report()
    too_early = write_coupon(
        env.root, "early.csv", "home,away,kickoff,league\nArsenal,Chelsea,2022-05-01,E0\n"
    )
    with pytest.raises(JackpotError, match="no E0 results before 2022-05-01"):
        predict(con, too_early)
    assert con.execute("SELECT count(*) FROM jackpots").fetchone()[0] == 0


def test_plan_uses_the_walk_forward_model_in_force(
    con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """The plan's model is the league's walk-forward refit in force on the kickoff day — one
    of the fits the modelling asset's walk of the league makes — trained on the kickoff's
    season and up to three before it, strictly before its refit date."""
    coupon = validate_coupon(con, EXAMPLE_JSON.read_bytes(), EXAMPLE_JSON.name)
    plan = plan_jackpot(con, coupon, EXAMPLE_JSON.name, now=NOW)
    run = predict(con, EXAMPLE_JSON)
    assert plan.version == run.version
    first = plan.fixtures[0]
    assert (first.league, first.season, first.match_date) == ("D1", "2024-25", date(2025, 4, 26))
    assert first.as_of <= first.match_date < first.as_of + timedelta(days=7)
    expected = con.execute(
        "SELECT count(*) FROM matches WHERE league = 'D1' AND season BETWEEN '2021-22' AND "
        "'2024-25' AND match_date < ?",
        [first.as_of],
    ).fetchone()[0]
    assert first.model.params.n_matches == expected == run.stored.fixtures["n_train_matches"][0]
    assert first.since == date(2022, 8, 5)  # the window's first match in this warehouse
    walk = model_store.walk_league(model_store.load_matches(con, ["D1"], "2024-25"))
    same = [block for block in walk.fits if block.model_id == first.model_id]
    assert len(same) == 1
    assert same[0].params.version == run.stored.fixtures["params_version"].iloc[0]
    assert season_of(date(2025, 7, 1)) == "2025-26"
    assert season_of(date(2025, 6, 30)) == "2024-25"


def test_integration_with_the_real_calibration_store(con: duckdb.DuckDBPyConnection) -> None:
    """Curves and set parameters stored by ``calibration_store`` reach the predictions: the
    latest whose training ended before kickoff, never a later one."""
    calibration_store = pytest.importorskip("jackpot_pipeline.services.calibration_store")
    early = dataclasses.replace(calibration_curve(), trained_on_end=date(2024, 5, 31))
    rng = np.random.default_rng(3)
    late = fit_calibration(
        rng.dirichlet([3, 3, 3], size=200),
        rng.integers(0, 3, size=200),
        trained_on_end=date(2025, 5, 31),
    )
    params = SetParams(pooling="log", model_weight=0.75, n_train=900, n_train_with_market=900)
    with warehouse.transaction(con):
        for season, curve in (("2024-25", early), ("2025-26", late)):
            row = calibration_store.curve_row(curve, "E0", season, True, None, "earlier")
            calibration_store.store_curves(con, "E0", season, [row])
        row = calibration_store.params_row(
            params, "E0", "2024-25", "pooled", None, date(2024, 5, 31), "earlier"
        )
        calibration_store.store_set_params(con, "E0", "2024-25", row)
    run = predict(con, EXAMPLE_JSON)
    fixtures = run.stored.fixtures
    raw = fixtures[["dc_prob_home", "dc_prob_draw", "dc_prob_away"]].to_numpy()
    np.testing.assert_allclose(run.stored.set_probs("A"), apply_calibration(early, raw), atol=1e-9)
    assert fixtures["calibrated"].all()
    assert not any(
        {"uncalibrated", "default_set_params"} & set(json.loads(f)) for f in fixtures["flags"]
    )
    b = run.stored.predictions[run.stored.predictions["set_id"] == "B"]
    assert (b["blend_alpha"] == 0.75).all()
    assert all(json.loads(d)["pooling"] == "log" for d in b["detail"])


# ------------------------------------------------------------------- market from odds snapshots

ODDS_DIR = DATA_DIR / "odds-api"
EPL_STAMPS = ("20240801T1622Z", "20240804T0022Z", "20240804T2152Z")  # recorded /odds snapshots
#: Real fixtures of the first 2024-25 EPL round (all in the recordings but the last), written
#: as a coupon would: football-data names, offsets, one with coupon odds, one a day early with a
#: bare date (the event is on the 18th), one the recordings do not cover.
EPL_COUPON = """# id: epl-2024-08-16
# name: EPL 16-24 August 2024, odds only for West Ham v Aston Villa
home,away,kickoff,league,odds_home,odds_draw,odds_away
Man United,Fulham,2024-08-16T19:00:00+00:00,E0,,,
Ipswich,Liverpool,2024-08-17T12:30:00+01:00,E0,,,
Arsenal,Wolves,2024-08-17T15:00:00+01:00,E0,,,
West Ham,Aston Villa,2024-08-17T17:30:00+01:00,E0,2.60,3.50,2.70
Brentford,Crystal Palace,2024-08-17,E0,,,
Chelsea,Man City,2024-08-18T16:30:00+01:00,E0,,,
Tottenham,Everton,2024-08-24T15:00:00+01:00,E0,,,
"""
#: The coupon's fixtures as the Odds API names them (None: not recorded / coupon odds).
EPL_EVENTS = (
    ("Manchester United", "Fulham"),
    ("Ipswich Town", "Liverpool"),
    ("Arsenal", "Wolverhampton Wanderers"),
    None,
    ("Brentford", "Crystal Palace"),
    ("Chelsea", "Manchester City"),
    None,
)
MAN_UTD_FULHAM = "home,away,kickoff,league\nMan United,Fulham,2024-08-16T19:00:00+00:00,E0\n"
MARKET = ["market_prob_home", "market_prob_draw", "market_prob_away"]


@pytest.fixture(scope="module")
def odds_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template warehouse plus ``odds_snapshots``, ``events`` and ``odds`` materialized by
    the odds assets on the replay resource from every recorded EPL snapshot (built once)."""
    root = tmp_path_factory.mktemp("odds-template")
    db = root / "warehouse.duckdb"
    shutil.copyfile(template_warehouse(), db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACKPOT_RAW_DIR", str(root / "raw"))
        mp.delenv("JACKPOT_STRICT_MODE", raising=False)
        dg.materialize(
            [odds_snapshots, events_asset, odds_asset],
            resources={
                "odds_api": OddsApiResource(replay_dir=str(ODDS_DIR)),
                "warehouse_db": WarehouseResource(path=str(db)),
                "settings": SettingsResource.from_env(),
            },
            run_config={"ops": {"odds_snapshots": {"config": {"sports": ["soccer_epl"]}}}},
            instance=dg.DagsterInstance.ephemeral(),
        )
    return db


@pytest.fixture
def odds_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odds_template: Path) -> Env:
    return make_env(tmp_path / "with-odds", monkeypatch, odds_template)


@pytest.fixture
def odds_con(odds_env: Env) -> duckdb.DuckDBPyConnection:
    connection = odds_env.connect()
    yield connection
    connection.close()


def recorded_lines(stamp: str, home: str, away: str) -> dict[str, list[float]]:
    """Plain-Python reading of a recorded EPL body: bookmaker → h2h prices (home, draw, away)."""
    body = json.loads((ODDS_DIR / f"soccer_epl_odds_h2h_eu_{stamp}.json").read_text())
    event = next(e for e in body if (e["home_team"], e["away_team"]) == (home, away))
    lines = {}
    for book in event["bookmakers"]:
        for market in book["markets"]:
            if market["key"] == "h2h":
                price = {o["name"]: o["price"] for o in market["outcomes"]}
                lines[book["key"]] = [price.get(home), price.get("Draw"), price.get(away)]
    return lines


def multiplicative(prices: list[float]) -> list[float]:
    inverse = [1 / p for p in prices]
    return [v / sum(inverse) for v in inverse]


def recorded_pinnacle(stamp: str, home: str, away: str) -> list[float]:
    """Pinnacle's margin-free 1X2 (1/price normalized) in a recorded body."""
    return multiplicative(recorded_lines(stamp, home, away)["pinnacle"])


def predict_text(
    con: duckdb.DuckDBPyConnection, root: Path, text: str, now: datetime = NOW
) -> JackpotRun:
    path = write_coupon(root, "epl.csv", text)
    return predict_coupon(con, path.read_bytes(), path.name, now=now)


def test_fixtures_without_odds_take_the_market_from_the_odds_snapshots(
    odds_env: Env, odds_con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """Real first-round EPL fixtures without coupon odds: the market is Pinnacle's last line
    before kickoff in the recorded snapshots (as an independent computation on the raw JSON),
    sets B/C/E/F use it instead of falling back to A, and the source is recorded."""
    run = predict_text(odds_con, odds_env.root, EPL_COUPON)
    fixtures, predictions = run.stored.fixtures, run.stored.predictions
    last = "2024-08-04T21:52:00+00:00"
    snapshot = [i for i, names in enumerate(EPL_EVENTS) if names is not None]
    # The fixture without a snapshot is a recorded match replayed after the round: its
    # football-data pre-closing line.
    sources = fixtures["market_source"].tolist()
    assert sources[6].startswith("football-data pinnacle pre-closing (E0-2024")
    assert sources[:6] == [
        "coupon" if i == 3 else f"odds_snapshot:pinnacle @ {last}" for i in range(6)
    ]
    for i in snapshot:
        home, away = EPL_EVENTS[i]
        np.testing.assert_allclose(
            fixtures.loc[i, MARKET].to_numpy(dtype=float),
            recorded_pinnacle(EPL_STAMPS[-1], home, away),
            rtol=0,
            atol=1e-12,
        )
        prices = recorded_lines(EPL_STAMPS[-1], home, away)["pinnacle"]
        assert fixtures.loc[i, "overround"] == pytest.approx(sum(1 / p for p in prices) - 1)
        assert fixtures.loc[i, ["odds_home", "odds_draw", "odds_away"]].isna().all()
    # The coupon's own odds keep their Shin margin removal; the unrecorded fixture has none.
    np.testing.assert_allclose(
        fixtures.loc[3, MARKET].to_numpy(dtype=float),
        remove_margin(np.array([[2.60, 3.50, 2.70]]), "shin").probabilities[0],
    )
    assert fixtures.loc[6, MARKET].notna().all()
    flags = [set(json.loads(f)) for f in fixtures["flags"]]
    for i, fixture_flags in enumerate(flags):
        assert ("market_from_odds_snapshot" in fixture_flags) is (i in snapshot)
        assert "no_market_odds" not in fixture_flags
    assert "date_only_kickoff" in flags[4]
    assert "market_from_odds_snapshot" in json.loads(run.stored.jackpot["flags"])
    # Sets B, C, E and F blend the market of every fixture; none falls back to A.
    a = run.stored.set_probs("A")
    market = fixtures[MARKET].to_numpy(dtype=float)
    market_sets = predictions[predictions["set_id"].isin(list("BCEF"))]
    assert not market_sets["fell_back_to_a"].any()
    for name, expected in (
        ("B", pool(a, market, 0.6, "linear")),
        ("C", pool(a, market, MARKET_DOMINANT_MODEL_WEIGHT, "linear")),
        ("F", kelly_blend(a, market, SetParams().kelly_scale)),
    ):
        probs = run.stored.set_probs(name)
        np.testing.assert_allclose(probs, expected, atol=1e-9)
        assert not np.allclose(probs, a, atol=1e-3)
    b_market = predictions.loc[predictions["set_id"] == "B", MARKET].to_numpy(dtype=float)
    np.testing.assert_allclose(b_market, market)
    # The version key holds the snapshot data used: the event, snapshot time and prices.
    key = json.loads(run.stored.jackpot["version_key"])["fixtures"]
    event_id = odds_con.execute(
        "SELECT event_id FROM events WHERE home_team_id = 'eng-man-united' AND "
        "away_team_id = 'eng-fulham' AND commence_time = TIMESTAMPTZ '2024-08-16 19:00:00+00'"
    ).fetchone()[0]
    assert key[0]["market"] == {
        "source": "odds_snapshot",
        "event_id": event_id,
        "method": "pinnacle",
        "bookmakers": {
            "pinnacle": {
                "snapshot_time": last,
                "prices": recorded_lines(EPL_STAMPS[-1], *EPL_EVENTS[0])["pinnacle"],
            }
        },
    }
    assert ["market" in k for k in key] == [i != 3 for i in range(7)]  # all but coupon odds
    assert key[6]["market"]["source"] == "football-data pinnacle pre-closing"
    # Asking again with the same data re-reads the same version; the report carries the source.
    again = predict_text(odds_con, odds_env.root, EPL_COUPON, now=datetime.now(UTC))
    assert again.version == run.version and not again.created
    summary = jackpot_report(odds_con, run).summary()
    assert summary["fixtures"][0]["market_source"] == f"odds_snapshot:pinnacle @ {last}"
    assert summary["results_known"] == 7


def test_snapshot_market_never_looks_ahead(
    env: Env,
    odds_env: Env,
    odds_con: duckdb.DuckDBPyConnection,
    store: FakeCalibrationStore,
) -> None:
    """The market is the board as known when the prediction is made and before kickoff: a
    later snapshot is never read, a newer one known in time gives a new version, and with no
    snapshot known yet (or no odds tables) the prediction is exactly the one without odds."""
    teams = ("Manchester United", "Fulham")
    first, middle, last = (recorded_pinnacle(stamp, *teams) for stamp in EPL_STAMPS)

    def predict_at(now: datetime) -> JackpotRun:
        return predict_text(odds_con, odds_env.root, MAN_UTD_FULHAM, now)

    def market_of(run: JackpotRun) -> tuple[str | None, list[float]]:
        row = run.stored.fixtures.iloc[0]
        return row["market_source"], row[MARKET].to_numpy(dtype=float).tolist()

    # No snapshot known yet: the same version and numbers as a warehouse without odds rows,
    # or without the odds tables at all.
    early = predict_at(datetime(2024, 7, 31, tzinfo=UTC))
    plain_con = env.connect()
    try:
        plain = predict_text(plain_con, env.root, MAN_UTD_FULHAM, datetime(2024, 7, 31, tzinfo=UTC))
        plain_con.execute("DROP TABLE odds; DROP TABLE events")
        no_tables = predict_text(
            plain_con, env.root, MAN_UTD_FULHAM, datetime(2024, 7, 31, tzinfo=UTC)
        )
    finally:
        plain_con.close()
    assert early.version == plain.version == no_tables.version
    pd.testing.assert_frame_equal(
        early.stored.predictions.drop(columns="created_at"),
        plain.stored.predictions.drop(columns="created_at"),
    )
    assert early.stored.fixtures["market_source"].isna().all()
    assert "no_market_odds" in json.loads(early.stored.fixtures["flags"].iloc[0])

    # Each prediction sees the latest snapshot stamped at or before its time, never a later one.
    seen = []
    for now, expected, stamp in (
        (datetime(2024, 8, 2, tzinfo=UTC), first, "2024-08-01T16:22:00"),
        (datetime(2024, 8, 3, tzinfo=UTC), first, "2024-08-01T16:22:00"),
        (datetime(2024, 8, 4, 21, 51, 59, tzinfo=UTC), middle, "2024-08-04T00:22:00"),
        (datetime(2024, 8, 4, 21, 52, tzinfo=UTC), last, "2024-08-04T21:52:00"),
    ):
        run = predict_at(now)
        source, probs = market_of(run)
        assert source == f"odds_snapshot:pinnacle @ {stamp}+00:00"
        np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-12)
        seen.append(run)
    assert len({r.version for r in [early, *seen]}) == 4  # a newer snapshot: a new version
    assert seen[1].version == seen[0].version and not seen[1].created  # same data: same one
    assert not np.allclose(first, middle) and not np.allclose(middle, last)

    # Snapshots stamped at or after kickoff (in play) are never read, however late the asking.
    before = predict_at(NOW)
    odds_con.execute(
        "INSERT INTO odds SELECT 'in-play-' || hour, row_no, event_id, sport, commence_time, "
        "home_team, away_team, bookmaker, market, outcome, outcome_name, price * 3, point, "
        "bookmaker_last_update, market_last_update, commence_time + hour * INTERVAL 1 HOUR, "
        "two_way_h2h FROM odds, range(2) AS h(hour) WHERE home_team = 'Manchester United' "
        "AND away_team = 'Fulham' AND snapshot_time = TIMESTAMPTZ '2024-08-04 21:52:00+00'"
    )
    after = predict_at(NOW)
    assert after.version == before.version and not after.created
    np.testing.assert_allclose(market_of(after)[1], last, rtol=0, atol=1e-12)


def test_snapshot_market_falls_back_to_the_consensus_without_pinnacle(
    odds_env: Env, odds_con: duckdb.DuckDBPyConnection, store: FakeCalibrationStore
) -> None:
    """Without a Pinnacle line the market is the mean over every bookmaker with a complete,
    plausible line (overround in [0, 25 %]) of its 1/price normalized."""
    with_pinnacle = predict_text(odds_con, odds_env.root, MAN_UTD_FULHAM)
    odds_con.execute("DELETE FROM odds WHERE bookmaker = 'pinnacle'")
    run = predict_text(odds_con, odds_env.root, MAN_UTD_FULHAM)
    assert run.created and run.version != with_pinnacle.version
    lines = recorded_lines(EPL_STAMPS[-1], "Manchester United", "Fulham")
    usable = {
        book: prices
        for book, prices in lines.items()
        if book != "pinnacle" and None not in prices and 0 <= sum(1 / p for p in prices) - 1 <= 0.25
    }
    assert len(usable) >= 10
    expected = np.mean([multiplicative(p) for p in usable.values()], axis=0)
    fixture = run.stored.fixtures.iloc[0]
    np.testing.assert_allclose(fixture[MARKET].to_numpy(dtype=float), expected, atol=1e-12)
    assert fixture["market_source"] == (
        f"odds_snapshot:consensus({','.join(sorted(usable))}) @ 2024-08-04T21:52:00+00:00"
    )
    market = json.loads(run.stored.jackpot["version_key"])["fixtures"][0]["market"]
    assert market["method"] == "consensus"
    assert {b: v["prices"] for b, v in market["bookmakers"].items()} == usable
    b = run.stored.predictions[run.stored.predictions["set_id"] == "B"].iloc[0]
    assert not b["fell_back_to_a"]
    # The event without any odds row, replayed after the round: the recorded match's
    # football-data pre-closing line (never its closing line).
    odds_con.execute("DELETE FROM odds")
    bare = predict_text(odds_con, odds_env.root, MAN_UTD_FULHAM).stored.fixtures.iloc[0]
    assert bare["market_source"].startswith("football-data pinnacle pre-closing (E0-2024")
    assert "no_market_odds" not in json.loads(bare["flags"])
