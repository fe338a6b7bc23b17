"""The odds pipeline's Dagster objects, for one-line inclusion in ``Definitions``::

    dg.Definitions(
        assets=[*ALL_ASSETS, *ODDS_ASSETS],
        sensors=ODDS_SENSORS,
        schedules=ODDS_SCHEDULES,
        jobs=ODDS_JOBS,
        resources={**RESOURCES, **ODDS_RESOURCES},
    )

The ``odds_api`` resource is live (``ODDS_API_KEY`` read from the environment at run time, never
stored in config) when that variable is set when the code location loads, else it replays the
recordings in ``data/odds-api`` (offline, synthetic quota).
"""

import os

import dagster as dg

from jackpot_pipeline.defs.odds.assets import (
    closing_lines,
    event_scores,
    events,
    market_consensus,
    odds,
    odds_snapshots,
)
from jackpot_pipeline.defs.odds.sensors import ODDS_JOBS, ODDS_SCHEDULES, ODDS_SENSORS
from jackpot_pipeline.services.odds_api import REPLAY_DIR, OddsApiResource

API_KEY_ENV = "ODDS_API_KEY"


def odds_api_resource() -> OddsApiResource:
    """Live with the key from ``$ODDS_API_KEY`` if it is set now, else replay."""
    if os.environ.get(API_KEY_ENV):
        return OddsApiResource(api_key=dg.EnvVar(API_KEY_ENV), quota_reserve=10)
    return OddsApiResource(replay_dir=str(REPLAY_DIR))


ODDS_ASSETS = [odds_snapshots, events, odds, closing_lines, market_consensus, event_scores]
ODDS_RESOURCES: dict[str, dg.ConfigurableResource] = {"odds_api": odds_api_resource()}

__all__ = [
    "ODDS_ASSETS",
    "ODDS_JOBS",
    "ODDS_RESOURCES",
    "ODDS_SCHEDULES",
    "ODDS_SENSORS",
    "odds_api_resource",
]
