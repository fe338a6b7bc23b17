"""The main job behind ``jackpot run``: every stage, every partition with data, in order.

Each stage is a named job (``defs/jobs.py``, plus the odds and jackpot jobs). A stage runs
only what changed: the partitions whose fingerprint (input data, code, settings; see
``services.fingerprints``) differs from the recorded one, as few runs as possible — one run
over a contiguous range of league × season partitions (the assets skip the unchanged ones
inside it) — and not at all when nothing changed. Progress is printed from each run's events
as they are written. A stage whose run fails stops the stages after it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from jackpot_pipeline.cli.launcher import Launcher
from jackpot_pipeline.definitions import RESOURCES
from jackpot_pipeline.defs.incremental import FORCE_TAG
from jackpot_pipeline.defs.partitions import (
    LEAGUE_CODES,
    SEASONS,
    partition_key,
)
from jackpot_pipeline.defs.resources import FootballDataSource, WarehouseResource
from jackpot_pipeline.services import fingerprints
from jackpot_pipeline.services.fingerprints import UNPARTITIONED, Partition
from jackpot_pipeline.settings import Settings

#: Failures are summarized by `jackpot run` itself; the traceback stays in the run's event log.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


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


def odds_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str | None:
    """Offline: the recordings replayed (names and bytes); live: None (always fetched)."""
    if os.environ.get("ODDS_API_KEY"):
        return None
    from jackpot_pipeline.services.odds_api import REPLAY_DIR

    files = [p for p in REPLAY_DIR.rglob("*") if p.is_file()]
    return fingerprints.files_fingerprint("odds", settings, files)


def report_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The pooled report reads every partition's sets and validation rows."""
    return fingerprints.upstream_fingerprint(
        con, "validation_report_pooled", settings, ("prediction_sets", "validation_reports")
    )


@dataclass(frozen=True)
class Stage:
    """A named job and how ``jackpot run`` decides what it must run.

    Partitioned stages run the partitions stale for any of ``ops``; unpartitioned ones run
    when ``fingerprint`` (None: always) differs from the one recorded under ``ops[0]``."""

    name: str
    job: str
    ops: tuple[str, ...]
    partitioned: bool
    fingerprint: Callable[[duckdb.DuckDBPyConnection, Settings], str | None] | None = None
    run_config: Callable[[], dict] | None = None


STAGES: tuple[Stage, ...] = (
    Stage(
        "reference",
        "reference",
        ("reference_data",),
        False,
        fingerprint=lambda con, settings: fingerprints.reference_fingerprint(settings),
    ),
    Stage("ingestion", "ingestion", ("football_data",), True),
    Stage("modelling", "modelling", ("team_features", "dixon_coles", "member_forecasts"), True),
    Stage("stacking", "stacking", ("stacked_forecasts",), True),
    Stage("calibration", "calibration", fingerprints.CALIBRATION_OPS, True),
    Stage("report", "report", ("validation_report_pooled",), False, report_fingerprint),
    Stage("odds", "odds_fetch_job", ("odds",), False, odds_fingerprint, odds_run_config),
)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one run (a stage over a range of partitions, or unpartitioned)."""

    stage: str
    partition: str
    success: bool
    seconds: float
    checks_passed: int
    checks_failed: int
    checks_failed_errors: int
    message: str
    run_id: str = ""
    materialized: int = 0
    cpu_seconds: float = 0.0


@dataclass
class RunReport:
    """Everything ``jackpot run`` did, and the stages it found unchanged."""

    steps: list[StepResult] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.success for step in self.steps)


# ---------------------------------------------------------------------------------------------
# What to run
# ---------------------------------------------------------------------------------------------


def requested_partitions(
    leagues: Sequence[str] | None, seasons: Sequence[str] | None
) -> list[Partition]:
    """(league, season) pairs selected by the options, league by league."""
    return [
        (league, season)
        for league in LEAGUE_CODES
        if leagues is None or league in leagues
        for season in SEASONS
        if seasons is None or season in seasons
    ]


def partitions_with_data(
    leagues: Sequence[str] | None, seasons: Sequence[str] | None
) -> list[Partition]:
    """(league, season) pairs the football-data source has a file for."""
    source = RESOURCES["football_data_source"]
    assert isinstance(source, FootballDataSource)
    return [p for p in requested_partitions(leagues, seasons) if source.has_data(*p)]


def stale_partitions(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    partitions: Sequence[Partition],
    settings: Settings,
) -> list[Partition]:
    """The partitions a partitioned stage must recompute: any op's fingerprint changed."""
    if stage.ops == ("football_data",):
        source = RESOURCES["football_data_source"]
        assert isinstance(source, FootballDataSource)
        if source.mode != "local":
            return list(partitions)  # known only once downloaded: the asset decides
        wanted = {
            p: fingerprints.file_fingerprint(
                "football_data", settings, source.local_path(*p).read_bytes()
            )
            for p in partitions
        }
        return fingerprints.stale(con, "football_data", wanted)
    stale: set[Partition] = set()
    for op in stage.ops:
        wanted = fingerprints.input_fingerprints(con, op, partitions, settings)
        stale.update(fingerprints.stale(con, op, wanted))
    return sorted(stale)


