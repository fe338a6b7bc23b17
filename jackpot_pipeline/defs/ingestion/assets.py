"""Ingestion of football-data.co.uk files per league × season, with the data-quality checks.

One multi-asset writes ``matches``, ``match_odds`` and ``market_probabilities`` of a partition
in one transaction (so it is not subsettable). Every partition of a run gets its own metadata
(its rows, file checksum, raw copy) and its own check evaluations; a partition whose source has
no file is materialized with ``status: no data`` and the reason, zero rows and no check.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from jackpot_pipeline.defs import incremental
from jackpot_pipeline.defs.conventions import (
    CHECKED_KINDS,
    DATA_OWNERS,
    KINDS,
    POOL,
    no_data_metadata,
    partition_metadata,
)
from jackpot_pipeline.defs.ingestion.checks import (
    MATCH_CHECK_SPECS,
    check_evaluation,
    header_evaluation,
)
from jackpot_pipeline.defs.partitions import league_season_partitions, split_key
from jackpot_pipeline.defs.resources import FootballDataSource, SettingsResource, WarehouseResource

if TYPE_CHECKING:
    from jackpot_pipeline.services.ingestion import IngestSummary

MATCH_ASSETS = ("matches", "match_odds", "market_probabilities")
#: The reference data the ingestion reads: league countries (team ids are per country).
REFERENCE_DEPS = ("leagues",)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "matches",
            deps=REFERENCE_DEPS,
            description="One row per match: date, kickoff, teams, full- and half-time goals and "
            "result, chosen closing odds and margin-free market probabilities.",
            kinds=CHECKED_KINDS,
            owners=DATA_OWNERS,
            skippable=True,  # an unchanged download materializes nothing
        ),
        dg.AssetSpec(
            "match_odds",
            deps=REFERENCE_DEPS,
            description="Long odds: match × bookmaker × market (1X2, OU2.5) × outcome × "
            "phase (opening = football-data's pre-closing snapshot, closing).",
            kinds=KINDS,
            owners=DATA_OWNERS,
            skippable=True,
        ),
        dg.AssetSpec(
            "market_probabilities",
            deps=REFERENCE_DEPS,
            description="Margin-free 1X2 probabilities per match by the multiplicative, "
            "additive, power and Shin methods, with the overround.",
            kinds=KINDS,
            owners=DATA_OWNERS,
            skippable=True,
        ),
    ],
    check_specs=MATCH_CHECK_SPECS,
    partitions_def=league_season_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingestion",
    pool=POOL,
)
def football_data(
    context: dg.AssetExecutionContext,
    football_data_source: FootballDataSource,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation | dg.Output]:
    """Fetch, store raw, check and load each partition's file in one transaction."""
    # Parsing, checks and storage (pandas, DuckDB, GE) load with the run, not the code location.
    from jackpot_pipeline.core.football_data import FootballDataError, read_header
    from jackpot_pipeline.services import fingerprints
    from jackpot_pipeline.services.ingestion import (
        IngestRequest,
        already_ingested,
        ingest,
        partition_row_counts,
    )
    from jackpot_pipeline.services.partition_guard import PartitionRefusedError
    from jackpot_pipeline.services.quality import check_header

    config = settings.settings()
    keys = context.partition_keys
    evaluations: list[dg.AssetCheckEvaluation] = []
    recorded = False  # a partition ingested or recorded as "no data" (else nothing to materialize)
    for position, key in enumerate(keys, start=1):
        league, season = split_key(key)
        partition = league_season_partitions.get_partition_key_from_str(key)
        source_file = football_data_source.fetch(league, season)
        if source_file is None:
            reason = f"the source has no file for {league} {season} ({football_data_source.mode})"
            context.log.warning(f"[{position}/{len(keys)}] {league} {season}: no data: {reason}")
            for asset in MATCH_ASSETS:
                partition_metadata(context, asset, key, no_data_metadata(league, season, reason))
            recorded = True
            continue
        fingerprint = fingerprints.file_fingerprint("football_data", config, source_file.data)
        now = datetime.now(UTC)
        request = IngestRequest(
            league=league,
            season=season,
            uri=source_file.uri,
            data=source_file.data,
            raw_dir=Path(config.raw_dir),
            strict=config.strict_mode,
            margin_method=config.margin_method,
            allow_shrink=config.allow_shrink,
            today=now.date(),
            now=now,
        )
        with warehouse_db.connect() as con:
            done = fingerprints.recorded(con, "football_data").get((league, season))
            unchanged = done == fingerprint and not incremental.forced(context)
            if unchanged or (not source_file.changed and already_ingested(con, request)):
                context.log.info(f"[{position}/{len(keys)}] {league} {season}: unchanged, skipped")
                continue
            try:
                summary = ingest(con, request)
            except FootballDataError as error:
                header = check_header(read_header(source_file.data))
                if not header.passed:
                    yield header_evaluation(header, partition)
                refused = isinstance(error, PartitionRefusedError)  # names partition and file
                raise dg.Failure(
                    description=str(error)
                    if refused
                    else f"{league} {season}: unusable file {source_file.uri}: {error}",
                    metadata={"league": league, "season": season},
                ) from error
            counts = partition_row_counts(con, league, season)
            # A kept row failing a blocking check must be seen again: not recorded then.
            if config.strict_mode or all(
                o.passed for o in summary.outcomes if o.spec.severity == "error"
            ):
                fingerprints.record(
                    con, "football_data", {(league, season): fingerprint}, context.run.run_id
                )
        context.log.info(f"[{position}/{len(keys)}] {describe(summary)}")
        recorded = True
        for asset, metadata in partition_results(summary, counts).items():
            partition_metadata(context, asset, key, metadata)
        evaluations += [
            check_evaluation(outcome, partition, config.strict_mode, config.max_rejected_share)
            for outcome in summary.outcomes
        ]
    if recorded:
        for asset in MATCH_ASSETS:
            yield dg.MaterializeResult(asset_key=asset)
        yield from evaluations
    else:
        context.log.info("nothing materialized: every file unchanged since the last download")
    # Every check's output (its evaluations are the partitioned events above).
    for output_name in context.assets_def.check_specs_by_output_name:
        yield dg.Output(None, output_name=output_name)


