"""Backtests against the warehouse (no Dagster): load decision-time inputs, run, store, files.

Reads ``matches`` + ``match_odds`` (football-data) or ``events`` + ``odds`` (The Odds API),
the project's decision-time forecasts through ONE adapter (``load_forecasts``) and
``oos_predictions`` for the goal grid; writes ``backtest_runs`` / ``backtest_bets`` (DDL in
``services.schema``), a JSON file (configuration, every metric, every bet), a CSV of the bets
and an equity-curve PNG under ``data/reports/``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.backtest import (
    FORECAST_COLUMNS,
    BacktestRun,
    ProgressCallback,
    run_backtest,
)
from jackpot_pipeline.core.backtest_inputs import (
    DEFAULT_DECISION_HOURS,
    BacktestInputs,
    football_data_inputs,
    odds_api_inputs,
)
from jackpot_pipeline.core.backtest_metrics import (
    BREAKDOWNS,
    bootstrap_roi,
    breakdown,
    closing_line_value,
    equity_curve,
    summarize,
)
from jackpot_pipeline.core.goal_grid import over_under_25
from jackpot_pipeline.core.staking import StakeMethod, StakingConfig
from jackpot_pipeline.core.strategies import strategy as make_strategy
from jackpot_pipeline.services import warehouse

Source = Literal["football-data", "odds-api"]
#: Columns of the delivered forecasts the backtest relies on.
FORECAST_SOURCE_COLUMNS = (
    "match_id",
    "set_name",
    "p_home",
    "p_draw",
    "p_away",
    "decision_at",
    "market_source",
)
GOAL_GRID = "goal_grid"
#: Initial bankroll of flat staking by default: 10,000 stakes of 10, so a baseline's expected
#: loss over a decade (about the margin on every match) does not end the run early.
FLAT_BANKROLL = 100_000.0
EXPORT_COLUMNS = (
    "match_id",
    "kickoff",
    "league",
    "season",
    "home_team",
    "away_team",
    "market",
    "outcome",
    "bookmaker",
    "price",
    "stake",
    "result",
    "profit",
    "bankroll_after",
    "clv",
    "rationale",
)


class BacktestError(ValueError):
    """A backtest that cannot run as asked (unknown strategy, no data, look-ahead forecast)."""


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest configuration; ``run_id`` hashes it."""

    strategy: str
    start: date
    end: date
    params: dict[str, Any] = field(default_factory=dict)
    leagues: tuple[str, ...] | None = None
    source: Source = "football-data"
    decision_hours: float = DEFAULT_DECISION_HOURS
    staking: StakingConfig = field(default_factory=StakingConfig)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        data["leagues"] = None if self.leagues is None else list(self.leagues)
        data["staking"]["method"] = str(self.staking.method)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestConfig:
        return cls(
            strategy=data["strategy"],
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            params=dict(data.get("params") or {}),
            leagues=None if data.get("leagues") is None else tuple(data["leagues"]),
            source=data.get("source", "football-data"),
            decision_hours=float(data.get("decision_hours", DEFAULT_DECISION_HOURS)),
            staking=StakingConfig(**data.get("staking", {})),
        )

    @property
    def run_id(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True)
        return "bt-" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest: configuration, strategy parameters, metrics and every bet."""

    config: BacktestConfig
    params: dict[str, Any]
    summary: dict[str, Any]
    roi_interval: tuple[float | None, float | None]
    breakdowns: dict[str, list[dict[str, Any]]]
    counts: dict[str, int]
    bets: pd.DataFrame

    def to_json(self) -> dict[str, Any]:
        bets = self.bets.copy()
        for column in ("kickoff", "decision_at", "settle_at"):
            bets[column] = bets[column].map(lambda t: t.isoformat())
        return {
            "run_id": self.config.run_id,
            "config": self.config.to_dict(),
            "params": self.params,
            "summary": self.summary,
            "roi_interval": list(self.roi_interval),
            "breakdowns": self.breakdowns,
            "counts": self.counts,
            "bets": _records(bets),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BacktestResult:
        bets = pd.DataFrame(data["bets"])
        for column in ("kickoff", "decision_at", "settle_at"):
            if column in bets:
                bets[column] = pd.to_datetime(bets[column], utc=True, format="ISO8601")
        low, high = data["roi_interval"]
        return cls(
            config=BacktestConfig.from_dict(data["config"]),
            params=data["params"],
            summary=data["summary"],
            roi_interval=(low, high),
            breakdowns=data["breakdowns"],
            counts=data["counts"],
            bets=bets,
        )


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def load_forecasts(
    con: duckdb.DuckDBPyConnection, start: date, end: date, leagues: Sequence[str] | None
) -> pd.DataFrame:
    """THE adapter to the project's decision-time forecasts: one row per match × set with
    ``FORECAST_SOURCE_COLUMNS`` as the one forecaster delivered them (``decision_at``: the
    forecast's decision instant, the as-of of the model that made it; ``market_source``: the
    market line it blends, NULL for none)."""
    where, params = _match_filter("p", start, end, leagues)
    sql = (
        "SELECT p.match_id, p.set_name, p.p_home, p.p_draw, p.p_away, p.decision_at, "
        f"p.market_source FROM prediction_sets p WHERE {where}"
    )
    return con.execute(sql, params).df()


def forecast_rows(sets: pd.DataFrame, goals: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The engine's long forecasts (``core.backtest.FORECAST_COLUMNS``) from the sets and the
    goal-grid O/U, leaving out forecasts that blend a closing market (not known at the
    decision instant); returns them and how many set rows were left out."""
    closing = sets["market_source"].fillna("").str.contains(r"(?<!pre-)closing")
    usable = sets[~closing]
    long = usable.melt(
        id_vars=["match_id", "set_name", "decision_at"],
        value_vars=["p_home", "p_draw", "p_away"],
        var_name="outcome",
        value_name="probability",
    )
    long = long.assign(
        forecast=long["set_name"], market="1X2", outcome=long["outcome"].str[2:]
    ).rename(columns={"decision_at": "available_at"})
    frames = [long]
    if not goals.empty:
        over, _ = over_under_25(
            goals["lambda_home"].to_numpy(),
            goals["lambda_away"].to_numpy(),
            goals["p_home"].to_numpy(),
            goals["p_draw"].to_numpy(),
        )
        grid = goals.assign(over=over, under=1.0 - over).dropna(subset=["over"])
        grid = grid.melt(
            id_vars=["match_id", "decision_at"],
            value_vars=["over", "under"],
            var_name="outcome",
            value_name="probability",
        )
        frames.append(
            grid.assign(forecast=GOAL_GRID, market="OU2.5").rename(
                columns={"decision_at": "available_at"}
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["available_at"] = pd.to_datetime(out["available_at"], utc=True)
    return out[list(FORECAST_COLUMNS)], int(closing.sum())


def load_goal_forecasts(
    con: duckdb.DuckDBPyConnection, forecasts: pd.DataFrame, start: date, end: date
) -> pd.DataFrame:
    """Walk-forward rates and 1X2 (uncalibrated Dixon-Coles) with the decision instant of the
    match's set-A forecast."""
    where, params = _match_filter("o", start, end, None)
    rates = con.execute(
        "SELECT o.match_id, o.lambda_home, o.lambda_away, o.p_home, o.p_draw "
        f"FROM oos_predictions o WHERE {where}",
        params,
    ).df()
    made = forecasts[forecasts["set_name"] == "A"][["match_id", "decision_at"]]
    return rates.merge(made, on="match_id")


def load_inputs(con: duckdb.DuckDBPyConnection, config: BacktestConfig) -> BacktestInputs:
    """Decision data, settlement and closing probabilities of ``config``'s matches."""
    sets = load_forecasts(con, config.start, config.end, config.leagues)
    goals = load_goal_forecasts(con, sets, config.start, config.end)
    forecasts, _ = forecast_rows(sets, goals)
    if config.source == "odds-api":
        return _odds_api_inputs(con, config, forecasts)
    where, params = _match_filter("m", config.start, config.end, config.leagues)
    matches = con.execute(
        "SELECT m.match_id, m.league, m.season, m.match_date, m.kickoff_utc, m.home_team, "
        f"m.away_team, m.home_goals, m.away_goals FROM matches m WHERE {where}",
        params,
    ).df()
    odds = con.execute(
        "SELECT o.match_id, o.bookmaker, o.market, o.outcome, o.phase, o.price "
        f"FROM match_odds o JOIN matches m USING (match_id) WHERE {where}",
        params,
    ).df()
    return football_data_inputs(matches, odds, forecasts, config.decision_hours)


def _odds_api_inputs(
    con: duckdb.DuckDBPyConnection, config: BacktestConfig, forecasts: pd.DataFrame
) -> BacktestInputs:
    """The Odds API events of the window; forecasts attach by (league, teams, kickoff day)."""
    leagues = "" if config.leagues is None else " AND e.league IN (SELECT unnest(?))"
    params: list[Any] = [config.start, config.end]
    if config.leagues is not None:
        params.append(list(config.leagues))
    events = con.execute(
        "SELECT e.event_id, e.league, e.commence_time, e.home_team, e.away_team, e.status, "
        "e.home_score, e.away_score, m.match_id AS fd_match_id FROM events e "
        "LEFT JOIN matches m ON m.league = e.league AND m.home_team_id = e.home_team_id "
        "AND m.away_team_id = e.away_team_id AND m.match_date = CAST(e.commence_time AS DATE) "
        f"WHERE CAST(e.commence_time AS DATE) BETWEEN ? AND ?{leagues}",
        params,
    ).df()
    odds = con.execute(
        "SELECT event_id, bookmaker, market, outcome, price, point, snapshot_time FROM odds "
        "WHERE event_id IN (SELECT unnest(?))",
        [events["event_id"].tolist()],
    ).df()
    link = events.dropna(subset=["fd_match_id"]).set_index("fd_match_id")["event_id"]
    forecasts = forecasts[forecasts["match_id"].isin(link.index)]
    forecasts = forecasts.assign(match_id=forecasts["match_id"].map(link))
    return odds_api_inputs(events, odds, forecasts, config.decision_hours)


def _match_filter(
    alias: str, start: date, end: date, leagues: Sequence[str] | None
) -> tuple[str, list[Any]]:
    clause = f"{alias}.match_date BETWEEN ? AND ?"
    params: list[Any] = [start, end]
    if leagues is not None:
        clause += f" AND {alias}.league IN (SELECT unnest(?))"
        params.append(list(leagues))
    return clause, params


# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------


def run(
    con: duckdb.DuckDBPyConnection,
    config: BacktestConfig,
    progress: ProgressCallback | None = None,
    inputs: BacktestInputs | None = None,
) -> BacktestResult:
    """Run ``config`` (inputs loaded unless given) and compute every metric."""
    try:
        chosen = make_strategy(config.strategy, **config.params)
    except (KeyError, TypeError) as error:
        raise BacktestError(str(error).strip("'\"")) from error
    inputs = load_inputs(con, config) if inputs is None else inputs
    if inputs.data.matches.empty:
        raise BacktestError(
            f"no matches between {config.start} and {config.end}"
            + ("" if config.leagues is None else f" in {', '.join(config.leagues)}")
        )
    outcome = run_backtest(inputs.data, chosen, inputs.settlement, config.staking, progress)
    return evaluate(config, chosen.params(), outcome, inputs)


def evaluate(
    config: BacktestConfig, params: dict[str, Any], outcome: BacktestRun, inputs: BacktestInputs
) -> BacktestResult:
    """Metrics, CLV, breakdowns and the ROI interval of a run's bets."""
    bets = outcome.bets.assign(clv=closing_line_value(outcome.bets, inputs.closing))
    initial = config.staking.initial_bankroll
    summary = summarize(bets, initial).to_dict()
    low, high = bootstrap_roi(bets)
    return BacktestResult(
        config=config,
        params=params,
        summary=summary,
        roi_interval=(_finite(low), _finite(high)),
        breakdowns={by: _records(breakdown(bets, by)) for by in BREAKDOWNS} if len(bets) else {},
        counts={
            "matches": len(inputs.data.matches),
            "matches_with_prices": int(inputs.data.prices["match_id"].nunique()),
            "candidate_groups": outcome.candidates,
            "unstaked_groups": outcome.unstaked,
            "late_forecasts": outcome.late_forecasts,
        },
        bets=bets,
    )


# ---------------------------------------------------------------------------------------------
# Storage and files
# ---------------------------------------------------------------------------------------------


def store(con: duckdb.DuckDBPyConnection, result: BacktestResult, plot: Path | None) -> str:
    """Replace the run's rows in ``backtest_runs`` and ``backtest_bets``; returns the run id."""
    run_id = result.config.run_id
    s = result.summary
    row = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "strategy": result.config.strategy,
                "params": json.dumps(result.params),
                "config": json.dumps(result.config.to_dict()),
                "source": result.config.source,
                "start_date": result.config.start,
                "end_date": result.config.end,
                "stake_method": str(result.config.staking.method),
                "n_bets": s["bets"],
                "stake": s["stake"],
                "profit": s["profit"],
                "roi": s["roi"],
                "roi_low": result.roi_interval[0],
                "roi_high": result.roi_interval[1],
                "clv_mean": s["clv_mean"],
                "max_drawdown": s["max_drawdown"],
                "max_drawdown_pct": s["max_drawdown_pct"],
                "summary": json.dumps(s),
                "breakdowns": json.dumps(result.breakdowns),
                "plot_path": None if plot is None else str(plot),
                "created_at": datetime.now(UTC),
            }
        ]
    )
    bets = result.bets.assign(run_id=run_id)
    columns = [c for c in warehouse.table_columns(con, "backtest_bets") if c in bets.columns]
    with warehouse.transaction(con):
        warehouse.replace_rows(con, "backtest_runs", {"run_id": run_id}, row)
        warehouse.replace_rows(con, "backtest_bets", {"run_id": run_id}, bets[columns])
    return run_id


