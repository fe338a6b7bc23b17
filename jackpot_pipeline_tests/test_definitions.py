"""The code location's shape: kinds and owners, lineage that declares every read, resources
built from the environment (never read inside asset bodies), described sensors and schedules."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg
import pytest

from jackpot_pipeline.definitions import defs
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.settings import Settings

DEFS_DIR = Path(__file__).resolve().parent.parent / "jackpot_pipeline" / "defs"
#: Final products and published tables: read by people, the CLI or later issues, not by assets.
LEAVES = {
    "team_features",
    "validation_reports",
    "validation_report_pooled",
    "jackpot_predictions",
    "closing_lines",
    "market_consensus",
    "event_scores",
    "market_probabilities",
    "backtests",
}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def upstream(graph, asset: str) -> set[str]:
    return {key.to_user_string() for key in graph.get(dg.AssetKey(asset)).parent_keys}


def test_every_asset_has_kinds_and_an_owner(graph) -> None:
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert {"duckdb", "python"} <= set(node.kinds), key
        assert node.owners and all(o.startswith("team:") for o in node.owners), key
    assert "great_expectations" in graph.get(dg.AssetKey("matches")).kinds


def test_lineage_declares_the_reads(graph) -> None:
    assert "leagues" in upstream(graph, "matches")
    assert "team_aliases" in upstream(graph, "events")
    assert "team_aliases" in upstream(graph, "event_scores")
    jackpot = upstream(graph, "jackpot_predictions")
    assert {
        "matches",
        "dixon_coles_models",
        "member_predictions",
        "stacked_predictions",
        "calibration_curves",
        "prediction_set_params",
        "team_aliases",
        "events",
        "odds",
    } <= jackpot
    assert {"stacked_predictions", "matches"} <= upstream(graph, "calibration_curves")
    assert {"oos_predictions", "member_predictions"} <= upstream(graph, "stacked_predictions")
    assert "matches" in upstream(graph, "member_predictions")


def test_every_asset_feeds_another_or_is_a_declared_leaf(graph) -> None:
    feeds = {
        key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).child_keys
    }
    assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert assets - feeds == LEAVES


def test_football_data_is_not_subsettable() -> None:
    """It writes its three tables in one transaction, so it says so."""
    assert not defs.resolve_assets_def("matches").can_subset


def test_sensors_and_schedules_say_what_they_need() -> None:
    repository = defs.get_repository_def()
    for sensor in repository.sensor_defs:
        assert sensor.description, sensor.name
    descriptions = {s.name: s.description for s in repository.sensor_defs}
    assert "ODDS_API_KEY" in descriptions["odds_fetch_sensor"]
    assert "replays" in descriptions["odds_fetch_sensor"]
    assert "no API key" in descriptions["jackpot_inbox_sensor"]
    (schedule,) = repository.schedule_defs
    assert "mode http" in schedule.description and "no API key" in schedule.description


def _reads_environment(path: Path) -> list[int]:
    """Lines of ``path`` that read ``os.environ`` / ``os.getenv`` or ``Settings.from_env``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr in {"environ", "getenv", "from_env"}
        and isinstance(node.value, ast.Name)
        and node.value.id in {"os", "Settings"}
    ]


def test_no_asset_body_reads_the_environment() -> None:
    """Only the resource factories and the partitions (the clock) read the environment."""
    readers = {
        str(path.relative_to(DEFS_DIR)): _reads_environment(path) for path in DEFS_DIR.rglob("*.py")
    }
    assert {k: v for k, v in readers.items() if v} == {
        "resources.py": readers["resources.py"],
        "odds/resources.py": readers["odds/resources.py"],
        "partitions.py": readers["partitions.py"],  # the clock and season boundary, at load
    }


def test_settings_resource_mirrors_the_settings_and_reads_jackpot_variables() -> None:
    resource = SettingsResource.from_env(
        {
            "JACKPOT_XI": "0.004",
            "JACKPOT_BLEND_ALPHA": "0.8",
            "JACKPOT_STRICT_MODE": "false",
            "JACKPOT_MAX_REJECTED_SHARE": "0.2",
            "JACKPOT_JACKPOTS_DIR": "/tmp/j",
            "JACKPOT_MAX_GOALS": "12",
        }
    )
    settings = resource.settings()
    assert (settings.xi, settings.blend_alpha, settings.strict_mode) == (0.004, 0.8, False)
    assert settings.max_rejected_share == 0.2 and settings.max_goals == 12
    assert settings.jackpots_path == Path("/tmp/j")
    assert SettingsResource().settings() == Settings()
    assert WarehouseResource.from_env({"JACKPOT_WAREHOUSE_PATH": "/x/w.duckdb"}).path == (
        "/x/w.duckdb"
    )


def test_text_and_integer_settings_come_through_dagster_env_vars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """From the process environment a text or integer setting is a ``dg.EnvVar``, resolved
    when a run starts."""
    monkeypatch.setenv("JACKPOT_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("JACKPOT_MAX_GOALS", "12")
    resource = SettingsResource.from_env()
    seen: list[Settings] = []

    @dg.asset
    def probe(settings: SettingsResource) -> None:
        seen.append(settings.settings())

    assert dg.materialize([probe], resources={"settings": resource}).success
    assert seen[0].raw_dir == tmp_path / "raw" and seen[0].max_goals == 12
    config = dg.Definitions(assets=[probe], resources={"settings": resource})
    assert config.resolve_job_def("__ASSET_JOB")  # loads with unresolved EnvVars
