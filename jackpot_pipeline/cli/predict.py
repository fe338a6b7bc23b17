"""``jackpot predict``: a coupon file in, calibrated probabilities and ticket figures out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from jackpot_pipeline.cli import render
from jackpot_pipeline.cli.common import prepare_dagster_home
from jackpot_pipeline.cli.errors import EXIT_USAGE, CliError
from jackpot_pipeline.cli.options import add_command, input_file, positive_int

EXAMPLES = """
jackpot predict data/jackpots/examples/2025-04-12_football-data-names.csv
jackpot predict coupon.json --set B --budget 32   # ticket from set B, at most 32 lines
jackpot predict coupon.csv --results results.csv  # score it against known results
jackpot predict coupon.csv --json > prediction.json
"""
OUTCOME_COLUMNS = ("prob_home", "prob_draw", "prob_away")
RESULT_CODES = {"H": "1", "D": "X", "A": "2"}


def command_predict(args: argparse.Namespace) -> int:
    """Validate a coupon file, predict it (same path and rows as the asset), print the table
    and the ticket figures (or the JSON summary with the export paths), and record it as a
    materialization of ``jackpot_predictions`` on the local Dagster instance (shown in the UI).
    """
    from jackpot_pipeline.core.coupon import CouponValidationError
    from jackpot_pipeline.services.jackpots import predict_file

    try:
        report = predict_file(
            args.file, set_name=args.set, budget=args.budget, results_file=args.results
        )
    except CouponValidationError as error:
        render.console(stderr=True).print(error.report(), end="", overflow="fold")
        if args.json:
            render.emit_json(
                {
                    "error": {
                        "message": str(error),
                        "exit_code": EXIT_USAGE,
                        "problems": [str(p) for p in error.problems],
                    }
                }
            )
        return EXIT_USAGE
    except ValueError as error:  # e.g. a results file that matches no fixture
        raise CliError(f"cannot predict {args.file}: {error}") from None
    partition = record_in_ui(args.file, report)
    if args.json:
        render.emit_json(
            {
                **report.summary(),
                "created": report.created,
                "exports": list(report.exports),
                "dagster_partition": partition,
            }
        )
    else:
        print_report(report, render.console())
        render.console().print(
            f"Recorded as jackpot_predictions partition {partition} (uv run jackpot ui)",
            overflow="fold",
        )
    return 0


def record_in_ui(path: Path, report: Any) -> str:
    """Record the prediction as a materialization of ``jackpot_predictions`` on the local
    instance; returns the coupon's partition key."""
    prepare_dagster_home()
    import dagster as dg

    from jackpot_pipeline.defs.jackpots.assets import record_prediction

    with dg.DagsterInstance.get() as instance:
        return record_prediction(instance, Path(path).read_bytes(), Path(path).name, report)


def print_report(report: Any, out: Console) -> None:
    """Header, fixtures with the chosen set, the ticket lines, every set's figures and picks."""
    terminal = out.is_terminal
    stored = report.stored
    jackpot = stored.jackpot
    fixtures = stored.fixtures
    flags = json.loads(jackpot["flags"])
    state = "new" if report.created else "stored earlier, re-read"
    models = json.loads(jackpot["model_version"])
    out.print(f"Jackpot {jackpot['coupon_name'] or jackpot['coupon_id']}", overflow="fold")
    out.print(
        f"Version {report.version} ({state}) · {jackpot['n_fixtures']} fixtures · leagues "
        f"{jackpot['leagues'].replace(',', ' ')}",
        overflow="fold",
    )
    out.print(
        f"Coupon {jackpot['coupon_id']} · file {jackpot['source']} (sha256 "
        f"{jackpot['content_sha256'][:12]}…) · {len(models)} Dixon-Coles "
        f"fit{'s' if len(models) > 1 else ''}",
        overflow="fold",
    )
    out.print(_fixture_table(report, terminal))
    legend = render.flag_legend(flag for text in fixtures["flags"] for flag in json.loads(text))
    if legend:
        out.print(render.marker(render.WARN, legend), overflow="fold")
    for line in name_match_lines(fixtures):
        out.print(render.marker(render.WARN, line), overflow="fold")
    out.print()
    for line in _ticket_lines(report):
        out.print(line, overflow="fold")
    out.print()
    out.print(_sets_table(report, terminal))
    out.print()
    out.print(_picks_table(report, terminal))
    if not flags:
        out.print(render.marker(render.OK, "no fixture flagged"))
    out.print("Probabilities are estimates, not betting advice.")
    if report.exports:
        out.print(f"Exports: {', '.join(str(p) for p in report.exports)}", overflow="fold")


def name_match_lines(fixtures: Any) -> list[str]:
    """'row 3: home 'Man Untied' → Man United (eng-man-united, score 0.91)' per fuzzy name."""
    lines = []
    for row in fixtures.itertuples(index=False):
        for match in json.loads(getattr(row, "name_matches", None) or "[]"):
            lines.append(f"row {row.match_order}: {render.name_match_text(match)}")
    return lines


