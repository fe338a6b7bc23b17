"""The data-quality checks of ``matches``: one partitioned asset check per expectation of
:mod:`jackpot_pipeline.services.quality` (Great Expectations), evaluated per league × season.

Each evaluation names its partition (``partition``, plus league and season in its metadata and
description). Error-severity checks are blocking:

- non-strict mode: failing rows are kept and logged; any failure fails the check, which stops
  the downstream assets;
- strict mode (default): failing rows are rejected and reported by the check (count, share,
  examples); the check fails when it rejects more than ``max_rejected_share`` of the
  partition's checked rows (a file that loses that much is suspect, not just a few bad rows).

Warning checks never block and never reject.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import dagster as dg

from jackpot_pipeline.defs.partitions import league_season_partitions
from jackpot_pipeline.services.quality import CHECKS, CheckSpec

if TYPE_CHECKING:
    from jackpot_pipeline.services.quality import CheckOutcome

EXAMPLES = 10


def _spec(check: CheckSpec) -> dg.AssetCheckSpec:
    with warnings.catch_warnings():  # partitioned checks are a Dagster preview (1.13)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            check.name,
            asset="matches",
            description=f"{check.description} ({check.severity}; per league × season)",
            blocking=check.severity == "error",
            partitions_def=league_season_partitions,
        )


MATCH_CHECK_SPECS = [_spec(check) for check in CHECKS]


def rejects(spec: CheckSpec, strict: bool) -> bool:
    """Whether the check's failing rows are rejected (strict mode, error severity)."""
    return strict and spec.severity == "error"


def check_evaluation(
    outcome: CheckOutcome,
    partition: dg.MultiPartitionKey,
    strict: bool,
    max_rejected_share: float,
) -> dg.AssetCheckEvaluation:
    """The evaluation of one check on one partition's file (see the module docstring)."""
    spec = outcome.spec
    league, season = partition.keys_by_dimension["league"], partition.keys_by_dimension["season"]
    failing = len(outcome.failures)
    share = failing / outcome.evaluated if outcome.evaluated else 0.0
    rejected = rejects(spec, strict)
    passed = failing == 0 or (rejected and share <= max_rejected_share)
    action = "rejected" if rejected else "logged"
    description = f"{league} {season}: {failing} of {outcome.evaluated} rows failed"
    if failing and rejected:
        verdict = "over" if share > max_rejected_share else "within"
        description += (
            f" and were rejected ({share:.1%}, {verdict} the {max_rejected_share:.0%} limit)"
        )
    elif failing:
        description += " (kept and logged)"
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("matches"),
        check_name=spec.name,
        passed=passed,
        partition=str(partition),
        blocking=spec.severity == "error",
        severity=dg.AssetCheckSeverity.ERROR
        if spec.severity == "error"
        else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "league": league,
            "season": season,
            "rows_checked": outcome.evaluated,
            "failing_rows": failing,
            "rejected_rows": failing if rejected else 0,
            "failing_share": dg.MetadataValue.float(round(share, 6)),
            "max_rejected_share": dg.MetadataValue.float(max_rejected_share),
            "action": action,
            "examples": dg.MetadataValue.md(
                outcome.failures.head(EXAMPLES).to_markdown(index=False) if failing else "none"
            ),
        },
    )


def header_evaluation(
    outcome: CheckOutcome, partition: dg.MultiPartitionKey
) -> dg.AssetCheckEvaluation:
    """The failed required-columns check of a file too broken to ingest."""
    league, season = partition.keys_by_dimension["league"], partition.keys_by_dimension["season"]
    missing = outcome.failures["column"].tolist()
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("matches"),
        check_name=outcome.spec.name,
        passed=False,
        partition=str(partition),
        blocking=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{league} {season}: required columns missing: {', '.join(missing)}",
        metadata={
            "league": league,
            "season": season,
            "missing_columns": dg.MetadataValue.json(missing),
        },
    )
