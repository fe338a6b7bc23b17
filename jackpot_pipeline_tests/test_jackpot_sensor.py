"""The jackpot inbox sensor and the ``jackpot_predictions`` asset on a Dagster instance.

The sensor is evaluated with ``dg.build_sensor_context`` on an ephemeral instance; the
dynamic-partition requests it returns are applied to that instance as the sensor daemon would,
and the partitions are materialized in process with ``dg.materialize``. Warehouse, raw layer and
jackpot folders are temporary (see ``test_jackpots.make_env``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from jackpot_pipeline.defs.jackpots import assets as jackpot_assets
from jackpot_pipeline.defs.jackpots.assets import (
    JACKPOT_ASSETS,
    JACKPOT_JOBS,
    JACKPOT_SENSORS,
    jackpot_inbox_sensor,
    jackpot_partitions,
    jackpot_predictions,
)
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.services import jackpot_model, jackpot_report, warehouse
from jackpot_pipeline.services.jackpot_inbox import store_coupon_bytes
from jackpot_pipeline.services.jackpot_store import load_jackpot
from jackpot_pipeline.services.raw_store import blob_path, sha256
from jackpot_pipeline_tests.test_jackpots import (
    EXAMPLE_JSON,
    EXAMPLE_NO_ODDS,
    RESULTS,
    Env,
    FakeCalibrationStore,
    install_calibration_store,
    make_env,
)

INVALID_COUPON = "home,away,kickoff,league\nNowhere Rovers,Chelsea,2025-04-26,E0\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    environment = make_env(tmp_path, monkeypatch)
    environment.paths.inbox.mkdir(parents=True)
    return environment


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeCalibrationStore:
    return install_calibration_store(monkeypatch)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def resources(env: Env) -> dict[str, WarehouseResource]:
    return {"warehouse_db": WarehouseResource(path=str(env.warehouse_path), lock_timeout_s=5)}


def tick(env: Env, instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    """Evaluate the sensor once and apply its partition requests like the daemon does."""
    with dg.build_sensor_context(instance=instance, resources=resources(env)) as context:
        result = jackpot_inbox_sensor(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def materialize(
    env: Env, instance: dg.DagsterInstance, request: dg.RunRequest, **config: object
) -> dg.ExecuteInJobResult:
    run_config = {"ops": {"jackpot_predictions": {"config": config}}} if config else None
    return dg.materialize(
        [jackpot_predictions],
        partition_key=request.partition_key,
        instance=instance,
        resources=resources(env),
        tags=request.tags,
        run_config=run_config,
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInJobResult) -> dict[str, object]:
    event = result.asset_materializations_for_node("jackpot_predictions")[0]
    return {key: getattr(value, "value", value) for key, value in event.metadata.items()}


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_inbox_to_scored_prediction_end_to_end(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    """A real example coupon dropped in the inbox with an invalid file and a partial upload:
    partition + run for the coupon, rejection with a report for the invalid file, the partial
    file untouched; the run predicts and scores the coupon against the real results; the next
    tick moves the coupon to processed/; a copy of it is not processed again."""
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / EXAMPLE_JSON.name)
    (env.paths.inbox / "typo.csv").write_text(INVALID_COUPON)
    (env.paths.inbox / "upload.csv.part").write_text("home,away")
    checksum = sha256(EXAMPLE_JSON.read_bytes())

    first = tick(env, instance)
    assert isinstance(first, dg.SensorResult)
    assert [r.partition_key for r in first.run_requests] == [checksum]
    request = first.run_requests[0]
    assert request.run_key == f"jackpot-{checksum}"
    assert request.tags[jackpot_assets.FILE_TAG] == EXAMPLE_JSON.name
    assert instance.get_dynamic_partitions("jackpots") == [checksum]
    # Invalid file: moved with its report; the valid one waits for its partition to exist.
    assert names(env.paths.rejected) == ["typo.csv", "typo.csv.error.txt"]
    report = (env.paths.rejected / "typo.csv.error.txt").read_text()
    assert "Jackpot coupon rejected: typo.csv" in report and "Nowhere Rovers" in report
    assert names(env.paths.inbox) == [EXAMPLE_JSON.name, "upload.csv.part"]
    assert blob_path(env.raw_dir, "jackpots", checksum, ".json").read_bytes() == (
        EXAMPLE_JSON.read_bytes()
    )

    result = materialize(env, instance, request, budget=32)
    assert result.success
    meta = metadata(result)
    assert meta["new_version"] is True and meta["versions_of_coupon"] == 1
    assert meta["fixtures"] == 13 and meta["dagster/row_count"] == 91
    assert meta["results_known"] == 13 and meta["budget"] == 32
    assert "| Bayern Munich v Mainz 05" in meta["report"]
    con = env.connect()
    try:
        stored = load_jackpot(con, meta["jackpot_version"])
    finally:
        con.close()
    picks = stored.set_probs("G").argmax(axis=1)
    observed = np.array(["HDA".index(r) for r in RESULTS[EXAMPLE_JSON.name]])
    assert meta["correct_picks"] == int((picks == observed).sum())
    assert meta["p_all_correct"] == pytest.approx(np.prod(stored.set_probs("G").max(axis=1)))
    assert meta["argmax_ticket"] == " ".join("1X2"[p] for p in picks)
    exports = [Path(p) for p in meta["exports"]]
    assert all(p.parent == env.paths.out and p.exists() for p in exports)
    summary = json.loads(exports[1].read_text())
    assert [f["result"] for f in summary["fixtures"]] == RESULTS[EXAMPLE_JSON.name]

    second = tick(env, instance)
    assert isinstance(second, dg.SensorResult) and not second.run_requests
    assert names(env.paths.processed) == [EXAMPLE_JSON.name]
    assert names(env.paths.inbox) == ["upload.csv.part"]

    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "same-coupon-again.json")
    third = tick(env, instance)
    assert isinstance(third, dg.SensorResult) and not third.run_requests
    assert not third.dynamic_partitions_requests
    assert names(env.paths.processed) == [EXAMPLE_JSON.name, "same-coupon-again.json"]
    assert instance.get_dynamic_partitions("jackpots") == [checksum]

    # Re-materializing the partition re-reads the same immutable version.
    again = materialize(env, instance, request, budget=32)
    assert metadata(again)["jackpot_version"] == meta["jackpot_version"]
    assert metadata(again)["new_version"] is False
    assert metadata(again)["versions_of_coupon"] == 1


def test_several_files_in_one_tick_and_same_name_collisions(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "a.json")
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "b.json")  # same bytes, same tick
    shutil.copyfile(EXAMPLE_NO_ODDS, env.paths.inbox / "c.csv")
    first = tick(env, instance)
    keys = {sha256(EXAMPLE_JSON.read_bytes()), sha256(EXAMPLE_NO_ODDS.read_bytes())}
    assert {r.partition_key for r in first.run_requests} == keys
    assert len(first.run_requests) == 2
    tick(env, instance)
    assert names(env.paths.processed) == ["a.json", "b.json", "c.csv"]
    # Another coupon under a name already in processed/, and two different invalid files
    # under one name: every file is kept, the later ones prefixed with their hash.
    other = "\n".join(EXAMPLE_NO_ODDS.read_text().splitlines()[:-1]) + "\n"
    (env.paths.inbox / "c.csv").write_text(other)
    tick(env, instance)
    tick(env, instance)
    assert names(env.paths.processed) == sorted(
        ["a.json", "b.json", "c.csv", f"{sha256(other.encode())[:12]}_c.csv"]
    )
    (env.paths.inbox / "typo.csv").write_text(INVALID_COUPON)
    tick(env, instance)
    second_typo = INVALID_COUPON.replace("Chelsea", "Arsenal")
    (env.paths.inbox / "typo.csv").write_text(second_typo)
    tick(env, instance)
    prefixed = f"{sha256(second_typo.encode())[:12]}_typo.csv"
    assert names(env.paths.rejected) == sorted(
        [prefixed, f"{prefixed}.error.txt", "typo.csv", "typo.csv.error.txt"]
    )
    assert names(env.paths.inbox) == []


def test_empty_or_missing_inbox_skips_without_opening_the_warehouse(
    env: Env, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warehouse must not be opened")

    monkeypatch.setattr(warehouse, "connect", refuse)
    assert isinstance(tick(env, instance), dg.SkipReason)
    shutil.rmtree(env.paths.inbox)
    assert isinstance(tick(env, instance), dg.SkipReason)


def test_busy_warehouse_or_failing_file_leaves_files_in_the_inbox(
    env: Env,
    instance: dg.DagsterInstance,
    store: FakeCalibrationStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / EXAMPLE_JSON.name)
    shutil.copyfile(EXAMPLE_NO_ODDS, env.paths.inbox / EXAMPLE_NO_ODDS.name)
    real_connect = warehouse.connect

    def locked(*args: object, **kwargs: object) -> None:
        raise warehouse.WarehouseLockedError("warehouse is locked by another process")

    monkeypatch.setattr(warehouse, "connect", locked)
    busy = tick(env, instance)
    assert isinstance(busy, dg.SkipReason) and "busy" in busy.skip_message
    assert names(env.paths.inbox) == [EXAMPLE_NO_ODDS.name, EXAMPLE_JSON.name]
    monkeypatch.setattr(warehouse, "connect", real_connect)

    real_validate = jackpot_model.validate_coupon

    def flaky(con: object, data: bytes, source: str, resolve: object = None) -> object:
        if source == EXAMPLE_JSON.name:
            raise OSError("disk hiccup")
        return real_validate(con, data, source, resolve)

    monkeypatch.setattr(jackpot_model, "validate_coupon", flaky)
    result = tick(env, instance)
    assert [r.tags[jackpot_assets.FILE_TAG] for r in result.run_requests] == [EXAMPLE_NO_ODDS.name]
    monkeypatch.setattr(jackpot_model, "validate_coupon", real_validate)
    retried = tick(env, instance)
    assert [r.tags[jackpot_assets.FILE_TAG] for r in retried.run_requests] == [EXAMPLE_JSON.name]
    assert names(env.paths.processed) == [EXAMPLE_NO_ODDS.name]


def test_asset_failures_are_readable(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    missing = "0" * 64
    instance.add_dynamic_partitions("jackpots", [missing])
    result = materialize(env, instance, dg.RunRequest(partition_key=missing))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"no coupon file with sha256 {missing}" in str(failure.event_specific_data)
    # A coupon that no longer validates (here: the warehouse lost its matches) fails with the
    # validator's report as the failure description.
    data = b"home,away,kickoff,league\nArsenal,Chelsea,2025-04-26,E0\n"
    store_coupon_bytes(env.raw_dir, data, "x.csv")
    con = env.connect()
    con.execute("DELETE FROM match_odds; DELETE FROM market_probabilities; DELETE FROM matches")
    con.close()
    instance.add_dynamic_partitions("jackpots", [sha256(data)])
    failed = materialize(env, instance, dg.RunRequest(partition_key=sha256(data)))
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no E0 results before 2025-04-26" in str(failure.event_specific_data)


def test_definitions_load_with_the_jackpot_objects(env: Env) -> None:
    defs = dg.Definitions(
        assets=JACKPOT_ASSETS, sensors=JACKPOT_SENSORS, jobs=JACKPOT_JOBS, resources=resources(env)
    )
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("jackpot_predictions_job")
    assert job.partitions_def == jackpot_partitions
    assert defs.resolve_sensor_def("jackpot_inbox_sensor").job_name == "jackpot_predictions_job"


def test_loading_the_code_location_stays_light() -> None:
    """The Dagster module imports no pandas, DuckDB or scipy at load; its run-config defaults
    equal the plain module's."""
    assert jackpot_assets.DEFAULT_BUDGET == jackpot_report.DEFAULT_BUDGET
    assert jackpot_assets.DEFAULT_SET == jackpot_report.DEFAULT_SET
    code = (
        "import sys, jackpot_pipeline.defs.jackpots.assets; "
        "print(sorted(m for m in ('pandas', 'duckdb', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
