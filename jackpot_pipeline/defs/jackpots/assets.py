"""Jackpot product layer: the ``jackpots`` dynamic partitions and ``jackpot_predictions``.

A coupon's partition key is readable: its id (or its earliest kickoff date, else the file
name) plus the first 10 hex digits of the SHA-256 of its bytes, e.g. ``example-2025-04-26-
3f2a9c1b0d`` (:func:`coupon_partition_key`). The inbox sensor (``sensors.py``) only adds the
partition and requests the run; the run does every file operation:

1. find the bytes: the inbox file (tag ``jackpot/file``), else the raw layer, else processed/,
   by the key's hash;
2. predict through :func:`services.jackpots.predict_coupon` — the same path as ``jackpot
   predict FILE`` — which keeps the bytes in the raw layer first (nothing is lost);
3. move the inbox file to ``processed/``; an invalid or unpredictable coupon goes to
   ``rejected/`` with ``<name>.error.txt`` (the validator's report) and the run fails with it;
4. report, export and attach that coupon's table and figures as metadata.

``jackpot predict`` records its prediction as a runless materialization of the same asset
(:func:`record_prediction`), so every prediction appears in the UI.
"""

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from jackpot_pipeline.core.coupon import CouponValidationError  # standard library only
from jackpot_pipeline.defs.conventions import KINDS, POOL, PRODUCT_OWNERS
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource

if TYPE_CHECKING:
    from jackpot_pipeline.services.jackpot_report import JackpotReport

PARTITIONS_NAME = "jackpots"
FILE_TAG = "jackpot/file"
SHA_TAG = "jackpot/sha256"
HASH_DIGITS = 10
LABEL_CHARS = 40
#: Run-config defaults; equal to ``jackpot_report.DEFAULT_BUDGET`` / ``DEFAULT_SET`` (a test
#: checks), repeated here so that loading the code location does not import pandas, DuckDB and
#: scipy.
DEFAULT_BUDGET = 64
DEFAULT_SET = "G"

jackpot_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)


def coupon_partition_key(data: bytes, name: str, checksum: str) -> str:
    """``<label>-<sha[:10]>``: the label is the coupon's id, else its earliest kickoff date,
    else the file's stem, reduced to letters, digits, ``.``, ``_`` and ``-``."""
    from jackpot_pipeline.core.coupon import coupon_label

    label = coupon_label(data, name) or Path(name).stem
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:LABEL_CHARS] or "coupon"
    return f"{slug}-{checksum[:HASH_DIGITS]}"


def key_checksum(key: str) -> str:
    """The SHA-256 prefix of a partition key (older keys are the full digest)."""
    return key.rsplit("-", 1)[-1]


class JackpotConfig(dg.Config):
    """Run options: ticket budget in lines, the set to pick from, an optional results CSV."""

    budget: int = DEFAULT_BUDGET
    set_name: str = DEFAULT_SET
    results_file: str | None = None


