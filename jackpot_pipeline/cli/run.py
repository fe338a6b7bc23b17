"""``jackpot run`` and ``jackpot ui``: the main job on the local instance, and the UI."""

from __future__ import annotations

import argparse
import os
import time

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.cli.common import prepare_dagster_home
from jackpot_pipeline.cli.options import add_command, league_code, season_label
from jackpot_pipeline.settings import PROJECT_ROOT, Settings

RUN_EXAMPLES = """
jackpot run                                   # every league and season with data
jackpot run                                   # again: only what changed is recomputed
jackpot run --league E0 --season 2024-25      # one partition
jackpot run --force                           # recompute everything
"""


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
    run = add_command(
        commands,
        "run",
        command_run,
        "materialize every asset for every partition with data",
        RUN_EXAMPLES,
    )
    run.add_argument(
        "--league", action="append", type=league_code, help="only this league (repeatable)"
    )
    run.add_argument(
        "--season", action="append", type=season_label, help="only this season, e.g. 2023-24"
    )
    run.add_argument(
        "--force", action="store_true", help="recompute partitions whose inputs are unchanged"
    )
    ui = add_command(
        commands,
        "ui",
        command_ui,
        "open the Dagster UI (dagster dev) on the local instance",
        "jackpot ui              # then open http://127.0.0.1:3000\njackpot ui --port 3001",
    )
    ui.add_argument("--port", type=int, default=3000)
