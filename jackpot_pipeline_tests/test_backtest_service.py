"""Backtests through the warehouse, the ``jackpot backtest`` entry point and the asset.

A real DuckDB file holds E0 2019-20 parsed from the shipped football-data CSV plus hand-made
walk-forward and prediction-set rows; figures are checked against the CSV read directly with
pandas (an independent path) and against hand computations.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.football_data import parse_football_data
from jackpot_pipeline.core.staking import StakeMethod, StakingConfig
from jackpot_pipeline.defs.backtests.assets import backtests
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.services import backtest, warehouse

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT / "data" / "football-data" / "1920" / "E0.csv"
JACKPOT = Path(sys.executable).with_name("jackpot")
START, END = date(2019, 8, 1), date(2020, 7, 31)


def _model_rows(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic stand-in walk-forward rows (λ, μ, a DC 1X2 with ρ = −0.1) refitted
    every Monday, and sets A (the model) and B (blends the closing market)."""
    from jackpot_pipeline.core.dixon_coles import score_grid

    n = len(matches)
    lam = 1.2 + 0.6 * np.sin(np.arange(n))
    mu = 1.1 + 0.4 * np.cos(np.arange(n))
    grid = score_grid(lam, mu, -0.1, 25)
    goals = np.arange(26)
    margin = np.subtract.outer(goals, goals)
    probs = np.stack([(grid * m).sum((1, 2)) for m in (margin > 0, margin == 0, margin < 0)], 1)
    day = pd.to_datetime(matches["match_date"])
    as_of = day - pd.to_timedelta(day.dt.dayofweek, unit="D")  # the Monday of the week
    oos = pd.DataFrame(
        {
            "match_id": matches["match_id"],
            "league": "E0",
            "season": "2019-20",
            "match_date": day,
            "as_of": as_of,
            "lambda_home": lam,
            "lambda_away": mu,
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
            "xi": 0.0065,
            "model_version": "test",
            "n_train_matches": 100,
            "converged": True,
            "home_fallback": False,
            "away_fallback": False,
        }
    )
    sets = []
    for name, source in (("A", None), ("B", "football-data pinnacle pre-closing")):
        sets.append(
            oos[
                ["match_id", "league", "season", "match_date", "p_home", "p_draw", "p_away"]
            ].assign(
                set_name=name,
                entropy=1.0,
                fell_back_to_a=False,
                decision_at=as_of,
                market_source=source,
            )
        )
    return oos, pd.concat(sets, ignore_index=True)


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bt") / "w.duckdb"
    parsed = parse_football_data(CSV.read_bytes(), "E0", "2019-20")
    matches = parsed.matches.assign(source_checksum="x", odds_source="pinnacle_closing")
    oos, sets = _model_rows(matches)
    con = warehouse.connect(path)
    for table, frame in (
        ("matches", matches),
        ("match_odds", parsed.odds),
        ("oos_predictions", oos),
        ("prediction_sets", sets),
    ):
        columns = [c for c in warehouse.table_columns(con, table) if c in frame.columns]
        warehouse.insert_frame(con, table, frame[columns])
    con.close()
    return path


def _config(name: str, method: str = "flat", **params: object) -> backtest.BacktestConfig:
    return backtest.BacktestConfig(
        strategy=name,
        start=START,
        end=END,
        params=dict(params),
        staking=StakingConfig(method=StakeMethod(method), flat_stake=10.0, min_stake=0.0),
    )


def test_flat_home_matches_the_csv_read_directly(warehouse_path: Path) -> None:
    raw = pd.read_csv(CSV, encoding="latin-1").dropna(subset=["B365H", "FTR"])
    won = raw["FTR"] == "H"
    expected_profit = float((10 * (raw["B365H"] - 1)).where(won, -10).sum())
    con = warehouse.connect(warehouse_path, read_only=True)
    result = backtest.run(con, _config("flat_home"))
    con.close()
    s = result.summary
    assert s["bets"] == len(raw)
    assert s["profit"] == pytest.approx(expected_profit, abs=1e-6)
    assert s["roi"] == pytest.approx(expected_profit / (10 * len(raw)))
    assert s["win_rate"] == pytest.approx(won.mean())
    # every bet at the pre-closing price; CLV against Pinnacle's margin-free closing price
    first = result.bets.sort_values("kickoff").iloc[0]
    row = raw.iloc[0]
    assert first["price"] == row["B365H"]
    inverse = 1 / row[["PSCH", "PSCD", "PSCA"]].to_numpy(dtype=float)
    assert first["clv"] == pytest.approx(row["B365H"] * inverse[0] / inverse.sum() - 1)
    low, high = result.roi_interval
    assert low < s["roi"] < high


def test_forecast_adapter_reads_the_delivered_decision_instants_and_market_sources(
    warehouse_path: Path,
) -> None:
    con = warehouse.connect(warehouse_path, read_only=True)
    sets = backtest.load_forecasts(con, START, END, None)
    stored = con.execute("SELECT match_id, as_of FROM oos_predictions").df()
    con.close()
    assert set(backtest.FORECAST_SOURCE_COLUMNS) <= set(sets.columns)
    assert sets.loc[sets["set_name"] == "A", "market_source"].isna().all()
    assert sets.loc[sets["set_name"] == "B", "market_source"].str.contains("pre-closing").all()
    as_of = stored.set_index("match_id")["as_of"]
    made = sets.set_index("match_id")["decision_at"]
    assert (pd.to_datetime(made) == pd.to_datetime(as_of.loc[made.index])).all()
    forecasts, dropped = backtest.forecast_rows(sets, pd.DataFrame())
    assert dropped == 0  # a pre-closing market is known at the decision instant
    assert set(forecasts["forecast"]) == {"A", "B"}
    closing = sets.assign(market_source=sets["market_source"].str.replace("pre-closing", "closing"))
    _, dropped = backtest.forecast_rows(closing, pd.DataFrame())
    assert dropped == int((sets["set_name"] == "B").sum())  # a closing line is not known then


