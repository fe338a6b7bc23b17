"""Enabling a league the project does not ship: its registry line and its files, nothing else.

A synthetic league ("ZL1", Zedland: ten clubs, a double round robin in 2023-24 and 2024-25,
goals drawn from fixed Poisson rates with a fixed seed, bookmaker prices from the same rates
with a margin) is written to a temporary data folder with a copy of the registry plus its line;
``jackpot run --league ZL1`` in a subprocess then carries it through ingestion, models,
calibration, prediction sets and reports like the shipped leagues."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy.stats import poisson

from jackpot_pipeline.core.seasons import season_code
from jackpot_pipeline.settings import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
JACKPOT = Path(sys.executable).with_name("jackpot")
CODE = "ZL1"
LINE = f"{CODE},Zed League,Zedland,,1,,true,2023-24,90"  # blank country_code: derived 'zed'
CLUBS = ("Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Gum", "Hazel", "Ivy", "Juniper")
STRENGTH = dict(zip(CLUBS, np.linspace(0.45, -0.45, len(CLUBS)), strict=True))
SEASONS = ("2023-24", "2024-25")
HEADER = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,PSH,PSD,PSA"


def rounds() -> list[list[tuple[str, str]]]:
    """A double round robin by the circle method: each club plays once a round, every ordered
    pair meets once (the second half swaps home and away)."""
    order, first_half = list(CLUBS), []
    for number in range(len(CLUBS) - 1):
        pairs = [(order[i], order[-1 - i]) for i in range(len(CLUBS) // 2)]
        first_half.append([(a, b) if number % 2 else (b, a) for a, b in pairs])
        order = [order[0], order[-1], *order[1:-1]]
    return first_half + [[(b, a) for a, b in matches] for matches in first_half]


def fixtures() -> list[tuple[str, str]]:
    return [pair for matches in rounds() for pair in matches]


def outcome_probs(home: str, away: str) -> np.ndarray:
    """1X2 of independent Poisson goals: rates exp(0.25 + s_h − s_a) and exp(s_a − s_h)."""
    goals = np.arange(11)
    ph = poisson.pmf(goals, np.exp(0.25 + STRENGTH[home] - STRENGTH[away]))
    pa = poisson.pmf(goals, np.exp(STRENGTH[away] - STRENGTH[home]))
    grid = np.outer(ph, pa)
    probs = np.array([np.tril(grid, -1).sum(), np.trace(grid), np.triu(grid, 1).sum()])
    return probs / probs.sum()


def season_file(season: str, rng: np.random.Generator) -> str:
    """The season's football-data CSV: a round a week from 5 August."""
    start = date(int(season[:4]), 8, 5)
    lines = [HEADER]
    per_round = len(CLUBS) // 2
    for index, (home, away) in enumerate(fixtures()):
        day = start + timedelta(weeks=index // per_round)
        h = int(rng.poisson(np.exp(0.25 + STRENGTH[home] - STRENGTH[away])))
        a = int(rng.poisson(np.exp(STRENGTH[away] - STRENGTH[home])))
        result = "H" if h > a else "D" if h == a else "A"
        odds = [f"{1 / (p * 1.05):.2f}" for p in outcome_probs(home, away)]
        lines.append(
            f"{CODE},{day:%d/%m/%Y},15:00,{home},{away},{h},{a},{result}," + ",".join(odds + odds)
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def zed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("zed")
    rng = np.random.default_rng(20261130)
    for season in SEASONS:
        folder = root / "football-data" / season_code(season)
        folder.mkdir(parents=True)
        (folder / f"{CODE}.csv").write_text(season_file(season, rng))
    registry = (DATA_DIR / "leagues.csv").read_text().rstrip("\n") + "\n" + LINE + "\n"
    (root / "leagues.csv").write_text(registry)
    (root / "jackpots" / "inbox").mkdir(parents=True)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JACKPOT_", "DAGSTER_"))},
        "JACKPOT_TODAY": "2026-11-30",
        "JACKPOT_LEAGUES_PATH": str(root / "leagues.csv"),
        "JACKPOT_FOOTBALL_DATA_DIR": str(root / "football-data"),
        "JACKPOT_WAREHOUSE_PATH": str(root / "w.duckdb"),
        "JACKPOT_RAW_DIR": str(root / "raw"),
        "JACKPOT_JACKPOTS_DIR": str(root / "jackpots"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "ODDS_API_KEY": "",
    }


def jackpot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JACKPOT), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def run(zed: dict[str, str]) -> subprocess.CompletedProcess:
    return jackpot(zed, "run", "--league", CODE)


def count(env: dict[str, str], sql: str) -> int:
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])


