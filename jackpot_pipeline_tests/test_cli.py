"""The ``jackpot`` command end to end, in a subprocess with every path in a tmp folder."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "jackpots" / "examples" / "2025-04-12_football-data-names.csv"
JACKPOT = Path(sys.executable).with_name("jackpot")
COUPON = "e0-2025-04-12.csv"  # the example's E0 fixtures: the run below ingests only E0


def jackpot(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JACKPOT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    (root / "jackpots" / "inbox").mkdir(parents=True)
    lines = EXAMPLE.read_text().splitlines()
    e0_only = [line for line in lines if not line[:1].isupper() or line.endswith(",E0")]
    (root / "jackpots" / "inbox" / COUPON).write_text("\n".join(e0_only) + "\n")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JACKPOT_", "DAGSTER_"))},
        "JACKPOT_WAREHOUSE_PATH": str(root / "w.duckdb"),
        "JACKPOT_RAW_DIR": str(root / "raw"),
        "JACKPOT_JACKPOTS_DIR": str(root / "jackpots"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "ODDS_API_KEY": "",
    }


@pytest.fixture(scope="module")
def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    """``jackpot run`` on two E0 seasons, with a coupon waiting in the inbox."""
    return jackpot(env, "run", "--league", "E0", "--season", "2023-24", "--season", "2024-25")


def test_run_materializes_every_stage_and_summarizes(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for stage in ("reference", "ingestion", "modelling", "calibration", "report", "odds"):
        assert f"[{stage} 1/" in out
    assert "[ingestion 2/2] E0 2024-25: ok" in out
    assert "Total matches: 760" in out
    assert "0 failed" in out.split("Runs:")[1].splitlines()[0]
    assert env["JACKPOT_WAREHOUSE_PATH"] in out
    assert "jackpot ui" in out
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM matches").fetchall()[0][0] == 760
        assert con.execute("SELECT count(*) FROM oos_predictions").fetchall()[0][0] > 300
        assert con.execute("SELECT count(*) FROM odds").fetchall()[0][0] == 18892
        assert con.execute("SELECT count(*) FROM jackpots").fetchall()[0][0] == 1


def test_run_moves_the_inbox_coupon_to_processed(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    assert run.returncode == 0
    jackpots = Path(env["JACKPOT_JACKPOTS_DIR"])
    assert not list((jackpots / "inbox").iterdir())
    assert [p.name for p in (jackpots / "processed").iterdir()] == [COUPON]
    assert len(list((jackpots / "out").glob("*.json"))) == 1
    assert "[jackpots 1/1]" in run.stdout


def test_rerun_is_idempotent(run: subprocess.CompletedProcess, env: dict[str, str]) -> None:
    assert run.returncode == 0
    tables = ("matches", "match_odds", "oos_predictions", "odds", "jackpots", "ingestion_log")
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    again = jackpot(env, "run", "--league", "E0", "--season", "2023-24")
    assert again.returncode == 0, again.stdout[-3000:]
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    assert after == before


def test_predict_report_and_status(run: subprocess.CompletedProcess, env: dict[str, str]) -> None:
    assert run.returncode == 0
    coupon = Path(env["JACKPOT_JACKPOTS_DIR"]) / "processed" / COUPON
    predicted = jackpot(env, "predict", str(coupon), "--set", "A", "--budget", "8")
    assert predicted.returncode == 0, predicted.stdout[-3000:] + predicted.stderr[-3000:]
    assert "not betting advice" in predicted.stdout
    assert "Best 8-line ticket" in predicted.stdout
    report = jackpot(env, "report")
    assert report.returncode == 0 and "closing market" in report.stdout
    status = jackpot(env, "status")
    assert status.returncode == 0 and "soccer_epl" in status.stdout


def test_predict_rejects_an_invalid_coupon_with_every_problem(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("home,away,kickoff\nArsenal,Arsenal,2025-04-12\nNowhere FC,Chelsea,12/04/25\n")
    result = jackpot(env, "predict", str(bad))
    assert result.returncode == 2
    assert "Arsenal" in result.stdout and "Nowhere FC" in result.stdout