def describe(summary: "IngestSummary") -> str:
    """One log line per partition."""
    failed = [o.spec.name for o in summary.outcomes if not o.passed]
    return (
        f"{summary.league} {summary.season}: {summary.status}, {summary.rows_loaded} rows read, "
        f"{summary.rows_inserted} inserted, {summary.rows_updated} updated, "
        f"{summary.rows_unchanged} unchanged, {summary.rows_skipped} skipped; "
        f"checks {len(summary.outcomes) - len(failed)}/{len(summary.outcomes)} passed"
        + (f" (failed: {', '.join(failed)})" if failed else "")
    )


def partition_results(
    summary: "IngestSummary", counts: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Metadata of each table's materialization for one partition: that partition's rows."""
    common = {
        "league": summary.league,
        "season": summary.season,
        "status": summary.status,
        "source_sha256": summary.checksum,
    }
    return {
        "matches": {
            **common,
            "dagster/row_count": counts["matches"],
            "rows_read": summary.rows_loaded,
            "rows_inserted": summary.rows_inserted,
            "rows_updated": summary.rows_updated,
            "rows_unchanged": summary.rows_unchanged,
            "rows_skipped": summary.rows_skipped,
            "quality_records": summary.quality_records,
            "raw_file": dg.MetadataValue.path(summary.raw_path),
        },
        "match_odds": {
            **common,
            "dagster/row_count": counts["match_odds"],
            "odds_rows_written": summary.odds_rows,
        },
        "market_probabilities": {**common, "dagster/row_count": counts["market_probabilities"]},
    }
