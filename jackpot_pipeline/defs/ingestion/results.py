"""Asset metadata and check results of the football-data ingestion, per run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from jackpot_pipeline.services.quality import CHECKS

if TYPE_CHECKING:
    from jackpot_pipeline.services.ingestion import IngestSummary
    from jackpot_pipeline.services.quality import CheckOutcome


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
    import pandas as pd

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
    import pandas as pd

    for index, spec in enumerate(CHECKS):
        outcomes = [s.outcomes[index] for s in summaries]
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


def header_check_result(outcome: CheckOutcome, partition: str) -> dg.AssetCheckResult:
    """The failed required-columns check of a file too broken to ingest."""
    return dg.AssetCheckResult(
        asset_key="matches",
        check_name=outcome.spec.name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "partition": partition,
            "missing_columns": dg.MetadataValue.json(outcome.failures["column"].tolist()),
        },
    )
