"""The jackpot inbox sensor and the ``jackpot_predictions`` asset on a Dagster instance.

The sensor is evaluated with ``dg.build_sensor_context`` on an ephemeral instance, its cursor
carried from tick to tick; the dynamic-partition requests it returns are applied to that
instance as the sensor daemon would, and the partitions are materialized in process with
``dg.materialize``. Warehouse, raw layer and jackpot folders are temporary (see
``test_jackpots.make_env``).
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
    coupon_partition_key,
    jackpot_partitions,
    jackpot_predictions,
    record_prediction,
)
from jackpot_pipeline.defs.jackpots.sensors import JACKPOT_SENSORS, jackpot_inbox_sensor
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.services import jackpot_report, warehouse
from jackpot_pipeline.services.jackpot_inbox import store_coupon_bytes
from jackpot_pipeline.services.jackpot_store import load_jackpot
from jackpot_pipeline.services.jackpots import predict_file
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


def resources(env: Env) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse_db": WarehouseResource(path=str(env.warehouse_path), lock_timeout_s=5),
        "settings": SettingsResource(raw_dir=str(env.raw_dir), jackpots_dir=str(env.paths.base)),
    }


class Ticker:
    """Evaluates the sensor like the daemon: the cursor carried over, partitions added."""

    def __init__(self, env: Env, instance: dg.DagsterInstance) -> None:
        self.env, self.instance, self.cursor = env, instance, None

    def __call__(self) -> dg.SensorResult | dg.SkipReason:
        with dg.build_sensor_context(
            instance=self.instance, resources=resources(self.env), cursor=self.cursor
        ) as context:
            result = jackpot_inbox_sensor(context)
        if isinstance(result, dg.SensorResult):
            self.cursor = result.cursor or self.cursor
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, request.partition_keys
                )
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
    the tick only requests (a readable partition and a run per file; nothing moved or written);
    the coupon's run stores the raw copy, predicts, scores against the real results and moves
    the file to processed/; the invalid file's run rejects it with a report; the next tick does
    nothing (cursor); a copy of the coupon re-reads the stored version."""
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / EXAMPLE_JSON.name)
    (env.paths.inbox / "typo.csv").write_text(INVALID_COUPON)
    (env.paths.inbox / "upload.csv.part").write_text("home,away")
    checksum = sha256(EXAMPLE_JSON.read_bytes())
    tick = Ticker(env, instance)
    before = {p: p.read_bytes() for p in env.paths.inbox.iterdir()}

    first = tick()
    assert isinstance(first, dg.SensorResult)
    key = coupon_partition_key(EXAMPLE_JSON.read_bytes(), EXAMPLE_JSON.name, checksum)
    assert key == f"example-2025-04-26-{checksum[:10]}"
    requests = {r.tags[jackpot_assets.FILE_TAG]: r for r in first.run_requests}
    assert set(requests) == {EXAMPLE_JSON.name, "typo.csv"}
    request = requests[EXAMPLE_JSON.name]
    assert request.partition_key == key
    assert request.tags[jackpot_assets.SHA_TAG] == checksum
    typo_key = requests["typo.csv"].partition_key
    assert typo_key.startswith("2025-04-26-")  # no id: the earliest kickoff date
    assert sorted(instance.get_dynamic_partitions("jackpots")) == sorted([key, typo_key])
    # Side-effect free: every file where it was, nothing written anywhere.
    assert {p: p.read_bytes() for p in env.paths.inbox.iterdir()} == before
    assert not env.raw_dir.exists()
    assert names(env.paths.processed) == names(env.paths.rejected) == []
    assert isinstance(tick(), dg.SkipReason)  # the cursor: no second request

    rejected = materialize(env, instance, requests["typo.csv"])
    assert not rejected.success
    assert names(env.paths.rejected) == ["typo.csv", "typo.csv.error.txt"]
    report = (env.paths.rejected / "typo.csv.error.txt").read_text()
    assert "Jackpot coupon rejected: typo.csv" in report and "Nowhere Rovers" in report

    result = materialize(env, instance, request, budget=32)
    assert result.success
    assert blob_path(env.raw_dir, "jackpots", checksum, ".json").read_bytes() == (
        EXAMPLE_JSON.read_bytes()
    )
    assert names(env.paths.processed) == [EXAMPLE_JSON.name]
    assert names(env.paths.inbox) == ["upload.csv.part"]
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
    assert isinstance(tick(), dg.SkipReason)  # only the partial upload is left

    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "same-coupon-again.json")
    third = tick()
    assert isinstance(third, dg.SensorResult) and len(third.run_requests) == 1
    assert third.run_requests[0].partition_key == key
    assert not third.dynamic_partitions_requests  # the partition exists
    again = materialize(env, instance, third.run_requests[0], budget=32)
    assert metadata(again)["jackpot_version"] == meta["jackpot_version"]
    assert metadata(again)["new_version"] is False
    assert metadata(again)["versions_of_coupon"] == 1
    assert names(env.paths.processed) == [EXAMPLE_JSON.name, "same-coupon-again.json"]
    assert len(instance.get_dynamic_partitions("jackpots")) == 2