def save_json(result: BacktestResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=1))
    return path


def load_json(path: Path) -> BacktestResult:
    """A result saved by ``save_json``; ``BacktestError`` for a file that is not one."""
    try:
        return BacktestResult.from_json(json.loads(Path(path).read_text()))
    except FileNotFoundError as error:
        raise BacktestError(f"{path}: no such file") from error
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BacktestError(f"{path}: not a backtest result file ({error})") from error


def export_csv(result: BacktestResult, path: Path) -> int:
    """Every bet as one CSV row (``EXPORT_COLUMNS``); returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    result.bets.reindex(columns=list(EXPORT_COLUMNS)).to_csv(path, index=False)
    return len(result.bets)


def equity_png(result: BacktestResult, path: Path, dpi: int = 80) -> Path:
    """Equity curve (bankroll after each settled bet, by settlement time) with the drawdown
    below it, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    bets = result.bets
    initial = result.config.staking.initial_bankroll
    equity = equity_curve(bets["profit"].to_numpy(), initial)
    when = pd.to_datetime(bets["settle_at"], utc=True).tolist()
    when = ([when[0]] if when else []) + when
    peak = np.maximum.accumulate(equity)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, height_ratios=[3, 1])
    try:
        top.plot(when, equity[: len(when)], linewidth=1.0)
        top.axhline(initial, color="0.6", linestyle="--", linewidth=0.8)
        top.set_ylabel("bankroll")
        roi = result.summary.get("roi")
        top.set_title(
            f"{result.config.strategy} {result.config.start}..{result.config.end}: "
            f"{len(bets)} bets, ROI {'n/a' if roi is None else f'{roi:+.2%}'}"
        )
        bottom.fill_between(when, 0, -(peak - equity)[: len(when)], color="tab:red", alpha=0.4)
        bottom.set_ylabel("drawdown")
        for axis in (top, bottom):
            axis.grid(alpha=0.3)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return path


