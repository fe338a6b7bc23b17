"""Every misuse of the ``jackpot`` command ends in one clear line and a non-zero exit, driven
through the entry point (``cli.main``) — never a traceback, never a silent exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jackpot_pipeline import cli
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS
from jackpot_pipeline.services import warehouse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "jackpots" / "examples" / "2025-04-12_football-data-names.csv"


@pytest.fixture(autouse=True)
def tmp_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every path of the project in a tmp folder; no warehouse yet."""
    monkeypatch.setenv("JACKPOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JACKPOT_WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("JACKPOT_JACKPOTS_DIR", str(tmp_path / "jackpots"))
    monkeypatch.setenv("JACKPOT_LOCK_TIMEOUT_S", "1")
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, *expected: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["predict", "missing.csv"], ["no such file: missing.csv"]),
        (["predict", "."], ["is a directory"]),
        (["predict", str(EXAMPLE), "--budget", "0"], ["--budget", "at least 1, got 0"]),
        (["predict", str(EXAMPLE), "--budget", "-5"], ["--budget", "at least 1, got -5"]),
        (["predict", str(EXAMPLE), "--budget", "ten"], ["'ten' is not a whole number"]),
        (["predict", str(EXAMPLE), "--set", "Z"], ["invalid choice: 'Z'"]),
        (["predict", str(EXAMPLE), "--results", "nope.csv"], ["no such file: nope.csv"]),
        (["run", "--league", "XX"], ["unknown league 'XX'", ", ".join(LEAGUE_CODES)]),
        (["run", "--season", "1999-00"], ["unknown season '1999-00'", SEASONS[0], SEASONS[-1]]),
        (["run", "--season", "2023/24"], ["unknown season '2023/24'", "written like"]),
        (["explain"], ["give a COUPON with --fixture N, or --match MATCH_ID"]),
        (["explain", str(EXAMPLE)], ["--fixture N is required"]),
        (["explain", str(EXAMPLE), "--fixture", "0"], ["at least 1"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        (["status", "--bogus"], ["unrecognized arguments: --bogus"]),
        ([], ["required: COMMAND"]),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_touch_nothing(
    capsys: pytest.CaptureFixture[str], tmp_env: Path, argv: list[str], expected: list[str]
) -> None:
    code, out, err = call(capsys, *argv)
    assert code == 2
    assert out == ""
    assert_one_line(err, "error:", *expected)
    assert not (tmp_env / "w.duckdb").exists()  # validated before anything is stored
    assert not (tmp_env / "raw").exists()


def test_run_accepts_known_league_and_season_values() -> None:
    args = cli.build_parser().parse_args(["run", "--league", "e0", "--season", SEASONS[-1]])
    assert args.league == ["E0"] and args.season == [SEASONS[-1]]


@pytest.mark.parametrize("command", ["report", "explain"])  # status works without one
def test_reads_without_a_warehouse_say_what_to_run(
    capsys: pytest.CaptureFixture[str], tmp_env: Path, command: str
) -> None:
    argv = [command] if command != "explain" else [command, "--match", "x"]
    code, out, err = call(capsys, *argv)
    assert code == 1 and out == ""
    assert_one_line(err, f"jackpot {command}: error: no warehouse at", "jackpot run")
    assert not (tmp_env / "w.duckdb").exists()


def test_json_errors_are_one_document_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "report", "--json")
    assert code == 1
    document = json.loads(out)
    assert document["error"]["exit_code"] == 1
    assert "no warehouse" in document["error"]["message"]
    assert_one_line(err, "no warehouse")


def test_reads_on_an_empty_warehouse_explain_what_is_missing(
    capsys: pytest.CaptureFixture[str], tmp_env: Path
) -> None:
    warehouse.connect(tmp_env / "w.duckdb").close()
    code, _, err = call(capsys, "report")
    assert code == 1
    assert_one_line(err, "no pooled validation results yet", "validation_report_pooled")
    code, _, err = call(capsys, "explain", str(EXAMPLE), "--fixture", "1")
    assert code == 1
    assert_one_line(err, "no jackpot has been predicted yet")
    code, out, err = call(capsys, "status")
    assert code == 0 and "No odds fetched yet" in out


@pytest.fixture
def held_lock(tmp_env: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the warehouse's write lock (until killed)."""
    path = tmp_env / "w.duckdb"
    warehouse.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', "
            "flush=True); time.sleep(120)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait()


@pytest.mark.parametrize(
    "argv",
    [["status"], ["report"], ["explain", "jp-x", "--fixture", "1"], ["predict", str(EXAMPLE)]],
)
def test_a_write_lock_makes_commands_wait_then_fail_with_one_line(
    capsys: pytest.CaptureFixture[str], held_lock: subprocess.Popen, argv: list[str]
) -> None:
    started = time.monotonic()
    code, out, err = call(capsys, *argv)
    assert time.monotonic() - started < 20
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert "is locked by another process (a run?); waiting up to 1 s" in lines[0]
    assert f"jackpot {argv[0]}: error:" in lines[-1] and "waited 1 s" in lines[-1]
    assert len(lines) == 2


def test_a_read_waits_for_the_writer_and_then_succeeds(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    held_lock: subprocess.Popen,
) -> None:
    monkeypatch.setenv("JACKPOT_LOCK_TIMEOUT_S", "30")
    release = subprocess.Popen(
        [sys.executable, "-c", f"import time, os; time.sleep(1.5); os.kill({held_lock.pid}, 9)"]
    )
    code, out, err = call(capsys, "status", "--json")
    release.wait()
    assert code == 0, err
    assert json.loads(out)["odds"]["sports"] == []
    assert "waiting up to 30 s" in err


def test_an_unexpected_error_is_logged_to_a_file_the_line_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_env: Path
) -> None:
    from jackpot_pipeline.services import status

    warehouse.connect(tmp_env / "w.duckdb").close()

    def broken(con: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(status, "odds_summary", broken)
    code, out, err = call(capsys, "status")
    assert code == 1 and out == ""
    assert_one_line(err, "unexpected error ZeroDivisionError: a bug (details in ")
    logs = list((tmp_env / "data" / "logs").glob("jackpot-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err
    text = logs[0].read_text()
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text and "command: status" in text


def test_every_command_has_an_example_in_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"run", "predict", "explain", "report", "status"} <= set(commands)
    for name in commands:
        code, out, _ = call(capsys, name, "--help")
        assert code == 0
        examples = out.split("examples:\n", 1)
        assert len(examples) == 2, f"{name} --help has no examples"
        assert f"jackpot {name}" in examples[1]
        assert max(map(len, out.splitlines())) <= 100
