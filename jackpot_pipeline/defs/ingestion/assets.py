"""Ingestion of football-data.co.uk files per league × season, with the data-quality checks."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.ingestion.results import (
    check_results,
    describe,
    header_check_result,
    materialize_results,
)
from jackpot_pipeline.defs.partitions import league_season_partitions, split_key
from jackpot_pipeline.defs.resources import FootballDataSource, WarehouseResource
from jackpot_pipeline.services.quality import CHECKS
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
    # Parsing, checks and storage (pandas, DuckDB) load with the run, not with the code location.
    from jackpot_pipeline.core.football_data import FootballDataError, read_header
    from jackpot_pipeline.services import fingerprints
    from jackpot_pipeline.services.ingestion import IngestRequest, ingest
    from jackpot_pipeline.services.quality import check_header

    settings = Settings.from_env()
    summaries = []
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
        fingerprint = fingerprints.file_fingerprint("football_data", settings, source_file.data)
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
            done = fingerprints.recorded(con, "football_data").get((league, season))
            if done == fingerprint and not incremental.forced(context):
                context.log.info(f"[{position}/{len(keys)}] {league} {season}: unchanged, skipped")
                continue
            try:
                summary = ingest(con, request)
            except FootballDataError as error:
                header = check_header(read_header(source_file.data))
                if not header.passed:
                    yield header_check_result(header, f"{league} {season}")
                raise dg.Failure(
                    description=f"{league} {season}: unusable file {source_file.uri}: {error}",
                    metadata={"league": league, "season": season},
                ) from error
            # A kept row failing a blocking check must be seen again: not recorded then.
            if settings.strict_mode or all(
                o.passed for o in summary.outcomes if o.spec.severity == "error"
            ):
                fingerprints.record(
                    con, "football_data", {(league, season): fingerprint}, context.run.run_id
                )
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
