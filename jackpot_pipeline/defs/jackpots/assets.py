"""Jackpot product layer: the inbox sensor and the ``jackpot_predictions`` asset.

Inbox protocol (``jackpot_inbox_sensor``, every 30 s; folders from
:func:`jackpot_pipeline.services.jackpot_inbox.jackpot_paths`):

* a coupon file is identified by the SHA-256 of its bytes, which is also its partition key in
  the dynamic partitions definition ``jackpots``;
* tick N, a file whose partition does not exist yet: validated against the warehouse (team
  names, leagues). Invalid → moved to ``rejected/`` with ``<name>.error.txt`` (the validator's
  report) next to it. Valid → its bytes are stored in the raw layer
  (``<raw_dir>/jackpots/<sha[:2]>/<sha><suffix>``), and the tick adds the partition and
  requests a run of it (run key ``jackpot-<sha>``); the file stays in the inbox;
* tick N+1 (or any later tick), a file whose partition exists: moved to ``processed/``. So a
  file leaves the inbox only once its partition is registered, and a file with the content of
  an earlier one (a duplicate) is moved without a second run.

Nothing is lost: the bytes sit in the raw layer before the partition is requested, a tick that
fails leaves every file where it was, and an unexpected error on one file leaves that file in
the inbox (retried next tick) while the others go on. Hidden and partial files (``.tmp``,
``.part``) are ignored: write elsewhere, then rename into the inbox. With an empty inbox the
sensor skips without opening the warehouse.

The asset reads its partition's bytes from the raw layer (or processed/ / inbox/) and calls
:func:`services.jackpots.predict_coupon` — the same path as ``jackpot predict FILE`` —
then reports, exports and attaches a markdown table and the jackpot-level figures as metadata.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from jackpot_pipeline.core.coupon import CouponValidationError  # standard library only
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.services.raw_store import sha256
from jackpot_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

    from jackpot_pipeline.services.jackpot_inbox import JackpotPaths
    from jackpot_pipeline.services.jackpot_report import JackpotReport

PARTITIONS_NAME = "jackpots"
FILE_TAG = "jackpot/file"
COUPON_TAG = "jackpot/coupon_id"
SENSOR_INTERVAL_S = 30
SENSOR_LOCK_TIMEOUT_S = 5.0
#: Run-config defaults; equal to ``jackpot_report.DEFAULT_BUDGET`` / ``DEFAULT_SET`` (a test
#: checks), repeated here so that loading the code location does not import pandas, DuckDB and
#: scipy.
DEFAULT_BUDGET = 64
DEFAULT_SET = "G"

jackpot_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)


class JackpotConfig(dg.Config):
    """Run options: ticket budget in lines, the set to pick from, an optional results CSV."""

    budget: int = DEFAULT_BUDGET
    set_name: str = DEFAULT_SET
    results_file: str | None = None


@dg.asset(
    partitions_def=jackpot_partitions,
    deps=[
        dg.AssetDep("matches", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("calibration_curves", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("prediction_set_params", partition_mapping=dg.AllPartitionMapping()),
        "events",
        "odds",
    ],
    group_name="jackpots",
    pool="duckdb_warehouse",
    description="Per jackpot coupon (one dynamic partition per file, keyed by its SHA-256): "
    "λ, 1X2 and sets A–G per fixture from a Dixon-Coles model fitted on data strictly before "
    "kickoff, calibrated, blended with the margin-free market (the coupon's odds, else the "
    "odds snapshots as of the prediction time); argmax and optimal "
    "combination tickets; stored immutably per version in jackpots / jackpot_fixtures / "
    "predictions and exported to data/jackpots/out/.",
)
def jackpot_predictions(
    context: dg.AssetExecutionContext, config: JackpotConfig, warehouse_db: WarehouseResource
) -> dg.MaterializeResult:
    """Predict (or re-read) the partition's jackpot version, score it, export it."""
    # pandas, DuckDB, scipy: not paid at code load
    from jackpot_pipeline.services.jackpot_inbox import find_coupon_bytes, jackpot_paths
    from jackpot_pipeline.services.jackpot_model import JackpotError
    from jackpot_pipeline.services.jackpot_report import jackpot_report, write_exports
    from jackpot_pipeline.services.jackpot_store import jackpot_versions
    from jackpot_pipeline.services.jackpots import predict_coupon

    settings = Settings.from_env()
    paths = jackpot_paths(settings)
    checksum = context.partition_key
    try:
        data, found = find_coupon_bytes(checksum, settings.raw_dir, paths)
    except FileNotFoundError as error:
        raise dg.Failure(
            description=f"{error}: the sensor stores a coupon's bytes in the raw layer before "
            "adding its partition; add partitions through the inbox"
        ) from error
    source = context.run.tags.get(FILE_TAG) or found.name
    with warehouse_db.connect() as con:
        try:
            run = predict_coupon(con, data, source, settings=settings)
        except CouponValidationError as error:
            raise dg.Failure(description=error.report()) from error
        except JackpotError as error:
            raise dg.Failure(description=str(error)) from error
        report = jackpot_report(
            con,
            run,
            budget=config.budget,
            set_name=config.set_name,
            results_file=config.results_file,
        )
        versions = len(jackpot_versions(con, checksum))
    exports = write_exports(report, paths.out)
    state = "new version stored" if run.created else "version already stored, re-read"
    context.log.info(f"jackpot {run.coupon.id}: {run.version} ({state}); exports {exports}")
    metadata = report_metadata(report, exports)
    metadata["versions_of_coupon"] = versions
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