def test_same_bytes_under_two_names_share_a_partition_and_both_are_filed(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "a.json")
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / "b.json")  # same bytes, same tick
    shutil.copyfile(EXAMPLE_NO_ODDS, env.paths.inbox / "c.csv")
    first = Ticker(env, instance)()
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 3
    assert len({r.partition_key for r in first.run_requests}) == 2
    (add,) = first.dynamic_partitions_requests
    assert len(add.partition_keys) == 2
    for request in first.run_requests:
        assert materialize(env, instance, request).success
    assert names(env.paths.processed) == ["a.json", "b.json", "c.csv"]
    assert names(env.paths.inbox) == []


def test_empty_or_missing_inbox_skips_without_opening_the_warehouse(
    env: Env, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warehouse must not be opened")

    monkeypatch.setattr(warehouse, "connect", refuse)
    tick = Ticker(env, instance)
    assert isinstance(tick(), dg.SkipReason)
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / EXAMPLE_JSON.name)
    assert isinstance(tick(), dg.SensorResult)  # a tick never opens the warehouse
    shutil.rmtree(env.paths.inbox)
    assert isinstance(tick(), dg.SkipReason)


def test_a_failed_run_leaves_the_file_for_a_re_execution(
    env: Env,
    instance: dg.DagsterInstance,
    store: FakeCalibrationStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that fails before filing (the warehouse is locked) leaves the coupon in the inbox;
    re-executing the partition (without the sensor's tags, as from the UI) files it."""
    shutil.copyfile(EXAMPLE_JSON, env.paths.inbox / EXAMPLE_JSON.name)
    (request,) = Ticker(env, instance)().run_requests
    real_connect = warehouse.connect

    def locked(*args: object, **kwargs: object) -> None:
        raise warehouse.WarehouseLockedError("warehouse is locked by another process")

    monkeypatch.setattr(warehouse, "connect", locked)
    assert not materialize(env, instance, request).success
    assert names(env.paths.inbox) == [EXAMPLE_JSON.name]
    monkeypatch.setattr(warehouse, "connect", real_connect)
    assert materialize(env, instance, dg.RunRequest(partition_key=request.partition_key)).success
    assert names(env.paths.processed) == [EXAMPLE_JSON.name]


def test_asset_failures_are_readable(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    missing = "nothing-" + "0" * 10
    instance.add_dynamic_partitions("jackpots", [missing])
    result = materialize(env, instance, dg.RunRequest(partition_key=missing))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no coupon file with sha256 0000000000" in str(failure.event_specific_data)
    # A coupon that no longer predicts (here: the warehouse lost its matches) fails with the
    # reason as the failure description.
    data = b"home,away,kickoff,league\nArsenal,Chelsea,2025-04-26,E0\n"
    store_coupon_bytes(env.raw_dir, data, "x.csv")
    con = env.connect()
    con.execute("DELETE FROM match_odds; DELETE FROM market_probabilities; DELETE FROM matches")
    con.close()
    key = coupon_partition_key(data, "x.csv", sha256(data))
    instance.add_dynamic_partitions("jackpots", [key])
    failed = materialize(env, instance, dg.RunRequest(partition_key=key))
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no E0 results before 2025-04-26" in str(failure.event_specific_data)


def test_jackpot_predict_is_recorded_as_a_materialization(
    env: Env, instance: dg.DagsterInstance, store: FakeCalibrationStore
) -> None:
    """What ``jackpot predict FILE`` records: the coupon's partition (added) and a runless
    materialization of jackpot_predictions with the prediction's metadata."""
    report = predict_file(EXAMPLE_JSON)
    key = record_prediction(instance, EXAMPLE_JSON.read_bytes(), EXAMPLE_JSON.name, report)
    assert key == coupon_partition_key(
        EXAMPLE_JSON.read_bytes(), EXAMPLE_JSON.name, sha256(EXAMPLE_JSON.read_bytes())
    )
    assert instance.get_dynamic_partitions("jackpots") == [key]
    event = instance.get_latest_materialization_event(jackpot_predictions.key)
    assert event is not None
    materialization = event.asset_materialization
    assert materialization.partition == key
    assert materialization.metadata["recorded_by"].value == "jackpot predict"
    assert materialization.metadata["jackpot_version"].value == report.version


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
        "import sys, jackpot_pipeline.defs.jackpots.assets, "
        "jackpot_pipeline.defs.jackpots.sensors; "
        "print(sorted(m for m in ('pandas', 'duckdb', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