def corners(partitions: Sequence[Partition]) -> tuple[Partition, Partition]:
    """First and last corner of the box of leagues × seasons spanned by ``partitions``."""
    leagues = sorted({p[0] for p in partitions}, key=LEAGUE_CODES.index)
    seasons = sorted({p[1] for p in partitions})
    return (leagues[0], seasons[0]), (leagues[-1], seasons[-1])


def box(first: Partition, last: Partition) -> list[Partition]:
    """The partitions of a range run from ``first`` to ``last``: Dagster reads a range of
    multi-partition keys as a box, each dimension's range in its own order (leagues as
    listed, seasons in time), not as a slice of the flattened key list."""
    leagues = LEAGUE_CODES[LEAGUE_CODES.index(first[0]) : LEAGUE_CODES.index(last[0]) + 1]
    seasons = SEASONS[SEASONS.index(first[1]) : SEASONS.index(last[1]) + 1]
    return [(league, season) for league in leagues for season in seasons]


def run_ranges(
    stale: Sequence[Partition], requested: Sequence[Partition]
) -> list[tuple[Partition, Partition]]:
    """First and last partition of each run covering the stale partitions, as few as the
    request allows: one box around all of them when every partition in it was requested
    (the assets skip the unchanged ones inside), else one per league, else one per partition."""
    if not stale:
        return []
    wanted = set(requested)

    def fits(partitions: Sequence[Partition]) -> bool:
        return wanted.issuperset(box(*corners(partitions)))

    if fits(stale):
        return [corners(stale)]
    ranges: list[tuple[Partition, Partition]] = []
    for league in sorted({p[0] for p in stale}, key=LEAGUE_CODES.index):
        mine = [p for p in stale if p[0] == league]
        ranges += [corners(mine)] if fits(mine) else [(p, p) for p in sorted(mine)]
    return ranges


def range_tags(first: Partition, last: Partition) -> dict[str, str]:
    """Tags of a run over first..last (one partition: its key)."""
    if first == last:
        return {"dagster/partition": str(partition_key(*first))}
    return {RANGE_START: str(partition_key(*first)), RANGE_END: str(partition_key(*last))}


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


