"""``jackpot predict``: a coupon file in, calibrated probabilities and ticket figures out."""

from __future__ import annotations

import argparse
from pathlib import Path

from jackpot_pipeline.cli.common import echo as _echo


def command_predict(args: argparse.Namespace) -> int:
    """Validate a coupon file, predict it (same path and rows as the asset), print the table
    and the ticket figures."""
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
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="predict a jackpot coupon (JSON or CSV)")
    predict.add_argument("file", type=Path)
    predict.add_argument("--set", default="G", choices=list("ABCDEFG"), help="set for the ticket")
    predict.add_argument("--budget", type=int, default=64, help="lines for the combination ticket")
    predict.add_argument("--results", type=Path, help="results CSV to score the coupon against")
    predict.set_defaults(func=command_predict)
