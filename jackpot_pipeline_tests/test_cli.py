"""The ``jackpot`` command end to end, in a subprocess with every path in a tmp folder, and in
process through ``cli.main`` on the same warehouse: text (100 columns) and ``--json``."""

import json
import math
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
from scipy.stats import poisson

from jackpot_pipeline import cli
from jackpot_pipeline.cli.run_pipeline import RANGE_END, RANGE_START

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "jackpots" / "examples" / "2025-04-12_football-data-names.csv"
JACKPOT = Path(sys.executable).with_name("jackpot")
COUPON = "e0-2025-04-12.csv"  # the example's E0 fixtures: the run below ingests only E0


def jackpot(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JACKPOT), *args],
        env={**env, "COLUMNS": "100"},
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
STAGE_JOBS = {
    "reference",
    "ingestion",
    "modelling",
    "stacking",
    "calibration",
    "report",
    "odds_fetch_job",
}


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
    assert status.returncode == 0 and "epl" in status.stdout


def test_predict_rejects_an_invalid_coupon_with_every_problem(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("home,away,kickoff\nArsenal,Arsenal,2025-04-12\nNowhere FC,Chelsea,12/04/25\n")
    result = jackpot(env, "predict", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert "Arsenal" in result.stderr and "Nowhere FC" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = jackpot(env, "predict", str(bad), "--json")
    problems = json.loads(as_json.stdout)["error"]["problems"]
    assert as_json.returncode == 2 and len(problems) >= 2


TYPO_COUPON = (
    "# id: typos\nhome,away,kickoff,league\nNewcastle,Man Untied,2025-04-13T16:30:00+01:00,E0\n"
    "Arsnal,Brentford,2025-04-12T17:30:00+01:00,E0\n"
)


def assert_fits(text: str, width: int = 100) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert too_wide == [], too_wide


def query(env: dict[str, str], sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(env["JACKPOT_WAREHOUSE_PATH"], read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_predict_reports_and_stores_fuzzy_names_in_100_columns(
    run: subprocess.CompletedProcess, env: dict[str, str], tmp_path: Path
) -> None:
    assert run.returncode == 0
    coupon = tmp_path / "typos.csv"
    coupon.write_text(TYPO_COUPON)
    predicted = jackpot(env, "predict", str(coupon))
    assert predicted.returncode == 0, predicted.stdout[-3000:] + predicted.stderr[-3000:]
    out = predicted.stdout
    assert_fits(out)
    assert "Newcastle v Man Untied~" in out
    assert (
        "row 1: away name 'Man Untied' matched approximately to Man United (eng-man-united, "
        "score 0.90)" in " ".join(out.split())
    )
    assert "row 2: home name 'Arsnal' matched approximately to Arsenal" in " ".join(out.split())
    assert "Sun 13 Apr 15:30" in out  # short kickoff, UTC
    assert "\x1b[" not in out  # no colour codes when piped
    stored = query(
        env,
        "SELECT match_order, name_matches FROM jackpot_fixtures f JOIN jackpots j "
        "USING (jackpot_version) WHERE j.coupon_id = 'typos' ORDER BY match_order",
    )
    matches = {row: json.loads(text) for row, text in stored}
    assert [(m["side"], m["written"], m["team_id"]) for m in matches[1]] == [
        ("away", "Man Untied", "eng-man-united")
    ]
    assert matches[2][0]["score"] == pytest.approx(12 / 13)  # difflib ratio of arsnal/arsenal


def test_predict_json_is_one_document_with_the_stored_numbers(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    coupon = Path(env["JACKPOT_JACKPOTS_DIR"]) / "processed" / COUPON
    predicted = jackpot(env, "predict", str(coupon), "--set", "B", "--budget", "4", "--json")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    document = json.loads(predicted.stdout)  # the whole of stdout is one document
    assert document["set"] == "B" and document["budget"] == 4 and document["created"] is False
    version = document["jackpot"]["jackpot_version"]
    stored = query(
        env,
        "SELECT match_order, prob_home, prob_draw, prob_away FROM predictions "
        "WHERE jackpot_version = ? AND set_id = 'B' ORDER BY match_order",
        [version],
    )
    assert [f["sets"]["B"]["probs"] for f in document["fixtures"]] == [list(r[1:]) for r in stored]
    assert all(Path(p).exists() for p in document["exports"])


def test_predict_with_a_results_file_that_matches_nothing_is_one_line(
    run: subprocess.CompletedProcess, env: dict[str, str], tmp_path: Path
) -> None:
    coupon = Path(env["JACKPOT_JACKPOTS_DIR"]) / "processed" / COUPON
    results = tmp_path / "results.csv"
    results.write_text("row,result\n99,H\n")
    predicted = jackpot(env, "predict", str(coupon), "--results", str(results))
    assert predicted.returncode == 1 and predicted.stdout == ""
    (line,) = predicted.stderr.strip().splitlines()
    assert "jackpot predict: error: cannot predict" in line and "matches no fixture" in line


def test_explain_traces_a_fixture_to_its_stored_rows(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    coupon = Path(env["JACKPOT_JACKPOTS_DIR"]) / "processed" / COUPON
    text = jackpot(env, "explain", str(coupon), "--fixture", "2")
    assert text.returncode == 0, text.stdout[-3000:] + text.stderr[-3000:]
    assert_fits(text.stdout)
    for part in ("Arsenal v Brentford", "λ home = exp(", "Top scores:", "Dixon-Coles", "calibrated",
                 "market", "G ensemble", "not betting advice"):  # fmt: skip
        assert part in text.stdout, part
    explained = json.loads(jackpot(env, "explain", str(coupon), "--fixture", "2", "--json").stdout)
    version = explained["jackpot"]["jackpot_version"]
    (row,) = query(
        env,
        "SELECT lambda_home, lambda_away, rho, likely_home_goals, likely_away_goals, "
        "likely_score_prob, dc_prob_home, calibrated_prob_home, model_id, calibration_version "
        "FROM jackpot_fixtures WHERE jackpot_version = ? AND match_order = 2",
        [version],
    )
    model = explained["model"]
    assert (model["lambda_home"], model["lambda_away"], model["rho"]) == row[:3]
    assert model["lambda_from_ratings"]["lambda_home"] == pytest.approx(row[0], rel=1e-9)
    assert model["lambda_from_ratings"]["lambda_away"] == pytest.approx(row[1], rel=1e-9)
    # Top score: the stored likeliest score, its probability by the closed form
    # τ(x, y)·Pois(x; λ)·Pois(y; μ) (scipy), independently of the project's grid.
    lam, mu, rho = row[:3]
    top = model["top_scores"][0]
    x, y = row[3], row[4]
    tau = {(0, 0): 1 - lam * mu * rho, (0, 1): 1 + lam * rho, (1, 0): 1 + mu * rho,
           (1, 1): 1 - rho}.get((x, y), 1.0)  # fmt: skip
    assert top["score"] == f"{x}-{y}"
    assert top["prob"] == pytest.approx(tau * poisson.pmf(x, lam) * poisson.pmf(y, mu), rel=1e-9)
    assert top["prob"] == pytest.approx(row[5], rel=1e-9)
    probs = [s["prob"] for s in model["top_scores"]]
    assert probs == sorted(probs, reverse=True) and len(probs) == 5
    assert explained["calibration"]["before"][0] == row[6]
    assert explained["calibration"]["after"][0] == row[7]
    assert model["model_id"] == row[8] and explained["calibration"]["version"] == row[9]
    sets = query(
        env,
        "SELECT set_id, prob_home, prob_draw, prob_away, blend_alpha FROM predictions "
        "WHERE jackpot_version = ? AND match_order = 2 ORDER BY set_id",
        [version],
    )
    assert [(s["set"], *s["probs"], s["model_weight"]) for s in explained["sets"]] == sets
    assert_log_pool(explained)


def assert_log_pool(explained: dict) -> None:
    """Sets B and C are the logarithmic pool A^w·M^(1−w) / Σ of the calibrated model and the
    market with the model weight w that explain shows (recomputed here)."""
    a = explained["calibration"]["after"]
    market = explained["market"]["probs"]
    for s in explained["sets"]:
        if s["set"] in ("B", "C") and not s["fell_back_to_a"]:
            w = s["model_weight"]
            pooled = [p**w * m ** (1 - w) for p, m in zip(a, market, strict=True)]
            assert s["probs"] == pytest.approx([v / sum(pooled) for v in pooled], abs=1e-12)


def test_explain_a_historical_match(run: subprocess.CompletedProcess, env: dict[str, str]) -> None:
    (match_id, lam, p_home) = query(
        env, "SELECT match_id, lambda_home, p_home FROM oos_predictions ORDER BY match_id LIMIT 1"
    )[0]
    text = jackpot(env, "explain", "--match", match_id)
    assert text.returncode == 0, text.stdout[-3000:] + text.stderr[-3000:]
    assert_fits(text.stdout)
    assert "Walk-forward forecast" in text.stdout
    explained = json.loads(jackpot(env, "explain", "--match", match_id, "--json").stdout)
    assert explained["model"]["lambda_home"] == lam
    assert explained["calibration"]["before"][0] == p_home
    stored = query(
        env,
        "SELECT set_name, p_home FROM prediction_sets WHERE match_id = ? ORDER BY set_name",
        [match_id],
    )
    assert [(s["set"], s["probs"][0]) for s in explained["sets"]] == stored
    assert math.isclose(sum(explained["sets"][0]["probs"]), 1.0)
    assert explained["market"]["margin_method"] == "shin"
    assert_log_pool(explained)
    unknown = jackpot(env, "explain", "--match", "no-such-match")
    assert unknown.returncode == 1 and "no match 'no-such-match'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_report_and_status_in_100_columns_and_json(
    run: subprocess.CompletedProcess, env: dict[str, str]
) -> None:
    for command in ("report", "status"):
        text = jackpot(env, command)
        assert text.returncode == 0, text.stderr[-3000:]
        assert_fits(text.stdout)
    report = json.loads(jackpot(env, "report", "--json").stdout)
    validation = report["validation"]
    assert {m["forecast"] for m in validation["metrics"]} >= {"A pure model"}
    assert validation["n"] == max(m["n"] for m in validation["metrics"])
    pooled = report["pooled"]
    for name in "ABCDEFG":  # every set against both markets, with an interval
        for reference in ("market", "closing_market"):
            diff = pooled["vs"][name][reference]["rps"]
            assert diff["low"] <= diff["mean"] <= diff["high"]
    status = json.loads(jackpot(env, "status", "--json").stdout)
    epl = next(s for s in status["odds"]["sports"] if s["sport"] == "soccer_epl")
    assert (
        epl["odds_rows"] == query(env, "SELECT count(*) FROM odds WHERE sport = 'soccer_epl'")[0][0]
    )


def test_in_process_json_leaves_nothing_else_on_stdout(
    run: subprocess.CompletedProcess,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        if key.startswith("JACKPOT_"):
            monkeypatch.setenv(key, value)
    coupon = Path(env["JACKPOT_JACKPOTS_DIR"]) / "processed" / COUPON
    assert cli.main(["predict", str(coupon), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["fixtures"]) == 3
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.main(["explain", str(coupon), "--fixture", "3"]) == 0
    out = capsys.readouterr().out
    assert_fits(out)
    assert "Newcastle v Man United" in out
