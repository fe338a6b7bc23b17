"""The jackpot inbox sensor: side-effect free, with a cursor.

Every 30 s (RUNNING by default; needs no API key, no network and no warehouse) it lists
``data/jackpots/inbox/`` (``Settings.jackpots_path``; hidden and partial files such as ``.tmp``
or ``.part`` are ignored: write elsewhere, then rename into the inbox) and, for each file it has
not seen yet (name × SHA-256 of its bytes, kept in the cursor), adds the coupon's readable
dynamic partition (``assets.coupon_partition_key``) and requests a run of
``jackpot_predictions_job`` for it (run key ``jackpot-<sha[:16]>-<name>``). It reads files and
never moves, copies or writes anything: the run stores the raw copy, validates, predicts and
moves the file to ``processed/`` or ``rejected/`` (with the error report).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from jackpot_pipeline.defs.jackpots.assets import (
    FILE_TAG,
    PARTITIONS_NAME,
    SHA_TAG,
    coupon_partition_key,
    jackpot_partitions,
    jackpot_predictions_job,
)
from jackpot_pipeline.defs.resources import SettingsResource
from jackpot_pipeline.services.raw_store import sha256

SENSOR_INTERVAL_S = 30
#: Fingerprints kept in the cursor (the oldest are dropped; their files left the inbox long ago).
CURSOR_SIZE = 1000


@dataclass
class InboxTick:
    """What one tick decided: run requests, the partitions to add, the cursor, problems."""

    run_requests: list[dg.RunRequest] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_seen(cursor: str | None) -> list[str]:
    """The cursor's fingerprints (empty or unreadable cursor: none)."""
    try:
        seen = json.loads(cursor) if cursor else []
    except ValueError:
        return []
    return [str(item) for item in seen] if isinstance(seen, list) else []


def scan_inbox(files: list[Path], seen: list[str], existing: set[str]) -> InboxTick:
    """Decide one tick from the inbox files, the cursor and the registered partitions."""
    tick = InboxTick(seen=list(seen))
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as error:  # vanished or unreadable: next tick tries again
            tick.errors.append(f"{path.name}: {type(error).__name__}: {error}")
            continue
        checksum = sha256(data)
        fingerprint = f"{checksum}:{path.name}"
        if fingerprint in tick.seen:
            continue  # its run is requested; the run moves the file
        key = coupon_partition_key(data, path.name, checksum)
        if key not in existing and key not in tick.new_keys:
            tick.new_keys.append(key)
        tick.seen.append(fingerprint)
        tick.run_requests.append(
            dg.RunRequest(
                partition_key=key,
                run_key=f"jackpot-{checksum[:16]}-{path.name}",
                tags={FILE_TAG: path.name, SHA_TAG: checksum},
            )
        )
    tick.seen = tick.seen[-CURSOR_SIZE:]
    return tick


@dg.sensor(
    job=jackpot_predictions_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches data/jackpots/inbox/ (no API key, network or warehouse needed): each "
    "new coupon file becomes a readable partition of jackpot_predictions and a run; the run "
    "moves it to processed/ (or rejected/ with an error report). Reads files only.",
)
def jackpot_inbox_sensor(
    context: dg.SensorEvaluationContext, settings: SettingsResource
) -> dg.SensorResult | dg.SkipReason:
    """One inbox tick (see the module docstring)."""
    from jackpot_pipeline.services.jackpot_inbox import inbox_files, jackpot_paths

    paths = jackpot_paths(settings.settings())
    files = inbox_files(paths.inbox)
    if not files:
        return dg.SkipReason(f"no files in {paths.inbox}")
    existing = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    tick = scan_inbox(files, load_seen(context.cursor), existing)
    for error in tick.errors:
        context.log.warning(error)
    if not tick.run_requests:
        problems = f"; {'; '.join(tick.errors)}" if tick.errors else ""
        return dg.SkipReason(
            f"{len(files)} file(s) in the inbox, each with a run requested{problems}"
        )
    return dg.SensorResult(
        run_requests=tick.run_requests,
        dynamic_partitions_requests=(
            [jackpot_partitions.build_add_request(tick.new_keys)] if tick.new_keys else []
        ),
        cursor=json.dumps(tick.seen),
    )


JACKPOT_SENSORS = [jackpot_inbox_sensor]