@dg.asset(
    partitions_def=jackpot_partitions,
    deps=[
        dg.AssetDep("matches", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("dixon_coles_models", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("member_predictions", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("stacked_predictions", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("calibration_curves", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("prediction_set_params", partition_mapping=dg.AllPartitionMapping()),
        "team_aliases",
        "events",
        "odds",
    ],
    group_name="jackpots",
    pool=POOL,
    kinds=KINDS,
    owners=PRODUCT_OWNERS,
    description="Per jackpot coupon (one dynamic partition per file: its id or date plus a "
    "short hash): λ, 1X2 and sets A–G per fixture from a Dixon-Coles model fitted on data "
    "strictly before kickoff (ξ from dixon_coles_models' choice), calibrated, blended with the "
    "margin-free market (the coupon's odds, else the odds snapshots as of the prediction "
    "time); argmax and optimal combination tickets; stored immutably per version in jackpots / "
    "jackpot_fixtures / predictions and exported to data/jackpots/out/. The run moves the "
    "inbox file to processed/ (or rejected/ with an error report).",
)
def jackpot_predictions(
    context: dg.AssetExecutionContext,
    config: JackpotConfig,
    warehouse_db: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Predict (or re-read) the partition's jackpot version, file the coupon, export it."""
    # pandas, DuckDB, scipy: not paid at code load
    from jackpot_pipeline.services import jackpot_inbox
    from jackpot_pipeline.services.jackpot_model import JackpotError
    from jackpot_pipeline.services.jackpot_report import jackpot_report, write_exports
    from jackpot_pipeline.services.jackpot_store import jackpot_versions
    from jackpot_pipeline.services.jackpots import predict_coupon
    from jackpot_pipeline.services.raw_store import sha256

    options = settings.settings()
    paths = jackpot_inbox.jackpot_paths(options)
    try:
        data, found = jackpot_inbox.find_coupon_bytes(
            key_checksum(context.partition_key), options.raw_dir, paths
        )
    except FileNotFoundError as error:
        raise dg.Failure(
            description=f"{error}: drop the coupon into {paths.inbox} (the inbox sensor adds "
            "its partition and requests this run)"
        ) from error
    checksum = sha256(data)
    in_inbox = found.parent == paths.inbox
    source = context.run.tags.get(FILE_TAG) or found.name
    with warehouse_db.connect() as con:
        try:
            run = predict_coupon(con, data, source, settings=options)
        except (CouponValidationError, JackpotError) as error:
            text = error.report() if isinstance(error, CouponValidationError) else str(error)
            metadata: dict[str, Any] = {"file": source}
            if in_inbox:
                target, report_path = jackpot_inbox.reject_file(
                    found, paths.rejected, checksum, text
                )
                metadata |= {"rejected_to": str(target), "error_report": str(report_path)}
            raise dg.Failure(description=text, metadata=metadata) from error
        report = jackpot_report(
            con,
            run,
            budget=config.budget,
            set_name=config.set_name,
            results_file=config.results_file,
        )
        versions = len(jackpot_versions(con, checksum))
    if in_inbox:
        target = jackpot_inbox.move_unique(found, paths.processed, checksum)
        context.log.info(f"{found.name}: moved to {target}")
    exports = write_exports(report, paths.out)
    state = "new version stored" if run.created else "version already stored, re-read"
    context.log.info(f"jackpot {run.coupon.id}: {run.version} ({state}); exports {exports}")
    metadata = report_metadata(report, exports)
    metadata |= {"versions_of_coupon": versions, "file": source}
    return dg.MaterializeResult(metadata=metadata)


def report_metadata(
    report: "JackpotReport", exports: tuple[Path, ...]
) -> dict[str, dg.MetadataValue | str | int | float | bool]:
    """Asset metadata: the fixture table, the per-set figures and the version's identity."""
    jackpot = report.stored.jackpot
    chosen = report.analyses[report.set_name]
    metadata: dict[str, dg.MetadataValue | str | int | float | bool] = {
        "jackpot_version": report.version,
        "new_version": report.created,
        "coupon_id": str(jackpot["coupon_id"]),
        "content_sha256": str(jackpot["content_sha256"]),
        "model_version": dg.MetadataValue.json(_loads(jackpot["model_version"])),
        "data_version": str(jackpot["data_version"]),
        "calibration_version": str(jackpot["calibration_version"]),
        "set_params_version": str(jackpot["set_params_version"]),
        "flags": dg.MetadataValue.json(_loads(jackpot["flags"])),
        "dagster/row_count": len(report.stored.predictions),
        "fixtures": len(report.stored.fixtures),
        "report": dg.MetadataValue.md(report.markdown()),
        "set": report.set_name,
        "budget": report.budget,
        "argmax_ticket": " ".join(chosen.argmax.codes),
        "p_all_correct": chosen.argmax.p_all_correct,
        "expected_correct": chosen.argmax.expected_correct,
        "combination_ticket": " ".join(chosen.combination.codes),
        "combination_p_all_correct": chosen.combination.p_all_correct,
        "results_known": report.n_known,
        "exports": dg.MetadataValue.json([str(p) for p in exports]),
    }
    if chosen.score is not None and chosen.score.n_known:
        metadata |= {
            "correct_picks": chosen.score.correct_picks,
            "brier": chosen.score.brier,
            "log_loss": chosen.score.log_loss,
        }
    return metadata


def _loads(text: object) -> object:
    return json.loads(str(text))


def record_prediction(
    instance: dg.DagsterInstance, data: bytes, name: str, report: "JackpotReport"
) -> str:
    """Record a prediction made outside a run (``jackpot predict``) as a materialization of
    the coupon's ``jackpot_predictions`` partition (added if new); returns the key."""
    from jackpot_pipeline.services.raw_store import sha256

    key = coupon_partition_key(data, name, sha256(data))
    if not instance.has_dynamic_partition(PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(PARTITIONS_NAME, [key])
    metadata = report_metadata(report, report.exports) | {
        "file": name,
        "recorded_by": "jackpot predict",
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=jackpot_predictions.key, partition=key, metadata=metadata)
    )
    return key


jackpot_predictions_job = dg.define_asset_job(
    "jackpot_predictions_job",
    selection=dg.AssetSelection.assets(jackpot_predictions),
    description="Predict one jackpot coupon (a dynamic partition of jackpot_predictions).",
)

JACKPOT_ASSETS = [jackpot_predictions]
JACKPOT_JOBS = [jackpot_predictions_job]
