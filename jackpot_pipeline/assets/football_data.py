"""Ingestion of football-data.co.uk files per league × season, with the data-quality checks."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from jackpot_pipeline.core.football_data import FootballDataError
from jackpot_pipeline.ingestion import IngestRequest, IngestSummary, ingest
from jackpot_pipeline.partitions import league_season_partitions, split_key
from jackpot_pipeline.quality import CHECKS, CheckOutcome
from jackpot_pipeline.resources import FootballDataSource, WarehouseResource
from jackpot_pipeline.settings import Settings

MATCH_ASSETS = ("matches", "match_odds", "market_probabilities")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "matches",
            description="One row per match: date, kickoff, teams, full- and half-time goals and "
            "result, chosen closing odds and margin-free market probabilities.",
            skippable=True,
        ),
        dg.AssetSpec(
            "match_odds",
            description="Long odds: match × bookmaker × market (1X2, OU2.5) × outcome × "
            "phase (opening = football-data's pre-closing snapshot, closing).",
            skippable=True,
        ),
        dg.AssetSpec(
            "market_probabilities",
            description="Margin-free 1X2 probabilities per match by the multiplicative, "
            "additive, power and Shin methods, with the overround.",
            skippable=True,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            check.name,
            asset="matches",
            description=f"{check.description} ({check.severity})",
            blocking=check.severity == "error",
        )
        for check in CHECKS
    ],
    partitions_def=league_season_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingestion",
    pool="duckdb_warehouse",
    can_subset=True,
)
def football_data(
    context: dg.AssetExecutionContext,
    football_data_source: FootballDataSource,
    warehouse_db: WarehouseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Fetch, store raw, check and load each partition's file in one transaction.

    The three tables are always written together; a partition without a source file yields
    nothing (a logged "no data for this partition" outcome, not a failure)."""
    settings = Settings.from_env()
    summaries: list[IngestSummary] = []
    keys = context.partition_keys
    for position, key in enumerate(keys, start=1):
        league, season = split_key(key)
        source_file = football_data_source.fetch(league, season)
        if source_file is None:
            context.log.warning(
                f"[{position}/{len(keys)}] {league} {season}: no data for this "
                "partition (the source has no file for it)"
            )
            continue
        now = datetime.now(UTC)
        request = IngestRequest(
            league=league,
            season=season,
            uri=source_file.uri,
            data=source_file.data,
            raw_dir=Path(settings.raw_dir),
            strict=settings.strict_mode,
            margin_method=settings.margin_method,
            today=now.date(),
            now=now,
        )
        with warehouse_db.connect() as con:
            try:
                summary = ingest(con, request)
            except FootballDataError as error:
                raise dg.Failure(
                    description=f"{league} {season}: unusable file {source_file.uri}: {error}",
                    metadata={"league": league, "season": season},
                ) from error
        context.log.info(f"[{position}/{len(keys)}] {describe(summary)}")
        summaries.append(summary)
    if not summaries:
        context.log.warning("no data for this partition: nothing materialized")
        return
    for result in [
        *materialize_results(summaries),
        *check_results(summaries, settings.strict_mode),
    ]:
        if isinstance(result, dg.MaterializeResult):
            if dg.AssetKey.from_coercible(result.asset_key) in context.selected_asset_keys:
                yield result
        elif (
            dg.AssetCheckKey(dg.AssetKey("matches"), result.check_name)
            in context.selected_asset_check_keys
        ):
            yield result


def describe(summary: IngestSummary) -> str:
    """One log line per partition."""
    failed = [o.spec.name for o in summary.outcomes if not o.passed]
    return (
        f"{summary.league} {summary.season}: {summary.status}, {summary.rows_loaded} rows read, "
        f"{summary.rows_inserted} inserted, {summary.rows_updated} updated, "
        f"{summary.rows_unchanged} unchanged, {summary.rows_skipped} skipped; "
        f"checks {len(summary.outcomes) - len(failed)}/{len(summary.outcomes)} passed"
        + (f" (failed: {', '.join(failed)})" if failed else "")
    )


def materialize_results(summaries: list[IngestSummary]) -> Iterator[dg.MaterializeResult]:
    table = pd.DataFrame(
        [
            {
                "league": s.league,
                "season": s.season,
                "status": s.status,
                "read": s.rows_loaded,
                "inserted": s.rows_inserted,
                "updated": s.rows_updated,
                "unchanged": s.rows_unchanged,
                "skipped": s.rows_skipped,
                "odds rows": s.odds_rows,
                "quality records": s.quality_records,
            }
            for s in summaries
        ]
    )
    stored = int(table[["inserted", "updated", "unchanged"]].to_numpy().sum())
    common = {
        "partitions": len(summaries),
        "summary": dg.MetadataValue.md(table.to_markdown(index=False)),
        "checksums": dg.MetadataValue.json(
            {f"{s.league} {s.season}": s.checksum for s in summaries}
        ),
    }
    yield dg.MaterializeResult(
        asset_key="matches",
        metadata={
            **common,
            "dagster/row_count": stored,
            "rows_inserted": int(table["inserted"].sum()),
            "rows_updated": int(table["updated"].sum()),
            "rows_skipped": int(table["skipped"].sum()),
            "raw_files": dg.MetadataValue.json([s.raw_path for s in summaries]),
        },
    )
    yield dg.MaterializeResult(
        asset_key="match_odds",
        metadata={**common, "odds_rows_written": int(table["odds rows"].sum())},
    )
    yield dg.MaterializeResult(asset_key="market_probabilities", metadata=common)


def check_results(summaries: list[IngestSummary], strict: bool) -> Iterator[dg.AssetCheckResult]:
    """One result per check, combined over the partitions of the run. In strict mode an
    error check passes once its failing rows were rejected (the stored data is clean)."""
    for index, spec in enumerate(CHECKS):
        outcomes: list[CheckOutcome] = [s.outcomes[index] for s in summaries]
        failures = pd.concat(
            [
                o.failures.assign(partition=f"{s.league} {s.season}")
                for s, o in zip(summaries, outcomes, strict=True)
            ],
            ignore_index=True,
        )
        yield dg.AssetCheckResult(
            asset_key="matches",
            check_name=spec.name,
            passed=failures.empty or (strict and spec.severity == "error"),
            severity=dg.AssetCheckSeverity.ERROR
            if spec.severity == "error"
            else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": sum(o.evaluated for o in outcomes),
                "failing_rows": len(failures),
                "action": "rejected" if strict and spec.severity == "error" else "logged",
                "partitions": len(summaries),
                "examples": dg.MetadataValue.md(
                    failures.head(10).to_markdown(index=False) if len(failures) else "none"
                ),
            },
        )