def _fixture_table(report: Any, terminal: bool) -> Table:
    """One row per fixture: the chosen set's 1X2 and pick, likely score, flags, result."""
    chosen = report.set_name
    grid = render.table(
        ("#", "right"),
        "fixture",
        "lg",
        "kickoff (UTC)",
        ("1", "right"),
        ("X", "right"),
        ("2", "right"),
        f"{chosen}",
        "score",
        "flags",
        "result",
        title=f"Set {chosen} ({_label(chosen)}) — probabilities as percentages",
        terminal=terminal,
    )
    predictions = report.stored.predictions
    picks = predictions[predictions["set_id"] == chosen].set_index("match_order")
    for i, row in enumerate(report.stored.fixtures.itertuples(index=False)):
        pick = picks.loc[row.match_order]
        fuzzy = "~" if json.loads(getattr(row, "name_matches", None) or "[]") else ""
        grid.add_row(
            str(row.match_order),
            f"{row.home_team} v {row.away_team}{fuzzy}",
            row.league,
            render.short_kickoff(row.kickoff),
            *(render.percent(float(pick[c])) for c in OUTCOME_COLUMNS),
            pick["pick"],
            f"{row.likely_home_goals}-{row.likely_away_goals}",
            render.flag_codes(json.loads(row.flags)),
            _result(report.results[i], pick["pick"]),
        )
    return grid


def _result(result: str | None, pick: str) -> Any:
    if result is None:
        return ""
    code = RESULT_CODES[result]
    return render.marker(render.OK if code == pick else render.FAIL, code)


def _ticket_lines(report: Any) -> list[str]:
    analysis = report.analyses[report.set_name]
    argmax, combination = analysis.argmax, analysis.combination
    lines = [
        f"Set {report.set_name} ticket {' '.join(argmax.codes)}: P(all correct) "
        f"{argmax.p_all_correct:.3g} (1 in {_one_in(argmax.p_all_correct)}), expected "
        f"correct {argmax.expected_correct:.2f}",
        f"Best {combination.lines}-line ticket for a budget of {report.budget}: "
        f"{' '.join(combination.codes)}, P(all correct) = {combination.p_all_correct:.3g}",
    ]
    score = analysis.score
    if score is not None and score.n_known:
        lines.append(
            f"Results known for {score.n_known}/{len(report.results)}: {score.correct_picks} "
            f"correct picks, argmax ticket won: {_won(score.argmax_won)}, combination ticket "
            f"won: {_won(score.combination_won)}"
        )
    return lines


def _sets_table(report: Any, terminal: bool) -> Table:
    """Every set, one row each: ticket, P(all correct), expected and near-miss chances."""
    k = len(report.stored.fixtures)
    misses = [t for t in sorted(next(iter(report.analyses.values())).argmax.p_at_least,
                                reverse=True) if t < k][:2]  # fmt: skip
    known = any(a.score is not None and a.score.n_known for a in report.analyses.values())
    columns: list[str | tuple[str, str]] = [
        "set",
        "argmax ticket",
        ("P(all)", "right"),
        ("1 in", "right"),
        ("E[#]", "right"),
        *((f"P(≥{t})", "right") for t in misses),
        (f"P {report.budget}-line", "right"),
    ]
    if known:
        columns.append(("correct", "right"))
    grid = render.table(*columns, title="All sets (argmax ticket: one pick per fixture)",
                        terminal=terminal)  # fmt: skip
    for name, analysis in report.analyses.items():
        ticket = analysis.argmax
        cells = [
            f"{name} {_label(name)}",
            "".join(ticket.codes),
            f"{ticket.p_all_correct:.2g}",
            _one_in(ticket.p_all_correct),
            f"{ticket.expected_correct:.1f}",
            *(f"{ticket.p_at_least[t]:.2g}" for t in misses),
            f"{analysis.combination.p_all_correct:.2g}",
        ]
        if known:
            score = analysis.score
            cells.append("" if score is None else f"{score.correct_picks}/{score.n_known}")
        grid.add_row(*cells)
    return grid


def _picks_table(report: Any, terminal: bool) -> Table:
    """Every fixture's pick and its probability in each set A–G."""
    sets = list(report.analyses)
    grid = render.table(("#", "right"), "fixture", *((s, "right") for s in sets),
                        title="Pick and its probability per set", terminal=terminal)  # fmt: skip
    predictions = report.stored.predictions.set_index(["match_order", "set_id"])
    for row in report.stored.fixtures.itertuples(index=False):
        cells = []
        for name in sets:
            p = predictions.loc[(row.match_order, name)]
            chosen = OUTCOME_COLUMNS["1X2".index(p["pick"])]
            cells.append(f"{p['pick']} {render.percent(float(p[chosen]))}")
        grid.add_row(str(row.match_order), f"{row.home_team} v {row.away_team}", *cells)
    return grid


def _label(name: str) -> str:
    from jackpot_pipeline.core.prediction_sets import PREDICTION_SETS

    return PREDICTION_SETS[name].label


def _one_in(p: float) -> str:
    return f"{1 / p:,.0f}" if p > 0 else "∞"


def _won(won: bool | None) -> str:
    return "undecided" if won is None else "yes" if won else "no"


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "predict",
        command_predict,
        "predict a jackpot coupon (JSON or CSV): probabilities of sets A–G and tickets",
        EXAMPLES,
        json=True,
    )
    parser.add_argument("file", type=input_file, metavar="FILE", help="the coupon file")
    parser.add_argument("--set", default="G", choices=list("ABCDEFG"), help="set for the ticket")
    parser.add_argument(
        "--budget", type=positive_int, default=64, help="lines of the combination ticket (≥ 1)"
    )
    parser.add_argument("--results", type=input_file, help="results CSV to score the coupon")