def test_a_new_league_runs_through_every_stage(
    run: subprocess.CompletedProcess, zed: dict[str, str]
) -> None:
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for season in SEASONS:  # progress per partition, from the runs' events
        assert f"{CODE} {season}: loaded" in run.stdout
    assert "FAILED" not in run.stdout
    per_season = len(fixtures())
    assert count(zed, f"SELECT count(*) FROM matches WHERE league = '{CODE}'") == 2 * per_season
    teams = count(
        zed, "SELECT count(*) FROM teams WHERE country = 'Zedland' AND team_id LIKE 'zed-%'"
    )
    assert teams == len(CLUBS)
    where = f"WHERE league = '{CODE}'"
    for table in ("team_features", "models", "calibration_curves", "prediction_set_params"):
        assert count(zed, f"SELECT count(*) FROM {table} {where}") > 0, table
    for table in ("oos_predictions", "prediction_sets"):  # every match of the second season
        second = count(
            zed, f"SELECT count(DISTINCT match_id) FROM {table} {where} AND season = '2024-25'"
        )
        assert second == per_season, table
    assert count(zed, f"SELECT count(*) FROM validation_results {where}") > 0
    assert "[report] -: ok" in run.stdout


def test_the_new_league_is_listed_with_its_data(
    run: subprocess.CompletedProcess, zed: dict[str, str]
) -> None:
    assert run.returncode == 0
    listed = jackpot(zed, "leagues", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    row = next(r for r in json.loads(listed.stdout) if r["code"] == CODE)
    assert row["enabled"] and row["seasons_with_data"] == list(SEASONS)
    assert row["matches"] == 2 * len(fixtures()) and row["country"] == "Zedland"
    status = jackpot(zed, "status", "--json")
    data = json.loads(status.stdout)
    assert data["current_season"] == "2026-27"
    zl1 = next(r for r in data["leagues"] if r["league"] == CODE)
    assert zl1["latest_result"] is not None and zl1["stale"]


COUPON = """\
# id: zed-coupon
home,away,kickoff,league
Alder FC,Juniper,2024-12-14T15:00:00+00:00,ZL1
Birch,Ivy,2025-03-01T15:00:00+00:00,ZL1
"""


def test_a_coupon_of_the_new_league_is_predicted_with_every_set(
    run: subprocess.CompletedProcess, zed: dict[str, str], tmp_path: Path
) -> None:
    """Names resolve through the clubs' football-data names (no alias line was written); the
    March fixture, three months after the league's last result, is flagged stale_history."""
    assert run.returncode == 0
    coupon = tmp_path / "zed.csv"
    coupon.write_text(COUPON)
    predicted = jackpot(zed, "predict", str(coupon), "--set", "A", "--budget", "4")
    assert predicted.returncode == 0, predicted.stdout[-3000:] + predicted.stderr[-3000:]
    assert "Alder FC v Juniper" in predicted.stdout and "not betting advice" in predicted.stdout
    with duckdb.connect(zed["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        fixtures = con.execute(
            "SELECT home_team_id, flags FROM jackpot_fixtures ORDER BY match_order"
        ).fetchall()
        sets = con.execute("SELECT count(DISTINCT set_id) FROM predictions").fetchone()[0]
    assert [team for team, _ in fixtures] == ["zed-alder", "zed-birch"]
    assert "stale_history" not in json.loads(fixtures[0][1])
    assert "stale_history" in json.loads(fixtures[1][1])
    assert sets == 7