def test_model_and_ou_value_use_only_forecasts_made_in_time(warehouse_path: Path) -> None:
    con = warehouse.connect(warehouse_path, read_only=True)
    inputs = backtest.load_inputs(con, _config("model_value"))
    model = backtest.run(con, _config("model_value", "kelly"), inputs=inputs)
    ou = backtest.run(con, _config("ou_value", "kelly"), inputs=inputs)
    with pytest.raises(backtest.BacktestError, match="unknown strategy"):
        backtest.run(con, _config("nope"), inputs=inputs)
    con.close()
    forecasts = inputs.data.forecasts
    assert (forecasts["forecast"] == "goal_grid").any()
    made = forecasts.groupby("match_id")["available_at"].max()
    decided = inputs.data.matches.set_index("match_id")["decision_at"]
    assert (made <= decided.loc[made.index]).all()
    for result in (model, ou):
        assert result.summary["bets"] > 0
        bets = result.bets
        assert (bets["edge"] >= 0.05 - 1e-12).all()
        assert not bets.duplicated(["match_id", "market"]).any()  # one bet per market
        assert (bets["stake"] <= 100.0 + 1e-9).all()
    assert set(ou.bets["market"]) == {"OU2.5"}


def test_store_is_idempotent_and_files_round_trip(warehouse_path: Path, tmp_path: Path) -> None:
    con = warehouse.connect(warehouse_path)
    result = backtest.run(con, _config("flat_favourite"))
    png = backtest.equity_png(result, tmp_path / "eq.png")
    for _ in range(2):
        run_id = backtest.store(con, result, png)
    stored = con.execute(
        "SELECT count(*), sum(profit) FROM backtest_bets WHERE run_id = ?", [run_id]
    ).fetchone()
    runs = con.execute("SELECT n_bets, profit FROM backtest_runs WHERE run_id = ?", [run_id])
    assert runs.fetchall() == [(result.summary["bets"], pytest.approx(result.summary["profit"]))]
    con.close()
    assert stored[0] == result.summary["bets"]
    assert stored[1] == pytest.approx(result.summary["profit"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = backtest.load_json(backtest.save_json(result, tmp_path / "r.json"))
    assert again.summary == result.summary and again.config == result.config
    assert len(again.bets) == len(result.bets)


def _jackpot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JACKPOT), "backtest", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_through_the_entry_point(warehouse_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JACKPOT_WAREHOUSE_PATH": str(warehouse_path)}
    listing = _jackpot(env, "list-strategies", "--json")
    assert listing.returncode == 0, listing.stderr
    names = {row["name"] for row in json.loads(listing.stdout)}
    assert {"flat_home", "sharp_ev", "arbitrage", "model_value", "ou_value"} <= names
    files = []
    for name, stake in (("flat_home", "flat"), ("sharp_ev", "kelly")):
        out = tmp_path / f"{name}.json"
        done = _jackpot(
            env, "run", "--strategy", name, "--league", "E0", "--start", "2019-08-01",
            "--end", "2020-07-31", "--stake", stake, "--output-json", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ROI" in done.stdout
        files.append(out)
    saved = json.loads(files[0].read_text())
    assert {"config", "summary", "breakdowns", "bets"} <= set(saved)
    assert saved["summary"]["bets"] == len(saved["bets"]) > 300
    shown = _jackpot(env, "show", str(files[0]), "--verbose")
    assert shown.returncode == 0 and "by bookmaker" in shown.stdout, shown.stderr
    compared = _jackpot(env, "compare", *map(str, files), "--json")
    assert [r["strategy"] for r in json.loads(compared.stdout)] == ["flat_home", "sharp_ev"]
    exported = _jackpot(env, "export", str(files[0]), "--output", str(tmp_path / "b.csv"))
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "b.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(saved["bets"])
    assert list(rows[0]) == list(backtest.EXPORT_COLUMNS)
    # bad input: a specific message and exit code 2, never a traceback
    window = ("--start", "2019-08-01", "--end", "2020-07-31")
    for args, message in (
        (("run", "--strategy", "nope", *window), "unknown"),
        (("run", "--strategy", "flat_home", "--start", "2020-08-01", "--end", "2019-07-31"), "before"),  # noqa: E501
        (("run", "--strategy", "sharp_ev", *window, "--param", "min_ev=abc"), "must be float"),
        (("run", "--strategy", "sharp_ev", *window, "--param", "edge=1"), "unknown parameter"),
        (("show", str(tmp_path / "missing.json")), "no such file"),
        (("show", str(tmp_path / "b.csv")), "not a backtest result"),
    ):  # fmt: skip
        failed = _jackpot(env, *args)
        assert failed.returncode == 2 and message in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr


def test_backtests_asset_materializes(warehouse_path: Path) -> None:
    result = dg.materialize(
        [backtests],
        resources={"warehouse_db": WarehouseResource(path=str(warehouse_path))},
        run_config={
            "ops": {
                "backtests": {
                    "config": {"strategies": ["flat_draw", "arbitrage"], "start": "2019-08-01"}
                }
            }
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("backtests")[0].metadata
    assert metadata["strategies"].value == 2
    assert "flat_draw" in metadata["summary"].value
    con = warehouse.connect(warehouse_path, read_only=True)
    stored = con.execute("SELECT strategy FROM backtest_runs ORDER BY strategy").fetchall()
    con.close()
    assert ("arbitrage",) in stored and ("flat_draw",) in stored
    assert (warehouse_path.parent / "reports" / "backtest_flat_draw.png").exists()