@dataclass
class RunProgress:
    """Counts and prints one run's event-log entries as they arrive."""

    stage: str
    echo: Callable[[str], None]
    checks_passed: int = 0
    checks_failed: int = 0
    checks_failed_errors: int = 0
    materialized: int = 0
    failures: list[str] = field(default_factory=list)

    def __call__(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.level >= logging.INFO and entry.step_key:
                self.echo(f"  {self.stage}: {entry.user_message}")
            return
        if entry.asset_check_evaluation is not None:
            check = entry.asset_check_evaluation
            self.checks_passed += check.passed
            self.checks_failed += not check.passed
            self.checks_failed_errors += (
                not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
            )
        elif entry.asset_materialization is not None:
            self.materialized += 1
        elif event.is_step_failure and event.step_failure_data.error:
            self.failures.append(root_cause(event.step_failure_data.error))
        elif event.is_run_failure and not self.failures:
            self.failures.append(event.message or "run failed")


def root_cause(error: object) -> str:
    """The innermost cause's message of a Dagster error (the user code's own error)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return str(getattr(error, "message", error)).strip()


@dataclass
class Pipeline:
    """``jackpot run``: plans each stage from the fingerprints and launches its runs."""

    instance: dg.DagsterInstance
    settings: Settings
    echo: Callable[[str], None]
    force: bool = False
    report: RunReport = field(default_factory=RunReport)

    @cached_property
    def launcher(self) -> Launcher:
        """Loaded on the first run only: a rerun with nothing to do never pays for it."""
        return Launcher(self.instance)

    def launch(
        self, stage: Stage, label: str, tags: dict[str, str], run_config: dict
    ) -> StepResult:
        """One run of the stage's job, its progress printed; never raises on failure."""
        started, cpu = time.perf_counter(), time.process_time()
        if self.force:
            tags = {**tags, FORCE_TAG: "true"}
        run = self.launcher.create_run(stage.job, tags, {**QUIET, **run_config})
        self.echo(f"[{stage.name}] {label}: run {run.run_id[:8]} of job {stage.job}")
        progress = RunProgress(stage.name, self.echo)
        finished = self.launcher.execute(run, progress)
        step = StepResult(
            stage=stage.name,
            partition=label,
            success=finished.status == dg.DagsterRunStatus.SUCCESS,
            seconds=time.perf_counter() - started,
            checks_passed=progress.checks_passed,
            checks_failed=progress.checks_failed,
            checks_failed_errors=progress.checks_failed_errors,
            message="; ".join(progress.failures),
            run_id=run.run_id,
            materialized=progress.materialized,
            cpu_seconds=time.process_time() - cpu,
        )
        self.report.steps.append(step)
        self.echo(progress_line(step))
        return step

    def run_partitioned(
        self, stage: Stage, requested: Sequence[Partition], with_data: Sequence[Partition]
    ) -> bool:
        """Runs over the stale partitions; False if one failed."""
        with self.connect() as con:
            stale = (
                list(with_data)
                if self.force
                else stale_partitions(con, stage, with_data, self.settings)
            )
        if not stale:
            self.unchanged(stage, f"{len(with_data)} partitions up to date")
            return True
        ranges = run_ranges(stale, requested)
        self.echo(f"[{stage.name}] {len(stale)} of {len(with_data)} partitions to compute")
        return all(
            self.launch(stage, describe(first, last), range_tags(first, last), {}).success
            for first, last in ranges
        )

    def run_unpartitioned(self, stage: Stage) -> bool:
        """One run unless the stage's fingerprint is unchanged; records it on success."""
        with self.connect() as con:
            fingerprint = stage.fingerprint(con, self.settings) if stage.fingerprint else None
            done = fingerprints.recorded(con, stage.ops[0]).get(UNPARTITIONED)
        if fingerprint is not None and fingerprint == done and not self.force:
            self.unchanged(stage, "inputs, code and settings unchanged")
            return True
        run_config = stage.run_config() if stage.run_config else {}
        step = self.launch(stage, "-", {}, run_config)
        if step.success and fingerprint is not None:
            with self.connect() as con:
                fingerprints.record(con, stage.ops[0], {UNPARTITIONED: fingerprint}, step.run_id)
        return step.success

    def unchanged(self, stage: Stage, why: str) -> None:
        self.report.unchanged.append(stage.name)
        self.echo(f"[{stage.name}] nothing to run: {why}")

    def connect(self):
        warehouse_db = RESOURCES["warehouse_db"]
        assert isinstance(warehouse_db, WarehouseResource)
        return warehouse_db.connect()


def describe(first: Partition, last: Partition) -> str:
    """'E0 2023-24' or 'D1 2012-13 … SP1 2025-26'."""
    if first == last:
        return f"{first[0]} {first[1]}"
    return f"{first[0]} {first[1]} … {last[0]} {last[1]}"


def run_all(
    pipeline: Pipeline, leagues: Sequence[str] | None, seasons: Sequence[str] | None
) -> RunReport:
    """Run every stage in order; partitioned stages over the stale partitions with data. A
    failed stage stops the ones after it."""
    requested = requested_partitions(leagues, seasons)
    with_data = partitions_with_data(leagues, seasons)
    pipeline.echo(f"{len(with_data)} league × season partitions with data")
    for stage in STAGES:
        if stage.partitioned:
            ok = pipeline.run_partitioned(stage, requested, with_data)
        else:
            ok = pipeline.run_unpartitioned(stage)
        if not ok:
            pipeline.echo(f"[{stage.name}] failed: the stages after it are not run")
            return pipeline.report
    process_inbox(pipeline)
    return pipeline.report


def process_inbox(pipeline: Pipeline) -> None:
    """One tick of the jackpot inbox sensor and a run per new coupon (each run moves its file
    to processed/ or rejected/) — what the running sensor does."""
    from jackpot_pipeline.defs.jackpots.assets import PARTITIONS_NAME
    from jackpot_pipeline.defs.jackpots.sensors import jackpot_inbox_sensor

    instance = pipeline.instance
    context = dg.build_sensor_context(instance=instance, resources=RESOURCES)
    result = jackpot_inbox_sensor(context)
    if not isinstance(result, dg.SensorResult):
        pipeline.echo(f"[jackpots] inbox: {result.skip_message}")
        return
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(PARTITIONS_NAME, list(request.partition_keys))
    stage = Stage("jackpots", "jackpot_predictions_job", (), True)
    for request in result.run_requests or []:
        tags = {**request.tags, "dagster/partition": str(request.partition_key)}
        pipeline.launch(stage, str(request.partition_key), tags, {})


def progress_line(step: StepResult) -> str:
    """The closing line of a run: outcome, time, materializations and checks."""
    status = "ok" if step.success else "FAILED"
    checks = f", checks {step.checks_passed} passed / {step.checks_failed} failed"
    if step.checks_failed:
        errors = step.checks_failed_errors
        checks += f" ({step.checks_failed - errors} warning, {errors} error)"
    tail = f" — {step.message}" if step.message else ""
    return (
        f"[{step.stage}] {step.partition}: {status} ({step.seconds:.1f} s, "
        f"CPU {step.cpu_seconds:.1f} s, "
        f"{step.materialized} materializations"
        f"{checks if step.checks_passed + step.checks_failed else ''}){tail}"
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
        .reindex(index=[s for s in SEASONS if s in set(counts["season"])])
        .fillna(0)
        .astype(int)
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
        f"in {seconds:.0f} s"
        + (f"; unchanged, not run: {', '.join(report.unchanged)}" if report.unchanged else ""),
        f"Warehouse: {warehouse_db.path}",
        "Validation of every prediction set against the market: uv run jackpot report",
        "Predict a coupon: uv run jackpot predict FILE (or drop it into data/jackpots/inbox/)",
        f"Raw files: {settings.raw_dir}",
        f"Dagster instance: {home}",
        "Open the UI: uv run jackpot ui   (then http://127.0.0.1:3000)",
    ]
    if report.recovered:
        lines.append(
            f"Recovered: {len(report.recovered)} run(s) of a killed `jackpot run` marked failed "
            f"({', '.join(r[:8] for r in report.recovered)})"
        )
    lines += [f"FAILED {s.stage} {s.partition}: {s.message}" for s in failed]
    return "\n".join(lines)
