"""The Dagster code location: assets, checks, resources, schedules and sensors.

Each domain folder of ``defs/`` holds its assets (and checks), sensors and schedules; resources
and partitions sit beside them. Resources are built once here, from the environment
(``JACKPOT_<SETTING>``, ``ODDS_API_KEY``); asset bodies read settings only through them.
"""

import dagster as dg

from jackpot_pipeline.defs.automation import automation_sensor
from jackpot_pipeline.defs.backtests.assets import BACKTEST_ASSETS
from jackpot_pipeline.defs.calibration.assets import CALIBRATION_ASSETS
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.ingestion.schedules import INGESTION_JOBS, INGESTION_SCHEDULES
from jackpot_pipeline.defs.jackpots.assets import JACKPOT_ASSETS, JACKPOT_JOBS
from jackpot_pipeline.defs.jackpots.sensors import JACKPOT_SENSORS
from jackpot_pipeline.defs.jobs import STAGE_JOBS
from jackpot_pipeline.defs.modelling.assets import dixon_coles, team_features
from jackpot_pipeline.defs.modelling.members import MEMBER_ASSETS
from jackpot_pipeline.defs.odds.assets import ODDS_ASSETS
from jackpot_pipeline.defs.odds.resources import odds_api_resource
from jackpot_pipeline.defs.odds.sensors import ODDS_JOBS, ODDS_SENSORS
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import FootballDataSource, SettingsResource, WarehouseResource

ALL_ASSETS = [
    reference_data,
    football_data,
    team_features,
    dixon_coles,
    *MEMBER_ASSETS,
    *CALIBRATION_ASSETS,
    *ODDS_ASSETS,
    *JACKPOT_ASSETS,
    *BACKTEST_ASSETS,
]
RESOURCES: dict[str, dg.ConfigurableResource] = {
    "settings": SettingsResource.from_env(),
    "warehouse_db": WarehouseResource.from_env(),
    "football_data_source": FootballDataSource.from_env(),
    "odds_api": odds_api_resource(),
}

defs = dg.Definitions(
    assets=ALL_ASSETS,
    resources=RESOURCES,
    jobs=[*STAGE_JOBS, *INGESTION_JOBS, *ODDS_JOBS, *JACKPOT_JOBS],
    sensors=[*ODDS_SENSORS, *JACKPOT_SENSORS, automation_sensor],
    schedules=INGESTION_SCHEDULES,
    # Steps run in the run's own process: the warehouse steps take turns on one DuckDB writer
    # anyway, and a subprocess per step would pay the code location's start-up each time.
    executor=dg.in_process_executor,
)
