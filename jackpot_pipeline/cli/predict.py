"""``jackpot predict``: a coupon file in, calibrated probabilities and ticket figures out."""

from __future__ import annotations

import argparse
from pathlib import Path

from jackpot_pipeline.cli.common import echo as _echo
from jackpot_pipeline.cli.common import prepare_dagster_home


def command_predict(args: argparse.Namespace) -> int:
    """Validate a coupon file, predict it (same path and rows as the asset), print the table
    and the ticket figures, and record it as a materialization of ``jackpot_predictions`` on
    the local Dagster instance (it appears in the UI)."""
    from jackpot_pipeline.core.coupon import CouponValidationError
    from jackpot_pipeline.services.jackpot_model import JackpotError
    from jackpot_pipeline.services.jackpots import predict_file

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
    prepare_dagster_home()
    import dagster as dg

    from jackpot_pipeline.defs.jackpots.assets import record_prediction

    with dg.DagsterInstance.get() as instance:
        key = record_prediction(
            instance, Path(args.file).read_bytes(), Path(args.file).name, report
        )
    _echo(f"Recorded as jackpot_predictions partition {key} (see the UI: uv run jackpot ui)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="predict a jackpot coupon (JSON or CSV)")
    predict.add_argument("file", type=Path)
    predict.add_argument("--set", default="G", choices=list("ABCDEFG"), help="set for the ticket")
    predict.add_argument("--budget", type=int, default=64, help="lines for the combination ticket")
    predict.add_argument("--results", type=Path, help="results CSV to score the coupon against")
    predict.set_defaults(func=command_predict)