def default_config(
    name: str, start: date, end: date, method: StakeMethod | str | None = None
) -> BacktestConfig:
    """``name`` with its default parameters and its default stake method (unless given);
    flat staking starts from ``FLAT_BANKROLL``, the others from 1,000."""
    try:
        chosen = make_strategy(name)
    except KeyError as error:
        raise BacktestError(str(error).strip("'\"")) from error
    stake = StakeMethod(method) if method is not None else chosen.default_stake
    bankroll = FLAT_BANKROLL if stake is StakeMethod.FLAT else StakingConfig.initial_bankroll
    return BacktestConfig(
        strategy=name,
        start=start,
        end=end,
        staking=StakingConfig(method=stake, initial_bankroll=bankroll),
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN → None)."""
    return [
        {k: _finite(v) if isinstance(v, float) else v for k, v in row.items()}
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# ---------------------------------------------------------------------------------------------
# Every strategy at once (the ``backtests`` asset, the benchmark)
# ---------------------------------------------------------------------------------------------

#: The evaluation window of the report: seasons 2015-16 … 2024-25.
REPORT_START, REPORT_END = date(2015, 7, 1), date(2025, 6, 30)


def run_all(
    con: duckdb.DuckDBPyConnection, configs: Sequence[BacktestConfig], reports: Path
) -> list[tuple[BacktestResult, Path]]:
    """Run every configuration (inputs loaded once per window), write its equity PNG to
    ``reports/backtest_<strategy>.png`` and store it; returns results and plot paths."""
    loaded: dict[tuple[Any, ...], BacktestInputs] = {}
    done = []
    for config in configs:
        key = (config.source, config.start, config.end, config.leagues, config.decision_hours)
        if key not in loaded:
            loaded[key] = load_inputs(con, config)
        result = run(con, config, inputs=loaded[key])
        png = equity_png(result, reports / f"backtest_{config.strategy}.png")
        store(con, result, png)
        done.append((result, png))
    return done


def summary_markdown(results: Sequence[BacktestResult]) -> str:
    """One row per backtest: bets, stake, ROI with its interval, CLV, drawdown, Sharpe."""
    lines = [
        "| strategy | stake | bets | ROI | ROI 95% CI | CLV | max DD | Sharpe/bet |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s, (low, high) = r.summary, r.roi_interval
        interval = "–" if low is None or high is None else f"[{low:+.2%}, {high:+.2%}]"
        lines.append(
            f"| {r.config.strategy} | {r.config.staking.method} | {s['bets']} | "
            f"{_pct(s['roi'])} | {interval} | {_pct(s['clv_mean'])} | "
            f"{_pct(s['max_drawdown_pct']).lstrip('+')} | {_number(s['sharpe_per_bet'])} |"
        )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
