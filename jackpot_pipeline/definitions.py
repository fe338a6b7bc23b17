"""The Dagster code location: assets, checks, resources, schedules and sensors."""

import dagster as dg

from jackpot_pipeline.assets.football_data import football_data
from jackpot_pipeline.assets.reference import reference_data
from jackpot_pipeline.resources import FootballDataSource, WarehouseResource

ALL_ASSETS = [reference_data, football_data]
RESOURCES: dict[str, dg.ConfigurableResource] = {
    "warehouse_db": WarehouseResource(),
    "football_data_source": FootballDataSource(),
}

defs = dg.Definitions(assets=ALL_ASSETS, resources=RESOURCES)
