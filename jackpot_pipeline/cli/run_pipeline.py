"""The main job behind ``jackpot run``: every stage, every partition with data, in order.

Each stage is a selection of assets; partitioned stages run one Dagster run per league ×
season partition (so progress is visible per partition, in the terminal and the UI).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from jackpot_pipeline.definitions import ALL_ASSETS, RESOURCES
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS, partition_key
from jackpot_pipeline.defs.resources import FootballDataSource, WarehouseResource
from jackpot_pipeline.settings import Settings

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class Stage:
    """A named selection of assets and how it is run: once (unpartitioned), once per
    league × season partition, or once per league over its range of seasons (one run walks a
    league's history forward once)."""

    name: str
    assets: tuple[str, ...]
    mode: str  # "once" | "partition" | "league_range"
    run_config: Callable[[], dict] | None = None


def odds_run_config() -> dict:
    """Offline (no ODDS_API_KEY): every soccer sport with recorded snapshots, so the whole
    recording is replayed into ``odds``; live: the odds assets' default (the enabled leagues)."""
    if os.environ.get("ODDS_API_KEY"):
        return {}
    from jackpot_pipeline.services.odds_api import REPLAY_DIR, index_recordings

    sports = sorted(
        sport
        for endpoint, sport in index_recordings(REPLAY_DIR)
        if endpoint == "odds" and sport and sport.startswith("soccer_")
    )
    return {"ops": {"odds_snapshots": {"config": {"sports": sports}}}}


STAGES: tuple[Stage, ...] = (
    Stage("reference", ("leagues", "team_aliases"), "once"),
    Stage("ingestion", ("matches", "match_odds", "market_probabilities"), "partition"),
    Stage("modelling", ("team_features", "dixon_coles_models", "oos_predictions"), "league_range"),
    Stage(
        "calibration",
        ("calibration_curves", "prediction_set_params", "prediction_sets", "validation_reports"),
        "league_range",
    ),
    Stage("report", ("validation_report_pooled",), "once"),
    Stage(
        "odds",
        ("odds_snapshots", "events", "odds", "closing_lines", "market_consensus"),
        "once",
        run_config=odds_run_config,
    ),
)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one stage on one partition (or on the unpartitioned assets)."""

    stage: str
    partition: str
    success: bool
    seconds: float
    checks_passed: int
    checks_failed: int
    checks_failed_errors: int
    message: str


@dataclass
class RunReport:
    """Everything ``jackpot run`` did."""

    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.success for step in self.steps)


def partitions_with_data(
    leagues: Sequence[str] | None, seasons: Sequence[str] | None
) -> list[tuple[str, str]]:
    """(league, season) pairs the football-data source has a file for."""
    source = RESOURCES["football_data_source"]
    assert isinstance(source, FootballDataSource)
    return [
        (league, season)
        for season in SEASONS
        if seasons is None or season in seasons
        for league in LEAGUE_CODES
        if (leagues is None or league in leagues) and source.has_data(league, season)
    ]


def run_step(
    instance: dg.DagsterInstance, stage: Stage, keys: Sequence[dg.MultiPartitionKey | str]
) -> StepResult:
    """One Dagster run of ``stage`` on one partition or a range of them (first to last of
    ``keys``; none for unpartitioned assets), never raising on failure."""
    started = time.perf_counter()
    tags = (
        {
            "dagster/asset_partition_range_start": str(keys[0]),
            "dagster/asset_partition_range_end": str(keys[-1]),
        }
        if len(keys) > 1
        else {}
    )
    result = dg.materialize(
        ALL_ASSETS,
        instance=instance,
        resources=RESOURCES,
        partition_key=keys[0] if len(keys) == 1 else None,
        selection=list(stage.assets),
        raise_on_error=False,
        run_config={**QUIET, **(stage.run_config() if stage.run_config else {})},
        tags=tags,
    )
    checks = result.get_asset_check_evaluations()
    failures = [
        root_cause(event.event_specific_data.error)
        for event in result.get_step_failure_events()
        if event.event_specific_data and event.event_specific_data.error
    ]
    return StepResult(
        stage=stage.name,
        partition=describe_keys(keys),
        success=result.success,
        seconds=time.perf_counter() - started,
        checks_passed=sum(c.passed for c in checks),
        checks_failed=sum(not c.passed for c in checks),
        checks_failed_errors=sum(
            not c.passed and c.severity == dg.AssetCheckSeverity.ERROR for c in checks
        ),
        message="; ".join(failures),
    )


def root_cause(error: object) -> str:
    """The innermost cause's message of a Dagster error (the user code's own error)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return str(getattr(error, "message", error)).strip()


def run_all(
    instance: dg.DagsterInstance,
    leagues: Sequence[str] | None,
    seasons: Sequence[str] | None,
    echo: Callable[[str], None],
) -> RunReport:
    """Run every stage; partitioned stages over every partition that has data."""
    report = RunReport()
    partitions = partitions_with_data(leagues, seasons)
    echo(f"{len(partitions)} league × season partitions with data")
    for stage in STAGES:
        batches = stage_batches(stage, partitions)
        for position, keys in enumerate(batches, start=1):
            step = run_step(instance, stage, keys)
            report.steps.append(step)
            echo(_progress_line(step, position, len(batches)))
    report.steps.extend(process_inbox(instance, echo))
    return report