jackpot_predictions_job = dg.define_asset_job(
    "jackpot_predictions_job",
    selection=dg.AssetSelection.assets(jackpot_predictions),
    description="Predict one jackpot coupon (a dynamic partition of jackpot_predictions).",
)


# --------------------------------------------------------------------------------- sensor


@dataclass
class InboxTick:
    """What one sensor tick decided."""

    new_keys: list[str]
    run_requests: list[dg.RunRequest]
    moved: list[str]
    rejected: list[str]
    errors: list[str]

    def summary(self) -> str:
        parts = [
            f"{len(self.new_keys)} new",
            f"{len(self.moved)} moved to processed",
            f"{len(self.rejected)} rejected",
        ]
        if self.errors:
            parts.append(f"{len(self.errors)} left in the inbox after errors")
        return ", ".join(parts)


def scan_inbox(
    files: list[Path],
    paths: "JackpotPaths",
    raw_dir: Path,
    is_registered: Callable[[str], bool],
    validate: Callable[[bytes, str], Any],
    log: Any,
) -> InboxTick:
    """Decide and do one tick's file moves (see the module docstring).

    ``is_registered(sha)`` says whether a partition exists; ``validate(data, name)`` returns the
    parsed coupon or raises :class:`CouponValidationError`; ``log`` has ``info``/``error``.
    """
    from jackpot_pipeline.services import jackpot_inbox, warehouse

    tick = InboxTick([], [], [], [], [])
    for path in files:
        try:
            data = path.read_bytes()
            checksum = sha256(data)
            if is_registered(checksum):
                target = jackpot_inbox.move_unique(path, paths.processed, checksum)
                tick.moved.append(target.name)
                log.info(f"{path.name}: partition {checksum[:12]} registered; moved to {target}")
                continue
            if checksum in tick.new_keys:
                continue  # same bytes as another file of this tick: moved next tick
            try:
                coupon = validate(data, path.name)
            except CouponValidationError as error:
                target, report = jackpot_inbox.reject_file(
                    path, paths.rejected, checksum, error.report()
                )
                tick.rejected.append(target.name)
                log.info(f"{path.name}: rejected ({len(error.problems)} problems), see {report}")
                continue
            jackpot_inbox.store_coupon_bytes(raw_dir, data, path.name)
            tick.new_keys.append(checksum)
            tick.run_requests.append(
                dg.RunRequest(
                    partition_key=checksum,
                    run_key=f"jackpot-{checksum}",
                    tags={FILE_TAG: path.name, COUPON_TAG: coupon.id},
                )
            )
            log.info(f"{path.name}: coupon {coupon.id}, new partition {checksum}")
        except warehouse.WarehouseLockedError:
            raise  # the whole tick waits: every file stays where it is
        except Exception as error:  # one bad file must not stop the others
            tick.errors.append(f"{path.name}: {type(error).__name__}: {error}")
            log.error(f"{path.name}: left in the inbox after {type(error).__name__}: {error}")
    return tick


