"""``jackpot run`` and ``jackpot ui``: the main job on the local instance, and the UI."""

from __future__ import annotations

import argparse
import os
import time

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.cli.common import prepare_dagster_home
from jackpot_pipeline.settings import PROJECT_ROOT, Settings


def command_run(args: argparse.Namespace) -> int:
    """Materialize the reference data, then every league × season partition with data, each
    stage as runs of its named job on the local instance (unchanged work is skipped)."""
    home = prepare_dagster_home()
    import dagster as dg

    from jackpot_pipeline.cli import run_pipeline
    from jackpot_pipeline.cli.launcher import fail_orphaned_runs

    settings = Settings.from_env()
    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    recovered = fail_orphaned_runs(instance)
    for run_id in recovered:
        _echo(f"run {run_id[:8]} of a killed `jackpot run` marked failed, its pool slots freed")
    pipeline = run_pipeline.Pipeline(instance, settings, _echo, force=args.force)
    pipeline.report.recovered = recovered
    report = run_pipeline.run_all(pipeline, leagues=args.league, seasons=args.season)
    _echo("")
    _echo(run_pipeline.summary_text(report, settings, home, time.perf_counter() - started))
    return 0 if report.ok else 1


def command_ui(args: argparse.Namespace) -> int:
    """Start ``dagster dev`` on the local instance and the repository's workspace."""
    prepare_dagster_home()
    argv = ["dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(args.port)]
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - execvp does not return


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="materialize every asset for every partition with data")
    run.add_argument("--league", action="append", help="only this league (repeatable)")
    run.add_argument("--season", action="append", help="only this season, e.g. 2023-24")
    run.add_argument(
        "--force", action="store_true", help="recompute partitions whose inputs are unchanged"
    )
    run.set_defaults(func=command_run)
    ui = commands.add_parser("ui", help="open the Dagster UI (dagster dev) on the local instance")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=command_ui)
