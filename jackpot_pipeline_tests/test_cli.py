"""The ``jackpot`` command end to end, in a subprocess with every path in a tmp folder."""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from jackpot_pipeline.cli.run_pipeline import RANGE_END, RANGE_START

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


ARGS = ("run", "--league", "E0", "--season", "2023-24", "--season", "2024-25")
STAGE_JOBS = {"reference", "ingestion", "modelling", "calibration", "report", "odds_fetch_job"}


def instance(env: dict[str, str]) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


@dataclass(frozen=True)
class Killed:
    """A ``jackpot run`` killed with SIGKILL while its ingestion step held the pool slot."""

    output: str
    run_id: str


@pytest.fixture(scope="module")
def killed(env: dict[str, str]) -> Killed:
    """Start ``jackpot run`` and ``kill -9`` it once the first partition is ingested (the
    ingestion step is then still running and holds the single ``duckdb_warehouse`` slot)."""
    process = subprocess.Popen(
        [str(JACKPOT), *ARGS], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("  ingestion: [1/2]"):
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(lines)
    with instance(env) as dagster:
        runs = {r.job_name: r for r in dagster.get_runs()}
        pool = dagster.event_log_storage.get_concurrency_info("duckdb_warehouse")
    assert runs["reference"].status == dg.DagsterRunStatus.SUCCESS
    run = runs["ingestion"]
    assert run.status == dg.DagsterRunStatus.STARTED
    assert pool.active_run_ids == {run.run_id}  # the dead run holds the only slot
    return Killed("".join(lines), run.run_id)


@pytest.fixture(scope="module")
def run(env: dict[str, str], killed: Killed) -> subprocess.CompletedProcess:
    """``jackpot run`` on two E0 seasons after the killed one, with a coupon in the inbox: it
    must finish unaided (before this change it waited forever for the dead run's slot)."""
    return jackpot(env, *ARGS, timeout=900)


def test_a_run_killed_with_sigkill_is_recovered_by_the_next(
    run: subprocess.CompletedProcess, env: dict[str, str], killed: Killed
) -> None:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"run {killed.run_id[:8]} of a killed `jackpot run` marked failed" in run.stdout
    with instance(env) as dagster:
        dead = dagster.get_run_by_id(killed.run_id)
        pool = dagster.event_log_storage.get_concurrency_info("duckdb_warehouse")
        runs = dagster.get_runs()
    assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
    assert pool.active_slot_count == 0 and pool.pending_step_count == 0
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs if r.run_id != dead.run_id)
    # the partition ingested before the kill is not ingested twice
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        logged = con.execute(
            "SELECT league, season, count(*) FROM ingestion_log GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert logged == [("E0", "2023-24", 1), ("E0", "2024-25", 1)]


def test_every_run_is_a_named_job_the_ui_can_reexecute(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    """Each stage is one run of its job (both seasons in one range run), created with the
    origin of the code location the UI loads (workspace.yaml), so "Re-execute" works."""
    assert run.returncode == 0
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    with instance(env) as dagster:
        runs = [r for r in dagster.get_runs() if r.status == dg.DagsterRunStatus.SUCCESS]
    assert {r.job_name for r in runs} == STAGE_JOBS | {"jackpot_predictions_job"}
    assert len(runs) == len(STAGE_JOBS) + 1  # one run per stage, one per coupon
    for r in runs:
        origin = r.remote_job_origin
        assert origin is not None and r.job_code_origin is not None
        assert origin.location_name == location["python_module"]["module_name"]
        assert origin.repository_origin.repository_name == "__repository__"
    modelling = next(r for r in runs if r.job_name == "modelling")
    assert modelling.tags[RANGE_START] == "E0|2023-24"
    assert modelling.tags[RANGE_END] == "E0|2024-25"


def test_run_materializes_every_stage_and_summarizes(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for stage in ("reference", "ingestion", "modelling", "calibration", "report", "odds"):
        assert f"[{stage}] " in out and "of job " in out
    # the season ingested before the kill is not ingested again
    assert "[ingestion] 1 of 2 partitions to compute" in out
    # progress per partition, from the run's events
    assert "  ingestion: [1/1] E0 2024-25: loaded" in out
    assert "  modelling: E0 2023-24: " in out and "  modelling: E0 2024-25: " in out
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
    assert "of job jackpot_predictions_job" in run.stdout


def test_rerun_with_nothing_changed_launches_no_run(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    assert run.returncode == 0
    tables = ("matches", "match_odds", "oos_predictions", "odds", "jackpots", "ingestion_log")
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    with instance(env) as dagster:
        runs_before = len(dagster.get_runs())
    again = jackpot(env, *ARGS)
    assert again.returncode == 0, again.stdout[-3000:]
    for stage in ("reference", "ingestion", "modelling", "calibration", "report", "odds"):
        assert f"[{stage}] nothing to run" in again.stdout
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    assert after == before
    with instance(env) as dagster:
        assert len(dagster.get_runs()) == runs_before


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
