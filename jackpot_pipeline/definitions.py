"""The Dagster code location: assets, checks, resources, schedules and sensors."""

import dagster as dg

from jackpot_pipeline.assets.calibration import CALIBRATION_ASSETS
from jackpot_pipeline.assets.football_data import football_data
from jackpot_pipeline.assets.jackpots import JACKPOT_ASSETS, JACKPOT_JOBS, JACKPOT_SENSORS
from jackpot_pipeline.assets.modelling import dixon_coles, team_features
from jackpot_pipeline.assets.reference import reference_data
from jackpot_pipeline.odds_definitions import (
    ODDS_ASSETS,
    ODDS_JOBS,
    ODDS_RESOURCES,
    ODDS_SCHEDULES,
    ODDS_SENSORS,
)
from jackpot_pipeline.resources import FootballDataSource, WarehouseResource

ALL_ASSETS = [
    reference_data,
    football_data,
    team_features,
    dixon_coles,
    *CALIBRATION_ASSETS,
    *ODDS_ASSETS,
    *JACKPOT_ASSETS,
]
RESOURCES: dict[str, dg.ConfigurableResource] = {
    "warehouse_db": WarehouseResource(),
    "football_data_source": FootballDataSource(),
    **ODDS_RESOURCES,
}

defs = dg.Definitions(
    assets=ALL_ASSETS,
    resources=RESOURCES,
    jobs=[*ODDS_JOBS, *JACKPOT_JOBS],
    sensors=[*ODDS_SENSORS, *JACKPOT_SENSORS],
    schedules=ODDS_SCHEDULES,
)
