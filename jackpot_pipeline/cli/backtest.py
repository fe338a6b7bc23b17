"""``jackpot backtest``: run strategies on the bookmaker history, show, compare, export.

Backtests measure the probabilities against the market; they are not betting advice.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from jackpot_pipeline.cli.options import add_command
from jackpot_pipeline.settings import Settings

HEADLINE = (
    ("bets", "bets", "{:d}"),
    ("stake", "stake", "{:,.0f}"),
    ("profit", "profit", "{:+,.2f}"),
    ("roi", "ROI", "{:+.2%}"),
    ("win_rate", "win rate", "{:.1%}"),
    ("average_odds", "avg odds", "{:.2f}"),
    ("clv_mean", "CLV", "{:+.2%}"),
    ("max_drawdown_pct", "max DD", "{:.1%}"),
    ("sharpe_per_bet", "Sharpe/bet", "{:.3f}"),
)
DETAIL = (
    ("wins", "{:d}"),
    ("losses", "{:d}"),
    ("voids", "{:d}"),
    ("bankroll_return", "{:+.2%}"),
    ("final_bankroll", "{:,.2f}"),
    ("sortino_per_bet", "{:.3f}"),
    ("sharpe_per_week", "{:.3f}"),
    ("sortino_per_week", "{:.3f}"),
    ("max_drawdown", "{:,.2f}"),
    ("calmar", "{:.3f}"),
    ("profit_factor", "{:.3f}"),
    ("longest_losing_run", "{:d}"),
    ("clv_beat_share", "{:.1%}"),
    ("clv_bets", "{:d}"),
)


def command_list(args: argparse.Namespace) -> int:
    """Every strategy with its description, default stake method and parameters."""
    from jackpot_pipeline.core.strategies import STRATEGIES

    rows = [
        {
            "name": name,
            "description": s.description,
            "default_stake": str(s.default_stake),
            "params": s.params(),
        }
        for name, s in STRATEGIES.items()
    ]
    if args.json:
        _print_json(rows)
        return 0
    from rich.table import Table

    table = Table(title="backtest strategies")
    for column in ("name", "description", "stake", "parameters"):
        table.add_column(column)
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        table.add_row(row["name"], row["description"], row["default_stake"], params)
    _console().print(table)
    return 0


def command_run(args: argparse.Namespace) -> int:
    """Run one strategy over a date window, print the summary, optionally save JSON/PNG."""
    import duckdb

    from jackpot_pipeline.services import backtest, warehouse

    try:
        config = _config(args)
        settings = Settings.from_env()
        if not settings.warehouse_path.exists():
            raise backtest.BacktestError(
                f"no warehouse at {settings.warehouse_path}: run `jackpot run` first"
            )
        con = warehouse.connect(settings.warehouse_path, read_only=True)
        try:
            result = _with_progress(lambda progress: backtest.run(con, config, progress))
        finally:
            con.close()
    except backtest.BacktestError as error:
        return _fail(str(error))
    except duckdb.CatalogException as error:  # a warehouse without the pipeline's tables
        return _fail(f"the warehouse lacks the pipeline's tables ({error}); run `jackpot run`")
    if args.output_json:
        backtest.save_json(result, args.output_json)
    if args.plot:
        backtest.equity_png(result, args.plot)
    if args.json:
        _print_json(result.to_json() | {"bets": len(result.bets)})
    else:
        _show(result, verbose=False)
        for label, path in (("results", args.output_json), ("equity curve", args.plot)):
            if path:
                _console().print(f"{label}: {path}")
    return 0


def command_show(args: argparse.Namespace) -> int:
    """A saved result: headline figures; ``--verbose`` adds every metric and the breakdowns."""
    from jackpot_pipeline.services.backtest import BacktestError, load_json

    try:
        result = load_json(args.file)
    except BacktestError as error:
        return _fail(str(error))
    if args.json:
        _print_json(result.to_json())
    else:
        _show(result, verbose=args.verbose)
    return 0


def command_compare(args: argparse.Namespace) -> int:
    """Headline figures of several saved results side by side."""
    from rich.table import Table

    from jackpot_pipeline.services.backtest import BacktestError, load_json

    try:
        results = [load_json(path) for path in args.files]
    except BacktestError as error:
        return _fail(str(error))
    if args.json:
        _print_json([_headline(r) for r in results])
        return 0
    table = Table(title="backtests compared")
    table.add_column("strategy")
    table.add_column("window")
    for _, label, _ in HEADLINE:
        table.add_column(label, justify="right")
    table.add_column("ROI 95% CI", justify="right")
    for result in results:
        table.add_row(
            result.config.strategy,
            f"{result.config.start}..{result.config.end}",
            *[_fmt(result.summary.get(key), spec) for key, _, spec in HEADLINE],
            _interval(result.roi_interval),
        )
    _console().print(table)
    return 0


def command_export(args: argparse.Namespace) -> int:
    """Every bet of a saved result as CSV."""
    from jackpot_pipeline.services.backtest import BacktestError, export_csv, load_json

    try:
        n = export_csv(load_json(args.file), args.output)
    except BacktestError as error:
        return _fail(str(error))
    _console().print(f"{n} bets written to {args.output}")
    return 0


def _config(args: argparse.Namespace) -> Any:
    """The run's ``BacktestConfig`` from the arguments (``BacktestError`` on bad input)."""
    import dataclasses

    from jackpot_pipeline.services.backtest import BacktestError, default_config

    if args.end < args.start:
        raise BacktestError(f"--end {args.end} is before --start {args.start}")
    config = default_config(args.strategy, args.start, args.end, args.stake)
    params = dict(_param(p) for p in args.param or [])
    return dataclasses.replace(
        config,
        params=params,
        leagues=None if not args.league else tuple(args.league),
        source=args.source,
        decision_hours=config.decision_hours
        if args.decision_hours is None
        else args.decision_hours,
        staking=config.staking
        if args.bankroll is None
        else dataclasses.replace(config.staking, initial_bankroll=args.bankroll),
    )


