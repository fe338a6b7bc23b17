"""The Dagster code location: assets, checks, resources, schedules and sensors."""

from __future__ import annotations

import dagster as dg

from jackpot_pipeline.assets.football_data import football_data
from jackpot_pipeline.assets.reference import reference_data
from jackpot_pipeline.resources import FootballDataSource, WarehouseResource

ALL_ASSETS = [reference_data, football_data]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    resources={
        "warehouse_db": WarehouseResource(),
        "football_data_source": FootballDataSource(),
    },
)
