"""The Dagster code location: assets, checks, resources, schedules and sensors."""

import dagster as dg

from jackpot_pipeline.defs.calibration.assets import CALIBRATION_ASSETS
from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.jackpots.assets import JACKPOT_ASSETS, JACKPOT_JOBS, JACKPOT_SENSORS
from jackpot_pipeline.defs.jobs import STAGE_JOBS
from jackpot_pipeline.defs.modelling.assets import dixon_coles, team_features
from jackpot_pipeline.defs.odds.definitions import (
    ODDS_ASSETS,
    ODDS_JOBS,
    ODDS_RESOURCES,
    ODDS_SCHEDULES,
    ODDS_SENSORS,
)
from jackpot_pipeline.defs.reference.assets import reference_data
from jackpot_pipeline.defs.resources import FootballDataSource, WarehouseResource

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
    jobs=[*STAGE_JOBS, *ODDS_JOBS, *JACKPOT_JOBS],
    sensors=[*ODDS_SENSORS, *JACKPOT_SENSORS],
    schedules=ODDS_SCHEDULES,
    # Steps run in the run's own process: the warehouse steps take turns on one DuckDB writer
    # anyway, and a subprocess per step would pay the code location's start-up each time.
    executor=dg.in_process_executor,
)