def _param(text: str) -> tuple[str, Any]:
    """``name=value`` with the value parsed as JSON when it is JSON (numbers, lists)."""
    from jackpot_pipeline.services.backtest import BacktestError

    if "=" not in text:
        raise BacktestError(f"--param expects name=value, got {text!r}")
    name, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return name, tuple(parsed) if isinstance(parsed, list) else parsed


def _with_progress(work: Any) -> Any:
    """Run ``work(progress)`` under a rich progress bar over the bet groups."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("backtest", total=None)

        def progress(done: int, total: int) -> None:
            if done == total or done % 500 == 0:
                bar.update(task, completed=done, total=total)

        return work(progress)


def _show(result: Any, verbose: bool) -> None:
    from rich.table import Table

    console = _console()
    config = result.config
    leagues = "all leagues" if config.leagues is None else ", ".join(config.leagues)
    console.print(
        f"[bold]{config.strategy}[/bold] {config.start}..{config.end} ({leagues}, "
        f"{config.source}, decision {config.decision_hours:g} h before kickoff, "
        f"stake {config.staking.method})"
    )
    console.print(f"parameters: {result.params}")
    table = Table(show_header=True)
    for _, label, _ in HEADLINE:
        table.add_column(label, justify="right")
    table.add_row(*[_fmt(result.summary.get(key), spec) for key, _, spec in HEADLINE])
    console.print(table)
    console.print(f"ROI 95% bootstrap interval (by match): {_interval(result.roi_interval)}")
    if not verbose:
        return
    detail = Table(title="every metric", show_header=False)
    for key, spec in DETAIL:
        detail.add_row(key, _fmt(result.summary.get(key), spec))
    for key, value in result.counts.items():
        detail.add_row(key, str(value))
    console.print(detail)
    for by, rows in result.breakdowns.items():
        table = Table(title=f"by {by}")
        for column in (by, "bets", "stake", "profit", "roi", "win_rate", "clv_mean"):
            table.add_column(column, justify="left" if column == by else "right")
        for row in rows:
            table.add_row(
                str(row[by]),
                str(row["bets"]),
                _fmt(row["stake"], "{:,.0f}"),
                _fmt(row["profit"], "{:+,.2f}"),
                _fmt(row["roi"], "{:+.2%}"),
                _fmt(row["win_rate"], "{:.1%}"),
                _fmt(row["clv_mean"], "{:+.2%}"),
            )
        console.print(table)


def _headline(result: Any) -> dict[str, Any]:
    return {
        "strategy": result.config.strategy,
        "start": result.config.start.isoformat(),
        "end": result.config.end.isoformat(),
        **{key: result.summary.get(key) for key, _, _ in HEADLINE},
        "roi_interval": list(result.roi_interval),
    }


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "–"
    return spec.format(int(value) if spec.endswith("d}") else value)


def _interval(interval: tuple[float | None, float | None]) -> str:
    low, high = interval
    return "–" if low is None or high is None else f"[{low:+.2%}, {high:+.2%}]"


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _print_json(data: Any) -> None:
    """One JSON document on the real stdout (the CLI sends everything else to stderr)."""
    from jackpot_pipeline.cli import render

    render.emit_json(data)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2


EXAMPLES = """
jackpot backtest list-strategies                  # every strategy and its parameters
jackpot backtest run --strategy flat_home --start 2015-07-01 --end 2025-06-30
jackpot backtest run --strategy model_value --stake kelly --start 2023-07-01 \\
    --end 2024-06-30 --output-json mv.json     # save config, metrics and every bet
jackpot backtest show mv.json --verbose           # every metric and breakdown
jackpot backtest compare mv.json flat.json        # headline figures side by side
jackpot backtest export mv.json --output bets.csv
"""


def register(commands: argparse._SubParsersAction) -> None:
    group = add_command(
        commands, "backtest", None, "backtest strategies on the bookmaker history", EXAMPLES
    )
    sub = group.add_subparsers(dest="backtest_command", required=True)

    listing = sub.add_parser("list-strategies", help="strategies and their parameters")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=command_list)

    run = sub.add_parser("run", help="run one strategy over a date window")
    run.add_argument("--strategy", required=True)
    run.add_argument("--league", action="append", help="only this league (repeatable)")
    run.add_argument("--start", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    run.add_argument("--end", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    run.add_argument("--stake", choices=["kelly", "flat", "percent"], help="default: strategy's")
    run.add_argument("--bankroll", type=float, help="initial bankroll (flat 100,000; else 1,000)")
    run.add_argument("--param", action="append", help="strategy parameter name=value")
    run.add_argument("--source", choices=["football-data", "odds-api"], default="football-data")
    run.add_argument("--decision-hours", type=float, help="hours before kickoff (48)")
    run.add_argument("--output-json", type=Path, help="save configuration, metrics and bets")
    run.add_argument("--plot", type=Path, help="save the equity curve PNG here")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(func=command_run)

    show = sub.add_parser("show", help="show a saved result")
    show.add_argument("file", type=Path)
    show.add_argument("--verbose", action="store_true", help="every metric and breakdown")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=command_show)

    compare = sub.add_parser("compare", help="compare saved results")
    compare.add_argument("files", type=Path, nargs="+")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(func=command_compare)

    export = sub.add_parser("export", help="write every bet of a saved result as CSV")
    export.add_argument("file", type=Path)
    export.add_argument("--output", type=Path, required=True)
    export.set_defaults(func=command_export)
