"""The ``backtests`` asset: every strategy configuration on the decision-time history.

One unpartitioned asset runs each configured strategy (default: every shipped strategy with
its default parameters and stake method) over one window, loading the decision-time inputs
once; each configuration is one row of ``backtest_runs`` (its bets in ``backtest_bets``) and
one equity-curve PNG under ``data/reports/``. The work is in ``services.backtest``.
"""

import dagster as dg
from pydantic import Field

from jackpot_pipeline.defs.conventions import KINDS, MODEL_OWNERS, POOL
from jackpot_pipeline.defs.resources import WarehouseResource


class BacktestsConfig(dg.Config):
    """Which strategies, over which window (dates inclusive), with which stake method."""

    strategies: list[str] = Field(default_factory=list)  # empty: every shipped strategy
    start: str = "2015-07-01"
    end: str = "2025-06-30"
    stake: str | None = None  # kelly | flat | percent; None: each strategy's default
    decision_hours: float = 48.0


@dg.asset(
    deps=[
        dg.AssetDep("matches"),
        dg.AssetDep("match_odds"),
        dg.AssetDep("prediction_sets"),
        dg.AssetDep("oos_predictions"),
    ],
    group_name="backtests",
    pool=POOL,
    kinds=KINDS,
    owners=MODEL_OWNERS,
    description="Strategies (flat baselines, sharp EV, arbitrage, model value, O/U value) on "
    "decision-time prices and forecasts, with stake sizing, risk metrics and closing-line "
    "value; backtest_runs + backtest_bets and equity curves.",
)
def backtests(
    context: dg.AssetExecutionContext, config: BacktestsConfig, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Run and store every configured strategy; metadata: the headline table and figures."""
    import dataclasses
    from datetime import date

    from jackpot_pipeline.core.strategies import STRATEGIES
    from jackpot_pipeline.services import backtest
    from jackpot_pipeline.services.validation import reports_dir

    start, end = date.fromisoformat(config.start), date.fromisoformat(config.end)
    try:
        configs = [
            dataclasses.replace(
                backtest.default_config(name, start, end, config.stake),
                decision_hours=config.decision_hours,
            )
            for name in config.strategies or list(STRATEGIES)
        ]
        with warehouse_db.connect() as con:
            done = backtest.run_all(con, configs, reports_dir(warehouse_db.path))
    except backtest.BacktestError as error:
        raise dg.Failure(str(error)) from None
    results = [result for result, _ in done]
    for result, png in done:
        context.log.info(f"{result.config.strategy}: {result.summary['bets']} bets, plot {png}")
    numbers: dict[str, float] = {}
    for result in results:
        for key in ("roi", "clv_mean", "max_drawdown_pct"):
            value = result.summary[key]
            if value is not None:
                numbers[f"{result.config.strategy}/{key}"] = float(value)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(r.summary["bets"] for r in results),
            "strategies": len(results),
            "summary": dg.MetadataValue.md(backtest.summary_markdown(results)),
            "equity_curves": dg.MetadataValue.json({r.config.strategy: str(p) for r, p in done}),
            **numbers,
        }
    )


BACKTEST_ASSETS = [backtests]