@dg.sensor(
    job=jackpot_predictions_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches data/jackpots/inbox/: each new valid coupon file becomes a partition "
    "of jackpot_predictions and a run; invalid files go to rejected/ with an error report; "
    "registered files go to processed/.",
)
def jackpot_inbox_sensor(
    context: dg.SensorEvaluationContext, warehouse_db: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    """One inbox tick (see the module docstring)."""
    # paid on the first tick, not at load
    from jackpot_pipeline.services import jackpot_inbox, jackpot_model, warehouse

    settings = Settings.from_env()
    paths = jackpot_inbox.jackpot_paths(settings)
    files = jackpot_inbox.inbox_files(paths.inbox)
    if not files:
        return dg.SkipReason(f"no files in {paths.inbox}")
    existing = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    db_path = Path(warehouse_db.path)
    if not db_path.exists():
        return dg.SkipReason(f"no warehouse at {db_path}: files stay in the inbox")
    try:
        with _lazy_connection(db_path) as connection:
            tick = scan_inbox(
                files,
                paths,
                settings.raw_dir,
                is_registered=lambda checksum: checksum in existing,
                validate=lambda data, name: jackpot_model.validate_coupon(connection(), data, name),
                log=context.log,
            )
    except warehouse.WarehouseLockedError as error:
        return dg.SkipReason(f"warehouse busy, files stay in the inbox: {error}")
    context.log.info(f"jackpot inbox: {tick.summary()}")
    if not (tick.new_keys or tick.moved or tick.rejected):
        return dg.SkipReason(f"nothing done: {tick.summary()}; {'; '.join(tick.errors)}")
    return dg.SensorResult(
        run_requests=tick.run_requests,
        dynamic_partitions_requests=(
            [jackpot_partitions.build_add_request(tick.new_keys)] if tick.new_keys else []
        ),
    )


@contextmanager
def _lazy_connection(path: Path) -> Iterator[Callable[[], "duckdb.DuckDBPyConnection"]]:
    """A read-only warehouse connection opened on first use (a tick that only moves files
    never opens it) and closed on exit; WarehouseLockedError if it stays locked."""
    from jackpot_pipeline.services import warehouse

    opened: list[duckdb.DuckDBPyConnection] = []

    def connection() -> "duckdb.DuckDBPyConnection":
        if not opened:
            opened.append(
                warehouse.connect(path, read_only=True, lock_timeout_s=SENSOR_LOCK_TIMEOUT_S)
            )
        return opened[0]

    try:
        yield connection
    finally:
        for con in opened:
            con.close()


JACKPOT_ASSETS = [jackpot_predictions]
JACKPOT_SENSORS = [jackpot_inbox_sensor]
JACKPOT_JOBS = [jackpot_predictions_job]

__all__ = [
    "JACKPOT_ASSETS",
    "JACKPOT_JOBS",
    "JACKPOT_SENSORS",
    "JackpotConfig",
    "jackpot_inbox_sensor",
    "jackpot_partitions",
    "jackpot_predictions",
    "jackpot_predictions_job",
    "report_metadata",
    "scan_inbox",
]