def process_inbox(instance: dg.DagsterInstance, echo: Callable[[str], None]) -> list[StepResult]:
    """One tick of the jackpot inbox sensor and a run per new coupon (each run moves its file
    to processed/ or rejected/) — what the running sensor does."""
    from jackpot_pipeline.defs.jackpots.assets import PARTITIONS_NAME
    from jackpot_pipeline.defs.jackpots.sensors import jackpot_inbox_sensor

    context = dg.build_sensor_context(instance=instance, resources=RESOURCES)
    result = jackpot_inbox_sensor(context)
    if not isinstance(result, dg.SensorResult):
        echo(f"[jackpots] inbox: {result.skip_message}")
        return []
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(PARTITIONS_NAME, list(request.partition_keys))
    stage = Stage("jackpots", ("jackpot_predictions",), "partition")
    steps = []
    for position, request in enumerate(result.run_requests or [], start=1):
        step = run_step(instance, stage, [request.partition_key])
        steps.append(step)
        echo(_progress_line(step, position, len(result.run_requests)))
    return steps


def stage_batches(
    stage: Stage, partitions: Sequence[tuple[str, str]]
) -> list[list[dg.MultiPartitionKey]]:
    """The runs of a stage: [] for unpartitioned, one key each, or one league's keys each
    (a contiguous range: partition keys order by league, then season)."""
    if stage.mode == "once":
        return [[]]
    if stage.mode == "partition":
        return [[partition_key(*p)] for p in partitions]
    by_league: dict[str, list[dg.MultiPartitionKey]] = {}
    for league, season in sorted(partitions, key=lambda p: (p[0], p[1])):
        by_league.setdefault(league, []).append(partition_key(league, season))
    return [by_league[league] for league in LEAGUE_CODES if league in by_league]


def describe_keys(keys: Sequence[dg.MultiPartitionKey | str]) -> str:
    """'-', 'E0 2023-24', 'E0 2012-13 … 2025-26' or a jackpot's key."""
    if not keys:
        return "-"
    if not isinstance(keys[0], dg.MultiPartitionKey):
        return str(keys[0])
    first, last = (k.keys_by_dimension for k in (keys[0], keys[-1]))
    if len(keys) == 1:
        return f"{first['league']} {first['season']}"
    return f"{first['league']} {first['season']} … {last['season']}"


def _progress_line(step: StepResult, position: int, total: int) -> str:
    status = "ok" if step.success else "FAILED"
    checks = f", checks {step.checks_passed} passed / {step.checks_failed} failed"
    if step.checks_failed:
        errors = step.checks_failed_errors
        checks += f" ({step.checks_failed - errors} warning, {errors} error)"
    tail = f" — {step.message}" if step.message else ""
    return (
        f"[{step.stage} {position}/{total}] {step.partition}: {status} "
        f"({step.seconds:.1f} s{checks if step.checks_passed + step.checks_failed else ''}){tail}"
    )


def summary_text(report: RunReport, settings: Settings, home: Path, seconds: float) -> str:
    """Matches per league and season, checks, where things are and how to open the UI."""
    warehouse_db = RESOURCES["warehouse_db"]
    assert isinstance(warehouse_db, WarehouseResource)
    with warehouse_db.connect(read_only=True) as con:
        counts = con.execute("SELECT season, league, count(*) AS n FROM matches GROUP BY ALL").df()
        total = int(counts["n"].sum()) if len(counts) else 0
    table = (
        counts.pivot(index="season", columns="league", values="n")
        .reindex(columns=[c for c in LEAGUE_CODES if c in set(counts["league"])])
        .fillna(0)
        .astype(int)
        .sort_index()
        if len(counts)
        else pd.DataFrame()
    )
    failed = [s for s in report.steps if not s.success]
    lines = [
        "Matches per season and league:",
        table.to_string(),
        f"Total matches: {total:,}",
        f"Asset checks: {sum(s.checks_passed for s in report.steps)} passed, "
        f"{sum(s.checks_failed for s in report.steps)} failed, of which "
        f"{sum(s.checks_failed_errors for s in report.steps)} errors "
        "(every failing row is in data_quality_log)",
        f"Runs: {len(report.steps) - len(failed)} succeeded, {len(failed)} failed "
        f"in {seconds:.0f} s",
        f"Warehouse: {warehouse_db.path}",
        "Validation of every prediction set against the market: uv run jackpot report",
        "Predict a coupon: uv run jackpot predict FILE (or drop it into data/jackpots/inbox/)",
        f"Raw files: {settings.raw_dir}",
        f"Dagster instance: {home}",
        "Open the UI: uv run jackpot ui   (then http://127.0.0.1:3000)",
    ]
    lines += [f"FAILED {s.stage} {s.partition}: {s.message}" for s in failed]
    return "\n".join(lines)
