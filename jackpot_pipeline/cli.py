"""The ``jackpot`` command: run the pipeline on the embedded defaults, open the UI, report.

``jackpot run`` materializes every asset for every partition that has data, on a local
Dagster instance (SQLite storage in ``.dagster_home/``, prepared here) and the DuckDB
warehouse, printing progress per partition and a summary at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from jackpot_pipeline.settings import PROJECT_ROOT, Settings

LOCAL_HOME = PROJECT_ROOT / ".dagster_home"
LOCAL_INSTANCE_YAML = """\
# Local Dagster instance written by `jackpot run`: SQLite storage in this folder.
# Production uses PostgreSQL: see dagster.yaml at the repository root.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1  # DuckDB allows one writer: one step at a time touches the warehouse
  runs:
    max_concurrent_runs: 1
"""


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at the local instance folder (unless set) and write its config."""
    home = Path(os.environ.get("DAGSTER_HOME", LOCAL_HOME))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def command_run(args: argparse.Namespace) -> int:
    """Materialize the reference data, then every league × season partition with data."""
    home = prepare_dagster_home()
    import dagster as dg

    from jackpot_pipeline import pipeline_run

    settings = Settings.from_env()
    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    report = pipeline_run.run_all(instance, leagues=args.league, seasons=args.season, echo=_echo)
    _echo("")
    _echo(pipeline_run.summary_text(report, settings, home, time.perf_counter() - started))
    return 0 if report.ok else 1


def command_ui(args: argparse.Namespace) -> int:
    """Start ``dagster dev`` on the local instance and the repository's workspace."""
    prepare_dagster_home()
    argv = ["dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(args.port)]
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - execvp does not return


def command_report(args: argparse.Namespace) -> int:
    """The pooled validation summary: every set against the market and a base rate."""
    from jackpot_pipeline.report import report_text

    _echo(report_text(Settings.from_env().warehouse_path))
    return 0


def command_status(args: argparse.Namespace) -> int:
    """Last fetch, quota and counts per sport of the odds collection."""
    from jackpot_pipeline.status import status_text

    _echo(status_text(Settings.from_env().warehouse_path))
    return 0


def command_predict(args: argparse.Namespace) -> int:
    """Validate a coupon file, predict it (same path and rows as the asset), print the table
    and the ticket figures."""
    from jackpot_pipeline.core.coupon import CouponValidationError
    from jackpot_pipeline.jackpot_model import JackpotError
    from jackpot_pipeline.jackpots import predict_file

    try:
        report = predict_file(
            args.file, set_name=args.set, budget=args.budget, results_file=args.results
        )
    except CouponValidationError as error:
        _echo(error.report())
        return 2
    except JackpotError as error:
        _echo(f"cannot predict {args.file}: {error}")
        return 1
    _echo(report.text())
    return 0


def _echo(line: str) -> None:
    print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jackpot",
        description="Calibrated football match probabilities (estimates, not betting advice).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset for every partition with data")
    run.add_argument("--league", action="append", help="only this league (repeatable)")
    run.add_argument("--season", action="append", help="only this season, e.g. 2023-24")
    run.set_defaults(func=command_run)
    predict = commands.add_parser("predict", help="predict a jackpot coupon (JSON or CSV)")
    predict.add_argument("file", type=Path)
    predict.add_argument("--set", default="G", choices=list("ABCDEFG"), help="set for the ticket")
    predict.add_argument("--budget", type=int, default=64, help="lines for the combination ticket")
    predict.add_argument("--results", type=Path, help="results CSV to score the coupon against")
    predict.set_defaults(func=command_predict)
    report = commands.add_parser("report", help="pooled validation summary of every set")
    report.set_defaults(func=command_report)
    status = commands.add_parser("status", help="odds collection: last fetch, quota, counts")
    status.set_defaults(func=command_status)
    ui = commands.add_parser("ui", help="open the Dagster UI (dagster dev) on the local instance")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=command_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
